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

import json
import time
import urllib.error
import urllib.request

import pytest
from ros_harness import new_domain_id
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


def test_a_user_watches_instructs_stops_drives_and_records(live):
    from playwright.sync_api import sync_playwright

    graph, cmd_vel = live
    with sync_playwright() as p:
        chromium = browser(p)
        page = chromium.new_page(viewport={'width': 1360, 'height': 900})
        page.goto(f'{graph.url}#token={graph.token}')
        # The token leaves the address bar (and the history) at once.
        page.wait_for_function("() => !location.hash.includes('token')")

        # Camera frames arrive and are drawn.
        page.wait_for_function('() => window.consoleStats.frames >= 20', timeout=30_000)
        page.wait_for_function("() => document.getElementById('link').textContent === 'connected'")

        # An instruction makes the robot move; the plan shows up from vla/status.
        page.fill('#instruction', LEFT)
        sent = time.time()
        page.press('#instruction', 'Enter')
        assert cmd_vel.wait_for(moving, sent, timeout=20.0), 'cmd_vel never moved'
        page.wait_for_function(
            "() => document.getElementById('plan-body').textContent.includes('go around')")
        page.wait_for_function(  # the navigation step's target, from vla/status
            "() => (document.getElementById('plan-target') || {}).textContent === 'target: cup'")
        time.sleep(1.5)  # every node's once-a-second /diagnostics has caught up
        page.screenshot(path=str(screenshot_path('console.png')))

        # E-stop: the click stops the robot, and the page shows the arbiter's state.
        page.click('#estop')
        clicked_ms = page.evaluate('() => window.consoleStats.estopClickedAt')
        stopped = cmd_vel.wait_for(still, clicked_ms / 1000, timeout=5.0)
        assert stopped, 'cmd_vel did not go to zero after the e-stop click'
        page.wait_for_function(
            "() => document.getElementById('estop-state').textContent === 'E-STOP ENGAGED'")
        print(f'e-stop click to zero cmd_vel: {(stopped[0] * 1000 - clicked_ms):.1f} ms')
        time.sleep(0.5)
        assert all(still(v) for _, v in cmd_vel.since(stopped[0]))

        # Without the token nothing is accepted (here: the e-stop release).
        status, body = post(graph.url + 'api/estop', {'engaged': False})
        assert status == 401 and 'token' in body['error']
        status, _ = post(graph.url + 'api/estop', {'engaged': False}, token='not-the-token')
        assert status == 401
        time.sleep(0.3)
        assert page.text_content('#estop-state') == 'E-STOP ENGAGED'

        # Release waits until every input is zero (the arbiter's rule): stop the policy first.
        page.click('#release')
        page.wait_for_function(
            "() => document.getElementById('release').textContent.includes('waiting')")
        page.click('#stop-policy')
        page.wait_for_function(
            "() => document.getElementById('plan-body').textContent.includes('stopped')")
        # Then manual mode, and an episode recorded while driving with the keyboard.
        page.wait_for_function(
            "() => document.getElementById('estop-state').textContent === 'e-stop released'")
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
        listed = page.text_content('#episodes tbody')
        assert '1box_vert_left' in listed

        stats = page.evaluate('() => window.consoleStats')
        latencies = sorted(stats['latencies'])
        print(f"page: {stats['fps']:.1f} fps, capture-to-page delay p50 "
              f"{latencies[len(latencies) // 2]:.0f} ms over {len(latencies)} frames")
        assert stats['fps'] >= 8
        chromium.close()
    episodes = list(graph.episodes.glob('*.h5'))
    assert len(episodes) == 1
