"""Run the hitl CLI with a pinned clock or a pause point: the tests' only way to move time or stop a write.

    python tests/launch_hitl.py '{"now": "2026-11-24T09:00:00Z", "pause_at": "submit"}' ARGS...

The shipped program reads no environment variable that moves its clock or pauses it; this launcher (never
installed) patches ordinary functions in this process before the CLI starts:
- now: `hitl_cli.clock.now` returns this RFC 3339 moment (with a time zone);
- pause_at: the store's write transaction named so (submit, approve, reject, override, review, promote) says
  `hitl: fault injection: paused at <point>` on stderr and sleeps after writing, before COMMIT, so a crash
  test can SIGKILL it there.
"""

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from hitl_cli import clock
from hitl_cli.program import main
from hitl_cli.store.connection import Store

PAUSE_SECONDS = 3600


def pin_clock(moment: str) -> None:
    pinned = datetime.fromisoformat(moment)
    assert pinned.tzinfo is not None, f"now={moment!r} needs a time zone"
    clock.now = lambda: pinned.astimezone(UTC)


def pause_writes_at(point: str) -> None:
    write = Store.write

    @contextmanager
    def paused_write(self, operation: str) -> Iterator:
        with write(self, operation) as connection:
            yield connection
            if operation == point:
                print(f"hitl: fault injection: paused at {point}", file=sys.stderr, flush=True)
                time.sleep(PAUSE_SECONDS)

    Store.write = paused_write


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    if settings.get("now"):
        pin_clock(settings["now"])
    if settings.get("pause_at"):
        pause_writes_at(settings["pause_at"])
    sys.argv = ["hitl", *sys.argv[2:]]
    main()
