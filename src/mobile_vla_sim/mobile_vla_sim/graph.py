"""The robot graph in the offline executor, wired as ``launch/mobile_vla.launch.py`` wires it.

Every node gets the same parameters (``config/*.yaml`` and a profile) and runs the
same wiring its ``*_node.py`` runs under rclpy, on a ``ReplayBus``, under a namespace
if given. Bag-based integration tests and ``mobile-vla`` replay tools run the whole
graph in bag time through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla.bag import MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.config import from_params
from mobile_vla.episode import Episode
from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER, TELEOP, WEB, NodeSpec
from mobile_vla.launch_plan import node_params
from mobile_vla.replay import ReplayExecutor
from mobile_vla_camera.publisher import CameraConfig
from mobile_vla_camera.wiring import CameraWiring
from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.arbiter_config import ArbiterConfig
from mobile_vla_control.teleop import TeleopConfig
from mobile_vla_control.wiring import ArbiterWiring, TeleopWiring
from mobile_vla_inference.inference import InferenceConfig, VlaInference
from mobile_vla_inference.wiring import InferenceWiring
from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig
from mobile_vla_recorder.wiring import RecorderWiring
from mobile_vla_web.config import WebConfig
from mobile_vla_web.wiring import WebWiring

#: Replay serves no page, so its console has no token file; this token guards nothing.
REPLAY_TOKEN = 'replay-has-no-server-0000'

#: Each robot node's typed configuration (the one definition of its parameters; the
#: live simulator's is ``mobile_vla_sim.live.LiveSimConfig``).
CONFIGS: dict[str, type] = {
    CAMERA.name: CameraConfig, INFERENCE.name: InferenceConfig, ARBITER.name: ArbiterConfig,
    RECORDER.name: RecorderConfig, TELEOP.name: TeleopConfig, WEB.name: WebConfig,
}
#: How each node turns its flat parameters into its typed configuration.
PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    name: (cls.from_params if cls is ArbiterConfig else
           (lambda p, cls=cls: from_params(cls, p))) for name, cls in CONFIGS.items()}

#: Each node's one wiring, as its ``*_node.py`` runs it.
WIRINGS: dict[str, Callable[..., Any]] = {
    CAMERA.name: CameraWiring,
    INFERENCE.name: InferenceWiring,
    ARBITER.name: ArbiterWiring,
    RECORDER.name: RecorderWiring,
    TELEOP.name: TeleopWiring,
    WEB.name: lambda bus: WebWiring(bus, token=REPLAY_TOKEN),
}


def node_config(spec: NodeSpec, profile: str | Path | None = None, namespace: str = '',
                overrides: dict[str, Any] | None = None, config_dir: Path | None = None) -> Any:
    """The typed config a node gets at launch (``node_params``, parsed as the node does)."""
    return PARSERS[spec.name](node_params(spec, profile, namespace, overrides, config_dir))


@dataclass
class ReplayGraph:
    """The components of one replayed robot graph, for inspection after the run."""

    inference: VlaInference
    arbiter: ControlArbiter
    recorder: EpisodeRecorder | None
    episodes: list[Episode] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def build_replay_graph(
    executor: ReplayExecutor,
    profile: str | Path | None = None,
    namespace: str = '',
    overrides: dict[str, dict[str, Any]] | None = None,
    record: bool = True,
    factory: MessageFactory | None = None,
    policy_frames: str = topics.CAMERA_IMAGE.name,
) -> ReplayGraph:
    """Attach inference, arbiter and recorder to ``executor`` (the camera is the bag),
    each through its node's own wiring on a ``ReplayBus``.

    Bags hold ``camera/image``; the policy takes its frames from ``policy_frames``
    (remapped, as ``-r camera/image_policy:=camera/image`` would). The full frame gives
    the policy the very input the camera's policy copy would: both go through the
    same ``resize_frame``.
    """
    overrides = overrides or {}
    factory = factory or MessageFactory()
    episodes: list[Episode] = []
    log: list[str] = []

    def bus(spec: NodeSpec, remaps: dict[str, str] | None = None) -> ReplayBus:
        return ReplayBus(executor, node_params(spec, profile, namespace,
                                               overrides.get(spec.name)),
                         namespace, factory, log=log.append, remaps=remaps)

    inference = InferenceWiring(bus(INFERENCE,
                                    {topics.CAMERA_IMAGE_POLICY.name: policy_frames}))
    arbiter = ArbiterWiring(bus(ARBITER))
    recorder = RecorderWiring(bus(RECORDER), on_episode=episodes.append) if record else None
    return ReplayGraph(inference.inference, arbiter.arbiter,
                       recorder.recorder if recorder else None, episodes, log)
