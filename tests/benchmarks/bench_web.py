"""The web console against the live simulator graph: what a user sees, and how fast.

The graph is ``mobile-vla sim live`` (every node its own process over DDS) and the page
runs in headless Chromium (Debian's chromium under Playwright). Figures:

- **camera in the page**: frames per second drawn, and the capture-to-page delay (the
  page's clock at draw minus the frame's capture stamp; one machine, one clock), p50 /
  p95. Baseline in the same run: the same frames at an rclpy subscriber of
  ``camera/image`` (capture to arrival), so the ratio is what the console adds
  (downscale, JPEG, WebSocket, decode, draw);
- **pages**: one page, then three, with the console's CPU share and each page's rate
  (frames are encoded once, whatever the number of viewers);
- **e-stop**: the click in the page to the first zero on ``/cmd_vel`` while a held key
  drives the robot, p50 / p95 / max over ``--trials``. Baseline in the same run:
  ``control/estop`` published straight onto DDS by a probe, the same way;
- **JPEG encoding** of one 1280x720 frame to the 640-wide stream, in process;
- **faults**: the time from a fault to the page showing itself not live (link pill, control,
  e-stop, keys and telemetry all unknown; the page's own test, ``web_harness.NOT_LIVE``),
  p50 / p95 / max over ``--fault-trials``, for the console stopped (SIGSTOP), the link
  stalled (a TCP proxy that stops carrying bytes) and the console killed (SIGKILL; it
  respawns and the page reconnects before the next trial). In the stop and stall trials
  W is held when the fault starts and released during it (1.5 s); the drive commands on
  ``teleop/cmd_vel`` after the fault ends are counted (queued key messages replayed; the
  stop falls between two key repeats), and so are those of stops at a random moment,
  where a process stopped inside a publish call delivers that one command on resume.

    python tests/benchmarks/bench_web.py [--trials 40] [--seconds 15] [--fault-trials 20]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests'))

from bench_graph import cpu_seconds, percentiles  # noqa: E402
from web_harness import (  # noqa: E402
    CHROMIUM,
    WATCH_NOT_LIVE,
    Listener,
    StallProxy,
    browser,
    held_after,
    moving,
    press_w,
    ready_to_drive,
    still,
    text_is,
)

#: How long each stop or stall lasts, and when in it the held key is released.
FAULT_S = 1.5
RELEASE_S = 0.7


def page_stats(page) -> dict:
    return page.evaluate('() => ({frames: window.consoleStats.frames, '
                         'latencies: window.consoleStats.latencies})')


def camera_figures(graph, pages, camera_delays, seconds: float) -> dict:
    """Frames drawn per page and capture-to-page delays over ``seconds``."""
    web_pid = graph.processes['web_console'].pid
    before = [page_stats(p) for p in pages]
    cpu0, t0 = cpu_seconds(web_pid), time.monotonic()
    n_probe = len(camera_delays)
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(web_pid) - cpu0) / elapsed * 100
    after = [page_stats(p) for p in pages]
    fps = [(a['frames'] - b['frames']) / elapsed for a, b in zip(after, before, strict=True)]
    delays = [d for a, b in zip(after, before, strict=True)
              for d in a['latencies'][-(a['frames'] - b['frames']):]]
    probe = camera_delays[n_probe:]
    return {'fps': fps, 'page': percentiles(delays), 'probe': percentiles(probe),
            'probe_fps': len(probe) / elapsed, 'web_cpu': cpu}


def estop_trials(page, listener, estop_pub, trials: int, direct: bool) -> list[float]:
    from std_msgs.msg import Bool

    from mobile_vla import topics

    delays = []
    for _ in range(trials):
        page.click('#release')
        page.wait_for_function(text_is('estop-state', 'e-stop released'), timeout=10_000)
        page.locator('body').click(position={'x': 2, 'y': 2})
        if not press_w(page, listener, topics.CMD_VEL):
            page.keyboard.up('w')
            continue
        time.sleep(0.2)
        if direct:
            sent = time.time()
            estop_pub.publish(Bool(data=True))
        else:
            page.click('#estop')
            sent = page.evaluate('() => window.consoleStats.estopClickedAt') / 1000
        stopped = listener.wait_for(still, sent, 2.0)
        page.keyboard.up('w')
        if stopped:
            delays.append((stopped[0] - sent) * 1000)
        page.wait_for_function(text_is('estop-state', 'E-STOP ENGAGED'), timeout=10_000)
        time.sleep(0.3)
    return delays


def stall_trial(page, listener, start, end, aligned: bool) -> tuple[float | None, int, float]:
    """W held, then the fault (``start()``) for FAULT_S with W released in it, then
    ``end()``: (seconds to not live, drive commands after the end, largest |cmd_vel| after
    the end)."""
    from mobile_vla import topics

    teleop = topics.TELEOP_CMD_VEL
    ready_to_drive(page)
    last = press_w(page, listener, teleop)
    if aligned and last is not None:  # between two repeats of the key (every 0.1 s)
        last = listener.wait_for(moving, last[0] + 1e-6, 1.0, teleop) or last
        time.sleep(max(0.0, last[0] + 0.05 - time.time()))
    elif not aligned:
        time.sleep(random.uniform(0.0, 0.1))
    page.evaluate(WATCH_NOT_LIVE)
    began = time.time()
    start()
    try:
        delay = held_after(page, began, timeout_s=RELEASE_S)
        time.sleep(max(0.0, RELEASE_S - (time.time() - began)))
        page.keyboard.up('w')
        time.sleep(max(0.0, FAULT_S - (time.time() - began)))
    finally:
        end()
    ended = time.time()
    time.sleep(1.0)
    after = [v for _, v in listener.since(ended, teleop) if moving(v)]
    wheels = max((max(abs(x) for x in v) for _, v in listener.since(ended)), default=0.0)
    page.wait_for_function(text_is('link', 'connected'), timeout=10_000)
    return delay, len(after), wheels


def fault_figures(graph, listener, chromium, trials: int) -> dict:
    """See the module docstring: stale times, and drive commands after a stop or stall."""
    def open_page(url: str):
        page = chromium.new_page(viewport={'width': 1360, 'height': 900})
        page.goto(f'{url}#token={graph.token}')
        page.wait_for_function('() => window.consoleStats.frames >= 5', timeout=60_000)
        return page

    results: dict[str, dict] = {}
    page = open_page(graph.url)
    for name, aligned in (('console stopped (SIGSTOP)', True),
                          ('console stopped at a random moment', False)):
        rows = []
        for _ in range(trials):
            pid = graph.processes['web_console'].pid
            rows.append(stall_trial(page, listener, lambda p=pid: os.kill(p, signal.SIGSTOP),
                                    lambda p=pid: os.kill(p, signal.SIGCONT), aligned))
        results[name] = rows
    page.close()
    proxy = StallProxy(graph.port)
    try:
        page = open_page(f'http://localhost:{proxy.port}/')
        results['network stalled (proxy)'] = [
            stall_trial(page, listener, proxy.stall, proxy.resume, True) for _ in range(trials)]
        page.close()
    finally:
        proxy.close()
    page = open_page(graph.url)
    killed = []
    for _ in range(max(3, trials // 4)):
        page.wait_for_function(text_is('link', 'connected'), timeout=60_000)
        page.evaluate(WATCH_NOT_LIVE)
        began = time.time()
        graph.processes['web_console'].send_signal(signal.SIGKILL)
        killed.append((held_after(page, began), 0, 0.0))
        page.wait_for_function(text_is('link', 'connected'), timeout=60_000)
        time.sleep(1.0)
    results['console killed (SIGKILL), then respawned'] = killed
    page.close()
    return results


def jpeg_figures(runs: int = 200) -> dict:
    import numpy as np

    from mobile_vla_web.frames import encode_jpeg

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (720, 1280, 3), np.uint8)
    image[::2] //= 2
    times = []
    for i in range(runs):
        t = time.perf_counter()
        encode_jpeg(image, 'rgb', 640, 75, i, 0)
        times.append((time.perf_counter() - t) * 1000)
    return {'p50': statistics.median(times), 'p95': sorted(times)[int(0.95 * runs)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trials', type=int, default=40)
    parser.add_argument('--seconds', type=float, default=15.0)
    parser.add_argument('--fault-trials', type=int, default=20)
    args = parser.parse_args()
    if CHROMIUM is None:
        print('chromium is not installed (make setup installs it)')
        return 1
    from playwright.sync_api import sync_playwright
    from rclpy import qos as rclpy_qos
    from sensor_msgs.msg import Image

    from mobile_vla import topics
    from mobile_vla.msgs import stamp_to_ns
    from mobile_vla_sim.live_graph import LiveGraph

    out = Path(tempfile.mkdtemp(prefix='bench_web_'))
    graph = LiveGraph(out, port=0, token_file=str(out / 'token'), mode='manual')
    graph.start()
    listener = Listener(graph.domain_id, (topics.CMD_VEL, topics.TELEOP_CMD_VEL))
    camera_delays: list[float] = []
    listener.node.create_subscription(
        Image, topics.CAMERA_IMAGE.name,
        lambda m: camera_delays.append((time.time_ns() - stamp_to_ns(m.header.stamp)) / 1e6),
        topics.CAMERA_IMAGE.subscription_qos.profile(rclpy_qos))
    estop_pub = listener.publisher(topics.CONTROL_ESTOP)
    try:
        with sync_playwright() as p:
            chromium = browser(p)
            pages = [chromium.new_page(viewport={'width': 1360, 'height': 900})]
            pages[0].goto(f'{graph.url}#token={graph.token}')
            pages[0].wait_for_function('() => window.consoleStats.frames >= 30',
                                       timeout=60_000)
            time.sleep(3.0)
            one = camera_figures(graph, pages, camera_delays, args.seconds)
            for _ in range(2):
                extra = chromium.new_page(viewport={'width': 1360, 'height': 900})
                extra.goto(f'{graph.url}#token={graph.token}')
                extra.wait_for_function('() => window.consoleStats.frames >= 10',
                                        timeout=60_000)
                pages.append(extra)
            three = camera_figures(graph, pages, camera_delays, args.seconds)
            for extra in pages[1:]:
                extra.close()
            page = pages[0]
            page.bring_to_front()
            page.click('[data-mode=manual]')
            page.click('#estop')
            web = estop_trials(page, listener, estop_pub, args.trials, direct=False)
            direct = estop_trials(page, listener, estop_pub, args.trials, direct=True)
            faults = fault_figures(graph, listener, chromium, args.fault_trials) \
                if args.fault_trials else {}
            chromium.close()
    finally:
        listener.close()
        graph.stop()
    jpeg = jpeg_figures()

    def row(name, figures):
        return (f'| {name} | {figures.get("n", 0)} | {figures.get("p50", "-")} | '
                f'{figures.get("p95", "-")} | {figures.get("max", "-")} |')

    print('\n## Web console against the live simulator (15 fps camera, 640x360 render)\n')
    print('| pages | page fps (each) | console CPU % | capture-to-page ms p50 / p95 | '
          'capture-to-rclpy-probe ms p50 / p95 | ratio p50 |')
    print('|---|---|---|---|---|---|')
    for n, f in ((1, one), (3, three)):
        ratio = f['page'].get('p50', 0) / max(f['probe'].get('p50', 1e-9), 1e-9)
        print(f"| {n} | {' / '.join(f'{x:.1f}' for x in f['fps'])} | {f['web_cpu']:.0f} | "
              f"{f['page'].get('p50')} / {f['page'].get('p95')} | "
              f"{f['probe'].get('p50')} / {f['probe'].get('p95')} | {ratio:.1f}x |")
    print('\n## E-stop to zero /cmd_vel (ms), a held key driving\n')
    print('| path | trials | p50 | p95 | max |')
    print('|---|---|---|---|---|')
    web_p, direct_p = percentiles(web), percentiles(direct)
    print(row('click in the page', web_p))
    print(row('control/estop published on DDS (baseline)', direct_p))
    if web_p.get('p50') and direct_p.get('p50'):
        print(f"\nratio page / DDS: p50 {web_p['p50'] / direct_p['p50']:.1f}x, "
              f"p95 {web_p['p95'] / direct_p['p95']:.1f}x")
    print(f"\nJPEG, 1280x720 -> 640x360, once per frame: median {jpeg['p50']:.2f} ms, "
          f"p95 {jpeg['p95']:.2f} ms")
    print(f'\n## Faults: the page shows itself not live (ms), and drive commands after a '
          f'{FAULT_S:g} s stop or stall with W released in it\n')
    print('| fault | trials | not live p50 | p95 | max | never | trials with drive commands '
          'after it | largest abs(cmd_vel) after it |')
    print('|---|---|---|---|---|---|---|---|')
    for name, rows in faults.items():
        delays = [d * 1000 for d, _, _ in rows if d is not None]
        f = percentiles(delays)
        print(f"| {name} | {len(rows)} | {f.get('p50', '-')} | {f.get('p95', '-')} | "
              f"{f.get('max', '-')} | {sum(d is None for d, _, _ in rows)} | "
              f"{sum(n > 0 for _, n, _ in rows)} ({sum(n for _, n, _ in rows)} commands) | "
              f"{max((w for _, _, w in rows), default=0.0):.3f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
