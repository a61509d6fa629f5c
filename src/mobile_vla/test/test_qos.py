"""The QoS rules, overrides and the report of incompatible peers, as plain values."""

import pytest

from mobile_vla import qos
from mobile_vla.config import ConfigError

RELIABLE = qos.Policies('reliable', 'volatile')
LATCHED = qos.Policies('reliable', 'transient_local')
BEST_EFFORT = qos.Policies('best_effort', 'volatile')


@pytest.mark.parametrize('offered, requested, why', [
    (RELIABLE, RELIABLE, ()),
    (LATCHED, RELIABLE, ()),  # a latched writer reaches a volatile reader
    (RELIABLE, BEST_EFFORT, ()),
    (BEST_EFFORT, RELIABLE, ('RELIABILITY: offers best_effort, needs reliable',)),
    (RELIABLE, LATCHED, ('DURABILITY: offers volatile, needs transient_local',)),
    (BEST_EFFORT, LATCHED, ('RELIABILITY: offers best_effort, needs reliable',
                            'DURABILITY: offers volatile, needs transient_local')),
])
def test_the_dds_matching_rules(offered, requested, why):
    assert qos.mismatches(offered, requested) == why


def test_system_default_resolves_as_fast_dds_does():
    assert qos.resolved({'reliability': 'system_default', 'durability': 'system_default'},
                        qos.PUBLISHER) == qos.SYSTEM_DEFAULT_WRITER == LATCHED
    assert qos.resolved({'reliability': 'system_default', 'durability': 'volatile'},
                        qos.SUBSCRIPTION) == BEST_EFFORT


def test_override_names_follow_rcl():
    names = qos.override_names('/robot1/control/estop', qos.SUBSCRIPTION, 'latched')
    assert names['reliability'] == \
        'qos_overrides./robot1/control/estop.subscription_latched.reliability'
    assert qos.override_names('/cmd_vel', qos.PUBLISHER)['depth'] == \
        'qos_overrides./cmd_vel.publisher.depth'


@pytest.mark.parametrize('name, value, says', [
    ('qos_overrides./cmd_vel.publisher.reliability', 'sometimes', 'unknown reliability'),
    ('qos_overrides./cmd_vel.publisher.durability', 'forever', 'unknown durability'),
    ('qos_overrides./cmd_vel.publisher.history', 'keep_some', 'unknown history'),
    ('qos_overrides./cmd_vel.publisher.depth', -1, 'whole number'),
    ('qos_overrides./cmd_vel.publisher.depth', 0, 'whole number'),  # rclpy: system default
    ('qos_overrides./cmd_vel.publisher.depth', '5', 'whole number'),
    ('qos_overrides./cmd_vel.publisher.depth', True, 'whole number'),
    ('qos_overrides./cmd_vel.publisher.relability', 'reliable', 'unknown QoS policy'),
])
def test_a_bad_override_is_refused_in_one_line_naming_the_parameter(name, value, says):
    with pytest.raises(ConfigError, match=says) as info:
        qos.check_override(name, value)
    assert str(info.value).startswith(name + ':') and '\n' not in str(info.value)


def test_good_overrides_pass():
    for policy, value in (('reliability', 'best_effort'), ('durability', 'transient_local'),
                          ('history', 'keep_all'), ('depth', 1), ('reliability',
                                                                  'system_default'),
                          ('reliability', 'BEST_EFFORT')):  # rclpy takes any case
        qos.check_override(f'qos_overrides./x.subscription.{policy}', value)


def test_an_override_for_an_endpoint_the_node_lacks_is_named():
    claimed = qos.override_names('/cmd_vel', qos.PUBLISHER).values()
    qos.check_overrides_claimed(['qos_overrides./cmd_vel.publisher.depth'], claimed)
    with pytest.raises(ConfigError, match=r'qos_overrides\./cmd_vle\.publisher\.depth: '
                                          r'this node has no such endpoint.*/cmd_vel\.publisher'):
        qos.check_overrides_claimed(['qos_overrides./cmd_vle.publisher.depth'], claimed)


def test_each_incompatible_peer_is_said_once_and_shows_while_it_is_there():
    peers = qos.QosPeers()
    assert peers.diagnostics() == ('OK', 'every peer matches', {})
    found = qos.peer_mismatches('/control/estop', qos.SUBSCRIPTION, [RELIABLE], [
        ('/button', 'g1', BEST_EFFORT), ('/console', 'g2', LATCHED)])
    assert [m.peer for m in found] == ['/button']
    new = peers.update(found)
    assert len(new) == 1 and 'RELIABILITY' in new[0].text() and '/button' in new[0].text()
    assert peers.update(found) == []  # not again, however often it is seen
    level, message, values = peers.diagnostics()
    assert level == 'WARN' and '1 peer endpoint' in message
    assert values == {'/control/estop subscription <- /button':
                      'RELIABILITY: offers best_effort, needs reliable'}
    peers.update([])  # the peer left
    assert peers.diagnostics()[0] == 'OK'


def test_a_publisher_side_mismatch_names_the_subscription():
    found = qos.peer_mismatches('/cmd_vel', qos.PUBLISHER, [RELIABLE],
                                [('/base', 'g3', LATCHED)])
    assert found[0].key() == '/cmd_vel publisher -> /base'
    assert 'DURABILITY' in found[0].text() and 'subscription of /base' in found[0].text()


def test_a_peer_that_matches_one_endpoint_of_the_topic_is_no_mismatch():
    """A default-profile publisher matches the live e-stop subscription, not its latched
    twin: it is heard, so it is not reported. A best-effort one matches neither."""
    live_and_twin = [RELIABLE, LATCHED]
    peers = [('/jazzy_pub', 'g1', RELIABLE), ('/button', 'g2', BEST_EFFORT)]
    found = qos.peer_mismatches('/control/estop', qos.SUBSCRIPTION, live_and_twin, peers)
    assert [(m.peer, m.why) for m in found] == [
        ('/button', ('RELIABILITY: offers best_effort, needs reliable',))]  # the live one's
