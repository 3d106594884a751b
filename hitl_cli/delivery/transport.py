"""Sending one message over HTTP (Slack, webhooks) or SMTP, and classifying what happened.

HTTP goes through requests with urllib3's Retry: timeouts, connection errors, 5xx and 429 are retried within
the send with exponential backoff and jitter, a 429's (or 503's) Retry-After is honoured when it is within the
profile's `max_retry_after_seconds` (a longer one is left to a later run). Redirects are not followed: a
webhook URL that redirects is a configuration error. Mail goes through smtplib.
"""

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hitl_cli.models.notifications import EmailChannel, RetryPolicy

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
ERROR_TEXT_CHARS = 200


@dataclass(frozen=True)
class SendResult:
    """sent; or not, with the reason, and whether a later attempt may succeed (and not before retry_after s)."""

    sent: bool
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


SENT = SendResult(sent=True)


class BoundedRetry(Retry):
    """Retry that leaves a Retry-After beyond `max_retry_after` to the outbox instead of sleeping through it."""

    max_retry_after: float = 0.0

    def new(self, **kw) -> "BoundedRetry":
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry

    def get_retry_after(self, response) -> float | None:
        seconds = super().get_retry_after(response)
        if seconds is not None and seconds > self.max_retry_after:
            raise _RetryAfterTooLong(seconds)
        return seconds


class _RetryAfterTooLong(Exception):
    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


def _session(policy: RetryPolicy) -> requests.Session:
    retry = BoundedRetry(
        total=policy.attempts_per_send,
        backoff_factor=policy.send_backoff_seconds,
        backoff_jitter=policy.send_backoff_seconds,
        backoff_max=policy.max_backoff_seconds,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=None,  # POSTs too: every message carries its idempotency key
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        redirect=0,
    )
    retry.max_retry_after = policy.max_retry_after_seconds
    session = requests.Session()
    session.trust_env = False  # no proxy or netrc from the environment sees the secret URL
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - parsedate_to_datetime(response.headers["Date"])).total_seconds())
    except (TypeError, ValueError, KeyError):
        return None


def post_json(url: str, body: bytes, headers: dict[str, str], policy: RetryPolicy, target: str) -> SendResult:
    """POST `body`; `target` names the channel in errors (the URL is a secret and never shown)."""
    with _session(policy) as session:
        try:
            response = session.post(
                url, data=body, headers={"Content-Type": "application/json", **headers},
                timeout=(policy.connect_timeout_seconds, policy.read_timeout_seconds), allow_redirects=False,
            )
        except _RetryAfterTooLong as error:
            return SendResult(False, f"{target}: asked to retry after {error.seconds:g}s", retry_after=error.seconds)
        except requests.Timeout:
            return SendResult(False, f"{target}: timed out")
        except requests.ConnectionError as error:
            return SendResult(False, f"{target}: cannot connect ({_reason(error)})")
        except requests.RequestException as error:
            return SendResult(False, f"{target}: {_reason(error)}", permanent=True)
    with response:
        if 200 <= response.status_code < 300:
            return SENT
        answer = f"{target}: HTTP {response.status_code} {_snippet(response.text)}".rstrip()
        if response.status_code in RETRIED_STATUSES:
            return SendResult(False, answer, retry_after=_retry_after(response))
        return SendResult(False, answer, permanent=True)


def _reason(error: BaseException) -> str:
    """The chain of error types only: their texts quote the URL, whose path is the secret."""
    names: list[str] = []
    current: BaseException | None = error
    while current is not None and len(names) < 4:
        names.append(type(current).__name__)
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = nested
    return " / ".join(names)


def _snippet(text: str) -> str:
    """A receiver's answer as one printable line: no terminal escapes reach `hitl queue`."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(text.split()))[:ERROR_TEXT_CHARS]


def send_mail(channel: EmailChannel, password: str | None, message: EmailMessage, policy: RetryPolicy,
              target: str) -> SendResult:
    """Send one mail; a 5xx answer from the server is permanent, anything else may pass on a later run."""
    timeout = policy.connect_timeout_seconds + policy.read_timeout_seconds
    context = ssl.create_default_context()
    try:
        if channel.security == "tls":
            client = smtplib.SMTP_SSL(channel.host, channel.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
        with client:
            if channel.security == "starttls":
                client.starttls(context=context)
            if channel.username is not None:
                client.login(channel.username, password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        return _smtp_answer(target, min(code for code, _ in error.recipients.values()), "recipients refused")
    except smtplib.SMTPResponseException as error:
        return _smtp_answer(target, error.smtp_code, _snippet(str(error.smtp_error, "utf-8", "replace")))
    except (OSError, smtplib.SMTPException) as error:
        return SendResult(False, f"{target}: {type(error).__name__}: {_snippet(str(error))}")
    if refused:
        return SendResult(False, f"{target}: some recipients refused: {', '.join(sorted(refused))}", permanent=True)
    return SENT


def _smtp_answer(target: str, code: int, text: str) -> SendResult:
    return SendResult(False, f"{target}: SMTP {code} {text}".rstrip(), permanent=500 <= code < 600)
