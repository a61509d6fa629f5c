"""A listener with wall-clock arrival times on its own thread, Debian's chromium under
Playwright, a TCP proxy that can stall a link, and the page's own test of whether it
shows the robot as live: shared by the web console's tests and its benchmark."""

from __future__ import annotations

import asyncio
import shutil
import socket
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


def press_w(page, listener: Listener, topic: topics.Topic = topics.TELEOP_CMD_VEL,
            timeout_s: float = 3.0) -> tuple[float, Any] | None:
    """Hold W on ``page``: the first moving velocity on ``topic`` after the press, or None
    within ``timeout_s``."""
    pressed = time.time()
    page.keyboard.down('w')
    return listener.wait_for(moving, pressed, timeout_s, topic)


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


#: The page shows nothing as live: the link pill does not say connected, nobody is shown
#: as having control, the e-stop is neither "released" nor "ENGAGED", no key is lit, and no
#: velocity is shown. Written against what a person sees, so it means the same on any
#: version of the page.
NOT_LIVE = """() => {
  const text = (id) => (document.getElementById(id) || {}).textContent || '';
  return text('link') !== 'connected'
    && !text('control').includes('you have control')
    && !/released|ENGAGED/.test(text('estop-state'))
    && document.querySelector('kbd.held') === null
    && !/[0-9]/.test(text('cmd_vel'));
}"""


def watch(predicate: str) -> str:
    """JS that installs a watcher in the page: ``window.__heldAt`` is the wall-clock time
    (ms) at which ``predicate`` (a JS function) first held after the call (checked every
    5 ms), else null. Read it with ``held_after``."""
    return """() => {
  window.__heldAt = null;
  clearInterval(window.__heldWatch);
  const held = %s;
  window.__heldWatch = setInterval(() => {
    if (window.__heldAt === null && held()) {
      window.__heldAt = performance.timeOrigin + performance.now();
    }
  }, 5);
}""" % predicate


WATCH_NOT_LIVE = watch(NOT_LIVE)


def held_after(page, fault_s: float, timeout_s: float = 3.0) -> float | None:
    """Seconds from ``fault_s`` (wall clock) to the watched predicate holding, or None if
    it did not within ``timeout_s``. Call ``page.evaluate(watch(...))`` first."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        at = page.evaluate('() => window.__heldAt')
        if at is not None:
            return at / 1000 - fault_s
        time.sleep(0.02)
    return None


class StallProxy:
    """A TCP relay from a free local port to ``target_port``; ``stall()`` stops carrying
    bytes both ways (they wait, as in a network that stalls), ``resume()`` delivers them
    in order. Runs its own event loop on a thread."""

    def __init__(self, target_port: int, host: str = '127.0.0.1') -> None:
        self.target = (host, target_port)
        with socket.socket() as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(host, ready), daemon=True)
        self._thread.start()
        ready.wait(5.0)

    def _run(self, host: str, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._relay, host, self.port))
        ready.set()
        self.loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        except asyncio.CancelledError:  # closing: the connection simply ends
            pass

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def stall(self) -> None:
        self.loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self._flowing.set)

    async def _shutdown(self) -> None:
        self._flowing.set()
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(5.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


def text_is(element_id: str, value: str) -> str:
    """A page predicate: the element's text is exactly ``value``."""
    return f"() => document.getElementById('{element_id}').textContent === {value!r}"


def ready_to_drive(page) -> None:
    """This page has control, the policy is stopped, the e-stop released, manual mode."""
    page.click('#stop-policy')
    try:
        page.wait_for_function(text_is('control', 'you have control'), timeout=2_000)
    except Exception:  # another console has it: take it, on purpose
        page.click('#take')
        page.wait_for_function(text_is('control', 'you have control'))
    if page.text_content('#estop-state') != 'e-stop released':
        page.click('#release')
        page.wait_for_function(text_is('estop-state', 'e-stop released'), timeout=10_000)
    page.click('[data-mode=manual]')
    page.wait_for_function(
        "() => document.querySelector('[data-mode=manual]').classList.contains('active')")
    page.locator('body').click(position={'x': 5, 'y': 5})  # focus off the buttons
