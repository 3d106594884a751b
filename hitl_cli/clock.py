"""The one source of "now" for the workflow: UTC, with a test hook.

HITL_NOW (an RFC 3339 timestamp) pins the clock; the expiry tests use it to step past an approval
lifetime without waiting. It is a testing hook: production runs leave it unset.
"""

import os
from datetime import UTC, datetime

from hitl_cli.errors import UsageError


def now() -> datetime:
    pinned = os.environ.get("HITL_NOW")
    if not pinned:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(pinned)
    except ValueError:
        raise UsageError(f"HITL_NOW={pinned!r}: expected an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise UsageError(f"HITL_NOW={pinned!r}: the timestamp needs a time zone (e.g. Z)")
    return moment.astimezone(UTC)
