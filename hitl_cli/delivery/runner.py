"""`hitl deliver`: send what is due in the outbox of one profile, once or until stopped.

Each unit (one interrupt, or one channel's due digest items) is claimed with a lease in a write transaction,
sent outside any transaction, and its outcome recorded in another. A crash after the send and before the
record leaves the lease to run out; the unit is then sent again with the same idempotency key.
"""

import hashlib
import hmac
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from hitl_cli import clock
from hitl_cli.delivery import compose, transport
from hitl_cli.delivery.secrets import SecretMissing, read_secret
from hitl_cli.errors import HitlError
from hitl_cli.models import Profile
from hitl_cli.models.notifications import EmailChannel, SlackChannel
from hitl_cli.rendering import Templates
from hitl_cli.store import outbox, records
from hitl_cli.store.connection import Mode, Store, open_store
from hitl_cli.workflow import views
from hitl_cli.workflow.policy_context import PolicyContext, PolicyContexts
from hitl_cli.workflow.queries import waits_for_people

SIGNATURE_HEADER = "X-Hitl-Signature"
TIMESTAMP_HEADER = "X-Hitl-Timestamp"


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    withdrawn: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deliverer:
    profile: Profile
    source: Path
    state: Path
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run_once(self, stop: threading.Event | None = None) -> Report:
        """Send what was due when the run started; a message retried in this run waits for a later one, however
        short its backoff, so a run always ends."""
        report = Report()
        context = PolicyContext.of(self.profile, self.source, self.state)
        contexts = PolicyContexts(self.state, {(str(self.source.resolve()), self.profile.name): context})
        templates = Templates(context.templates)
        started = clock.now()
        with open_store(self.state, Mode.CREATE) as store:
            while stop is None or not stop.is_set():
                unit = self._claim(store, contexts, report, started)
                if unit is None:
                    break
                if not unit.messages:
                    continue
                now = clock.now()
                self._record(store, unit, self._send(unit, templates, now), now, report)
        return report

    def _claim(self, store: Store, contexts: PolicyContexts, report: Report, due_by: datetime) -> compose.Unit | None:
        """The next unit due by `due_by`, leased to this deliverer; digest items whose request stopped waiting are
        withdrawn."""
        now = clock.now()
        lease = now + timedelta(seconds=self.profile.notifications.retry.lease_seconds)
        with store.write("deliver") as connection:
            claimed = outbox.claim_next(connection, self.profile.name, due_by, now, lease, self.holder)
            if not claimed:
                return None
            kept, shown, gone = [], [], []
            for message in claimed:
                request = records.get_request(connection, message.request_id)
                view = views.load(connection, request, contexts, now, self.state)
                if message.delivery == "interrupt" or waits_for_people(view):
                    kept.append(message)
                    shown.append(view)
                else:
                    gone.append(message.id)
            outbox.mark_withdrawn(connection, gone, "no longer waits for people")
            report.withdrawn += len(gone)
        return compose.Unit(messages=kept, views=shown)

    def _send(self, unit: compose.Unit, templates: Templates, now: datetime) -> transport.SendResult:
        name = unit.messages[0].channel
        channel = self.profile.notifications.channels.get(name)
        retry = self.profile.notifications.retry
        target = f"channel {name}"
        if channel is None:
            return transport.SendResult(False, f"{target}: no such channel in profile {self.profile.name}")
        folder = self.source.parent
        try:
            if isinstance(channel, EmailChannel):
                password = read_secret(channel.password, folder) if channel.password is not None else None
                return transport.send_mail(channel, password, compose.mail(unit, channel, templates, now), retry,
                                           target)
            url = read_secret(channel.url, folder)
            headers = {compose.IDEMPOTENCY_HEADER: unit.key}
            if isinstance(channel, SlackChannel):
                return transport.post_json(url, compose.slack_body(unit, templates, now), headers, retry, target)
            body = compose.webhook_body(unit, now)
            key = read_secret(channel.signing_key, folder)
            return transport.post_json(url, body, {**headers, **signed(key, body, now)}, retry, target)
        except SecretMissing as error:
            return transport.SendResult(False, f"{target}: {error}")
        except HitlError as error:  # an organisation's template that fails: no later run can fix it
            return transport.SendResult(False, f"{target}: {str(error).splitlines()[0]}", permanent=True)

    def _record(self, store: Store, unit: compose.Unit, outcome: transport.SendResult, now: datetime,
                report: Report) -> None:
        ids = [message.id for message in unit.messages]
        retry = self.profile.notifications.retry
        oldest = min(message.created_at for message in unit.messages)
        gave_up = now - oldest >= timedelta(hours=retry.give_up_after_hours)
        with store.write("deliver") as connection:
            if outcome.sent:
                outbox.mark_sent(connection, ids, now, unit.key)
                report.sent += len(ids)
                return
            if outcome.permanent or gave_up:
                reason = outcome.error if outcome.permanent else f"gave up after {retry.give_up_after_hours:g}h: {outcome.error}"
                outbox.mark_failed(connection, ids, reason)
                report.failed += len(ids)
                report.problems.append(f"{unit.messages[0].request_id}: failed permanently: {reason}")
                return
            attempts = max(message.attempts for message in unit.messages)
            wait = backoff(retry.backoff_seconds, retry.max_backoff_seconds, attempts)
            if outcome.retry_after is not None:
                wait = max(wait, outcome.retry_after)
            outbox.mark_retry(connection, ids, outcome.error or "not delivered", now + timedelta(seconds=wait))
            report.retrying += len(ids)
            report.problems.append(f"{unit.messages[0].request_id}: {outcome.error}; retrying in {wait:.0f}s")

    def watch(self, interval: float, stop: threading.Event, on_report) -> None:
        while not stop.is_set():
            on_report(self.run_once(stop))
            stop.wait(interval)


def backoff(base: float, ceiling: float, attempts: int) -> float:
    """Exponential backoff with full jitter over its upper half, so deliverers retrying together spread out."""
    wait = min(ceiling, base * 2 ** min(attempts, 64))
    return random.uniform(wait / 2, wait)


def signed(key: str, body: bytes, now: datetime) -> dict[str, str]:
    """HMAC-SHA256 over `<unix seconds>.<body>`: the receiver recomputes it and rejects old timestamps (replays)."""
    timestamp = str(int(now.timestamp()))
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"sha256={digest}"}
