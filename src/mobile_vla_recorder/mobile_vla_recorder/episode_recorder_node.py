"""ROS 2 adapter of ``EpisodeRecorder``: subscriptions in, episode files out via a writer thread.

Callbacks only hand data to the component; finished episodes go to a queue that a
worker thread writes (atomically), so 30 fps camera input is never dropped while a
file is written. One log line per episode; health on /diagnostics.
"""

from __future__ import annotations

import queue
import sys
import threading

import diagnostic_msgs.msg
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor
from rclpy import qos as rclpy_qos
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from mobile_vla import topics
from mobile_vla.config import declare_node_config, from_params
from mobile_vla.episode import Episode, EpisodeWriteError
from mobile_vla.msgs import ImageConversionError, image_to_numpy, stamp_to_ns, twist_to_action
from mobile_vla.node_runtime import diagnostic_array, spin_node
from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig
from mobile_vla_recorder.store import EpisodeStore

NS = 1e9


class EpisodeRecorderNode(Node):
    def __init__(self) -> None:
        super().__init__('episode_recorder',
                         automatically_declare_parameters_from_overrides=True)
        params = declare_node_config(self, RecorderConfig, ParameterDescriptor)
        config = from_params(RecorderConfig, params)
        self.store = EpisodeStore(config.output_dir, config.compression)
        for path in self.store.removed_temp_files:
            self.get_logger().warning(f'removed {path.name}: left by an interrupted writer')
        self.recorder = EpisodeRecorder(config, free_bytes=self.store.free_bytes)
        self._lock = threading.Lock()
        self._queue: queue.Queue[Episode | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name='episode_writer',
                                        daemon=True)
        self._writer.start()
        self.saved = 0
        group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Image, topics.CAMERA_IMAGE.name, self._on_image,
                                 topics.CAMERA_IMAGE.profile(rclpy_qos), callback_group=group)
        # An observer of cmd_vel: best effort matches reliable and best-effort publishers,
        # and depth 10 keeps a quick start-stop pair.
        self.create_subscription(Twist, topics.CMD_VEL.name, self._on_cmd,
                                 topics.QosIntent('best_effort', 'volatile', 10)
                                 .profile(rclpy_qos), callback_group=group)
        self.create_subscription(String, topics.VLA_COMMAND.name, self._on_instruction,
                                 topics.VLA_COMMAND.profile(rclpy_qos), callback_group=group)
        self.create_subscription(String, topics.RECORDER_CONTROL.name, self._on_control,
                                 topics.RECORDER_CONTROL.profile(rclpy_qos),
                                 callback_group=group)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                               topics.DIAGNOSTICS.profile(rclpy_qos))
        if config.mode == 'fixed_rate':
            self.create_timer(1.0 / (2 * config.fixed_rate_hz), self._tick, callback_group=group)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'recording to {self.store.folder} ({config.mode}, '
                               f'{config.max_frames} frames, {config.compression})')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds / NS

    def _queue_episode(self, episode: Episode | None) -> None:
        if episode is not None:
            self._queue.put(episode)

    def _on_image(self, msg: Image) -> None:
        try:
            image = image_to_numpy(msg)
        except ImageConversionError as exc:
            self.get_logger().warning(f'camera image skipped: {exc}', throttle_duration_sec=5.0)
            return
        with self._lock:
            self.recorder.on_image(image, msg.encoding, stamp_to_ns(msg.header.stamp) / NS)

    def _on_cmd(self, msg: Twist) -> None:
        with self._lock:
            self._queue_episode(self.recorder.on_command(twist_to_action(msg), self._now()))

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            self.recorder.on_instruction(msg.data)

    def _on_control(self, msg: String) -> None:
        with self._lock:
            result = self.recorder.on_control(msg.data, self._now())
        log = self.get_logger().info if result.ok else self.get_logger().error
        log(result.message)
        self._queue_episode(result.episode)

    def _tick(self) -> None:
        with self._lock:
            self._queue_episode(self.recorder.tick(self._now()))

    def _write_loop(self) -> None:
        while True:
            episode = self._queue.get()
            if episode is None:
                return
            try:
                path = self.store.write(episode)
            except (EpisodeWriteError, OSError, ValueError) as exc:
                with self._lock:
                    self.recorder.last_error = str(exc)
                self.get_logger().error(f'episode {episode.name} NOT saved: {exc}')
                continue
            self.saved += 1
            self.get_logger().info(
                f'saved {path.stem}: {episode.num_frames} frames, '
                f'{episode.total_duration:.1f} s, {episode.scenario} -> {path}')

    def _publish_diagnostics(self) -> None:
        with self._lock:
            level, message, values = self.recorder.diagnostics(self._now())
        values = {**values, 'saved': str(self.saved), 'write_queue': str(self._queue.qsize()),
                  'folder': str(self.store.folder)}
        self._diag_pub.publish(diagnostic_array(
            diagnostic_msgs.msg, self.get_clock().now().to_msg(),
            f'{self.get_name()}: recorder', level, message, values))

    def stop(self) -> None:
        """Finish pending writes; an episode still being recorded is kept if it may be."""
        with self._lock:
            if self.recorder.recording:
                result = self.recorder.on_control('stop', self._now())
                self.get_logger().warning(f'shutting down: {result.message}')
                self._queue_episode(result.episode)
        self._queue.put(None)
        self._writer.join(timeout=30.0)


def main(args: list[str] | None = None) -> int:
    return spin_node(rclpy, EpisodeRecorderNode, 'episode_recorder',
                     signal_options=SignalHandlerOptions.NO,
                     external_shutdown=ExternalShutdownException,
                     on_exit=lambda node: node.stop(), args=args)


if __name__ == '__main__':
    sys.exit(main())
