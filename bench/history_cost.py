"""What a decision costs as the state store's history grows: a long-lived Engine (what `hitl serve` decides
through) deciding one manifest against a SQLite store holding 0, 1,000, 10,000 approved actions.

    .venv/bin/python bench/history_cost.py [--sizes 0,1000,10000] [--decisions 50] [--profile default]

The history is real: manifests submitted through Engine.submit (so the policy decided and recorded each one),
each a read of its own table by one of 20 agents, auto-approved by the shipped default profile, so each is a
precedent and counts towards today's spend. Then the same Engine decides one manifest of one of those agents
`--decisions` times, after one untimed decision; then `--decisions` times a new action is submitted and the probe
decided right after it, when the store has moved and its history must be read again (what `hitl serve` does while
agents submit). The median wall time of each kind of decision and the size of what a decision sent OPA as input
are reported, as Markdown on stdout and in bench/history-cost.md (which bench/report.py puts in RESULTS.md), the raw
figures in bench/out/history-cost.json.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import tools  # noqa: E402

from hitl_cli import Engine  # noqa: E402
from hitl_cli.engine.client import PolicyClient  # noqa: E402

AGENTS = [f"agent-{number:02d}" for number in range(20)]
OUT = tools.ROOT / "bench" / "out" / "history-cost.json"
REPORT = tools.ROOT / "bench" / "history-cost.md"


def read_manifest(number: int, agent: str) -> dict:
    return {
        "apiVersion": "hitl/v1", "kind": "ActionManifest", "metadata": {"id": f"read-{number:06d}"},
        "agent": {"id": agent},
        "action": {"type": "read", "summary": f"Read table t_{number}", "confidence": 0.95, "reversible": True},
        "target": {"environment": "dev", "system": "warehouse", "resource": f"analytics.t_{number}",
                   "resource_type": "table"},
        "impact": {"pii": False, "rows_affected": 0, "estimated_cost_usd": 0.01},
        "context": {"why": "bench history", "read": [], "risks": [], "rollback": "none"},
    }


class SentHistory:
    """Records the size of the input each decision request carries (wrapping PolicyClient._decisions_input)."""

    def __init__(self):
        self.sizes: list[int] = []
        self._original = PolicyClient._decisions_input

    def __enter__(self):
        original, sizes = self._original, self.sizes

        def recording(client, run, manifests_json, facts_json):
            what, input_json, manifests = original(client, run, manifests_json, facts_json)
            sizes.append(len(input_json))
            return what, input_json, manifests

        PolicyClient._decisions_input = recording
        return self

    def __exit__(self, *exc):
        PolicyClient._decisions_input = self._original


def measure(size: int, decisions: int, profile: str, folder: Path) -> dict:
    state = folder / f"state-{size}.db"
    with Engine([profile], state=state) as engine:
        for start in range(0, size, 500):
            submitted = engine.submit([read_manifest(n, AGENTS[n % len(AGENTS)]) for n in range(start, min(size, start + 500))])
            run.say(f"history cost: {size:,} approved actions: submitted {start + len(submitted.submitted):,}")
        probe = read_manifest(size + 1, AGENTS[0])
        engine.decide([probe])
        times = []
        with SentHistory() as sent:
            for _ in range(decisions):
                began = time.perf_counter()
                result = engine.decide([probe])
                times.append(time.perf_counter() - began)
        if result.problems or len(result.evaluated) != 1:
            raise SystemExit(f"bench: the probe was not decided: {result.problems}")
        after_submission = []
        for number in range(decisions):
            engine.submit([read_manifest(size + 2 + number, AGENTS[number % len(AGENTS)])])
            began = time.perf_counter()
            engine.decide([probe])
            after_submission.append(time.perf_counter() - began)
    return {"approved": size, "median_ms": statistics.median(times) * 1000, "input_bytes": statistics.median(sent.sizes),
            "after_submission_ms": statistics.median(after_submission) * 1000}


def render(rows: list[dict], profile: str, decisions: int, taken: str) -> str:
    lines = ["| approved actions in the store | ms per decision | input sent to OPA | ms per decision after a submission |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {r['approved']:,} | {r['median_ms']:.2f} | {r['input_bytes'] / 1024:,.1f} KB | "
              f"{r['after_submission_ms']:.2f} |" for r in rows]
    return f"""## Decisions against a growing store

`bench/history_cost.py` (generated, do not edit): a long-lived Engine (what `hitl serve` decides through), profile
{profile}, decides one manifest against a SQLite store holding that many approved actions (real submissions: reads
of a table each, by 20 agents, each a precedent and counted in today's spend). Median of {decisions} decisions while
the store stands still, and of {decisions} each made right after a new submission, when the store's history must be
read again. Wall time, on a machine others share. Taken {taken} (UTC).

""" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,10000")
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--profile", default="default")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(int(size), arguments.decisions, arguments.profile, Path(folder))
                for size in arguments.sizes.split(",")]
    taken = run.now()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"profile": arguments.profile, "taken": taken, "rows": rows}, indent=2) + "\n")
    markdown = render(rows, arguments.profile, arguments.decisions, taken)
    REPORT.write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
