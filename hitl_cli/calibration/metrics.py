"""Reliability tables: outcomes binned by stated confidence, with observed accuracy, ECE and Brier score.

A bin [lower, upper) holds the confidences from lower up to (not including) upper; the last bin also holds
its upper edge (1.0). ECE (expected calibration error) = sum over bins of count/N * |accuracy - mean
confidence|; Brier = mean of (confidence - outcome)^2 with outcome 1 for correct, 0 for incorrect.
"""

from collections.abc import Sequence

from hitl_cli.calibration.outcomes import ConfidenceOutcome

DIGITS = 6  # figures are rounded to this many decimals, so the data file and reports read cleanly


def bin_index(confidence: float, edges: Sequence[float]) -> int:
    for index in range(len(edges) - 1):
        if edges[index] <= confidence < edges[index + 1]:
            return index
    return len(edges) - 2  # the top edge belongs to the last bin


def reliability_table(outcomes: Sequence[ConfidenceOutcome], edges: Sequence[float]) -> dict:
    """{samples, accuracy, mean_confidence, ece, brier, bins: [{lower, upper, count, mean_confidence, accuracy}]}."""
    grouped: list[list[ConfidenceOutcome]] = [[] for _ in range(len(edges) - 1)]
    for outcome in outcomes:
        grouped[bin_index(outcome.confidence, edges)].append(outcome)
    total = len(outcomes)
    bins, ece = [], 0.0
    for index, members in enumerate(grouped):
        count = len(members)
        mean = sum(o.confidence for o in members) / count if count else None
        accuracy = sum(o.correct for o in members) / count if count else None
        if count:
            ece += count / total * abs(accuracy - mean)
        bins.append({
            "lower": edges[index], "upper": edges[index + 1], "count": count,
            "mean_confidence": _round(mean), "accuracy": _round(accuracy),
        })
    return {
        "samples": total,
        "accuracy": _round(sum(o.correct for o in outcomes) / total) if total else None,
        "mean_confidence": _round(sum(o.confidence for o in outcomes) / total) if total else None,
        "ece": _round(ece) if total else None,
        "brier": _round(sum((o.confidence - o.correct) ** 2 for o in outcomes) / total) if total else None,
        "bins": bins,
    }


def agent_tables(outcomes: Sequence[ConfidenceOutcome], edges: Sequence[float], min_per_action_type: int) -> dict:
    """Per agent: its overall table, and a table per action type with at least min_per_action_type outcomes."""
    by_agent: dict[str, list[ConfidenceOutcome]] = {}
    for outcome in outcomes:
        by_agent.setdefault(outcome.agent, []).append(outcome)
    agents = {}
    for agent, mine in sorted(by_agent.items()):
        by_type: dict[str, list[ConfidenceOutcome]] = {}
        for outcome in mine:
            if outcome.action_type is not None:
                by_type.setdefault(outcome.action_type, []).append(outcome)
        agents[agent] = {
            "overall": reliability_table(mine, edges),
            "action_types": {
                action_type: reliability_table(typed, edges)
                for action_type, typed in sorted(by_type.items())
                if len(typed) >= min_per_action_type
            },
        }
    return agents


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)
