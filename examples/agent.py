"""An example agent using hitl's Python API: decide, submit, wait, and act only when allowed.

    python examples/agent.py examples/manifests/add-column-production.yaml --state .hitl/state.db

It asks hitl what its next action needs. An action that may run at once runs; one that needs people is
submitted as a request, and the agent waits (up to --timeout seconds) while someone runs `hitl approve` or
`hitl reject`; it acts only if the request ends approved. Exit 0: it acted; 1: still waiting; 3: not allowed.
"""

import argparse
import sys
from pathlib import Path

from hitl_cli import Engine, HitlError


def act(manifest_id: str) -> None:
    """Where a real agent would run its statement."""
    print(f"agent: running {manifest_id}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--state", type=Path, default=Path(".hitl/state.db"))
    parser.add_argument("--profile", default="default")
    parser.add_argument("--track-record", type=Path)
    parser.add_argument("--timeout", type=float, default=600.0)
    options = parser.parse_args()
    try:
        with Engine([options.profile], state=options.state, track_record=options.track_record) as engine:
            decided = engine.decide(options.manifest)
            if decided.problems:
                print("\n".join(str(problem) for problem in decided.problems), file=sys.stderr)
                return 4
            decision = decided.evaluated[0].decision
            print(f"agent: {decision.id} needs {decision.tier}", flush=True)
            if decision.may_run:
                act(decision.id)
                return 0
            request = engine.submit(options.manifest).submitted[0].view
            print(f"agent: submitted request {request.id}, waiting for people", flush=True)
            outcome = engine.wait(request.id, timeout=options.timeout)
    except HitlError as error:
        print(f"agent: {error}", file=sys.stderr)
        return int(error.exit_code)
    print(f"agent: request {outcome.id} is {outcome.status}", flush=True)
    if outcome.may_run:
        act(outcome.manifest_id)
        return 0
    return 1 if outcome.status in ("pending", "escalated") else 3


if __name__ == "__main__":
    sys.exit(main())
