"""Wire ``VlaInference`` into the offline replay executor as the node wires it into ROS."""

from __future__ import annotations

from mobile_vla import topics
from mobile_vla.bag import MessageFactory
from mobile_vla.msgs import image_to_numpy, stamp_to_ns
from mobile_vla.replay import ReplayExecutor
from mobile_vla_inference.inference import VlaInference

NS = 1e9
CHANNEL_ORDER = {'rgb8': 'rgb', 'bgr8': 'bgr'}


def attach_inference(executor: ReplayExecutor, inference: VlaInference,
                     factory: MessageFactory, namespace: str = '') -> None:
    """camera/image and vla/command in; robot/action out at ``rate_hz`` in bag time."""

    def on_image(msg, t_ns):
        order = CHANNEL_ORDER.get(msg.encoding)
        if order is not None:
            inference.on_image(image_to_numpy(msg), order, stamp_to_ns(msg.header.stamp) / NS)

    def tick(t_ns):
        out = inference.step(t_ns / NS)
        executor.publish(topics.ROBOT_ACTION.in_namespace(namespace),
                         factory.twist(tuple(float(v) for v in out.action)))

    executor.subscribe(topics.CAMERA_IMAGE.in_namespace(namespace), on_image)
    executor.subscribe(topics.VLA_COMMAND.in_namespace(namespace),
                       lambda msg, t_ns: inference.on_instruction(msg.data))
    executor.add_timer(inference.config.rate_hz, tick, name='vla_inference')
