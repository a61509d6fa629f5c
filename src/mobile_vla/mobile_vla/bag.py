"""Read and write rosbag2 files (sqlite3 or MCAP) without ROS 2, through ``rosbags``.

Bags are written in metadata version 8 with Humble message definitions, so the
robot's ``ros2 bag info/play`` and Foxglove open them; bags recorded on a Humble
robot (metadata version 5 and later) read back here. Topics of the graph get the
QoS profile ``mobile_vla.topics`` declares, so ``ros2 bag play`` offers the same
QoS as the live robot.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_typestore

from mobile_vla import topics as graph_topics
from mobile_vla.msgs import action_to_twist_fields, image_fields, ns_to_stamp, numpy_buffer

log = logging.getLogger(__name__)

BAG_VERSION = 8
STORAGES = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}
DEFAULT_FRAME_ID = 'camera_optical_frame'
_ZERO_TIME = QosTime(0, 0)
DIAGNOSTIC_LEVELS = ('OK', 'WARN', 'ERROR', 'STALE')


class BagError(RuntimeError):
    """A bag that cannot be read or written; the text says what to do."""


def humble_typestore() -> Any:
    """A fresh typestore with the ROS 2 Humble message definitions."""
    return _rosbags_typestore(Stores.ROS2_HUMBLE)


@dataclass(frozen=True)
class BagMessage:
    """One message of a stream: topic, type, time in nanoseconds and the message."""

    topic: str
    msgtype: str
    t_ns: int
    msg: Any


def _qos(intent: graph_topics.QosIntent) -> Qos:
    reliability = (
        QosReliability.RELIABLE if intent.reliability == 'reliable'
        else QosReliability.BEST_EFFORT
    )
    durability = (
        QosDurability.TRANSIENT_LOCAL if intent.durability == 'transient_local'
        else QosDurability.VOLATILE
    )
    return Qos(
        QosHistory.KEEP_LAST, intent.depth, reliability, durability, _ZERO_TIME, _ZERO_TIME,
        QosLiveliness.AUTOMATIC, _ZERO_TIME, False,
    )


class MessageFactory:
    """Builds messages from plain values: ``rosbags`` ones (Humble definitions) by default.

    Node wiring builds every message through a factory, so the same code makes
    rosbags messages in replay and the simulator, and rclpy messages on the robot:
    ``lookup`` maps a type name (``geometry_msgs/msg/Twist``) to its class, and
    ``alloc`` makes image data containers (``numpy_buffer`` for rosbags,
    ``msgs.array_buffer`` for rclpy). Every field is given, as rosbags requires.
    """

    def __init__(self, typestore: Any | None = None,
                 lookup: Callable[[str], Any] | None = None,
                 alloc: Callable[[int], tuple[Any, np.ndarray]] = numpy_buffer) -> None:
        if lookup is None:
            self.typestore = typestore or humble_typestore()
            lookup = self.typestore.types.__getitem__
        self.type = lookup
        self.alloc = alloc
        self._time = lookup('builtin_interfaces/msg/Time')
        self._header = lookup('std_msgs/msg/Header')
        self._image = lookup('sensor_msgs/msg/Image')
        self._vector3 = lookup('geometry_msgs/msg/Vector3')
        self._twist = lookup('geometry_msgs/msg/Twist')
        self._twist_stamped = lookup('geometry_msgs/msg/TwistStamped')
        self._string = lookup('std_msgs/msg/String')
        self._bool = lookup('std_msgs/msg/Bool')

    def header(self, t_ns: int, frame_id: str = '') -> Any:
        sec, nanosec = ns_to_stamp(t_ns)
        return self._header(stamp=self._time(sec=sec, nanosec=nanosec), frame_id=frame_id)

    def image(
        self, image: np.ndarray, encoding: str, t_ns: int, frame_id: str = DEFAULT_FRAME_ID
    ) -> Any:
        """sensor_msgs/Image; no pixel copy when ``image`` is C-contiguous."""
        return self._image(header=self.header(t_ns, frame_id), **image_fields(image, encoding))

    def image_from_fields(self, fields: dict[str, Any], t_ns: int,
                          frame_id: str = DEFAULT_FRAME_ID) -> Any:
        """sensor_msgs/Image from ready fields (as ``CameraPublisher.render`` makes them)."""
        return self._image(header=self.header(t_ns, frame_id), **fields)

    def camera_info(self, fields: dict[str, Any], t_ns: int, frame_id: str) -> Any:
        """sensor_msgs/CameraInfo from calibration fields (``Calibration.fields``)."""
        roi = self.type('sensor_msgs/msg/RegionOfInterest')(
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        values = {name: np.asarray(fields[name], np.float64) for name in ('d', 'k', 'r', 'p')}
        return self.type('sensor_msgs/msg/CameraInfo')(
            header=self.header(t_ns, frame_id), height=fields['height'], width=fields['width'],
            distortion_model=fields['distortion_model'], binning_x=fields.get('binning_x', 0),
            binning_y=fields.get('binning_y', 0), roi=roi, **values)

    def diagnostics(self, t_ns: int, name: str, level: str, message: str,
                    values: Mapping[str, Any], hardware_id: str = 'mobile_vla') -> Any:
        """diagnostic_msgs/DiagnosticArray with one status; ``level`` is OK/WARN/ERROR/STALE."""
        if level not in DIAGNOSTIC_LEVELS:
            raise ValueError(f'diagnostic level must be one of {DIAGNOSTIC_LEVELS}, '
                             f'got {level!r}')
        status_type = self.type('diagnostic_msgs/msg/DiagnosticStatus')
        key_value = self.type('diagnostic_msgs/msg/KeyValue')
        status = status_type(
            level=getattr(status_type, level), name=name, message=message,
            hardware_id=hardware_id,
            values=[key_value(key=str(k), value=str(v)) for k, v in values.items()])
        return self.type('diagnostic_msgs/msg/DiagnosticArray')(
            header=self.header(t_ns), status=[status])

    def odometry(self, pose: Sequence[float], velocity: Sequence[float], t_ns: int,
                 frame_id: str = 'odom', child_frame_id: str = 'base_link') -> Any:
        """nav_msgs/Odometry of a planar robot: pose (x, y, yaw), body velocity (vx, vy, wz)."""
        x, y, yaw = (float(v) for v in pose)
        quat = self.type('geometry_msgs/msg/Quaternion')(
            x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))
        point = self.type('geometry_msgs/msg/Point')(x=x, y=y, z=0.0)
        covariance = np.zeros(36, np.float64)
        pose_msg = self.type('geometry_msgs/msg/PoseWithCovariance')(
            pose=self.type('geometry_msgs/msg/Pose')(position=point, orientation=quat),
            covariance=covariance)
        twist_msg = self.type('geometry_msgs/msg/TwistWithCovariance')(
            twist=self.twist(velocity), covariance=covariance.copy())
        return self.type('nav_msgs/msg/Odometry')(
            header=self.header(t_ns, frame_id), child_frame_id=child_frame_id,
            pose=pose_msg, twist=twist_msg)

    def twist(self, action: Sequence[float]) -> Any:
        fields = action_to_twist_fields(action)
        (lx, ly, lz), (ax, ay, az) = fields['linear'], fields['angular']
        return self._twist(linear=self._vector3(x=lx, y=ly, z=lz),
                           angular=self._vector3(x=ax, y=ay, z=az))

    def twist_stamped(self, action: Sequence[float], t_ns: int, frame_id: str = '') -> Any:
        return self._twist_stamped(header=self.header(t_ns, frame_id), twist=self.twist(action))

    def string(self, text: str) -> Any:
        return self._string(data=str(text))

    def boolean(self, value: bool) -> Any:
        return self._bool(data=bool(value))


class BagWriter:
    """Write a rosbag2 (version 8) from rosbags messages or plain values.

    Use as a context manager. Connections are added on the first message of each
    topic; the message type comes from the message itself.
    """

    def __init__(
        self,
        path: str | Path,
        storage: str = 'sqlite3',
        factory: MessageFactory | None = None,
    ) -> None:
        if storage not in STORAGES:
            raise BagError(f'unknown bag storage {storage!r}; use one of {", ".join(STORAGES)}')
        self.path = Path(path)
        if self.path.exists():
            raise BagError(
                f'{self.path} exists already; bags are never overwritten, choose a new path'
            )
        self.storage = storage
        self.factory = factory or MessageFactory()
        self.typestore = self.factory.typestore
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._writer.open()
        except WriterError as exc:
            raise BagError(f'cannot create bag {self.path}: {exc}') from exc

    def close(self) -> None:
        if self._writer.storage is not None:
            self._writer.close()

    def _connection(self, topic: str, msgtype: str) -> Any:
        conn = self._connections.get(topic)
        if conn is None:
            try:
                qos = [_qos(graph_topics.by_name(topic).publisher_qos)]
            except KeyError:
                qos = []
            try:
                conn = self._writer.add_connection(
                    topic, msgtype, typestore=self.typestore, offered_qos_profiles=qos
                )
            except (WriterError, TypesysError, KeyError) as exc:
                raise BagError(f'cannot add topic {topic} of type {msgtype}: {exc}') from exc
            self._connections[topic] = conn
            self.counts[topic] = 0
        elif conn.msgtype != msgtype:
            raise BagError(
                f'topic {topic} was written as {conn.msgtype}, not {msgtype}; '
                'one topic carries one message type'
            )
        return conn

    def write(self, topic: str, msg: Any, t_ns: int, msgtype: str | None = None) -> None:
        """Write one message received at ``t_ns`` (nanoseconds)."""
        topic = '/' + topic.lstrip('/')
        msgtype = msgtype or getattr(msg, '__msgtype__', None)
        if msgtype is None:
            raise BagError(f'cannot tell the message type of {type(msg).__name__} on {topic}')
        conn = self._connection(topic, msgtype)
        self._writer.write(conn, int(t_ns), self.typestore.serialize_cdr(msg, msgtype))
        self.counts[topic] += 1

    def write_image(
        self,
        topic: str,
        image: np.ndarray,
        t_ns: int,
        encoding: str = 'rgb8',
        frame_id: str = DEFAULT_FRAME_ID,
    ) -> None:
        self.write(topic, self.factory.image(image, encoding, t_ns, frame_id), t_ns)

    def write_twist(self, topic: str, action: Sequence[float], t_ns: int) -> None:
        self.write(topic, self.factory.twist(action), t_ns)

    def write_string(self, topic: str, text: str, t_ns: int) -> None:
        self.write(topic, self.factory.string(text), t_ns)

    def write_bool(self, topic: str, value: bool, t_ns: int) -> None:
        self.write(topic, self.factory.boolean(value), t_ns)


@dataclass(frozen=True)
class TopicSummary:
    msgtype: str
    count: int
    decodable: bool


class BagReader:
    """Read a rosbag2 folder (sqlite3 or MCAP, metadata version 4 to 9) in time order.

    Types missing from the Humble store are registered from the definitions the
    bag carries; topics whose type cannot be decoded are reported, and skipped
    unless asked for.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / 'metadata.yaml').is_file() and not self.path.is_file():
            raise BagError(
                f'{self.path} is not a rosbag2 folder (no metadata.yaml); '
                'pass the folder that `ros2 bag record` created'
            )
        self.typestore = humble_typestore()
        self._reader = Reader(self.path)
        self._undecodable: dict[str, str] = {}

    def __enter__(self) -> BagReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._reader.open()
        except ReaderError as exc:
            raise BagError(f'cannot read bag {self.path}: {exc}') from exc
        for conn in self._reader.connections:
            if conn.msgtype not in self.typestore.fielddefs:
                self._register(conn)

    def close(self) -> None:
        if self._reader.is_open:
            self._reader.close()

    def _register(self, conn: Any) -> None:
        text = conn.msgdef.data if conn.msgdef else ''
        try:
            if not text:
                raise TypesysError('the bag carries no definition for it')
            if conn.msgdef.format.name == 'IDL':
                types = get_types_from_idl(text)
            else:
                types = get_types_from_msg(text, conn.msgtype)
            self.typestore.register(types)
        except (TypesysError, ValueError) as exc:
            self._undecodable[conn.topic] = f'{conn.msgtype}: {exc}'

    @property
    def start_ns(self) -> int:
        return self._reader.start_time

    @property
    def end_ns(self) -> int:
        """Time of the last message (rosbags reports one past it)."""
        return self._reader.end_time - 1 if self._reader.message_count else self.start_ns

    @property
    def message_count(self) -> int:
        return self._reader.message_count

    @property
    def topics(self) -> dict[str, TopicSummary]:
        counts: dict[str, TopicSummary] = {}
        for conn in self._reader.connections:
            prev = counts.get(conn.topic)
            counts[conn.topic] = TopicSummary(
                conn.msgtype,
                conn.msgcount + (prev.count if prev else 0),
                conn.topic not in self._undecodable,
            )
        return counts

    def messages(
        self,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[BagMessage]:
        """Deserialised messages in time order; only ``topics`` if given.

        Asking for a topic the bag lacks, or one whose type cannot be decoded,
        raises ``BagError`` before anything is read.
        """
        conns = self._reader.connections
        if topics is not None:
            wanted = {'/' + t.lstrip('/') for t in topics}
            present = {c.topic for c in conns}
            missing = sorted(wanted - present)
            if missing:
                raise BagError(
                    f'bag {self.path} has no topic {", ".join(missing)}; '
                    f'it has: {", ".join(sorted(present))}'
                )
            conns = [c for c in conns if c.topic in wanted]
            bad = [self._undecodable[c.topic] for c in conns if c.topic in self._undecodable]
            if bad:
                raise BagError(f'cannot decode {"; ".join(bad)} in {self.path}')
        else:
            conns = [c for c in conns if c.topic not in self._undecodable]
        if not conns:
            return
        for conn, t_ns, raw in self._reader.messages(conns, start=start_ns, stop=stop_ns):
            yield BagMessage(
                conn.topic, conn.msgtype, t_ns, self.typestore.deserialize_cdr(raw, conn.msgtype)
            )


def read_messages(path: str | Path, topics: Iterable[str] | None = None) -> list[BagMessage]:
    """All (or the named topics') messages of a bag, in time order."""
    with BagReader(path) as reader:
        return list(reader.messages(topics))
