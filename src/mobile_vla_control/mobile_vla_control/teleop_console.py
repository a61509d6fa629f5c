"""Run the WASD teleop in a terminal without ROS 2, printing each message as a JSON line.

Useful to try the key map on a laptop, and the real-terminal path the tests drive
through tmux: ``python -m mobile_vla_control.teleop_console --output keys.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from mobile_vla_control.keyboard import NoTerminalError, TerminalKeys, run_teleop
from mobile_vla_control.teleop import HELP, TeleopConfig, TeleopStep, WasdTeleop


def json_lines_emitter(out: TextIO, screen: TextIO):
    def emit(step: TeleopStep, now: float) -> None:
        for topic, value in step.publish:
            data = list(value) if isinstance(value, tuple) else value
            out.write(json.dumps({'t': round(now, 6), 'topic': topic.path, 'data': data}) + '\n')
        out.flush()
        if step.status:
            screen.write(f'\r{step.status:<78}\n')
            screen.flush()

    return emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', help='JSON lines file (default: stdout)')
    parser.add_argument('--rate', type=float, default=TeleopConfig.rate_hz)
    parser.add_argument('--throttle', type=int, default=TeleopConfig.throttle_percent)
    args = parser.parse_args(argv)
    teleop = WasdTeleop(TeleopConfig(rate_hz=args.rate, throttle_percent=args.throttle))
    out = open(args.output, 'w', encoding='utf-8') if args.output else sys.stdout
    try:
        with TerminalKeys() as keys:
            sys.stderr.write(HELP + '\n')
            run_teleop(keys, teleop, json_lines_emitter(out, sys.stderr))
    except NoTerminalError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
