"""`hitl deliver` end to end: real `hitl` processes, the real OPA and SQLite store, and real receivers on
loopback (an HTTP server standing in for Slack and for a webhook consumer, an aiosmtpd SMTP server).

In every case each message arrives at least once and the store's record of it is right: receivers that fail,
stall, throttle, vanish or hang while the deliverer is killed, and two deliverers at once.
"""

import json
import signal
from contextlib import closing
from datetime import datetime

import pytest

from receivers import Answer, HttpReceiver, SmtpReceiver, verify_signature

from .support import Workspace, at, copy_profile, tier_manifest

SIGNING_KEY = "test-signing-key"
HOSTILE = "drop it <!channel> <!here> <@U024BE7LH> <https://evil.example|click> & more Bcc: evil@example.com"

RETRY = {
    "connect_timeout_seconds": 2, "read_timeout_seconds": 1, "attempts_per_send": 2, "send_backoff_seconds": 0.01,
    "backoff_seconds": 60, "max_backoff_seconds": 600, "max_retry_after_seconds": 2, "give_up_after_hours": 24,
    "lease_seconds": 60,
}


def notifications(interrupt: list[str], digest: list[str] | None = None, smtp_port: int = 25, **retry) -> dict:
    return {
        "channels": {
            "slack": {"kind": "slack", "url": {"env": "TEST_SLACK_URL"}},
            "hook": {"kind": "webhook", "url": {"env": "TEST_HOOK_URL"}, "signing_key": {"file": "signing.key"}},
            "mail": {"kind": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none", "username": None,
                     "password": None, "sender": "hitl@example.com", "recipients": ["a@example.com", "b@example.com"]},
        },
        "routes": [
            {"delivery": "interrupt", "tiers": ["double_approval", "escalate", "block"], "channels": interrupt},
            {"delivery": "digest", "tiers": ["auto_approve", "single_approval"], "channels": digest or ["hook"]},
        ],
        "digest": {"time_zone": "Europe/London", "times": ["09:00", "17:30"]},
        "retry": {**RETRY, **retry},
    }


def delivering(ws: Workspace, interrupt: list[str], digest: list[str] | None = None, **options) -> str:
    path = copy_profile(ws, "default", "delivering", {"notifications": notifications(interrupt, digest, **options)})
    (ws.root / "signing.key").write_text(SIGNING_KEY + "\n")
    return str(path)


SECRET_PATH = "/services/T000/B000/SECRETPATH"  # in a Slack webhook URL, the path is the secret


def urls(*receivers: HttpReceiver) -> dict:
    return {name: receiver.url + SECRET_PATH for name, receiver in zip(("TEST_SLACK_URL", "TEST_HOOK_URL"), receivers)}


def outbox(ws: Workspace) -> list[dict]:
    with closing(ws.database()) as connection:
        cursor = connection.execute("SELECT * FROM outbox ORDER BY id")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def deliver(ws: Workspace, profile: str, env: dict, now: str = at(0)):
    return ws.hitl("deliver", "--profile", profile, env=env, now=now)


def epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())


def test_an_interrupt_reaches_slack_a_signed_webhook_and_mail_once_with_hostile_text_inert(ws):
    with HttpReceiver() as slack, HttpReceiver() as hook, SmtpReceiver() as smtp:
        profile = delivering(ws, ["slack", "hook", "mail"], smtp_port=smtp.port)
        ws.submit([tier_manifest("escalate", id="urgent", summary=HOSTILE)], "--profile", profile,
                  now=at(0))
        env = urls(slack, hook)
        result = deliver(ws, profile, env)
        assert result.returncode == 0, result.stderr
        assert "3 sent" in result.stdout

        rows = outbox(ws)
        assert [(row["channel"], row["status"], row["attempts"]) for row in rows] == [
            ("slack", "sent", 1), ("hook", "sent", 1), ("mail", "sent", 1)]

        [message] = slack.accepted
        body = message.json
        from hitl_cli.rendering import block_kit_problems
        assert block_kit_problems(body) == []
        assert message.key == rows[0]["key"] == rows[0]["sent_as"]
        raw = message.body.decode()
        for mention in ("<!channel>", "<!here>", "<@U024BE7LH>", "<https://evil.example|click>"):
            assert mention not in raw
        assert "&lt;!channel&gt;" in json.dumps(body, ensure_ascii=False)

        [event] = hook.accepted
        assert verify_signature(event, SIGNING_KEY, epoch(at(0)))
        assert not verify_signature(event, "another key", epoch(at(0)))
        assert not verify_signature(event, SIGNING_KEY, epoch(at(1)))  # a replay an hour later is refused
        assert event.key == rows[1]["key"]
        assert event.json["type"] == "interrupt" and event.json["requests"][0]["id"] == "urgent"
        assert event.json["requests"][0]["manifest"]["action"]["summary"] == HOSTILE

        [mail] = smtp.mails
        assert smtp.envelopes == [("hitl@example.com", ["a@example.com", "b@example.com"])]
        assert mail["Bcc"] is None and "\n" not in mail["Subject"] and "\u2028" not in mail["Subject"]
        assert mail["Message-ID"] == f"<{rows[2]['key']}@hitl>"
        assert mail["X-Hitl-Idempotency-Key"] == rows[2]["key"]
        parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}
        assert "<!channel>" not in parts["text/html"] and "&lt;!channel&gt;" in parts["text/html"]

        again = deliver(ws, profile, env, at(1))
        assert again.returncode == 0 and "0 sent" in again.stdout
        assert len(slack.received) == len(hook.received) == len(smtp.mails) == 1


def test_a_verdict_is_announced_where_the_request_was(ws):
    with HttpReceiver() as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("double_approval", id="twice")], "--profile", profile, now=at(0))
        approved = ws.hitl("approve", "twice", "--by", "alice <!channel>", now=at(0.5))
        assert approved.returncode == 0, approved.stderr
        result = deliver(ws, profile, urls(slack), at(1))
        assert result.returncode == 0, result.stderr
        assert [row["event"] for row in outbox(ws)] == ["submitted", "approved"]
        update = slack.accepted[1].json
        assert "approved by alice &lt;!channel&gt;; now pending" in update["text"]
        assert update["blocks"][0]["type"] == "context" and "<!channel>" not in slack.accepted[1].body.decode()


def test_digest_items_wait_for_the_schedule_and_go_as_one_message_per_channel(ws):
    with HttpReceiver() as hook:
        profile = delivering(ws, ["slack"], digest=["hook"])
        manifests = [tier_manifest("single_approval", id=f"routine-{n}") for n in range(3)]
        ws.submit(manifests, "--profile", profile, now=at(1))  # 10:00 in London, in November
        ws.hitl("reject", "routine-2", "--by", "bob", "--reason", "not now", now=at(2))
        env = urls(HttpReceiver(), hook)

        early = deliver(ws, profile, env, at(8.4))  # 17:24: the 17:30 digest is not due yet
        assert early.returncode == 0 and hook.received == []
        assert {row["due_at"] for row in outbox(ws)} == {"2026-11-24T17:30:00.000000Z"}

        due = deliver(ws, profile, env, at(8.5))
        assert due.returncode == 0, due.stderr
        [digest] = hook.accepted
        assert digest.json["type"] == "digest"
        assert sorted(request["id"] for request in digest.json["requests"]) == ["routine-0", "routine-1"]
        assert verify_signature(digest, SIGNING_KEY, epoch(at(8.5)))
        states = {row["request_id"]: (row["status"], row["sent_as"]) for row in outbox(ws)}
        assert states["routine-0"] == states["routine-1"] == ("sent", digest.key)
        assert states["routine-2"][0] == "withdrawn"


def test_5xx_answers_are_retried_with_the_same_key_until_one_succeeds(ws):
    with HttpReceiver([Answer(status=500), Answer(status=503)]) as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        result = deliver(ws, profile, urls(slack))
        assert result.returncode == 0, result.stderr
        assert len(slack.received) == 3 and len({item.key for item in slack.received}) == 1
        assert [(row["status"], row["attempts"]) for row in outbox(ws)] == [("sent", 1)]


def test_a_429_retry_after_is_honoured_within_the_run_or_left_to_a_later_one(ws):
    short, long = Answer(status=429, headers={"Retry-After": "1"}), Answer(status=429, headers={"Retry-After": "7200"})
    with HttpReceiver([short, long]) as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        first = deliver(ws, profile, urls(slack))
        assert first.returncode == 1, first.stderr
        [row] = outbox(ws)
        assert row["status"] == "pending" and row["attempts"] == 1 and "7200" in row["last_error"]
        assert row["next_attempt_at"] >= "2026-11-24T11:00:00"  # not before the receiver asked
        assert deliver(ws, profile, urls(slack), at(1.5)).stdout.startswith("0 sent")
        later = deliver(ws, profile, urls(slack), at(2.1))
        assert later.returncode == 0, later.stderr
        assert len(slack.accepted) == 1 and len(slack.received) == 3
        assert outbox(ws)[0]["status"] == "sent"


def test_a_receiver_that_stalls_past_the_read_timeout_gets_the_message_again(ws):
    with HttpReceiver([Answer(stall_seconds=3)]) as hook:
        profile = delivering(ws, ["hook"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        result = deliver(ws, profile, urls(HttpReceiver(), hook))
        assert result.returncode == 0, result.stderr
        assert len(hook.received) == 2 and hook.received[0].key == hook.received[1].key
        assert outbox(ws)[0]["status"] == "sent"


def test_a_receiver_that_vanishes_mid_run_loses_nothing(ws):
    gone = [Answer(drop=True)] * 10
    with HttpReceiver([Answer(), *gone]) as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id=f"urgent-{n}") for n in range(3)], "--profile", profile,
                  now=at(0))
        first = deliver(ws, profile, urls(slack))
        assert first.returncode == 1
        rows = outbox(ws)
        assert [row["status"] for row in rows] == ["sent", "pending", "pending"]
        assert "cannot connect" in rows[1]["last_error"]
        queue = ws.hitl("queue")
        assert "undelivered messages (2)" in queue.stdout and "retrying after 1 attempt" in queue.stdout
        shown = first.stderr + queue.stdout + json.dumps(rows) + ws.hitl("stats", "--profile", profile).stdout
        assert "SECRETPATH" not in shown
        slack.script.clear()  # it is back
        later = deliver(ws, profile, urls(slack), at(1))
        assert later.returncode == 0, later.stderr
        assert [row["status"] for row in outbox(ws)] == ["sent"] * 3
        assert sorted(slack.keys()) == sorted(row["key"] for row in outbox(ws))
        assert "undelivered" not in ws.hitl("queue").stdout


def test_a_permanent_refusal_is_recorded_and_shown_never_dropped(ws):
    with HttpReceiver([Answer(status=404)]) as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        result = deliver(ws, profile, urls(slack))
        assert result.returncode == 3
        assert "failed permanently" in result.stderr and "HTTP 404" in result.stderr
        [row] = outbox(ws)
        assert row["status"] == "failed" and "HTTP 404" in row["last_error"]
        assert "urgent via slack (interrupt): failed after 1 attempt" in ws.hitl("queue").stdout
        stats = ws.json("stats", "--profile", profile)
        assert stats["deliveries"]["failed"] == 1
        assert stats["deliveries"]["failures"][0]["request_id"] == "urgent"
        assert deliver(ws, profile, urls(slack), at(5)).returncode == 0
        assert len(slack.received) == 1


def test_retries_stop_at_the_give_up_age_with_a_permanent_failure(ws):
    with HttpReceiver([Answer(status=500)] * 20) as slack:
        profile = delivering(ws, ["slack"], give_up_after_hours=1)
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        assert deliver(ws, profile, urls(slack)).returncode == 1
        last = deliver(ws, profile, urls(slack), at(2))
        assert last.returncode == 3
        [row] = outbox(ws)
        assert row["status"] == "failed" and row["last_error"].startswith("gave up after 1h")


def test_mail_a_transient_smtp_answer_is_retried_a_permanent_one_recorded(ws):
    with SmtpReceiver(["451 4.3.0 try later", "550 5.7.1 not here"]) as smtp:
        profile = delivering(ws, ["mail"], smtp_port=smtp.port)
        ws.submit([tier_manifest("escalate", id="first"), tier_manifest("block", id="second")], "--profile",
                  profile, now=at(0))
        result = deliver(ws, profile, {})
        assert result.returncode == 3
        assert [(row["status"], row["last_error"][:30]) for row in outbox(ws)] == [
            ("pending", "channel mail: SMTP 451 4.3.0 t"), ("failed", "channel mail: SMTP 550 5.7.1 n")]
        assert deliver(ws, profile, {}, at(1)).returncode == 0
        assert [row["status"] for row in outbox(ws)] == ["sent", "failed"]
        assert len(smtp.mails) == 1


def test_a_deliverer_killed_mid_send_leaves_the_message_to_be_sent_again(ws):
    import threading

    release = threading.Event()
    with HttpReceiver([Answer(hang=release)]) as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        process = ws.popen("deliver", "--profile", profile, env=urls(slack), now=at(0))
        try:
            assert slack.arrived.wait(60), "the deliverer never sent"
            process.send_signal(signal.SIGKILL)
            process.wait(60)
        finally:
            release.set()
        [row] = outbox(ws)
        assert row["status"] == "pending" and row["lease_holder"] is not None
        within_lease = deliver(ws, profile, urls(slack), "2026-11-24T09:00:30Z")
        assert within_lease.stdout.startswith("0 sent")  # the lease still holds it
        after = deliver(ws, profile, urls(slack), "2026-11-24T09:01:01Z")
        assert after.returncode == 0, after.stderr
        assert [item.key for item in slack.received] == [row["key"]] * 2
        assert [(r["status"], r["attempts"]) for r in outbox(ws)] == [("sent", 1)]


def test_two_deliverers_at_once_send_each_message_once(ws):
    with HttpReceiver() as slack, HttpReceiver() as hook:
        profile = delivering(ws, ["slack", "hook"])
        ws.submit([tier_manifest("escalate", id=f"urgent-{n}") for n in range(6)], "--profile", profile,
                  now=at(0))
        processes = [ws.popen("deliver", "--profile", profile, env=urls(slack, hook), now=at(0)) for _ in range(2)]
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
        keys = slack.keys() + hook.keys()
        assert len(keys) == 12 and len(set(keys)) == 12
        assert {row["status"] for row in outbox(ws)} == {"sent"}


def test_watch_delivers_as_requests_arrive_and_stops_cleanly_on_sigterm(ws):
    with HttpReceiver() as slack:
        profile = delivering(ws, ["slack"])
        process = ws.popen("deliver", "--profile", profile, "--watch", "--interval", "0.1", env=urls(slack))
        try:
            ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile)
            assert slack.arrived.wait(60), "the watcher never delivered"
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert "deliver stopped" in stderr
        assert [row["status"] for row in outbox(ws)] == ["sent"]


def test_shipped_profiles_with_unset_secrets_report_them_and_never_crash(ws):
    ws.submit([tier_manifest("escalate", id="urgent")], now=at(0))
    result = ws.hitl("deliver", "--profile", "default", now=at(0))
    assert result.returncode == 1
    assert "secret HITL_SLACK_WEBHOOK_URL not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret HITL_WEBHOOK_URL not set" in ws.hitl("queue").stdout


@pytest.mark.parametrize("field, value", [
    ("slack.url", "https://hooks.slack.com/services/T0/B0/secret"),
    ("hook.signing_key", "inline-key"),
    ("mail.password", "hunter2"),
])
def test_a_secret_written_in_the_profile_is_refused(ws, field, value):
    settings = notifications(["slack"])
    channel, key = field.split(".")
    settings["channels"][channel][key] = value
    if key == "password":
        settings["channels"][channel]["username"] = "hitl"
    path = copy_profile(ws, "default", "inline", {"notifications": settings})
    result = ws.hitl("deliver", "--profile", str(path))
    assert result.returncode == 4
    assert f"notifications.channels.{channel}" in result.stderr and "never written in the profile" in result.stderr


def test_a_store_from_before_the_outbox_is_upgraded_by_the_next_write(ws):
    ws.create_store(version=1)
    old = ws.hitl("queue")
    assert old.returncode == 5 and "older than this hitl's" in old.stderr
    with HttpReceiver() as slack:
        profile = delivering(ws, ["slack"])
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        assert deliver(ws, profile, urls(slack)).returncode == 0
        assert [row["status"] for row in outbox(ws)] == ["sent"] and len(slack.accepted) == 1


def test_a_signing_key_file_that_is_missing_is_reported_and_the_message_kept(ws):
    with HttpReceiver() as hook:
        profile = delivering(ws, ["hook"])
        (ws.root / "signing.key").unlink()
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile, now=at(0))
        missing = deliver(ws, profile, urls(HttpReceiver(), hook))
        assert missing.returncode == 1 and "signing.key not readable" in missing.stderr
        assert hook.received == [] and outbox(ws)[0]["status"] == "pending"
        (ws.root / "signing.key").write_text(SIGNING_KEY)
        assert deliver(ws, profile, urls(HttpReceiver(), hook), at(1)).returncode == 0
        assert verify_signature(hook.accepted[0], SIGNING_KEY, epoch(at(1)))


@pytest.mark.attack
def test_a_sub_second_backoff_in_the_profile_cannot_keep_a_run_going(ws):
    # A profile author sets a backoff under a second against a channel that always fails: a run used to claim the
    # message it had just put back again and again, until give_up_after_hours, so a cron `hitl deliver` never
    # ended. A run sends what was due when it started (the real clock here); the retry is a later run's.
    with HttpReceiver([Answer(status=500)] * 200) as slack:
        profile = delivering(ws, ["slack"], backoff_seconds=0.05, max_backoff_seconds=0.1)
        ws.submit([tier_manifest("escalate", id="urgent")], "--profile", profile)
        first = ws.hitl("deliver", "--profile", profile, env=urls(slack), timeout=60)
        assert first.returncode == 1, first.stderr
        [row] = outbox(ws)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert len(slack.received) == 1 + RETRY["attempts_per_send"]  # one send: the first try and its retries
        second = ws.hitl("deliver", "--profile", profile, env=urls(slack), timeout=60)
        assert second.returncode == 1, second.stderr
        assert outbox(ws)[0]["attempts"] == 2
