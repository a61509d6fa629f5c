"""The web console end to end, in headless Chromium, against the live simulator graph.

Every node runs as its own process over real DDS (``mobile_vla_sim.live_graph``): the
simulated room as camera and base, the inference with models/demo, the arbiter, the
recorder and the web console. Debian's chromium, driven by Playwright, opens the page
the console printed and does what a user does: watches the camera, instructs the robot,
presses the e-stop, drives with keys in manual mode, records an episode that validates.
A listener process-side checks ``cmd_vel`` over DDS. The screenshot goes to
runs/web_console/console.png (the README shows one).
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from ros_harness import new_domain_id
from steps import step
from web_harness import CHROMIUM, Listener, browser, moving, screenshot_path, still

from mobile_vla_sim.live_graph import LiveGraph

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason='chromium not installed (make setup installs it)')
LEFT = 'go around the box on the left to the cup'


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    out = tmp_path_factory.mktemp('live')
    graph = LiveGraph(out, port=0, token_file=str(out / 'token'), domain_id=new_domain_id())
    graph.start()
    listener = Listener(graph.domain_id)
    yield graph, listener
    listener.close()
    graph.stop()


def post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {'Content-Type': 'application/json'}
    if token is not None:
        headers['Authorization'] = f'Bearer {token}'
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@dataclass
class Session:
    """What the scenario's steps share: the graph, the cmd_vel listener and the page."""

    graph: LiveGraph
    cmd_vel: Listener
    page: object
    frames_after_step: list = field(default_factory=list)  # the page's frame count


def the_page_opens_and_shows_the_camera(s: Session) -> None:
    s.page.goto(f'{s.graph.url}#token={s.graph.token}')
    # The token leaves the address bar (and the history) at once.
    s.page.wait_for_function("() => !location.hash.includes('token')")
    s.page.wait_for_function('() => window.consoleStats.frames >= 20', timeout=30_000)
    s.page.wait_for_function("() => document.getElementById('link').textContent === 'connected'")


def an_instruction_moves_the_robot_and_shows_the_plan(s: Session) -> None:
    page = s.page
    page.fill('#instruction', LEFT)
    sent = time.time()
    page.press('#instruction', 'Enter')
    assert s.cmd_vel.wait_for(moving, sent, timeout=20.0), 'cmd_vel never moved'
    page.wait_for_function(
        "() => document.getElementById('plan-body').textContent.includes('go around')")
    page.wait_for_function(  # the navigation step's target, from vla/status
        "() => (document.getElementById('plan-target') || {}).textContent === 'target: cup'")
    time.sleep(1.5)  # every node's once-a-second /diagnostics has caught up
    page.screenshot(path=str(screenshot_path('console.png')))


def the_estop_click_stops_the_robot_and_shows_the_arbiters_state(s: Session) -> None:
    page, cmd_vel = s.page, s.cmd_vel
    page.click('#estop')
    clicked_ms = page.evaluate('() => window.consoleStats.estopClickedAt')
    stopped = cmd_vel.wait_for(still, clicked_ms / 1000, timeout=5.0)
    assert stopped, 'cmd_vel did not go to zero after the e-stop click'
    page.wait_for_function(
        "() => document.getElementById('estop-state').textContent === 'E-STOP ENGAGED'")
    print(f'e-stop click to zero cmd_vel: {(stopped[0] * 1000 - clicked_ms):.1f} ms')
    time.sleep(0.5)
    assert all(still(v) for _, v in cmd_vel.since(stopped[0]))


def nothing_is_accepted_without_the_token(s: Session) -> None:
    status, body = post(s.graph.url + 'api/estop', {'engaged': False})
    assert status == 401 and 'token' in body['error']
    status, _ = post(s.graph.url + 'api/estop', {'engaged': False}, token='not-the-token')
    assert status == 401
    time.sleep(0.3)
    assert s.page.text_content('#estop-state') == 'E-STOP ENGAGED'


def the_release_waits_until_the_policy_is_stopped(s: Session) -> None:
    page = s.page  # every input zero first: the arbiter's rule
    page.click('#release')
    page.wait_for_function(
        "() => document.getElementById('release').textContent.includes('waiting')")
    page.click('#stop-policy')
    page.wait_for_function(
        "() => document.getElementById('plan-body').textContent.includes('stopped')")
    page.wait_for_function(
        "() => document.getElementById('estop-state').textContent === 'e-stop released'")


def keys_drive_in_manual_mode_and_an_episode_is_recorded(s: Session) -> None:
    page, cmd_vel = s.page, s.cmd_vel
    page.click('[data-mode=manual]')
    page.wait_for_function(
        "() => document.querySelector('[data-mode=manual]').classList.contains('active')")
    page.select_option('#scenario', '1')
    page.click('#rec-start')
    page.wait_for_function(
        "() => document.getElementById('recorder').textContent.includes('recording')")
    page.locator('body').click(position={'x': 5, 'y': 5})  # focus off the buttons
    for key in ('w', 'a', 'w', 'd', 's'):
        pressed = time.time()
        page.keyboard.down(key)
        assert cmd_vel.wait_for(moving, pressed, timeout=2.0), f'{key} did not drive'
        time.sleep(0.6)
        page.keyboard.up(key)
        released = time.time()
        assert cmd_vel.wait_for(still, released, timeout=1.0), f'{key} did not stop'
        time.sleep(0.2)
    page.click('#rec-keep')
    page.wait_for_function(
        "() => document.querySelector('#episodes tbody td.valid') !== null", timeout=30_000)
    assert '1box_vert_left' in page.text_content('#episodes tbody')
    assert len(list(s.graph.episodes.glob('*.h5'))) == 1


def the_camera_stayed_live_on_the_page_throughout(s: Session) -> None:
    """Frames kept coming during every step (the rate is a benchmark's: bench_web.py)."""
    stats = s.page.evaluate('() => window.consoleStats')
    latencies = sorted(stats['latencies'])
    print(f"page: {stats['fps']:.1f} fps, capture-to-page delay p50 "
          f"{latencies[len(latencies) // 2]:.0f} ms over {len(latencies)} frames")
    counts = s.frames_after_step
    assert all(b > a for a, b in itertools.pairwise(counts)), counts
    s.page.wait_for_function(f"() => window.consoleStats.frames > {stats['frames']}")


SCENARIO = (the_page_opens_and_shows_the_camera,
            an_instruction_moves_the_robot_and_shows_the_plan,
            the_estop_click_stops_the_robot_and_shows_the_arbiters_state,
            nothing_is_accepted_without_the_token, the_release_waits_until_the_policy_is_stopped,
            keys_drive_in_manual_mode_and_an_episode_is_recorded,
            the_camera_stayed_live_on_the_page_throughout)


def test_a_user_watches_instructs_stops_drives_and_records(live):
    """What a user does, one step after another (each needs the ones before)."""
    from playwright.sync_api import sync_playwright

    graph, cmd_vel = live
    with sync_playwright() as p:
        chromium = browser(p)
        session = Session(graph, cmd_vel, chromium.new_page(viewport={'width': 1360,
                                                                      'height': 900}))
        for scenario_step in SCENARIO:
            with step(scenario_step.__name__.replace('_', ' ')):
                scenario_step(session)
            session.frames_after_step.append(
                session.page.evaluate('() => window.consoleStats.frames'))
        chromium.close()
