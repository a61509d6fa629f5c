"""One closed-loop episode: the robot graph driving the simulated robot, in sim time.

The components are the ones the nodes run, wired with the node packages' own
wiring into the offline executor, and time is simulation time:

- camera: each frame period the world renders the forward camera and the camera
  node's wiring (``CameraWiring.publish_frame``) publishes it on ``camera/image``;
- policy: ``VlaInference`` with a ``PolicyRunner`` publishes ``robot/action``;
- the scripted expert publishes ``teleop/cmd_vel`` (data collection, or scripted
  manual input in hybrid mode);
- ``ControlArbiter`` publishes ``cmd_vel``, which the simulated base executes;
- ``EpisodeRecorder`` records the episode (fixed-rate, one frame per camera frame);
- the base publishes its ground truth on ``sim/odom`` (nav_msgs/Odometry).

Order within an instant is fixed (physics, camera, expert, inference, arbiter,
recorder, odometry), so a run with the same seed gives the same messages, the same
episode and the same summary every time.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mobile_vla import topics
from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.config import to_params
from mobile_vla.episode import Episode
from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER, NodeSpec
from mobile_vla.msgs import twist_to_action
from mobile_vla.replay import OutputSink, ReplayExecutor
from mobile_vla.scenarios import parse
from mobile_vla.topics import CONTROL_MODES
from mobile_vla.units import NS
from mobile_vla_camera.publisher import CameraPublisher
from mobile_vla_camera.sources import Frame
from mobile_vla_camera.wiring import CameraWiring
from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.wiring import ArbiterWiring
from mobile_vla_inference.inference import InferenceConfig, VlaInference
from mobile_vla_inference.wiring import InferenceWiring
from mobile_vla_recorder.recorder import EpisodeRecorder
from mobile_vla_recorder.wiring import RecorderWiring
from mobile_vla_sim.config import SIM_EPOCH_NS, SIM_PROFILE, SimConfig
from mobile_vla_sim.expert import ExpertConfig, ScriptedExpert, passed_side
from mobile_vla_sim.graph import node_params
from mobile_vla_sim.render import write_top_down
from mobile_vla_sim.results import RunResult
from mobile_vla_sim.targets import GoalJudge
from mobile_vla_sim.world import Layout, SimWorld

if TYPE_CHECKING:  # torch loads with a policy, not with this module
    from mobile_vla.policy.runner import PolicyRunner

ODOM = '/sim/odom'
ODOM_TYPE = 'nav_msgs/msg/Odometry'
DRIVERS = ('expert', 'policy')


class SimSession:
    """Builds the graph for one layout and runs it until the driver is done, collision or
    time-out (a policy run also ends with the robot at an object the words do not name).

    ``driver='expert'``: the scripted expert drives through ``teleop/cmd_vel`` in
    manual mode (data collection); the run ends when the recorder's episode is full.
    ``driver='policy'``: ``runner`` drives through ``robot/action`` in ``mode``
    (vla, or hybrid with the expert as scripted manual input in ``manual_window``).
    A policy run ends when its plan does: its navigation step arrived (the policy held
    still for ``arrive_hold_s``), or the plan was stopped, failed or refused. Passing
    within ``success_radius`` of the goal does not end it, because success is where the
    robot STOPS (``RunResult.stopped_at_goal``), as on the robot, where the plan's
    arrival is the only end a navigation step has.
    """

    def __init__(self, layout: Layout, instruction: str, *, driver: str = 'policy',
                 mode: str = 'vla', runner: PolicyRunner | None = None,
                 inference: InferenceConfig | None = None, sim: SimConfig | None = None,
                 expert: ExpertConfig | None = None, record: bool = True,
                 manual_window: tuple[float, float] | None = None,
                 start_ns: int = SIM_EPOCH_NS, sink: OutputSink | None = None,
                 video: Path | None = None, profile: str | Path | None = SIM_PROFILE) -> None:
        if driver not in DRIVERS:
            raise ValueError(f'driver must be one of {DRIVERS}, got {driver!r}')
        if mode not in CONTROL_MODES:
            raise ValueError(f'mode must be one of {CONTROL_MODES}, got {mode!r}')
        if driver == 'policy' and runner is None:
            raise ValueError('the policy driver needs a PolicyRunner (load a checkpoint)')
        self.layout, self.instruction = layout, instruction.strip()
        self.scenario = parse(layout.scenario)
        self.driver, self.mode = driver, ('manual' if driver == 'expert' else mode)
        self.sim = sim or SimConfig()
        self.start_ns = int(start_ns)
        self.factory = MessageFactory()
        self.executor = ReplayExecutor(sink=sink, record_inputs=(
            topics.VLA_COMMAND.name, topics.CONTROL_MODE.name))
        self.world = SimWorld(layout, self.sim.width, self.sim.height, self.sim.top_size)
        expert_config = expert or ExpertConfig()
        self.expert = ScriptedExpert(layout, self.scenario.side, replace(
            expert_config, decision_period=1.0 / self.sim.frame_rate_hz))
        self.manual_window = manual_window
        self.result = RunResult(layout.scenario, layout.seed, self.instruction,
                                self.scenario.side, driver, self.mode,
                                layout=layout.to_dict(), goal=bool(layout.objects))
        self.judge = GoalJudge(layout, self.instruction, self.scenario.side,
                               self.sim.success_radius)
        self.result.target, self.result.absent = self.judge.target, self.judge.absent
        self.result.shortest_m = self.judge.shortest()
        self._video_path = video
        self._video: cv2.VideoWriter | None = None
        self._decision = np.zeros(3)
        self._last_physics_ns = self.start_ns
        self._frame_index = 0
        self._keys: list[str] = []
        #: What the nodes logged, as their wiring said it.
        self._log: list[str] = []

        self._profile = profile
        self._inference_config = inference
        self._runner = runner
        self.camera: CameraPublisher | None = None
        self.arbiter: ControlArbiter | None = None
        self.inference: VlaInference | None = None
        self.recorder: EpisodeRecorder | None = None
        self._record = record
        self._wire()

    # ------------------------------------------------------------------ wiring
    def _bus(self, spec: NodeSpec, overrides: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None,
             remaps: dict[str, str] | None = None) -> ReplayBus:
        """A bus for one node of the graph, with the parameters the launch file gives it."""
        if params is None:
            params = node_params(spec, self._profile, overrides=overrides)
        return ReplayBus(self.executor, params, msgs=self.factory, log=self._log.append,
                         remaps=remaps)

    def _wire(self) -> None:
        """The nodes' own wiring on the executor, in the order of the module docstring."""
        ex = self.executor
        ex.add_timer(self.sim.physics_rate_hz, self._physics, name='sim_physics')
        ex.add_timer(self.sim.frame_rate_hz, self._camera, name='sim_camera')
        ex.subscribe(topics.CMD_VEL.name, self._on_cmd_vel)
        self._camera_wiring = CameraWiring(self._bus(CAMERA, {
            'frame_id': 'camera_optical_frame', 'width': self.sim.width,
            'height': self.sim.height, 'fps': self.sim.frame_rate_hz}))
        self.camera = self._camera_wiring.camera
        if self.driver == 'expert' or self.manual_window is not None:
            ex.add_timer(10.0, self._expert_publish, name='scripted_teleop')
        if self.driver == 'policy':
            runner = self._runner
            runner.reset()
            params = to_params(self._inference_config) if self._inference_config else None
            # The base's odometry is the simulator's ground truth.
            bus = self._bus(INFERENCE, params=params, remaps={topics.ODOM.name: ODOM})
            self.inference = InferenceWiring(bus, load=lambda _config: runner).inference
            ex.subscribe(topics.VLA_STATUS.name, self._on_status)
        # Delivery in the executor is exact: no discovery to wait for before driving.
        self.arbiter = ArbiterWiring(self._bus(ARBITER, {
            'initial_mode': self.mode, 'startup_hold_s': 0.0})).arbiter
        if self._record:
            self.recorder = RecorderWiring(self._bus(RECORDER, {
                'mode': 'fixed_rate', 'fixed_rate_hz': self.sim.frame_rate_hz}),
                on_episode=self._on_episode).recorder
        ex.add_timer(self.sim.odom_rate_hz, self._odom, name='sim_odom')

    def _seconds(self, t_ns: int) -> float:
        return (t_ns - self.start_ns) / NS

    def _physics(self, t_ns: int) -> None:
        dt = (t_ns - self._last_physics_ns) / NS
        self._last_physics_ns = t_ns
        if dt > 0:
            self.world.step(dt)
        pose = self.world.pose()
        self.result.path.append((float(pose[0]), float(pose[1])))
        now = self._seconds(t_ns)
        self.result.time_s = now
        # Checked after the goal was reached too: driving on to another object and
        # stopping there is the wrong object, not a stop away from the goal.
        other = '' if self.result.wrong_object else self.judge.other_reached(self.world)
        if self.world.collided:
            self.result.collision = True
            self._end('collision')
        elif other:
            self.result.wrong_object = other
            if self.driver == 'policy':
                self._end('wrong_object')
        elif self.result.reached_at_s is None and self.judge.reached(self.world):
            self.result.reached_at_s = round(now, 4)
            self.result.reached = True
        elif now >= self.sim.time_limit_s:
            self._end(self._time_out())

    def _time_out(self) -> str:
        """How a run that reached its time limit ended: an expert that reached the cup
        (its episode was not yet full), a goal room without the named object, or a
        time-out (a policy that passed the goal without stopping at it included)."""
        if self.driver == 'expert' and self.result.reached:
            return 'reached'
        return 'not_found' if self.result.absent else 'timeout'

    def _stopped_at_goal(self) -> bool:
        """Where the driver stopped, within ``success_radius`` of the goal: the policy's
        last navigation step arrived (done) there; the expert ended its episode there."""
        if self.result.collision or self.result.wrong_object:
            return False
        if self.driver == 'expert':
            return self.result.outcome in ('episode_done', 'reached') and \
                self.judge.reached(self.world)
        # A plan that ends with a stop step ("..., then stop") ends 'stopped', not 'done'.
        navigation = [s for s in self.result.plan_steps if s['kind'] == 'navigate']
        return bool(navigation) and navigation[-1]['state'] == 'done' and \
            self.result.plan_state in ('done', 'stopped') and \
            self.judge.at_goal(navigation[-1]['end_pose'])

    def _end(self, outcome: str) -> None:
        if self.result.outcome == 'running':
            self.result.outcome = outcome
        self.executor.stop()

    def _camera(self, t_ns: int) -> None:
        rgb = self.world.render()
        if self._video_path is not None:
            if self._video is None:
                self._video_path.parent.mkdir(parents=True, exist_ok=True)
                self._video = cv2.VideoWriter(
                    str(self._video_path), cv2.VideoWriter_fourcc(*'mp4v'),
                    self.sim.frame_rate_hz, (self.sim.width, self.sim.height))
            self._video.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        frame = Frame(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self._frame_index)
        self._frame_index += 1
        self.result.frames = self._frame_index
        if not self._camera_wiring.publish_frame(frame, t_ns):
            return
        if self._frame_index == 1 and self.recorder is not None:
            self.executor.publish(topics.RECORDER_CONTROL.name, self.factory.string(
                f'start {self.scenario.name} {self.instruction}'))
        if self._expert_active(t_ns):  # a new decision goes out at once, like a key press
            self._decision = self.expert.act(self.world.pose())
            self._keys.append(self.expert.last_key)
            self._expert_publish(t_ns)

    def _expert_active(self, t_ns: int) -> bool:
        if self.driver == 'expert':
            return True
        if self.manual_window is None:
            return False
        start, duration = self.manual_window
        return start <= self._seconds(t_ns) < start + duration

    def _expert_publish(self, t_ns: int) -> None:
        if self._expert_active(t_ns):
            self.executor.publish(topics.TELEOP_CMD_VEL.name, self.factory.twist(self._decision))

    def _on_cmd_vel(self, msg: Any, t_ns: int) -> None:
        self.world.set_command(twist_to_action(msg))

    def _odom(self, t_ns: int) -> None:
        self.executor.publish(ODOM, self.factory.odometry(
            self.world.pose(), self.world.velocity(), t_ns), msgtype=ODOM_TYPE)

    def _on_status(self, msg: Any, t_ns: int) -> None:
        """vla/status: where each step of the plan began and ended; a plan that ends
        (done, stopped, failed or refused) ends the run."""
        status = json.loads(msg.data)
        state = status.get('state')
        self.result.track_plan(status, [round(float(v), 4) for v in self.world.pose()],
                               round(self._seconds(t_ns), 4))
        if state in ('failed', 'refused', 'done', 'stopped'):
            # Held still in a room without what the words name: it found nothing there.
            self._end('not_found' if state == 'done' and self.result.absent
                      else f'plan_{state}')

    def _on_episode(self, episode: Episode) -> None:
        self.result.episode = episode
        if self.driver == 'expert':
            self._end('episode_done')

    # ---------------------------------------------------------------------- run
    def run(self) -> RunResult:
        inputs = [BagMessage(topics.CONTROL_MODE.path, 'std_msgs/msg/String', self.start_ns,
                             self.factory.string(self.mode))]
        if self.driver == 'policy':
            inputs.append(BagMessage(topics.VLA_COMMAND.path, 'std_msgs/msg/String',
                                     self.start_ns, self.factory.string(self.instruction)))
        end_ns = self.start_ns + round(self.sim.time_limit_s * NS)
        try:
            self.executor.run(inputs, start_ns=self.start_ns, end_ns=end_ns)
            if self.result.outcome == 'running':
                self.result.outcome = self._time_out()
            if self.recorder is not None and self.recorder.recording:
                stop = self.recorder.on_control('stop', self._last_physics_ns / NS)
                if stop.episode is not None:
                    self.result.episode = stop.episode
        finally:
            self.close()
        path = np.asarray(self.result.path)
        self.result.passed_side = passed_side(path, self.layout) if len(path) > 1 else None
        steps = self.result.plan_steps
        if steps and steps[-1]['end_pose'] is None:  # the run ended during this step
            steps[-1].update(end_pose=[round(float(v), 4) for v in self.world.pose()],
                             ended_s=round(self.result.time_s, 4))
        self.judge.mark_steps(steps)  # where each navigation step held still
        self.result.stopped_at_goal = self._stopped_at_goal()
        self.result.expert_keys = ''.join(self._keys)
        if self.inference is not None:
            self.result.policy_steps = self.inference.steps
            self.result.zero_reasons = dict(self.inference.zero_reasons)
        return self.result

    def close(self) -> None:
        """Finish the video; the world stays until ``dispose`` (``top_down`` needs it)."""
        if self._video is not None:
            self._video.release()
            self._video = None

    def dispose(self) -> None:
        self.close()
        self.world.close()

    def __enter__(self) -> SimSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    # ------------------------------------------------------------------ outputs
    def top_down(self, path: Path) -> Path:
        """The room from above with the driven path (``render.write_top_down``)."""
        return write_top_down(path, self.world, self.result, self.sim, self.judge.goals())
