"""When a digest item is due: the first of the profile's digest times after it was queued, in its time zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hitl_cli.models.notifications import DigestSchedule


def next_digest(schedule: DigestSchedule, after: datetime) -> datetime:
    zone = ZoneInfo(schedule.time_zone)
    local = after.astimezone(zone)
    for days in range(3):  # a day boundary and a daylight-saving change are both within reach
        day = local.date() + timedelta(days=days)
        for clock_time in sorted(schedule.times):
            candidate = datetime.combine(day, clock_time, tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
    raise AssertionError("a digest time always comes within three days")
