"""Real ROS 2 for the tests: nodes started as processes, as ``ros2 run`` and launch start
them, and an rclpy probe that talks to them over real DDS topics and services.

Each test gets its own ``ROS_DOMAIN_ID`` and localhost-only discovery, so runs
on one machine never hear each other.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import rclpy
import yaml
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy import qos as rclpy_qos
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from mobile_vla import qos, topics
from mobile_vla.graph import NodeSpec
from mobile_vla.processes import (  # noqa: F401 (executable, ros_env: the tests' names)
    executable,
    ros_env,
    write_params,
)
from mobile_vla.ros_bus import message_class

#: Domains of this test process: ROS_DOMAIN_ID 10-99, a new one per test (new_domain_id),
#: so a test never hears what an earlier one left latched. Two test runs at once on one
#: machine keep apart with MOBILE_VLA_TEST_DOMAINS=LOW-HIGH (for example 10-54 and 55-99).
_LOW, _HIGH = (int(v) for v in os.environ.get('MOBILE_VLA_TEST_DOMAINS', '10-99').split('-'))
_DOMAINS = itertools.count(os.getpid())


#: A service request with no answer this long is sent again (see ``Probe.call``).
RESEND_S = 5.0


def new_domain_id() -> int:
    return _LOW + next(_DOMAINS) % (_HIGH - _LOW + 1)


#: How long a new participant may take to discover the others.
DISCOVERY_S = 10.0


def _param_text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()


class NodeProcess:
    """One node as its own process: the console script with ``--ros-args``."""

    def __init__(self, spec: NodeSpec, log_dir: Path, domain_id: int, *,
                 params_file: Path | None = None, params: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, Any] = (), namespace: str = '',
                 remaps: Mapping[str, str] = (), env: Mapping[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        """``command`` replaces the installed console script (another checkout's node)."""
        self.spec = spec
        self.namespace = namespace.strip('/')
        args = [*(command or [str(executable(spec.package, spec.executable))]), '--ros-args',
                '-r', f'__node:={spec.name}']
        if self.namespace:
            args += ['-r', f'__ns:=/{self.namespace}']
        for name, target in dict(remaps).items():
            args += ['-r', f'{name}:={target}']
        if params_file is not None:
            args += ['--params-file', str(params_file)]
        if params is not None:  # as launch_ros passes a parameter dictionary: a file
            path = write_params(params, log_dir / f'{spec.name}_params.yaml')
            args += ['--params-file', str(path)]
        for key, value in dict(overrides).items():
            args += ['-p', f'{key}:={_param_text(value)}']
        self.args = args
        self.log_path = log_dir / f'{spec.name}.log'
        restarts = 1
        while self.log_path.exists():  # a restarted node keeps the first one's log
            restarts += 1
            self.log_path = log_dir / f'{spec.name}-{restarts}.log'
        self._log = open(self.log_path, 'wb')  # noqa: SIM115 (closed in wait())
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=ros_env(domain_id, **(env or {})), cwd=log_dir,
            # A process started from a background shell inherits SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    @property
    def fqn(self) -> str:
        return f'/{self.namespace}/{self.spec.name}' if self.namespace else f'/{self.spec.name}'

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def send(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def stop(self) -> None:
        """End the process whatever state it is in (test clean-up)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Probe:
    """An rclpy node in the test process: listens, publishes, asks for parameters."""

    def __init__(self, domain_id: int, namespace: str = '') -> None:
        self.domain_id = domain_id
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node('test_probe', namespace=namespace or '/', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list[tuple[float, Any]]] = {}

    def listen(self, name: str, msgtype: str, qos: topics.QosIntent = topics.DEFAULT) -> list:
        """Record every message on ``name`` as (receive time, message)."""
        out = self.received.setdefault(name, [])
        self.node.create_subscription(message_class(msgtype), name,
                                      lambda msg: out.append((time.monotonic(), msg)),
                                      qos.profile(rclpy_qos))
        return out

    def listen_to(self, topic: topics.Topic, qos: topics.QosIntent | None = None) -> list:
        return self.listen(topic.name, topic.msgtype, qos or topic.publisher_qos)

    def publisher(self, topic: topics.Topic, qos: topics.QosIntent | None = None) -> Any:
        return self.node.create_publisher(message_class(topic.msgtype), topic.name,
                                          (qos or topic.publisher_qos).profile(rclpy_qos))

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def wait_for_subscribers(self, publisher: Any, count: int = 1,
                             timeout: float = DISCOVERY_S) -> bool:
        return self.spin_until(lambda: publisher.get_subscription_count() >= count, timeout)

    def wait_for_reader(self, publisher: Any, node: str, timeout: float = DISCOVERY_S) -> bool:
        """Until ``node`` subscribes to the publisher's topic and the publisher has matched
        every subscription there that its QoS can match: a volatile subscriber only gets
        what is published after the match (as ``ros2 topic pub -w`` waits for one)."""
        mine = qos.Policies(*(p.name.lower() for p in (publisher.qos_profile.reliability,
                                                        publisher.qos_profile.durability)))

        def matched() -> bool:
            infos = self.node.get_subscriptions_info_by_topic(publisher.topic_name)
            if not any(i.node_name == node for i in infos):
                return False
            can_match = [i for i in infos if not qos.mismatches(mine, qos.Policies(
                i.qos_profile.reliability.name.lower(), i.qos_profile.durability.name.lower()))]
            return publisher.get_subscription_count() >= len(can_match)

        return self.spin_until(matched, timeout)

    def call(self, service_type: Any, name: str, request: Any,
             timeout: float = DISCOVERY_S) -> Any:
        """One call of a real service: wait for it, call, wait for the answer. A request
        with no answer after ``RESEND_S`` is sent again until ``timeout``: DDS may report
        the service ready before the server's response writer has matched this client,
        and then drops the response (a known race, ros2/rmw_fastrtps#238,
        ros2/rmw_cyclonedds#187); the parameter services asked here are idempotent."""
        end = time.monotonic() + timeout  # one deadline for coming up and answering
        client = self.node.create_client(service_type, name)
        try:
            if not self.spin_until(client.service_is_ready, timeout):
                raise TimeoutError(f'{name} did not come up')
            attempts = 0
            while time.monotonic() < end:
                attempts += 1
                future = client.call_async(request)
                if self.spin_until(future.done, min(RESEND_S, end - time.monotonic())):
                    return future.result()
                client.remove_pending_request(future)
            raise TimeoutError(f'{name} did not answer ({attempts} requests in {timeout:g} s)')
        finally:
            self.node.destroy_client(client)

    def get_parameters(self, node_fqn: str, names: list[str],
                       timeout: float = DISCOVERY_S) -> dict[str, Any]:
        """Through the node's real ``get_parameters`` service."""
        result = self.call(GetParameters, f'{node_fqn}/get_parameters',
                           GetParameters.Request(names=names), timeout)
        return {name: _parameter_value(v) for name, v in zip(names, result.values, strict=True)}

    def set_parameters(self, node_fqn: str, values: Mapping[str, Any],
                       timeout: float = DISCOVERY_S) -> dict[str, tuple[bool, str]]:
        """Through the node's real ``set_parameters`` service: name -> (successful, reason)."""
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        result = self.call(SetParameters, f'{node_fqn}/set_parameters', request, timeout)
        return {name: (r.successful, r.reason)
                for name, r in zip(values, result.results, strict=True)}

    def describe_parameters(self, node_fqn: str, names: list[str],
                            timeout: float = DISCOVERY_S) -> dict[str, Any]:
        """Through the node's real ``describe_parameters`` service."""
        result = self.call(DescribeParameters, f'{node_fqn}/describe_parameters',
                           DescribeParameters.Request(names=names), timeout)
        return dict(zip(names, result.descriptors, strict=True))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _parameter_value(value: Any) -> Any:
    kind = value.type
    return {
        ParameterType.PARAMETER_NOT_SET: None,
        ParameterType.PARAMETER_BOOL: value.bool_value,
        ParameterType.PARAMETER_INTEGER: value.integer_value,
        ParameterType.PARAMETER_DOUBLE: value.double_value,
        ParameterType.PARAMETER_STRING: value.string_value,
        ParameterType.PARAMETER_DOUBLE_ARRAY: list(value.double_array_value),
        ParameterType.PARAMETER_INTEGER_ARRAY: list(value.integer_array_value),
        ParameterType.PARAMETER_BOOL_ARRAY: list(value.bool_array_value),
        ParameterType.PARAMETER_STRING_ARRAY: list(value.string_array_value),
    }.get(kind)


def action(msg: Any) -> tuple[float, float, float]:
    return (msg.linear.x, msg.linear.y, msg.angular.z)


def is_zero(msg: Any) -> bool:
    return all(abs(v) < 1e-9 for v in action(msg))
