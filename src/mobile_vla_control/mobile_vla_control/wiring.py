"""Wire the control components into the offline replay executor as the nodes wire them into ROS.

Replay, bag-based tests and the simulator call these functions so that topic
names, QoS-independent ordering and the extra tick on an e-stop match
``control_arbiter_node`` exactly.
"""

from __future__ import annotations

import json

from mobile_vla import topics
from mobile_vla.bag import MessageFactory
from mobile_vla.msgs import SecondsSince, twist_to_action
from mobile_vla.replay import ReplayExecutor
from mobile_vla_control.arbiter import ControlArbiter


def attach_arbiter(
    executor: ReplayExecutor,
    arbiter: ControlArbiter,
    factory: MessageFactory,
    namespace: str = '',
) -> None:
    """Subscribe the arbiter to its sources, mode and e-stop; publish cmd_vel and state."""
    seconds = SecondsSince()

    def publish(t_ns: int) -> None:
        out = arbiter.tick(seconds(t_ns))
        cmd_topic = topics.CMD_VEL.in_namespace(namespace)
        if arbiter.config.stamped_output:
            msg = factory.twist_stamped(out.action, t_ns, arbiter.config.frame_id)
        else:
            msg = factory.twist(out.action)
        executor.publish(cmd_topic, msg)
        if arbiter.state_due(seconds(t_ns)):
            executor.publish(topics.CONTROL_STATE.in_namespace(namespace),
                             factory.string(json.dumps(arbiter.state(seconds(t_ns)))))

    for source in arbiter.config.sources:
        def on_twist(msg, t_ns, name=source.name):
            arbiter.on_command(name, twist_to_action(msg), seconds(t_ns))
        executor.subscribe(topics.resolve(source.topic, namespace), on_twist)

    def on_mode(msg, t_ns):
        arbiter.on_mode(msg.data, seconds(t_ns))

    def on_estop(msg, t_ns):
        arbiter.on_estop(bool(msg.data), seconds(t_ns))
        publish(t_ns)  # as the node does: zero goes out at once

    executor.subscribe(topics.CONTROL_MODE.in_namespace(namespace), on_mode)
    executor.subscribe(topics.CONTROL_ESTOP.in_namespace(namespace), on_estop)
    executor.add_timer(arbiter.config.rate_hz, publish, name='control_arbiter')
