"""Steps of a scenario test: a failure says which step it was in."""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Run one step of a scenario; a failure inside (an assertion, or a wait that timed
    out) names the step first."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f'step "{name}" failed: {exc}') from exc
    except Exception as exc:  # a browser wait, a subprocess timeout: the same, named
        raise AssertionError(f'step "{name}" failed: {type(exc).__name__}: {exc}') from exc
