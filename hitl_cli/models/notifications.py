"""Where interrupts and digests go: a profile's channels, the routes to them, the digest schedule and the
retry settings of `hitl deliver` (docs/workflow.md, "Delivery").

Secrets - a webhook URL, an HMAC key, an SMTP password - are never written in the profile: a field that holds
one names an environment variable (`env`) or a file (`file`, relative to the profile file) to read it from.
"""

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator

from hitl_cli.models.common import Delivery, Name, StrictModel, Tier

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Address = Annotated[str, StringConstraints(pattern=r"^[^\s<>@,;\"]+@[^\s<>@,;\"]+$", max_length=254)]
Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:\[\]-]{1,253}$")]


def _not_inline(value):
    if isinstance(value, str):
        raise ValueError("a secret is never written in the profile: name an environment variable "
                         "({env: NAME}) or a file ({file: path}) that holds it")
    return value


class SecretSource(StrictModel):
    """Exactly one of `env` (an environment variable) or `file` (a path, relative to the profile file)."""

    env: EnvName | None = None
    file: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretSource":
        if (self.env is None) == (self.file is None):
            raise ValueError("name exactly one of env or file")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env is not None else f"file {self.file}"


Secret = Annotated[SecretSource, BeforeValidator(_not_inline)]


class SlackChannel(StrictModel):
    """A Slack incoming webhook; its URL is the secret."""

    kind: Literal["slack"]
    url: Secret


class WebhookChannel(StrictModel):
    """A JSON POST signed with HMAC-SHA256 over `<timestamp>.<body>` (headers X-Hitl-Timestamp, X-Hitl-Signature)."""

    kind: Literal["webhook"]
    url: Secret
    signing_key: Secret


class EmailChannel(StrictModel):
    """Mail over SMTP: HTML with a plain-text alternative."""

    kind: Literal["email"]
    host: Host
    port: Annotated[int, Field(ge=1, le=65535)]
    security: Literal["starttls", "tls", "none"]
    username: Annotated[str, StringConstraints(pattern=r"^[^\r\n]{1,254}$")] | None
    password: Secret | None
    sender: Address
    recipients: Annotated[list[Address], Field(min_length=1)]

    @model_validator(mode="after")
    def _login_pair(self) -> "EmailChannel":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (both, or neither)")
        return self


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel, Field(discriminator="kind")]


class Route(StrictModel):
    """Messages of this delivery class, for requests of these tiers, go to these channels."""

    delivery: Literal["interrupt", "digest"]
    tiers: Annotated[list[Tier], Field(min_length=1)]
    channels: Annotated[list[Name], Field(min_length=1)]


def _clock_time(value):
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
        return time.fromisoformat(value)
    raise ValueError("expected a time of day as HH:MM")


# zoneinfo.available_timezones() lists neither of these trees nor this link; it walks the whole zone database to
# find the rest, which cost every profile load a tenth of its time, so a zone is checked by name and loading.
_UNLISTED_TREES = ("posix", "right")
_UNLISTED_ZONE = "posixrules"


def is_iana_zone(zone: str) -> bool:
    """Whether zoneinfo.available_timezones() lists the zone: a plain key (no empty, `.` or `..` part) outside the
    trees it skips, naming a zone file ZoneInfo loads."""
    parts = zone.split("/")
    if any(part in ("", ".", "..") for part in parts) or parts[0] in _UNLISTED_TREES or zone == _UNLISTED_ZONE:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class DigestSchedule(StrictModel):
    """Digests go out at these times of day in this IANA time zone."""

    time_zone: str
    times: Annotated[list[Annotated[time, BeforeValidator(_clock_time)]], Field(min_length=1)]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if not is_iana_zone(zone):
            raise ValueError(f"{zone!r} is not an IANA time zone")
        return zone


Seconds = Annotated[float, Field(gt=0.0, le=86400.0)]


class RetryPolicy(StrictModel):
    """How `hitl deliver` retries. Within one send, the HTTP client retries timeouts, connection errors, 5xx and
    429 (honouring Retry-After up to `max_retry_after_seconds`) `attempts_per_send` times, backing off
    exponentially from `send_backoff_seconds` with as much jitter; a message still undelivered is tried again by
    later runs, backing off from `backoff_seconds` to `max_backoff_seconds` (with jitter), until it is
    `give_up_after_hours` old: then it fails permanently. A claimed message is leased for `lease_seconds`."""

    connect_timeout_seconds: Seconds
    read_timeout_seconds: Seconds
    attempts_per_send: Annotated[int, Field(ge=0, le=20)]
    send_backoff_seconds: Seconds
    backoff_seconds: Seconds
    max_backoff_seconds: Seconds
    max_retry_after_seconds: Seconds
    give_up_after_hours: Annotated[float, Field(gt=0.0)]
    lease_seconds: Seconds


class Notifications(StrictModel):
    channels: dict[Name, Channel]
    routes: list[Route]
    digest: DigestSchedule
    retry: RetryPolicy

    def channels_for(self, delivery: Delivery, tier: Tier) -> list[str]:
        """The channels a message of this delivery class about a request of this tier goes to, in route order."""
        found: list[str] = []
        for route in self.routes:
            if route.delivery == delivery and tier in route.tiers:
                found += [name for name in route.channels if name not in found]
        return found

    def consistency_problems(self) -> list[tuple[str, str]]:
        return [
            (f"notifications.routes[{index}].channels[{position}]", f"no channel named {name!r}")
            for index, route in enumerate(self.routes)
            for position, name in enumerate(route.channels)
            if name not in self.channels
        ]
