"""The camera_publisher node's wiring, written once against ``mobile_vla.bus.Bus``.

Under rclpy (``camera_publisher_node``) the grab loop runs on a worker thread, so
the executor never waits on the camera; the simulator renders its frames and hands
them to ``publish_frame``. Both publish through ``emit``: ``camera/image_policy``
(the policy-sized copy) and ``camera/image`` with sensor-data QoS (best effort, keep
last: never blocks on a slow subscriber), and ``camera/camera_info`` when a
calibration is set. Health goes to /diagnostics.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from mobile_vla import topics
from mobile_vla.bus import Bus, publisher_of, throttled_warnings
from mobile_vla_camera.calibration import load_calibration
from mobile_vla_camera.grabber import run_grab_loop
from mobile_vla_camera.publisher import CameraConfig, CameraPublisher, ImageOut
from mobile_vla_camera.sources import Frame


class CameraWiring:
    """camera_publisher: frames from the source (or the simulator) out on camera/image."""

    def __init__(self, bus: Bus, config: CameraConfig | None = None) -> None:
        """``config``: the camera of a node that has other parameters (the live simulator's
        rendered camera); by default the node's own parameters."""
        self.bus = bus
        config = config or bus.config(CameraConfig)
        calibration = load_calibration(config.calibration_file) \
            if config.calibration_file else None
        self.camera = CameraPublisher(config, calibration, alloc=bus.msgs.alloc)
        # The grab worker changes the publisher's state while the diagnostics timer reads it.
        self._lock = threading.Lock()
        self._image = publisher_of(bus, topics.CAMERA_IMAGE)
        self._policy_image = publisher_of(bus, topics.CAMERA_IMAGE_POLICY) \
            if config.policy_size else None
        self._info = publisher_of(bus, topics.CAMERA_INFO)
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        self._warn = throttled_warnings(bus, 2.0)
        bus.timer(1.0, self._publish_diagnostics, 'camera_publisher/diagnostics')
        self._grabber = None
        bus.log('info', f'camera source {config.source}, {config.encoding}, '
                        f'frame_id {config.frame_id}')

    def start_grabbing(self, sleep: Callable[[float], None]) -> None:
        """Open the configured source and publish its frames from a worker until shutdown."""
        self._grabber = self.bus.worker('camera_grab')
        self._grabber.submit(lambda: self._grab(sleep))

    def _grab(self, sleep: Callable[[float], None]) -> None:
        """The grab loop until shutdown or the end of the media; an unexpected error is
        logged and the loop starts again after the source's back-off."""
        while not self._grabber.stopping:
            try:
                run_grab_loop(self.camera, self.emit, self.bus.now_ns, sleep,
                              should_stop=lambda: self._grabber.stopping, log=self._warn,
                              lock=self._lock, info=lambda text: self.bus.log('info', text))
                return
            except Exception as exc:  # never take the node down; say what happened
                with self._lock:
                    wait = self.camera.failed(f'camera grab loop crashed: {exc!r}',
                                              self.bus.now_ns())
                self.bus.log('error', f'camera grab loop crashed, restarting in {wait:.1f} s:'
                                      f'\n{traceback.format_exc()}')

    def emit(self, out: ImageOut) -> None:
        # The small copy first: the policy is the consumer that waits on it.
        if out.policy_fields is not None and self._policy_image is not None:
            self._policy_image(self.bus.msgs.image_from_fields(
                out.policy_fields, out.stamp_ns, out.frame_id))
        msg = self.bus.msgs.image_from_fields(out.fields, out.stamp_ns, out.frame_id)
        self._image(msg)
        info = self.camera.camera_info(out.fields['width'], out.fields['height'])
        if info is not None:
            self._info(self.bus.msgs.camera_info(info, out.stamp_ns, out.frame_id))

    def publish_frame(self, frame: Frame, capture_ns: int) -> bool:
        """Render and publish one frame captured now (the simulator's camera). A camera
        handed its frames is open from the first one."""
        if self.camera.state == 'opening':
            self.camera.opened(capture_ns)
        out = self.camera.render(frame, capture_ns)
        if out is None:
            return False
        self.emit(out)
        self.camera.published(capture_ns, self.bus.now_ns())
        return True

    def _publish_diagnostics(self) -> None:
        now_ns = self.bus.now_ns()
        with self._lock:
            level, message, values = self.camera.diagnostics(now_ns)
        self._diagnostics(self.bus.msgs.diagnostics(
            now_ns, 'camera_publisher: camera', level, message, values,
            hardware_id=self.camera.config.source))

    def shutdown(self) -> None:
        if self._grabber is not None:
            self._grabber.stop()
