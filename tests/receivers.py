"""Real receivers on loopback for the delivery tests: an HTTP server standing in for Slack and for a webhook
consumer, and an SMTP server (aiosmtpd). Each records what arrived and answers as the test scripts it to:
OK, a status (500, 429 with Retry-After, 404), a stall past the client's timeout, a dropped connection, or a
hang until the test releases it (to SIGKILL the sender mid-send). FAULT INJECTION is all they fake.
"""

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from fault_proxy import LoopbackServer, QuietHandler


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


@dataclass
class Answer:
    """What the receiver does with one request: `status` (with headers), or stall `seconds` first, or `drop` the
    connection unanswered, or `hang` until the test sets the event."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0
    drop: bool = False
    hang: threading.Event | None = None


OK = Answer()


class HttpReceiver(LoopbackServer):
    """Answers each POST with the next scripted Answer (then OK); `accepted` holds what it answered 2xx to."""

    def __init__(self, script: list[Answer] | None = None):
        self.script = list(script or [])
        self.received: list[Received] = []
        self.accepted: list[Received] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                item = Received(dict(self.headers.items()), body)
                with lock:
                    receiver.received.append(item)
                    answer = receiver.script.pop(0) if receiver.script else OK
                receiver.arrived.set()
                if answer.hang is not None:
                    answer.hang.wait(120)
                    return
                if answer.drop:
                    self.close_connection = True
                    return
                if answer.stall_seconds:
                    time.sleep(answer.stall_seconds)
                if 200 <= answer.status < 300:
                    with lock:
                        receiver.accepted.append(item)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        lock = threading.Lock()
        self._listen(Handler)

    def keys(self) -> list[str]:
        return [item.key for item in self.accepted]


def verify_signature(item: Received, key: str, now: int, tolerance: int = 300) -> bool:
    """What a webhook consumer does: recompute the HMAC over `<timestamp>.<body>`, refuse an old timestamp."""
    timestamp = item.headers["X-Hitl-Timestamp"]
    if abs(int(timestamp) - now) > tolerance:
        return False
    expected = hmac.new(key.encode(), timestamp.encode() + b"." + item.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(item.headers["X-Hitl-Signature"], f"sha256={expected}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpReceiver:
    """An SMTP server on loopback; `mails` holds each accepted message, parsed. `script`: SMTP replies to give
    DATA before accepting (for example "451 4.3.0 try later" or "550 5.7.1 no")."""

    def __init__(self, script: list[str] | None = None):
        self.script = list(script or [])
        self.mails: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.port = free_port()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if receiver.script:
                    return receiver.script.pop(0)
                receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                receiver.mails.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                               policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.controller.stop()
