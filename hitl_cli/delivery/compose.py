"""What one delivery says, for each kind of channel, from the same request views `notify` and `digest` show.

Slack gets the Block Kit of the notify/digest templates (escaped by them); a webhook gets JSON built by
json.dumps from the views' models; mail gets the HTML templates with the Markdown ones as the plain-text
alternative, under headers built with the email package's SMTP policy from single-line text.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from hitl_cli.models.notifications import EmailChannel
from hitl_cli.rendering import SLACK_MAX_BLOCKS, Templates, slack_mrkdwn, slack_plain
from hitl_cli.store.outbox import Message
from hitl_cli.workflow import digest as digest_entries
from hitl_cli.workflow.views import RequestView

SUBJECT_CHARS = 150
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Unit:
    """One delivery: an interrupt (one message, one view) or a digest (its items, the views still waiting)."""

    messages: list[Message]
    views: list[RequestView]

    @property
    def is_digest(self) -> bool:
        return self.messages[0].delivery == "digest"

    @property
    def key(self) -> str:
        """The idempotency key: the message's own, or for a digest one derived from every item's."""
        if not self.is_digest:
            return self.messages[0].key
        joined = "\n".join(sorted(message.key for message in self.messages))
        return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:32]

    @property
    def note(self) -> str:
        if self.is_digest:
            return f"hitl digest: {len(self.views)} waiting"
        return self.messages[0].note

    def _context(self, now: datetime) -> tuple[str, dict]:
        if self.is_digest:
            groups = digest_entries.groups(self.views, min(view.submitted_at for view in self.views))
            count = sum(len(group.entries) for group in groups)
            since = min(message.created_at for message in self.messages)
            return "digest", {"groups": groups, "count": count, "since": since, "generated_at": now}
        return "notify", {"request": self.views[0], "generated_at": now}

    def render(self, templates: Templates, format: str, now: datetime) -> str:
        name, context = self._context(now)
        return templates.render(name, format, context)


def slack_body(unit: Unit, templates: Templates, now: datetime) -> bytes:
    message = json.loads(unit.render(templates, "slack", now))
    if not unit.is_digest and unit.messages[0].event != "submitted":
        update = {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_mrkdwn(unit.note)}]}
        message["blocks"] = [update, *message["blocks"]][:SLACK_MAX_BLOCKS]
        message["text"] = slack_mrkdwn(unit.note)
    return json.dumps(message, ensure_ascii=False).encode()


def webhook_body(unit: Unit, now: datetime) -> bytes:
    body = {
        "type": "digest" if unit.is_digest else "interrupt",
        "event": "digest" if unit.is_digest else unit.messages[0].event,
        "idempotency_key": unit.key,
        "note": unit.note,
        "sent_at": now.isoformat(),
        "requests": [view.model_dump(mode="json") for view in unit.views],
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def mail(unit: Unit, channel: EmailChannel, templates: Templates, now: datetime) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["Subject"] = slack_plain(unit.note, SUBJECT_CHARS)  # one line: no header can be smuggled in
    message["From"] = Address(addr_spec=channel.sender)
    message["To"] = [Address(addr_spec=recipient) for recipient in channel.recipients]
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{unit.key}@hitl>"
    message[f"X-Hitl-{IDEMPOTENCY_HEADER}"] = unit.key
    message.set_content(unit.render(templates, "markdown", now))
    message.add_alternative(unit.render(templates, "html", now), subtype="html")
    return message
