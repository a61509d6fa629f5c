"""Every topic of the robot graph in one place: name, message type and the QoS of the
graph's publisher and subscriptions.

Names are relative (no leading slash) so that a namespace given in the launch file
moves the whole graph; ``Topic.path`` gives the absolute name used in bags.

QoS is chosen so the tools people use reach the robot at their own defaults
(``mobile_vla.qos`` has the matching rules and those tools' profiles):

- the graph publishes every topic reliable, so a default subscriber (rviz2,
  rqt_image_view, ``ros2 topic echo``, a user's node) and a best-effort one (a base
  driver, Foxglove) both get it. Sensor streams follow REP 2003: published with the
  system default reliability (reliable), subscribed with sensor-data QoS;
- an input a person or a program feeds is subscribed reliable and volatile, which
  hears a default-profile publisher (rclpy, rclcpp, Jazzy's ``ros2 topic pub``) and a
  latched one (Humble's ``ros2 topic pub``, the teleop, the web console) alike. Where a
  late joiner must get the latched value (an engaged e-stop, the mode) a transient-local
  twin subscribes beside it (``QosIntent.late_joiner``);
- a best-effort publisher is refused on purpose where a lost message is a lost command
  (``Topic.refused`` says why); a site that needs it sets QoS override parameters.

``compatibility_table()`` writes this down for the README from these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mobile_vla import qos
from mobile_vla.qos import QosIntent

__all__ = ['QosIntent', 'Topic', 'ALL_TOPICS', 'by_name', 'resolve', 'compatibility_table']

#: REP 2003: a sensor driver publishes with the system default reliability (reliable),
#: so default subscribers get it; a lost frame is still never waited for by the
#: sensor-data subscribers. Volatile: a late subscriber never gets an old frame.
SENSOR_PUBLISHER = QosIntent('reliable', 'volatile', 5)
#: REP 2003 consumers: best effort matches any publisher, and the newest frame wins.
SENSOR_SUBSCRIPTION = QosIntent('best_effort', 'volatile', 5)
#: The policy's frames: as above, 3 deep. A frame is not lost while the executor is
#: briefly busy; the step always takes the newest one, the older only count as received.
POLICY_FRAME_SUBSCRIPTION = QosIntent('best_effort', 'volatile', 3)
#: Velocity commands: reliable, only the newest matters.
COMMAND = QosIntent('reliable', 'volatile', 1)
#: Latched state (mode, instruction, status): a late subscriber gets the last value.
LATCHED = QosIntent('reliable', 'transient_local', 1)
#: Inputs people and programs feed: reliable, every one kept (a quick stop after a go),
#: volatile so that default-profile and latched publishers are both heard.
EVENTS = QosIntent('reliable', 'volatile', 10)
#: The transient-local twin of an ``EVENTS`` subscription, for a late joiner.
LATE_JOINER = QosIntent('reliable', 'transient_local', 1, late_joiner=True)
#: ROS 2 default profile (reliable, volatile, depth 10), as /diagnostics uses.
DEFAULT = QosIntent('reliable', 'volatile', 10)
#: An observer of a command stream: best effort hears every publisher.
OBSERVER = QosIntent('best_effort', 'volatile', 10)

#: Why a best-effort publisher is refused on a command input.
REFUSED_COMMAND = ('a command that may be lost is not a command: publish it reliable (or '
                   'set qos_overrides.<topic>.subscription.reliability:=best_effort)')


@dataclass(frozen=True)
class Topic:
    """One stream of the graph.

    ``publisher_qos``: how the graph's nodes publish it. ``subscriptions``: how they
    subscribe, the first the one every message arrives on (more than one only for a
    ``late_joiner`` twin). ``clients_publish``: people or their programs feed it (an
    input), so what their publishers' profiles match is part of its contract.
    ``refused``: why the client profiles it does not match are refused on purpose.
    """

    name: str
    msgtype: str
    description: str
    publisher_qos: QosIntent
    subscriptions: tuple[QosIntent, ...]
    clients_publish: bool = False
    refused: str = ''

    def __post_init__(self) -> None:
        if self.name.startswith('/'):
            raise ValueError(f'topic names are relative in code, got {self.name!r}')
        if self.msgtype.count('/') != 2 or '/msg/' not in self.msgtype:
            raise ValueError(f'message type must read pkg/msg/Name, got {self.msgtype!r}')
        if not self.subscriptions or self.subscriptions[0].late_joiner:
            raise ValueError(f'{self.name}: the first subscription must be a live one')

    @property
    def path(self) -> str:
        """Absolute name in the root namespace, as recorded in a bag."""
        return '/' + self.name

    @property
    def subscription_qos(self) -> QosIntent:
        """The subscription every message arrives on."""
        return self.subscriptions[0]

    def subscriptions_with_depth(self, depth: int) -> tuple[QosIntent, ...]:
        """The subscriptions, the live one ``depth`` deep (a consumer's own buffering;
        the policies that decide matching stay the topic's)."""
        return (replace(self.subscriptions[0], depth=depth),) + self.subscriptions[1:]

    def in_namespace(self, namespace: str) -> str:
        """Absolute name under ``namespace`` ('' or '/' for the root)."""
        return resolve(self.name, namespace)


def resolve(name: str, namespace: str = '') -> str:
    """Absolute name of a relative topic ``name`` under ``namespace``, as rclpy resolves it.

    Absolute names (leading slash) stay as they are.
    """
    if name.startswith('/'):
        return name
    ns = namespace.strip('/')
    return f'/{ns}/{name}' if ns else f'/{name}'


CAMERA_IMAGE = Topic(
    'camera/image', 'sensor_msgs/msg/Image',
    'camera frames (rgb8 by default) stamped with the capture time',
    SENSOR_PUBLISHER, (SENSOR_SUBSCRIPTION,), clients_publish=True,
)
CAMERA_IMAGE_POLICY = Topic(
    'camera/image_policy', 'sensor_msgs/msg/Image',
    'the same frame resized to the policy input (224x224 by default), same header; the '
    'policy subscribes to it so full-size frames never travel to it',
    SENSOR_PUBLISHER, (POLICY_FRAME_SUBSCRIPTION,), clients_publish=True,
)
CAMERA_INFO = Topic(
    'camera/camera_info', 'sensor_msgs/msg/CameraInfo',
    'calibration of the camera, same header as the image',
    SENSOR_PUBLISHER, (SENSOR_SUBSCRIPTION,), clients_publish=True,
)
VLA_COMMAND = Topic(
    'vla/command', 'std_msgs/msg/String',
    "the operator's English instruction; 'stop' or '' halts the policy. Published "
    'latched; a restarted vla_inference does not resume a latched instruction, it waits '
    'for a new one (vla/status says so)',
    LATCHED, (EVENTS,), clients_publish=True, refused=REFUSED_COMMAND,
)
VLA_STATUS = Topic(
    'vla/status', 'std_msgs/msg/String',
    'the instruction plan as JSON: instruction, its number, state (idle, running, done, failed, '
    'refused, stopped), step i of n, its text, the reason',
    LATCHED, (LATCHED,),
)
ODOM = Topic(
    'odom', 'nav_msgs/msg/Odometry',
    "the base's odometry; motion steps of an instruction close on it when it is fresh",
    SENSOR_PUBLISHER, (SENSOR_SUBSCRIPTION,), clients_publish=True,
)
ROBOT_ACTION = Topic(
    'robot/action', 'geometry_msgs/msg/Twist',
    "the policy's velocity command (linear.x, linear.y, angular.z)",
    COMMAND, (COMMAND,), clients_publish=True, refused=REFUSED_COMMAND,
)
TELEOP_CMD_VEL = Topic(
    'teleop/cmd_vel', 'geometry_msgs/msg/Twist',
    'the human operator velocity command from the WASD teleop or the web console',
    COMMAND, (COMMAND,), clients_publish=True, refused=REFUSED_COMMAND,
)
#: The arbiter's modes, as ``control/mode`` carries them.
CONTROL_MODES: tuple[str, ...] = ('manual', 'vla', 'hybrid')
CONTROL_MODE = Topic(
    'control/mode', 'std_msgs/msg/String',
    'arbiter mode: manual, vla or hybrid; latched, so a restarted arbiter keeps the mode',
    LATCHED, (EVENTS, LATE_JOINER), clients_publish=True, refused=REFUSED_COMMAND,
)
CONTROL_ESTOP = Topic(
    'control/estop', 'std_msgs/msg/Bool',
    'emergency stop: true latches zero output, false asks for release; latched, so a '
    'restarted arbiter keeps an engaged e-stop',
    LATCHED, (EVENTS, LATE_JOINER), clients_publish=True,
    refused='an e-stop that may be lost is not an e-stop: publish it reliable',
)
CMD_VEL = Topic(
    'cmd_vel', 'geometry_msgs/msg/Twist',
    "the arbiter's output, the only command that drives the base",
    COMMAND, (OBSERVER,),
)
CONTROL_STATE = Topic(
    'control/state', 'std_msgs/msg/String',
    'arbiter state as JSON: mode, active source, input ages, estop, limits hit',
    LATCHED, (LATCHED,),
)
RECORDER_CONTROL = Topic(
    'recorder/control', 'std_msgs/msg/String',
    "episode control: 'start <scenario> [instruction]', 'stop', 'discard'",
    EVENTS, (EVENTS,), clients_publish=True, refused=REFUSED_COMMAND,
)
DIAGNOSTICS = Topic(
    'diagnostics', 'diagnostic_msgs/msg/DiagnosticArray',
    'health of every node',
    DEFAULT, (DEFAULT,),
)

ALL_TOPICS: tuple[Topic, ...] = (
    CAMERA_IMAGE, CAMERA_IMAGE_POLICY, CAMERA_INFO, VLA_COMMAND, VLA_STATUS, ODOM, ROBOT_ACTION,
    TELEOP_CMD_VEL, CONTROL_MODE, CONTROL_ESTOP, CMD_VEL, CONTROL_STATE, RECORDER_CONTROL,
    DIAGNOSTICS,
)
_BY_NAME = {t.name: t for t in ALL_TOPICS}


def by_name(name: str) -> Topic:
    """Look a topic up by relative or absolute name."""
    try:
        return _BY_NAME[name.lstrip('/')]
    except KeyError:
        known = ', '.join(sorted(_BY_NAME))
        raise KeyError(f'unknown topic {name!r}; the graph has: {known}') from None


def _cell(why: tuple[str, ...], refused: str) -> str:
    if not why:
        return 'yes'
    policies = ', '.join(w.split(':')[0].lower() for w in why)
    return f'refused ({policies})' if refused else f'NO ({policies})'


def _input_cell(topic: Topic, client: qos.ClientProfile) -> str:
    live = qos.mismatches(client.policies, topic.subscription_qos)
    cell = _cell(live, topic.refused)
    twins = [s for s in topic.subscriptions if s.late_joiner]
    if not live and any(not qos.mismatches(client.policies, s) for s in twins):
        cell += ', latched'
    elif not live and twins:
        cell += ', start-up warning'
    return cell


def compatibility_table() -> str:
    """The README's QoS table, from the topic definitions and the client profiles.

    A row per topic: the graph's publisher and subscription QoS, then for each client
    profile whether it matches: ``yes``; ``yes, latched`` (a late-joining node also gets
    the last value); ``refused (policy)`` on purpose (the notes say why); ``-`` where
    clients do not feed the topic.
    """
    pubs, subs = qos.CLIENT_PUBLISHERS, qos.CLIENT_SUBSCRIPTIONS
    head = (['topic', 'graph publishes', 'graph subscribes']
            + [f'pub: {c.key}' for c in pubs] + [f'sub: {c.key}' for c in subs]
            + ['QoS override parameters'])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    refused: dict[str, list[str]] = {}
    for topic in ALL_TOPICS:
        subscribed = ' + '.join(s.describe() + (' (late joiner)' if s.late_joiner else '')
                                for s in topic.subscriptions)
        row = [f'`{topic.name}`', topic.publisher_qos.describe(), subscribed]
        row += [_input_cell(topic, c) if topic.clients_publish else '-' for c in pubs]
        row += [_cell(qos.mismatches(topic.publisher_qos, c.policies), '') for c in subs]
        endpoints = [qos.PUBLISHER] + [
            qos.SUBSCRIPTION + (f'_{s.entity_id}' if s.entity_id else '')
            for s in topic.subscriptions]
        row.append(f'`qos_overrides./{topic.name}.` + ' + ', '.join(
            f'`{e}.*`' for e in endpoints))
        lines.append('| ' + ' | '.join(row) + ' |')
        if topic.refused:
            refused.setdefault(topic.refused, []).append(f'`{topic.name}`')
    legend = ['', 'QoS override parameters: `<endpoint>.<policy>` for reliability, durability, '
              'history and depth, under the topic as the node resolves it (with its '
              'namespace); for example `qos_overrides./robot1/cmd_vel.publisher.depth`.',
              '', 'Client profiles:']
    legend += [f'- `pub: {c.key}`: {c.who}.' for c in pubs]
    legend += [f'- `sub: {c.key}`: {c.who}.' for c in subs]
    notes = [f'- {", ".join(names)}: {why}.' for why, names in refused.items()]
    warned = [f'`{t.name}`' for t in ALL_TOPICS
              if any(s.late_joiner for s in t.subscriptions)]
    notes += ['', f'`yes, start-up warning` ({", ".join(warned)}): heard on the volatile '
              "subscription; while the arbiter's transient-local twin exists (its start-up, "
              "`latched_wait_s`), the publisher's own middleware warns once that the twin "
              'cannot match it (an incompatible pair by design: the twin is for latched '
              'values).']
    return '\n'.join(lines + legend + ['', 'Refused on purpose:'] + notes) + '\n'


if __name__ == '__main__':  # the README's table: python -m mobile_vla.topics
    print(compatibility_table(), end='')
