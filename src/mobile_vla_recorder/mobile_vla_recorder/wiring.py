"""Wire the recorder into the offline replay executor as the node wires it into ROS.

Used by ``mobile-vla data from-bag``, the bag-based tests and the simulator.
"""

from __future__ import annotations

import math
from typing import Callable

from mobile_vla import topics
from mobile_vla.episode import Episode
from mobile_vla.msgs import image_to_numpy, stamp_to_ns, twist_to_action
from mobile_vla.replay import ReplayExecutor
from mobile_vla_recorder.recorder import ControlResult, EpisodeRecorder

NS = 1e9


def attach_recorder(
    executor: ReplayExecutor,
    recorder: EpisodeRecorder,
    on_episode: Callable[[Episode], None],
    namespace: str = '',
    log: Callable[[str], None] = lambda _msg: None,
) -> None:
    """Feed camera/image, cmd_vel, vla/command and recorder/control into ``recorder``."""

    def finished(episode: Episode | None) -> None:
        if episode is not None:
            on_episode(episode)

    def on_image(msg, t_ns):
        recorder.on_image(image_to_numpy(msg), msg.encoding, stamp_to_ns(msg.header.stamp) / NS)

    def on_cmd(msg, t_ns):
        finished(recorder.on_command(twist_to_action(msg), t_ns / NS))

    def on_control(msg, t_ns):
        result: ControlResult = recorder.on_control(msg.data, t_ns / NS)
        log(result.message)
        finished(result.episode)

    executor.subscribe(topics.CAMERA_IMAGE.in_namespace(namespace), on_image)
    executor.subscribe(topics.CMD_VEL.in_namespace(namespace), on_cmd)
    executor.subscribe(topics.VLA_COMMAND.in_namespace(namespace),
                       lambda msg, t_ns: recorder.on_instruction(msg.data))
    executor.subscribe(topics.RECORDER_CONTROL.in_namespace(namespace), on_control)
    if recorder.config.mode == 'fixed_rate':
        # A whole multiple of the frame rate (and at least 10 Hz), so frames fall on ticks.
        rate = recorder.config.fixed_rate_hz
        executor.add_timer(rate * max(2, math.ceil(10.0 / rate)),
                           lambda t_ns: finished(recorder.tick(t_ns / NS)), name='recorder')
