"""The digest schedule is profile data read in its own time zone, daylight saving included."""

from datetime import UTC, datetime
from zoneinfo import available_timezones

import pytest
from pydantic import ValidationError

from hitl_cli.delivery.schedule import next_digest
from hitl_cli.models.notifications import DigestSchedule, is_iana_zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("zone, times, after, due", [
    ("Europe/London", ["09:00"], "2026-03-28T12:00", "2026-03-29T08:00"),  # British Summer Time starts overnight
    ("Europe/London", ["09:00"], "2026-11-24T08:59", "2026-11-24T09:00"),
    ("Europe/London", ["09:00", "16:00"], "2026-11-24T09:00", "2026-11-24T16:00"),  # exactly at a time: the next
    ("America/New_York", ["08:30"], "2026-11-24T14:00", "2026-11-25T13:30"),
    ("Asia/Tokyo", ["23:30", "07:00"], "2026-11-24T15:00", "2026-11-24T22:00"),  # 00:00 local: 07:00 comes first
])
def test_the_next_digest_time_follows_the_profiles_zone(zone, times, after, due):
    schedule = DigestSchedule.model_validate({"time_zone": zone, "times": times})
    assert next_digest(schedule, utc(after)) == utc(due)


@pytest.mark.parametrize("data", [
    {"time_zone": "Mars/Olympus", "times": ["09:00"]},
    {"time_zone": "UTC", "times": ["9am"]},
    {"time_zone": "UTC", "times": []},
])
def test_a_bad_schedule_is_refused(data):
    with pytest.raises(ValidationError):
        DigestSchedule.model_validate(data)


NEAR_ZONES = [
    "Europe/../Europe/London", "./UTC", "UTC/", "/usr/share/zoneinfo/UTC", "../zoneinfo/UTC", "Europe//London", "",
    ".", "..", "posixrules", "posix/UTC", "right/UTC", "Europe", "Etc", "zone.tab", "tzdata.zi", "leapseconds",
    "Mars/Olympus", "UTC\x00", "europe/london",
]


def test_a_zone_is_accepted_exactly_when_the_zone_database_lists_it():
    """The schedule checks a zone by its name and by loading it, not by listing the database: the same answer
    as zoneinfo.available_timezones() for every zone it lists and for names that are paths or files beside them."""
    listed = available_timezones()
    assert listed, "the system has no zone database"
    assert {zone for zone in listed if is_iana_zone(zone)} == listed
    assert [zone for zone in NEAR_ZONES if is_iana_zone(zone) != (zone in listed)] == []
    for zone in NEAR_ZONES:
        if zone not in listed:
            with pytest.raises(ValidationError):
                DigestSchedule.model_validate({"time_zone": zone, "times": ["09:00"]})
