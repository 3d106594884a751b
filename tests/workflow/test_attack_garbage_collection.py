"""The `hitl` process holds Python's garbage collector off while it starts (hitl_cli.program): an attack on that
is a command whose own work makes garbage in reference cycles while the collector is still off, so that memory
grows for as long as the command runs. A caught exception is such a cycle (its traceback holds the frames that
hold it); `hitl deliver --watch` retrying a channel that refuses every connection catches one for each try.

Real `hitl` processes, a real SQLite store, and a loopback port that nothing listens on.
"""

import signal
import socket
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from .support import copy_profile, tier_manifest

FAILED_SENDS = 3000  # each leaves ~200 objects in cycles: ~60 MB that the collector, when on, frees
PEAK_RSS_BOUND_MB = 110  # what the process needs with the collector on (about 70 MB), with room to spare
SECONDS = {"connect_timeout_seconds": 1, "read_timeout_seconds": 1, "max_retry_after_seconds": 1, "lease_seconds": 60}
# Retry settings may be any positive number of seconds: with these, each pass of the watch retries every message
# once (a run sends what was due when it started), so the messages are many.
MESSAGES = 60
DEAD_CHANNEL = {
    "channels": {"hook": {"kind": "webhook", "url": {"env": "TEST_HOOK_URL"}, "signing_key": {"file": "signing.key"}}},
    "routes": [{"delivery": "interrupt", "tiers": ["escalate"], "channels": ["hook"]}],
    "digest": {"time_zone": "UTC", "times": ["09:00"]},
    "retry": {**SECONDS, "attempts_per_send": 1, "send_backoff_seconds": 0.001, "backoff_seconds": 0.001,
              "max_backoff_seconds": 0.001, "give_up_after_hours": 24},
}


def refusing_url() -> str:
    """A loopback URL that refuses connections: a port the system handed out, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def failed_sends(ws) -> int:
    """How many sends the deliverer has tried and recorded as failed, from the outbox."""
    with closing(ws.connect()) as connection:
        return connection.execute("SELECT coalesce(sum(attempts), 0) FROM outbox").fetchone()[0]


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


@pytest.mark.attack
def test_deliver_watch_retrying_a_dead_channel_does_not_grow_without_bound(sqlite_ws):
    ws = sqlite_ws
    profile = copy_profile(ws, "default", "dead-channel", {"notifications": DEAD_CHANNEL})
    (ws.root / "signing.key").write_text("a key\n")
    ws.submit([tier_manifest("escalate", id=f"e-{n}") for n in range(MESSAGES)], "--profile", str(profile))
    deadline = time.monotonic() + 300  # only a broken setup waits this long
    log = ws.root / "deliver.log"  # a line per failed send: a pipe nobody reads would fill and stop the deliverer
    with log.open("w") as stderr_file:
        process = ws.popen("deliver", "--profile", str(profile), "--watch", "--interval", "0.05",
                           env={"TEST_HOOK_URL": refusing_url()}, stdout=subprocess.DEVNULL, stderr=stderr_file)
        try:
            failed = failed_sends(ws)
            while failed < FAILED_SENDS and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
                failed = failed_sends(ws)
            peak = peak_rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    stderr = log.read_text()
    assert failed >= FAILED_SENDS, f"{failed} failed sends, exit {process.returncode}: {stderr[-500:]}"
    assert process.returncode == 0, stderr[-500:]
    assert "cannot connect" in stderr
    assert peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB after {failed} failed sends"
