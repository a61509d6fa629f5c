"""Run the fuzz targets of tests/fuzz_targets.py for minutes instead of make test's bound.

    python scripts/fuzz.py --minutes 30

Random (not derandomized) batches of 500 examples per target until the time is up; the
first failure stops the run with hypothesis's minimal failing example.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))

from fuzz_targets import (  # noqa: E402
    check_config_loader,
    check_episode_reader,
    config_params,
    episode_files,
)
from hypothesis import HealthCheck, given, settings  # noqa: E402

BATCH = settings(max_examples=500, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@BATCH
@given(episode_files())
def episode_reader(contents):
    check_episode_reader(contents)


@BATCH
@given(config_params())
def config_loaders(case):
    check_config_loader(case)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0)
    args = parser.parse_args()
    end = time.monotonic() + args.minutes * 60
    batches = 0
    while time.monotonic() < end:
        episode_reader()
        config_loaders()
        batches += 1
        print(f'{batches * 500} examples per target, no failure', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
