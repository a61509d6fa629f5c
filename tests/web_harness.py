"""The live graph with the web console, a cmd_vel listener with wall-clock arrival times,
and Debian's chromium under Playwright: shared by the end-to-end test and the benchmark."""

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


class VelocityListener:
    """cmd_vel (or any twist topic) with the wall-clock time each message arrived, spun on
    its own thread so the browser can be driven meanwhile."""

    def __init__(self, domain_id: int, topic: topics.Topic = topics.CMD_VEL) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node('web_test_listener', context=self.context)
        self.messages: list[tuple[float, tuple[float, float, float]]] = []
        self._lock = threading.Lock()
        self.node.create_subscription(message_class(topic.msgtype), topic.name, self._on,
                                      topic.qos.profile(rclpy_qos))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _on(self, msg: Any) -> None:
        with self._lock:
            self.messages.append((time.time(), (msg.linear.x, msg.linear.y, msg.angular.z)))

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # the context shut down under the spin
                return

    def since(self, t: float) -> list[tuple[float, tuple[float, float, float]]]:
        with self._lock:
            return [m for m in self.messages if m[0] >= t]

    def wait_for(self, condition, after: float, timeout: float) -> tuple[float, Any] | None:
        """The first message after ``after`` (wall clock) whose velocity meets ``condition``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for stamp, velocity in self.since(after):
                if condition(velocity):
                    return stamp, velocity
            time.sleep(0.01)
        return None

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
