"""The e-stop latch of the control arbiter.

Engaged, it holds the output at zero until a release is requested, and then until every
source (whatever the mode) has been absent or commanding zero for ``release_hold_s``
since the request and since its last non-zero command. One transient zero (a
stale-frame zero from a policy that is still driving) therefore never releases it, and
releasing never lurches.
"""

from __future__ import annotations

from mobile_vla_control.sources import Sources


class EstopLatch:
    def __init__(self, release_hold_s: float) -> None:
        self.release_hold_s = release_hold_s
        self.latched = False
        self.release_requested = False
        self.requested_at = 0.0
        self.count = 0  # engagements

    def engage(self) -> str | None:
        """Latch (again, if a release was pending); what changed, or None."""
        if self.latched and not self.release_requested:
            return None
        if not self.latched:
            self.count += 1
        self.latched = True
        self.release_requested = False
        return 'ENGAGED'

    def request_release(self, now: float, starting: bool) -> str | None:
        """Ask to release; ignored while ``starting`` (it may be a stale latched ``false``
        of one publisher arriving after another's ``true``). What changed, or None."""
        if not self.latched or self.release_requested:
            return None
        if starting:
            return 'release ignored during start-up'
        self.release_requested = True
        self.requested_at = now
        return 'release requested'

    def restart_hold(self, now: float) -> None:
        """The clock went back: a requested release holds again from ``now``."""
        self.requested_at = now

    def release_if_quiet(self, now: float, sources: Sources) -> float | None:
        """Release when asked for and every source has been quiet long enough; the quiet
        time when it released, else None."""
        if not self.release_requested:
            return None
        quiet_since = sources.quiet_since(self.requested_at, now)
        if quiet_since is None or now - quiet_since < self.release_hold_s:
            return None
        self.latched = False
        self.release_requested = False
        return now - quiet_since
