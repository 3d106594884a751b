"""The one source of "now" for hitl: the system clock, in UTC.

Nothing in the environment moves it: verdict times, expiry and waiver expiry are judged at the real moment.
"""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
