"""`check --format text`: one line per action, its reasons beneath, a summary last."""

from hitl_cli.evaluation import RunResult
from hitl_cli.reporters.common import summary, verdict


def render(result: RunResult) -> str:
    lines = []
    for item in result.evaluated:
        d = item.decision
        lines.append(f"{item.loaded.source}: {d.id}: {verdict(item).upper()} ({d.tier})")
        lines += [f"    - [{r.tier}] {r.code}: {r.message}" for r in d.reasons]
    for source in result.invalid_documents():
        lines.append(f"{source}: INVALID (see errors above)")
    lines.append(summary(result))
    return "\n".join(lines) + "\n"
