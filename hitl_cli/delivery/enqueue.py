"""Writing messages to the outbox, inside the transaction of the change they announce.

A new request the profile routes to an interrupt is announced at once to its interrupt channels; one routed
to the digest becomes an item of each digest channel's next digest. A verdict on an interrupt-routed request
is announced to the same channels (what people must do changed); a request that stops waiting (decided,
reviewed or superseded) leaves the digests it had not reached yet.
"""

import sqlite3
from datetime import datetime

from hitl_cli.delivery.schedule import next_digest
from hitl_cli.models import Profile
from hitl_cli.models.workflow import Request, Verdict
from hitl_cli.store import outbox
from hitl_cli.rendering import slack_plain

NOTE_CHARS = 200
VERDICT_WORDS = {"approve": "approved", "reject": "rejected", "override": "overridden"}


def _queue(connection: sqlite3.Connection, profile: Profile, request: Request, event: str, note: str,
           now: datetime) -> None:
    delivery = request.decision.delivery
    if delivery == "none":
        return
    due = now if delivery == "interrupt" else next_digest(profile.notifications.digest, now)
    for channel in profile.notifications.channels_for(delivery, request.decision.tier):
        outbox.add(connection, profile.name, channel, delivery, request.id, event, note, now, due)


def submitted(connection: sqlite3.Connection, profile: Profile, request: Request) -> None:
    note = f"{request.id} needs {request.decision.tier.replace('_', ' ')}: {slack_plain(request.manifest.action.summary, NOTE_CHARS)}"
    _queue(connection, profile, request, "submitted", note, request.submitted_at)


def superseded(connection: sqlite3.Connection, request: Request, by: Request) -> None:
    outbox.withdraw_digest_items(connection, request.id, f"superseded by {by.id}")


def verdict_given(connection: sqlite3.Connection, profile: Profile, request: Request, verdict: Verdict,
                  status: str) -> None:
    note = f"{request.id} {VERDICT_WORDS[verdict.kind]} by {slack_plain(verdict.person, NOTE_CHARS)}; now {status}"
    if status != "pending":
        outbox.withdraw_digest_items(connection, request.id, f"{VERDICT_WORDS[verdict.kind]} by {verdict.person}")
    if request.decision.delivery == "interrupt":
        _queue(connection, profile, request, VERDICT_WORDS[verdict.kind], note, verdict.at)


def reviewed(connection: sqlite3.Connection, request_id: str, person: str) -> None:
    outbox.withdraw_digest_items(connection, request_id, f"reviewed by {person}")
