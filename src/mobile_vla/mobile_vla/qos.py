"""Quality of service as plain values: intents, the DDS matching rules, the profiles the
tools people use publish and subscribe with, QoS overrides given as parameters, and
the report of peers that can never match. No ROS imports: ``mobile_vla.ros_bus`` maps
these onto rclpy, and ``mobile_vla.topics`` gives every topic of the graph its QoS.

The two rules that decide whether a writer and a reader match (DDS "requested versus
offered"; a pair that breaks one never exchanges a message, and both sides only get
an incompatible-QoS event):

- a reader that asks for ``reliable`` never matches a ``best_effort`` writer;
- a reader that asks for ``transient_local`` never matches a ``volatile`` writer.

``system_default`` is whatever the middleware makes of it. The robot and this
workspace run Fast DDS (the default RMW of Humble and Jazzy), where a
``system_default`` writer is reliable and transient local and a ``system_default``
reader is best effort and volatile; ``SYSTEM_DEFAULT_WRITER`` and
``SYSTEM_DEFAULT_READER`` say so once, and the QoS test checks it against real rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable, Literal, Mapping, NamedTuple, Sequence

from mobile_vla.config import ConfigError

Reliability = Literal['reliable', 'best_effort']
Durability = Literal['volatile', 'transient_local']
RELIABILITIES = ('reliable', 'best_effort')
DURABILITIES = ('volatile', 'transient_local')
PUBLISHER, SUBSCRIPTION = 'publisher', 'subscription'
#: The rcl entity id of a subscription that exists only for the latched value.
LATE_JOINER_ID = 'latched'


@dataclass(frozen=True)
class QosIntent:
    """What one endpoint asks of the middleware, independent of rclpy.

    ``late_joiner``: a second, transient-local subscription beside a volatile one on
    the same topic. The volatile one hears every reliable publisher, whatever its
    durability; this one only adds the value a latched publisher holds when the node
    starts after it (a restarted arbiter keeps an engaged e-stop). Under DDS a
    latched publisher's messages then arrive on both, so its handler must take a
    repeated value as the same value. Replay, which has no late joiners, skips it.
    Its QoS override parameters carry the entity id ``latched``.
    """

    reliability: Reliability
    durability: Durability
    depth: int
    late_joiner: bool = False

    def __post_init__(self) -> None:
        if self.reliability not in RELIABILITIES:
            raise ValueError(f'unknown reliability {self.reliability!r}')
        if self.durability not in DURABILITIES:
            raise ValueError(f'unknown durability {self.durability!r}')
        if self.depth < 1:
            raise ValueError(f'QoS depth must be at least 1, got {self.depth}')
        if self.late_joiner and self.durability != 'transient_local':
            raise ValueError('a late-joiner subscription must be transient_local')

    @property
    def entity_id(self) -> str | None:
        """rcl's id that tells two subscriptions of one node on one topic apart."""
        return LATE_JOINER_ID if self.late_joiner else None

    def describe(self) -> str:
        return f'{self.reliability}, {self.durability.replace("_", " ")}, depth {self.depth}'

    def profile(self, rclpy_qos: ModuleType) -> Any:
        """The rclpy QoSProfile for this intent; pass the ``rclpy.qos`` module.

        Taking the module as an argument keeps this library free of ROS imports
        while every node builds its profiles the same way.
        """
        return rclpy_qos.QoSProfile(
            history=rclpy_qos.HistoryPolicy.KEEP_LAST,
            depth=self.depth,
            reliability=rclpy_qos.ReliabilityPolicy[self.reliability.upper()],
            durability=rclpy_qos.DurabilityPolicy[self.durability.upper()],
        )


class Policies(NamedTuple):
    """The two policies that decide matching, as discovery reports a peer's."""

    reliability: str
    durability: str


#: Fast DDS's resolution of ``system_default`` (see the module docstring).
SYSTEM_DEFAULT_WRITER = Policies('reliable', 'transient_local')
SYSTEM_DEFAULT_READER = Policies('best_effort', 'volatile')


def mismatches(offered: Any, requested: Any) -> tuple[str, ...]:
    """Why a writer offering ``offered`` never matches a reader requesting ``requested``:
    one line per policy (``RELIABILITY: offers best_effort, needs reliable``); empty
    when they match. Both take anything with ``reliability`` and ``durability``."""
    found = []
    if requested.reliability == 'reliable' and offered.reliability == 'best_effort':
        found.append('RELIABILITY: offers best_effort, needs reliable')
    if requested.durability == 'transient_local' and offered.durability == 'volatile':
        found.append('DURABILITY: offers volatile, needs transient_local')
    return tuple(found)


@dataclass(frozen=True)
class ClientProfile:
    """The QoS a tool or a user's node uses at its defaults.

    ``rclpy_name``: the rclpy preset it is (``qos_profile_sensor_data``), so the QoS test
    builds the real one; ``policies``: what it resolves to under Fast DDS.
    """

    key: str
    who: str
    policies: Policies
    depth: int
    rclpy_name: str | None = None

    def profile(self, rclpy_qos: ModuleType) -> Any:
        """The rclpy QoSProfile a client at this profile creates."""
        if self.rclpy_name is not None:
            return getattr(rclpy_qos, self.rclpy_name)
        return QosIntent(self.policies.reliability, self.policies.durability,  # type: ignore
                         self.depth).profile(rclpy_qos)


_DEFAULT = Policies('reliable', 'volatile')
#: Publishers people and programs use at their defaults.
CLIENT_PUBLISHERS: tuple[ClientProfile, ...] = (
    ClientProfile('default', 'rclpy / rclcpp publisher at its default profile', _DEFAULT, 10),
    ClientProfile('system_default', 'a publisher asking for the system default',
                  SYSTEM_DEFAULT_WRITER, 1, 'qos_profile_system_default'),
    ClientProfile('sensor_data', 'a sensor-data publisher (a joystick, a camera driver)',
                  Policies('best_effort', 'volatile'), 5, 'qos_profile_sensor_data'),
    ClientProfile('humble_pub', "Humble's `ros2 topic pub` (reliable, transient local, "
                  'depth 1)', Policies('reliable', 'transient_local'), 1),
    ClientProfile('jazzy_pub', "Jazzy's `ros2 topic pub` (its `default`: reliable, "
                  'volatile, depth 10)', _DEFAULT, 10),
)
#: Subscriptions of the tools people watch the robot with, at their defaults.
CLIENT_SUBSCRIPTIONS: tuple[ClientProfile, ...] = (
    ClientProfile('default', 'rviz2, rqt_image_view, a node at the default profile',
                  _DEFAULT, 10),
    ClientProfile('system_default', 'a subscription asking for the system default',
                  SYSTEM_DEFAULT_READER, 1, 'qos_profile_system_default'),
    ClientProfile('sensor_data', 'a best-effort base driver, Foxglove, sensor-data nodes',
                  Policies('best_effort', 'volatile'), 5, 'qos_profile_sensor_data'),
)


# ------------------------------------------------------------------ QoS overrides
#: rcl's parameter names: ``qos_overrides.<topic>.<publisher|subscription>[_<id>].<policy>``.
OVERRIDE_PREFIX = 'qos_overrides.'
#: The policies every endpoint declares an override parameter for, and their values.
OVERRIDE_POLICIES: dict[str, tuple[str, ...] | None] = {
    'reliability': ('reliable', 'best_effort', 'system_default'),
    'durability': ('volatile', 'transient_local', 'system_default'),
    'history': ('keep_last', 'keep_all', 'system_default'),
    'depth': None,  # a whole number, 1 or more
}


def override_names(path: str, kind: str, entity_id: str | None = None) -> dict[str, str]:
    """Policy -> parameter name of one endpoint on absolute topic ``path``."""
    suffix = f'_{entity_id}' if entity_id else ''
    return {policy: f'{OVERRIDE_PREFIX}{path}.{kind}{suffix}.{policy}'
            for policy in OVERRIDE_POLICIES}


def check_override(name: str, value: Any) -> None:
    """A ``ConfigError`` naming the parameter when its policy or value is unknown."""
    policy = name.rsplit('.', 1)[-1]
    if policy not in OVERRIDE_POLICIES:
        raise ConfigError(f'{name}: unknown QoS policy {policy!r}; QoS overrides take '
                          f'{", ".join(OVERRIDE_POLICIES)}')
    allowed = OVERRIDE_POLICIES[policy]
    if allowed is None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f'{name}: depth must be a whole number >= 1, got {value!r}')
    elif not isinstance(value, str) or value.lower() not in allowed:  # rclpy takes any case
        raise ConfigError(f'{name}: unknown {policy} {value!r}; use one of '
                          f'{", ".join(allowed)}')


def check_overrides_claimed(given: Iterable[str], claimed: Iterable[str]) -> None:
    """A ``ConfigError`` naming the first override that fits no endpoint of the node."""
    claimed = set(claimed)
    for name in sorted(given):
        if name not in claimed:
            endpoints = sorted({n.rsplit('.', 1)[0] for n in claimed})
            raise ConfigError(f'{name}: this node has no such endpoint; its QoS parameters '
                              f'are {OVERRIDE_PREFIX}<topic>.<endpoint>.<policy> for: '
                              f'{", ".join(e[len(OVERRIDE_PREFIX):] for e in endpoints)}')


def resolved(policies: Mapping[str, str], kind: str) -> Policies:
    """An endpoint's policies with ``system_default`` resolved as Fast DDS does."""
    default = SYSTEM_DEFAULT_WRITER if kind == PUBLISHER else SYSTEM_DEFAULT_READER
    reliability = policies['reliability']
    durability = policies['durability']
    return Policies(default.reliability if reliability == 'system_default' else reliability,
                    default.durability if durability == 'system_default' else durability)


# ------------------------------------------------------------- incompatible peers
class Mismatch(NamedTuple):
    """A peer endpoint that can never match one of this node's endpoints."""

    topic: str
    side: str  # this node's endpoint: publisher or subscription
    peer: str  # the peer's node, fully qualified
    peer_id: str  # the peer endpoint's gid, to tell two endpoints of one node apart
    why: tuple[str, ...]

    def key(self) -> str:
        arrow = '<-' if self.side == SUBSCRIPTION else '->'
        return f'{self.topic} {self.side} {arrow} {self.peer}'

    def text(self) -> str:
        their = 'publisher' if self.side == SUBSCRIPTION else 'subscription'
        return (f'QoS: the {their} of {self.peer} on {self.topic} can never match this '
                f"node's {self.side} ({'; '.join(self.why)}); no message passes between "
                "them. Fix the QoS of that peer, or set this endpoint's qos_overrides "
                'parameters')


def peer_mismatches(topic: str, side: str, mine: Sequence[Any],
                    peers: Iterable[tuple[str, str, Any]]) -> list[Mismatch]:
    """The peers that match none of this node's endpoints of one side on one topic.
    ``mine``: those endpoints' policies, the live one first (its reasons are the ones
    said); ``peers``: (node, gid, policies) of the other side's endpoints."""
    found = []
    for peer, peer_id, theirs in peers:
        why = [mismatches(theirs, m) if side == SUBSCRIPTION else mismatches(m, theirs)
               for m in mine]
        if all(why):
            found.append(Mismatch(topic, side, peer, peer_id, why[0]))
    return found


class QosPeers:
    """The incompatible peers of a node's endpoints: each new one is said once, and the
    current ones are a diagnostics status (WARN while any is there)."""

    def __init__(self) -> None:
        self._said: set[tuple[str, str, str]] = set()
        self.current: list[Mismatch] = []

    def update(self, found: Iterable[Mismatch]) -> list[Mismatch]:
        """The peers found now; returns those never said before."""
        self.current = sorted(set(found))
        new = []
        for m in self.current:
            ident = (m.topic, m.side, m.peer_id)
            if ident not in self._said:
                self._said.add(ident)
                new.append(m)
        return new

    def diagnostics(self) -> tuple[str, str, dict[str, str]]:
        """(level, message, values) of the node's QoS status: WARN while a peer is there."""
        if not self.current:
            return 'OK', 'every peer matches', {}
        values = {m.key(): '; '.join(m.why) for m in self.current}
        n = len(self.current)
        return 'WARN', f'{n} peer endpoint{"s" if n > 1 else ""} with incompatible QoS', values
