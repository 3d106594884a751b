"""What several reporters say the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitl_cli.evaluation import Evaluated, RunResult


VERDICTS = {
    "auto_approve": "may run",
    "single_approval": "needs approval",
    "double_approval": "needs approval",
    "escalate": "escalated",
    "block": "blocked",
}


def verdict(item: Evaluated) -> str:
    if item.cleared_by is not None:
        return f"may run ({item.cleared_by.describe()})"
    return VERDICTS[item.decision.tier]


def source_file(source: str) -> str:
    """`plan.yaml#2` names the second document of plan.yaml; reports that point at files want plan.yaml."""
    return source.rsplit("#", 1)[0] if "#" in source else source


def summary(result: RunResult) -> str:
    tiers = [item.decision.tier for item in result.evaluated]
    may_run = sum(item.may_run for item in result.evaluated)
    blocked = sum(not item.may_run and item.decision.tier == "block" for item in result.evaluated)
    return (
        f"{len(tiers) + len(result.invalid_documents())} manifests under profile {result.profile}: "
        f"{may_run} may run, {len(tiers) - may_run - blocked} need a human, {blocked} blocked, "
        f"{len(result.invalid_documents())} invalid"
    )
