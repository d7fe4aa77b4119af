"""What time it is, for every rule that depends on the date (free trials, throttling, token
expiry). GROUPSYNC_NOW fixes it (an ISO date like 2026-03-02, or a date and time in UTC) so
tests and reproducible runs see the same day every time; unset, it is the system clock."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

from groupsync.errors import UsageError


def now() -> float:
    """Seconds since the epoch."""
    fixed = os.environ.get("GROUPSYNC_NOW")
    if not fixed:
        return time.time()
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"GROUPSYNC_NOW={fixed!r} is not an ISO date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def today(clock: float | None = None) -> date:
    """The date in UTC at `clock` (now by default)."""
    return datetime.fromtimestamp(now() if clock is None else clock, UTC).date()
