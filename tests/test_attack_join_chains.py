"""Attack: sqlglot backtracks over a JOIN with neither ON nor USING, so the time to parse a run of them doubles with
each one. A 200-character read with 25 of them hung every hitl command (and held `hitl serve`) without deciding
anything. Such a run is now unanalysable at once: never auto-approved, and never hiding what else the text does.
Real CLI, real OPA."""

import pytest

from conftest import decide_plan, make_manifest

pytestmark = pytest.mark.attack

CONDITIONLESS = " ".join(f"JOIN t{index}" for index in range(1, 26))
WITH_CONDITIONS = " ".join(f"JOIN t{index} ON t{index}.id = t0.id" for index in range(1, 31))
CROSS = " ".join(f"CROSS JOIN t{index}" for index in range(1, 21))


def _codes(decision: dict) -> set[str]:
    return {reason["code"] for reason in decision["reasons"]}


@pytest.mark.parametrize("command", ["check", "evaluate"])
def test_a_long_run_of_joins_without_conditions_is_decided_at_once_and_never_auto_approved(opa_bin, tmp_path, command):
    manifests = [
        make_manifest(id="chain", type="read", env="dev", statement=f"SELECT * FROM t0 {CONDITIONLESS}", system="snowflake"),
        make_manifest(id="chain-pg", type="read", env="dev", statement=f"SELECT * FROM t0 {CONDITIONLESS}", system="postgres"),
        make_manifest(id="delete-behind", type="read", env="production",
                      statement=f"DELETE FROM analytics.customers USING t0 {CONDITIONLESS}"),
        make_manifest(id="joined", type="read", env="dev", statement=f"SELECT * FROM t0 {WITH_CONDITIONS}"),
        make_manifest(id="crossed", type="read", env="dev", statement=f"SELECT * FROM t0 {CROSS}"),
    ]
    _, decided = decide_plan(tmp_path, command, manifests)
    for chained in ("chain", "chain-pg"):
        assert "unanalysable_statement" in _codes(decided[chained]) and decided[chained]["tier"] != "auto_approve"
    assert decided["delete-behind"]["tier"] == "block"  # the DELETE still counts
    assert "unanalysable_statement" not in _codes(decided["joined"])  # joins with conditions parse as they always did
    assert "unanalysable_statement" not in _codes(decided["crossed"])
