"""A listener with wall-clock arrival times on its own thread, and Debian's chromium under
Playwright: shared by the web console's tests and its benchmark."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import rclpy
from rclpy import qos as rclpy_qos
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from mobile_vla import topics
from mobile_vla.ros_bus import message_class

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


class Listener:
    """Topics of the graph with the wall-clock time each message arrived, spun on its own
    thread so a browser or a WebSocket client can be driven meanwhile."""

    def __init__(self, domain_id: int, listen: tuple[topics.Topic, ...] = (topics.CMD_VEL,)
                 ) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node('web_test_listener', context=self.context)
        self.received: dict[str, list[tuple[float, Any]]] = {t.name: [] for t in listen}
        self._lock = threading.Lock()
        for topic in listen:
            self.node.create_subscription(
                message_class(topic.msgtype), topic.name,
                lambda msg, name=topic.name: self._on(name, msg),
                topic.publisher_qos.profile(rclpy_qos))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _on(self, name: str, msg: Any) -> None:
        with self._lock:
            self.received[name].append((time.time(), msg))

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # the context shut down under the spin
                return

    def publisher(self, topic: topics.Topic) -> Any:
        return self.node.create_publisher(message_class(topic.msgtype), topic.name,
                                          topic.publisher_qos.profile(rclpy_qos))

    def messages(self, topic: topics.Topic, after: float = 0.0) -> list[tuple[float, Any]]:
        with self._lock:
            return [m for m in self.received[topic.name] if m[0] >= after]

    def since(self, t: float, topic: topics.Topic = topics.CMD_VEL
              ) -> list[tuple[float, tuple[float, float, float]]]:
        """Velocities on ``topic`` that arrived at or after ``t`` (wall clock)."""
        return [(stamp, (m.linear.x, m.linear.y, m.angular.z))
                for stamp, m in self.messages(topic, t)]

    def wait_for(self, condition, after: float, timeout: float,
                 topic: topics.Topic = topics.CMD_VEL) -> tuple[float, Any] | None:
        """The first velocity after ``after`` (wall clock) that meets ``condition``."""
        end = time.monotonic() + timeout
        while True:
            for stamp, velocity in self.since(after, topic):
                if condition(velocity):
                    return stamp, velocity
            if time.monotonic() >= end:
                return None
            time.sleep(0.005)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(2.0)


def moving(velocity) -> bool:
    return any(abs(v) > 1e-3 for v in velocity)


def still(velocity) -> bool:
    return not moving(velocity)


def browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM,
                                      args=['--no-sandbox', '--disable-gpu'])


def screenshot_path(name: str) -> Path:
    path = Path(__file__).resolve().parents[1] / 'runs' / 'web_console' / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
