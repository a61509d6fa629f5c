"""Conversions between ROS message fields and plain Python / numpy values.

Functions here read and write any object with the ROS field names, so they serve
rclpy messages on the robot and ``rosbags`` messages in replay and tests alike.
Nothing here imports a ROS package.

Image -> numpy is zero-copy whenever the message buffer supports the buffer
protocol (rclpy's ``array.array``, ``bytes``, rosbags' ``numpy`` arrays): the
result is a view that honours ``step`` (row padding) and ``is_bigendian``.
numpy -> Image makes at most one copy (none if the array is already contiguous
and the message type stores numpy arrays).
"""

from __future__ import annotations

import array
import math
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mobile_vla.actions import ACTION_SPACE_3D, ActionSpace, InvalidActionError
from mobile_vla.units import NS


class ImageConversionError(ValueError):
    """An Image message (or array) that cannot be converted: what is wrong is in the text."""


@dataclass(frozen=True)
class Encoding:
    name: str
    channels: int
    dtype: str  # numpy kind and size without byte order, e.g. 'u1', 'u2', 'f4'

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def pixel_bytes(self) -> int:
        return self.channels * self.itemsize


ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in (
        Encoding('rgb8', 3, 'u1'),
        Encoding('bgr8', 3, 'u1'),
        Encoding('rgba8', 4, 'u1'),
        Encoding('bgra8', 4, 'u1'),
        Encoding('mono8', 1, 'u1'),
        Encoding('8UC1', 1, 'u1'),
        Encoding('8UC3', 3, 'u1'),
        Encoding('mono16', 1, 'u2'),
        Encoding('16UC1', 1, 'u2'),
        Encoding('32FC1', 1, 'f4'),
    )
}


def _encoding(name: str) -> Encoding:
    try:
        return ENCODINGS[name]
    except KeyError:
        raise ImageConversionError(
            f'unsupported image encoding {name!r}; supported: {", ".join(ENCODINGS)}'
        ) from None


def _byte_view(data: Any) -> np.ndarray:
    """A 1-D uint8 view of a message's data field, copying only if it has no buffer."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ImageConversionError(
                f'image data of type {type(data).__name__} is not a byte buffer: {exc}'
            ) from None


#: Colour encodings the policy and the console take, and their channel order.
CHANNEL_ORDER = {'rgb8': 'rgb', 'bgr8': 'bgr'}


def colour_image(msg: Any) -> tuple[np.ndarray, str]:
    """(H, W, 3) view and channel order ('rgb' or 'bgr') of an rgb8 or bgr8 Image; any
    other encoding or a malformed message raises ImageConversionError saying which."""
    order = CHANNEL_ORDER.get(msg.encoding)
    if order is None:
        raise ImageConversionError(f'encoding {msg.encoding} is not supported; publish rgb8 '
                                   'or bgr8')
    return image_to_numpy(msg), order


def image_to_numpy(msg: Any) -> np.ndarray:
    """View an Image message as an array of shape (H, W, C), or (H, W) for one channel.

    The result shares memory with ``msg.data`` (read-only if the buffer is), and
    keeps the message's byte order for 16- and 32-bit encodings. Raises
    ``ImageConversionError`` for an unknown encoding, a zero size, a ``step``
    shorter than a row, or data whose length is not ``height * step``.
    """
    enc = _encoding(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f'image has zero size ({width}x{height}); nothing to convert')
    row_bytes = width * enc.pixel_bytes
    if step < row_bytes:
        raise ImageConversionError(
            f'image step {step} is shorter than one row of {width} {enc.name} pixels '
            f'({row_bytes} bytes); the publisher set step wrongly'
        )
    raw = _byte_view(msg.data)
    if raw.size != height * step:
        raise ImageConversionError(
            f'image data has {raw.size} bytes but height*step = {height}*{step} = '
            f'{height * step}; the message is truncated or its header is wrong'
        )
    dtype = np.dtype(enc.dtype).newbyteorder('>' if msg.is_bigendian else '<')
    rows = raw.reshape(height, step)[:, :row_bytes]
    pixels = rows.view(dtype) if enc.itemsize > 1 else rows
    if enc.channels == 1:
        return pixels.reshape(height, width)
    return pixels.reshape(height, width, enc.channels)


def image_fields(image: np.ndarray, encoding: str) -> dict[str, Any]:
    """Fields of an Image message for ``image`` (no header).

    ``data`` is a flat uint8 numpy view of the pixels: no copy when ``image`` is
    C-contiguous, one copy otherwise. Use ``as_array_data`` for rclpy messages.
    """
    enc = _encoding(encoding)
    arr = np.asarray(image)
    expected_ndim = 2 if enc.channels == 1 else 3
    if arr.ndim == 3 and enc.channels == 1 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != expected_ndim or (expected_ndim == 3 and arr.shape[2] != enc.channels):
        shape = '(H, W)' if enc.channels == 1 else f'(H, W, {enc.channels})'
        raise ImageConversionError(f'{enc.name} needs an array of shape {shape}, got {arr.shape}')
    if f'{arr.dtype.kind}{arr.dtype.itemsize}' != enc.dtype:
        raise ImageConversionError(f'{enc.name} needs dtype {enc.dtype}, got {arr.dtype}')
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageConversionError(f'image has zero size {arr.shape}; nothing to publish')
    big = arr.dtype.byteorder == '>' or (arr.dtype.byteorder == '=' and sys.byteorder == 'big')
    arr = np.ascontiguousarray(arr)
    return {
        'height': arr.shape[0],
        'width': arr.shape[1],
        'encoding': enc.name,
        'is_bigendian': int(big and enc.itemsize > 1),
        'step': arr.shape[1] * enc.pixel_bytes,
        'data': arr.reshape(-1).view(np.uint8),
    }


def as_array_data(data: np.ndarray) -> array.array:
    """Copy a uint8 buffer into the ``array.array('B')`` that rclpy message fields hold.

    One memcpy; assigning a list or bytes to an rclpy uint8[] field instead
    checks every element in Python and takes tens of milliseconds at 720p.
    """
    out = array.array('B')
    out.frombytes(memoryview(np.ascontiguousarray(data)).cast('B'))
    return out


def numpy_buffer(nbytes: int) -> tuple[np.ndarray, np.ndarray]:
    """A message data container for rosbags messages and a writable uint8 view of it."""
    data = np.empty(nbytes, np.uint8)
    return data, data


def array_buffer(nbytes: int) -> tuple[array.array, np.ndarray]:
    """An rclpy ``array.array('B')`` data container and a writable uint8 view of it.

    Writing pixels through the view fills the message with no further copy.
    """
    data = array.array('B', b'\0') * nbytes
    return data, np.frombuffer(data, np.uint8)


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array: a view for rgb8/bgr8, a copy for the others."""
    if encoding in ('rgb8', '8UC3'):
        return image
    if encoding == 'bgr8':
        return image[:, :, ::-1]
    if encoding == 'rgba8':
        return image[:, :, :3]
    if encoding == 'bgra8':
        return image[:, :, 2::-1]
    if encoding in ('mono8', '8UC1'):
        return np.repeat(image[:, :, None], 3, axis=2)
    raise ImageConversionError(f'cannot convert {encoding!r} to RGB for the policy')


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * NS + int(stamp.nanosec)


def ns_to_stamp(t_ns: int) -> tuple[int, int]:
    """Integer nanoseconds -> (sec, nanosec) as builtin_interfaces/Time wants them."""
    if t_ns < 0:
        raise ValueError(f'time stamps must not be negative, got {t_ns} ns')
    sec, nanosec = divmod(int(t_ns), NS)
    return sec, nanosec


class SecondsSince:
    """Integer nanoseconds -> float seconds since the first time it is given.

    Components take time as float seconds. Epoch-scale ROS times (about 1.7e9 s)
    as floats resolve only about 0.2 us, which shows up as jitter in computed
    intervals; counting from a nearby origin keeps nanosecond precision for days.
    """

    def __init__(self, origin_ns: int | None = None) -> None:
        self.origin_ns = origin_ns

    def __call__(self, t_ns: int) -> float:
        if self.origin_ns is None:
            self.origin_ns = int(t_ns)
        return (int(t_ns) - self.origin_ns) / NS


def odometry_to_pose(msg: Any) -> tuple[float, float, float]:
    """(x, y, yaw) of a nav_msgs/Odometry of a planar robot; ValueError if not finite."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
    pose = (float(p.x), float(p.y), float(yaw))
    if not all(math.isfinite(v) for v in pose):
        raise ValueError(f'odometry pose is not finite: {pose}')
    return pose


def twist_to_action(msg: Any) -> tuple[float, float, float]:
    """Twist or TwistStamped -> (linear_x, linear_y, angular_z), unchecked."""
    twist = getattr(msg, 'twist', msg)
    return (float(twist.linear.x), float(twist.linear.y), float(twist.angular.z))


def checked_twist_to_action(
    msg: Any, space: ActionSpace = ACTION_SPACE_3D
) -> tuple[float, float, float]:
    """Like ``twist_to_action`` but raises ``InvalidActionError`` on NaN or inf."""
    action = twist_to_action(msg)
    space.validate(action)
    return action


def action_to_twist_fields(action: Sequence[float]) -> dict[str, tuple[float, float, float]]:
    """(linear_x, linear_y[, angular_z]) -> {'linear': (x, y, z), 'angular': (x, y, z)}."""
    values = [float(v) for v in action]
    if len(values) not in (2, 3):
        raise InvalidActionError(f'an action has 2 or 3 values, got {len(values)}')
    if not all(np.isfinite(values)):
        raise InvalidActionError(f'action contains NaN or inf: {values}')
    angular_z = values[2] if len(values) == 3 else 0.0
    return {'linear': (values[0], values[1], 0.0), 'angular': (0.0, 0.0, angular_z)}
