"""The graph's QoS against real clients at their own defaults, over real DDS.

The nodes run as processes, as the launch file starts them (camera, inference, arbiter,
recorder, web console) with the live simulator's base for ``odom``. A probe makes a real
rclpy endpoint at every client profile of ``mobile_vla.qos`` on every topic:

- DDS's own matching agrees with the rules the README's table is generated from, for
  every pair, and the graph's endpoints have the QoS the topic definitions give them;
- ``stop`` and ``manual``, published at each listed profile (the rclpy default and
  Jazzy's ``ros2 topic pub`` among them), bring ``cmd_vel`` to zero while the policy
  drives;
- a restarted arbiter keeps an e-stop latched before it started; a restarted inference
  node does not resume a latched instruction, and says so;
- a peer that can never match is a warning on /diagnostics, said once in the log;
- a QoS override parameter with an unknown value stops a node at start-up, in one line.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import yaml
from ros_harness import DISCOVERY_S, NodeProcess, Probe, is_zero, new_domain_id
from steps import step

from mobile_vla import qos, topics
from mobile_vla.graph import ARBITER, INFERENCE, SIM_ROBOT
from mobile_vla.launch_plan import plan

DRIVE = 'move forward 3 m'  # a motion step: the policy drives without the camera


def string_msg(text: str):
    from std_msgs.msg import String

    return String(data=text)


def bool_msg(value: bool):
    from std_msgs.msg import Bool

    return Bool(data=value)


def policies(profile: Any) -> qos.Policies:
    return qos.Policies(profile.reliability.name.lower(), profile.durability.name.lower())


class Graph:
    def __init__(self, tmp_path, workspace) -> None:
        self.tmp = tmp_path
        self.domain_id = new_domain_id()
        profile = yaml.safe_load((workspace / 'config' / 'sim.yaml').read_text())
        profile['/**/camera_publisher']['ros__parameters'].update(width=160, height=120,
                                                                  fps=10.0)
        profile['/**/episode_recorder']['ros__parameters'].update(
            output_dir=str(tmp_path / 'episodes'), min_free_mb=0.0)
        profile['/**/web_console'] = {'ros__parameters': {
            'port': 0, 'token_file': str(tmp_path / 'token')}}
        (tmp_path / 'profile.yaml').write_text(yaml.safe_dump(profile))
        self.launches = {n.spec.name: n for n in plan({
            'mode': 'vla', 'camera_source': 'synthetic', 'web': 'true',
            'params_file': str(tmp_path / 'profile.yaml')})}
        self.nodes = {name: self.start(name) for name in self.launches}
        self.nodes[SIM_ROBOT.name] = NodeProcess(SIM_ROBOT, tmp_path, self.domain_id, params={
            'fps': 2.0, 'width': 64, 'height': 48})

    def start(self, name: str) -> NodeProcess:
        launch = self.launches[name]
        return NodeProcess(launch.spec, self.tmp, self.domain_id, params=launch.params)

    def restart(self, name: str) -> NodeProcess:
        self.nodes[name].stop()
        self.nodes[name] = self.start(name)
        return self.nodes[name]

    def logs(self) -> str:
        return '\n'.join(f'--- {name}\n{node.log()[-2500:]}' for name, node in self.nodes.items())

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


@pytest.fixture(scope='module')
def graph(tmp_path_factory, workspace):
    graph = Graph(tmp_path_factory.mktemp('qos'), workspace)
    probe = Probe(graph.domain_id)
    try:
        yield graph, probe
    finally:
        probe.close()
        graph.stop()


def graph_endpoints(probe: Probe, topic: topics.Topic, kind: str) -> list[Any]:
    infos = (probe.node.get_publishers_info_by_topic(topic.path) if kind == qos.PUBLISHER
             else probe.node.get_subscriptions_info_by_topic(topic.path))
    return [i for i in infos if i.node_name != probe.node.get_name()]


def expected_matches(probe: Probe, path: str, kind: str, mine: qos.Policies) -> int:
    """How many endpoints on ``path`` the rules say an endpoint of ``kind`` matches."""
    if kind == qos.PUBLISHER:
        others = probe.node.get_subscriptions_info_by_topic(path)
        return sum(not qos.mismatches(mine, policies(i.qos_profile)) for i in others)
    others = probe.node.get_publishers_info_by_topic(path)
    return sum(not qos.mismatches(policies(i.qos_profile), mine) for i in others)


def test_dds_matches_every_client_profile_as_the_table_says(graph):
    graph_, probe = graph
    from rclpy import qos as rclpy_qos

    from mobile_vla.ros_bus import message_class

    clients = []  # (topic, kind, client profile, endpoint)
    for topic in topics.ALL_TOPICS:
        cls = message_class(topic.msgtype)
        for client in qos.CLIENT_SUBSCRIPTIONS:
            sub = probe.node.create_subscription(cls, topic.path, lambda _m: None,
                                                 client.profile(rclpy_qos))
            clients.append((topic, qos.SUBSCRIPTION, client, sub))
        if topic.clients_publish:
            for client in qos.CLIENT_PUBLISHERS:
                pub = probe.node.create_publisher(cls, topic.path, client.profile(rclpy_qos))
                clients.append((topic, qos.PUBLISHER, client, pub))

    def graph_up() -> bool:
        for spec in (n.spec for n in graph_.nodes.values()):
            for topic in spec.subscribes:
                if not any(i.node_name == spec.name for i in graph_endpoints(
                        probe, topic, qos.SUBSCRIPTION)):
                    return False
            for topic in spec.publishes:
                if not any(i.node_name == spec.name for i in graph_endpoints(
                        probe, topic, qos.PUBLISHER)):
                    return False
        return True

    def disagreements() -> list[str]:
        out = []
        for topic, kind, client, endpoint in clients:
            mine = policies(endpoint.qos_profile) if client.rclpy_name is None else \
                client.policies
            want = expected_matches(probe, topic.path, kind, mine)
            got = (endpoint.get_subscription_count() if kind == qos.PUBLISHER
                   else endpoint.get_publisher_count())
            if got != want:
                out.append(f'{topic.name} client {kind} {client.key}: DDS matched {got}, '
                           f'the rules say {want}')
        return out

    with step('the graph is up and DDS matches every client as the rules say'):
        assert probe.spin_until(graph_up, 60.0), graph_.logs()
        assert probe.spin_until(lambda: not disagreements(), 2 * DISCOVERY_S), disagreements()
    with step('the profile presets resolve as the rules say'):
        # The profile presets resolve as the rules say (Fast DDS's system default).
        for topic, kind, client, _ in clients:
            seen = [policies(i.qos_profile) for i in (
                probe.node.get_publishers_info_by_topic(topic.path) if kind == qos.PUBLISHER
                else probe.node.get_subscriptions_info_by_topic(topic.path))
                if i.node_name == probe.node.get_name()]
            assert client.policies in seen, (topic.name, kind, client.key, seen)
    with step("the graph's endpoints have the topics' QoS"):
        # The graph's endpoints have the topic definitions' QoS, and so the table's cells are
        # what the real graph does: 'yes' where a graph endpoint matches the client.
        specs = [n.spec for n in graph_.nodes.values()]
        for topic in topics.ALL_TOPICS:
            subs = {policies(i.qos_profile)
                    for i in graph_endpoints(probe, topic, qos.SUBSCRIPTION)}
            pubs = {policies(i.qos_profile) for i in graph_endpoints(probe, topic, qos.PUBLISHER)}
            if any(topic in spec.subscribes for spec in specs):
                # The late-joiner twins end once the arbiter's start-up is over.
                live = qos.Policies(topic.subscription_qos.reliability,
                                    topic.subscription_qos.durability)
                twins = {qos.Policies(s.reliability, s.durability)
                         for s in topic.subscriptions if s.late_joiner}
                assert live in subs and subs <= {live} | twins, topic.name
            if any(topic in spec.publishes for spec in specs):
                assert pubs == {qos.Policies(topic.publisher_qos.reliability,
                                             topic.publisher_qos.durability)}, topic.name
    with step("the README table's cells are what the real graph does"):
        row = {line.split('|')[1].strip(' `'): [c.strip() for c in line.split('|')[4:-1]]
               for line in topics.compatibility_table().splitlines() if line.startswith('| `')}
        for topic, kind, client, _ in clients:
            theirs = graph_endpoints(probe, topic, qos.SUBSCRIPTION if kind == qos.PUBLISHER
                                     else qos.PUBLISHER)
            if not theirs:
                continue  # nothing in this graph consumes it (camera_info)
            if kind == qos.PUBLISHER:
                matched = any(not qos.mismatches(client.policies, policies(i.qos_profile))
                              and i.qos_profile.durability == rclpy_qos.DurabilityPolicy.VOLATILE
                              for i in theirs)
                cell = row[topic.name][qos.CLIENT_PUBLISHERS.index(client)]
            else:
                matched = any(not qos.mismatches(policies(i.qos_profile), client.policies)
                              for i in theirs)
                cell = row[topic.name][len(qos.CLIENT_PUBLISHERS) + qos.CLIENT_SUBSCRIPTIONS.index(
                    client)]
            assert matched == cell.startswith('yes'), (topic.name, kind, client.key, cell)
    for _, kind, _, endpoint in clients:
        (probe.node.destroy_publisher if kind == qos.PUBLISHER
         else probe.node.destroy_subscription)(endpoint)


def test_stop_and_manual_at_every_reliable_profile_zero_cmd_vel(graph):
    graph_, probe = graph
    from rclpy import qos as rclpy_qos

    from mobile_vla.ros_bus import message_class

    cmd = probe.listen_to(topics.CMD_VEL)
    string = message_class('std_msgs/msg/String')
    # The arbiter's latched mode publisher: the graph drives in vla mode at the end.
    vla = probe.node.create_publisher(string, topics.CONTROL_MODE.name,
                                      topics.CONTROL_MODE.publisher_qos.profile(rclpy_qos))

    def driving() -> bool:
        return bool(cmd) and not is_zero(cmd[-1][1])

    def stopped_by(publisher, text: str) -> float:
        sent = time.monotonic()
        publisher.publish(string_msg(text))
        assert probe.spin_until(lambda: cmd[-1][0] > sent and is_zero(cmd[-1][1]), 2.0), (
            text, graph_.logs())
        return time.monotonic() - sent

    for client in qos.CLIENT_PUBLISHERS:
        if client.policies.reliability != 'reliable':
            continue  # refused on purpose (the table says why)
        profile = client.profile(rclpy_qos)
        command = probe.node.create_publisher(string, topics.VLA_COMMAND.name, profile)
        mode = probe.node.create_publisher(string, topics.CONTROL_MODE.name, profile)
        assert probe.wait_for_reader(command, INFERENCE.name), graph_.logs()
        assert probe.wait_for_reader(mode, ARBITER.name), graph_.logs()
        command.publish(string_msg(DRIVE))
        assert probe.spin_until(driving, 30.0), (client.key, graph_.logs())
        stopped_by(command, 'stop')

        command.publish(string_msg(DRIVE))
        assert probe.spin_until(driving, 10.0), (client.key, graph_.logs())
        stopped_by(mode, 'manual')
        probe.spin_for(0.3)
        assert all(is_zero(m) for t, m in cmd[-3:]), client.key  # the policy no longer drives
        vla.publish(string_msg('vla'))
        assert probe.spin_until(driving, 10.0), (client.key, graph_.logs())
        command.publish(string_msg('stop'))
        assert probe.spin_until(lambda: is_zero(cmd[-1][1]), 2.0)
        probe.node.destroy_publisher(command)
        probe.node.destroy_publisher(mode)


def arbiter_qos_warnings(diagnostics: list) -> dict[str, str] | None:
    """The values of the arbiter's newest QoS status (empty when it is OK)."""
    for _, array in reversed(diagnostics):
        for status in array.status:
            if status.name == f'{ARBITER.name}: qos':
                return {v.key: v.value for v in status.values}
    return None


def test_late_joiners_keep_a_latched_estop_and_do_not_resume_an_instruction(graph):
    graph_, probe = graph
    from rclpy import qos as rclpy_qos

    from mobile_vla.ros_bus import message_class

    humble = next(c for c in qos.CLIENT_PUBLISHERS if c.key == 'humble_pub')
    profile = humble.profile(rclpy_qos)
    cmd = probe.listen_to(topics.CMD_VEL)
    state = probe.listen_to(topics.CONTROL_STATE)
    status = probe.listen_to(topics.VLA_STATUS)
    command = probe.node.create_publisher(message_class('std_msgs/msg/String'),
                                          topics.VLA_COMMAND.name, profile)
    estop = probe.node.create_publisher(message_class('std_msgs/msg/Bool'),
                                        topics.CONTROL_ESTOP.name, profile)
    assert probe.wait_for_reader(command, INFERENCE.name), graph_.logs()
    command.publish(string_msg(DRIVE))
    assert probe.spin_until(lambda: cmd and not is_zero(cmd[-1][1]), 30.0), graph_.logs()

    # The e-stop is latched by a publisher that outlives the arbiter's restart.
    assert probe.wait_for_reader(estop, ARBITER.name)
    estop.publish(bool_msg(True))
    assert probe.spin_until(lambda: cmd and is_zero(cmd[-1][1]), 2.0)
    graph_.restart(ARBITER.name)
    restarted = time.monotonic()
    assert probe.spin_until(lambda: state and state[-1][0] > restarted and json.loads(
        state[-1][1].data)['estop']['latched'], 30.0), graph_.logs()
    probe.spin_for(1.0)
    after = [m for t, m in cmd if t > restarted]
    assert after and all(is_zero(m) for m in after), graph_.logs()

    # A default-profile e-stop publisher meanwhile matches the live subscription, not the
    # latched twin of the arbiter's start-up: heard, so never reported as a mismatch.
    diagnostics = probe.listen_to(topics.DIAGNOSTICS)
    button = probe.node.create_publisher(message_class('std_msgs/msg/Bool'),
                                         topics.CONTROL_ESTOP.name,
                                         qos.CLIENT_PUBLISHERS[0].profile(rclpy_qos))
    assert probe.wait_for_reader(button, ARBITER.name)
    probe.spin_for(2.5)
    assert arbiter_qos_warnings(diagnostics) == {}, graph_.nodes[ARBITER.name].log()
    assert 'can never match' not in graph_.nodes[ARBITER.name].log()
    probe.node.destroy_publisher(button)

    # The instruction stays latched too, but a restarted inference does not resume it.
    inference = graph_.restart(INFERENCE.name)
    restarted = time.monotonic()
    assert probe.spin_until(lambda: status and status[-1][0] > restarted, 60.0), \
        inference.log()
    probe.spin_for(2.0)
    now = json.loads(status[-1][1].data)
    assert now['state'] == 'idle' and 'not resumed' in now['reason'], now
    assert command.get_subscription_count() >= 1  # the latched publisher is still there
    estop.publish(bool_msg(False))
    probe.node.destroy_publisher(command)
    probe.node.destroy_publisher(estop)


def test_a_peer_that_cannot_match_is_a_diagnostics_warning_said_once(graph):
    graph_, probe = graph
    from rclpy import qos as rclpy_qos

    from mobile_vla.ros_bus import message_class

    diagnostics = probe.listen_to(topics.DIAGNOSTICS)
    button = probe.node.create_publisher(message_class('std_msgs/msg/Bool'),
                                         topics.CONTROL_ESTOP.name,
                                         rclpy_qos.qos_profile_sensor_data)
    key = f'{topics.CONTROL_ESTOP.path} subscription <- /{probe.node.get_name()}'

    def warned() -> dict[str, str] | None:
        for _, array in reversed(diagnostics):
            for status in array.status:
                if status.name == f'{ARBITER.name}: qos':
                    values = {v.key: v.value for v in status.values}
                    return values if key in values else None
        return None

    for _ in range(20):  # messages never pass, and never repeat the warning
        button.publish(bool_msg(True))
        probe.spin_for(0.1)
    assert probe.spin_until(warned, 10.0), graph_.nodes[ARBITER.name].log()
    assert 'RELIABILITY' in warned()[key]
    probe.spin_for(1.5)
    said = [line for line in graph_.nodes[ARBITER.name].log().splitlines()
            if f'/{probe.node.get_name()} on {topics.CONTROL_ESTOP.path}' in line]
    assert len(said) == 1, said
    probe.node.destroy_publisher(button)
    assert probe.spin_until(lambda: warned() is None, 5.0)  # gone once the peer left
    assert all(n.process.poll() is None for n in graph_.nodes.values())  # none crashed


def test_a_bad_qos_override_stops_the_node_in_one_line(tmp_path):
    node = NodeProcess(ARBITER, tmp_path, new_domain_id(), overrides={
        'qos_overrides./control/estop.subscription.reliability': 'sometimes'})
    assert node.wait(30) == 2
    lines = node.log().strip().splitlines()
    assert len(lines) == 1 and re.search(
        r'qos_overrides\./control/estop\.subscription\.reliability: unknown reliability '
        r"'sometimes'; use one of reliable, best_effort, system_default", lines[0]), lines
