"""Fault injection for tests: pause a write at a named point so a test can kill the process there.

HITL_FAULT_PAUSE=<point> makes the process announce `hitl: fault injection: paused at <point>` on
stderr and sleep while it holds its open transaction, everything written but not committed. The
crash tests SIGKILL it there. Points are named after the operation (submit, approve, ...).
"""

import os
import sys
import time

PAUSE_SECONDS = 3600


def pause_point(point: str) -> None:
    if os.environ.get("HITL_FAULT_PAUSE") != point:
        return
    print(f"hitl: fault injection: paused at {point}", file=sys.stderr, flush=True)
    time.sleep(PAUSE_SECONDS)
