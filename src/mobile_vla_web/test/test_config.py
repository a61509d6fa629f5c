"""``WebConfig``: each parameter's range, with an error that names it, and the console's
address as a browser on this machine opens it."""

from dataclasses import fields

import pytest

from mobile_vla.config import ConfigError
from mobile_vla_web.config import WebConfig, console_url


def test_the_defaults_are_valid_and_every_field_is_documented():
    WebConfig()
    for f in fields(WebConfig):
        assert f.metadata.get('doc'), f.name


@pytest.mark.parametrize('changes, named', [
    ({'host': 'a host; rm -rf /'}, 'host'), ({'host': ''}, 'host'),
    ({'port': 80}, 'port'), ({'port': 70000}, 'port'),
    ({'stream_width': 100}, 'stream_width'), ({'jpeg_quality': 99}, 'jpeg_quality'),
    ({'throttle_percent': 5}, 'throttle_percent'), ({'key_speed': 0.0}, 'key_speed'),
    ({'stream_fps': float('nan')}, 'stream_fps'), ({'drive_rate_hz': 500.0}, 'drive_rate_hz'),
    ({'node_silent_s': 1.0}, 'node_silent_s'), ({'control_burst': 0}, 'control_burst'),
    ({'max_message_bytes': 100}, 'max_message_bytes'),
    ({'max_instruction_chars': 0}, 'max_instruction_chars'),
    ({'max_clients': 1000}, 'max_clients'),
    # The state stream is the page's heartbeat: two messages within page_stale_s.
    ({'telemetry_rate_hz': 2.0, 'page_stale_s': 0.5}, 'telemetry_rate_hz x page_stale_s'),
    # A held key repeats at drive_rate_hz and must not lapse between two repeats.
    ({'drive_rate_hz': 2.0, 'drive_timeout_s': 0.3}, 'drive_timeout_s'),
])
def test_a_value_out_of_range_is_refused_by_name(changes, named):
    with pytest.raises(ConfigError, match=named.replace(' ', r'\s')):
        WebConfig(**changes)


def test_values_at_the_edges_of_ranges_are_allowed():
    WebConfig(port=0)
    WebConfig(port=1024, stream_width=160, jpeg_quality=95, throttle_percent=10,
              key_speed=10.0, telemetry_rate_hz=4.0, page_stale_s=0.5,
              drive_rate_hz=10.0, drive_timeout_s=0.1)


@pytest.mark.parametrize('host, url', [
    ('127.0.0.1', 'http://localhost:8080/'), ('::1', 'http://localhost:8080/'),
    ('0.0.0.0', 'http://0.0.0.0:8080/'), ('robot.local', 'http://robot.local:8080/'),
    ('fe80::1', 'http://[fe80::1]:8080/'),
])
def test_the_console_url_is_the_one_a_browser_opens(host, url):
    assert console_url(host, 8080) == url
