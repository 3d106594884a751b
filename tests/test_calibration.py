"""The confidence calibration loop: reliability tables, ECE and Brier from synthetic agents with known
miscalibration, `hitl calibrate` end to end (store outcomes, JSONL import, plots), and the change in decisions
the calibration data makes through the real OPA."""

import json
import random

import pytest

from hitl_cli.calibration.metrics import reliability_table
from hitl_cli.calibration.outcomes import ConfidenceOutcome
from workflow.support import copy_profile, make_workspace, manifest

EDGES = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # the shipped profiles' bin_edges
# With 3,000 outcomes per agent the sampling noise of ECE is about 0.02: the stated values hold within 0.04.
ECE_TOLERANCE = 0.04


def synthetic(agent: str, skew, samples: int = 3000, seed: int = 11) -> list[ConfidenceOutcome]:
    """Confidence uniform in [0.5, 1); the action is correct with probability skew(confidence)."""
    rng = random.Random(f"{seed}-{agent}")
    found = []
    for _ in range(samples):
        confidence = round(rng.uniform(0.5, 0.999), 3)
        found.append(ConfidenceOutcome(agent, "write", confidence, rng.random() < skew(confidence)))
    return found


OVER = synthetic("over-agent", lambda c: c - 0.3)  # states 0.3 more than it achieves
UNDER = synthetic("under-agent", lambda c: min(c + 0.2, 1.0))  # achieves up to 0.2 more
WELL = synthetic("well-agent", lambda c: c)


def _jsonl(path, outcomes: list[ConfidenceOutcome]) -> None:
    path.write_text("".join(
        json.dumps({"agent": o.agent, "action_type": o.action_type, "confidence": o.confidence, "correct": o.correct}) + "\n"
        for o in outcomes
    ))


def test_a_small_table_by_hand():
    outcomes = [ConfidenceOutcome("a", "write", c, ok) for c, ok in [(0.55, True), (0.58, False), (0.95, True), (1.0, True), (0.2, False)]]
    table = reliability_table(outcomes, EDGES)
    assert [(b["lower"], b["upper"], b["count"]) for b in table["bins"]] == [
        (0.0, 0.5, 1), (0.5, 0.6, 2), (0.6, 0.7, 0), (0.7, 0.8, 0), (0.8, 0.9, 0), (0.9, 1.0, 2),
    ]
    assert table["bins"][1]["mean_confidence"] == 0.565 and table["bins"][1]["accuracy"] == 0.5
    assert table["bins"][5]["mean_confidence"] == 0.975 and table["bins"][5]["accuracy"] == 1.0
    assert table["bins"][2]["accuracy"] is None
    # ECE: (1*|0-0.2| + 2*|0.5-0.565| + 2*|1-0.975|) / 5; Brier: mean squared gap to the outcome.
    assert table["ece"] == pytest.approx((0.2 + 2 * 0.065 + 2 * 0.025) / 5)
    assert table["brier"] == pytest.approx((0.45**2 + 0.58**2 + 0.05**2 + 0 + 0.2**2) / 5)
    assert table["samples"] == 5 and table["accuracy"] == 0.6


@pytest.mark.parametrize(
    ("outcomes", "expected_ece", "gap_sign"),
    [(OVER, 0.30, -1), (UNDER, 0.1535, 1), (WELL, 0.0, 0)],
    ids=["over-confident", "under-confident", "well-calibrated"],
)
def test_synthetic_agents_give_the_expected_tables(outcomes, expected_ece, gap_sign):
    # under-agent: accuracy - confidence is 0.2 below 0.8 and 1 - c above it; over [0.5, 1) that averages 0.1535.
    table = reliability_table(outcomes, EDGES)
    assert table["ece"] == pytest.approx(expected_ece, abs=ECE_TOLERANCE)
    for b in table["bins"][1:]:  # every bin from 0.5 up holds hundreds of outcomes
        assert b["count"] > 300
        gap = b["accuracy"] - b["mean_confidence"]
        if gap_sign == 0:
            assert abs(gap) < 0.06
        else:
            assert gap * gap_sign > 0.03
    assert reliability_table(OVER, EDGES)["brier"] > reliability_table(WELL, EDGES)["brier"]


def test_calibrate_end_to_end_changes_decisions(tmp_path):
    ws = make_workspace(tmp_path)
    outcomes = tmp_path / "outcomes.jsonl"
    _jsonl(outcomes, OVER + UNDER + WELL)
    with outcomes.open("a") as stream:
        stream.write('{"agent": "bad", "confidence": 1.5, "correct": true}\n')
        stream.write('{"agent": "bad", "confidence": 0.5, "correct": "yes"}\n')
    calibration = ws.state.parent / "calibration.json"  # where `hitl calibrate` writes for this store

    # One manifest per agent, all at a stated 0.95 (over the 0.80 threshold) except under-agent at 0.65 (under it).
    plan = [manifest(f"{agent}-1", type="write", env="dev", agent=agent) for agent in ("over-agent", "under-agent", "well-agent")]
    plan[1]["action"]["confidence"] = 0.65
    for item in (plan[0], plan[2]):
        item["action"]["confidence"] = 0.95
    plan_file = ws.write("plan.yaml", plan)

    def low_confidence() -> dict:
        found = ws.json("evaluate", plan_file, "--profile", "default")
        return {d["agent"]: [r["message"] for r in d["reasons"] if r["code"] == "low_confidence"] for d in found}

    before = low_confidence()  # no calibration file yet: the stated confidence counts
    assert before["over-agent"] == [] and before["well-agent"] == [] and len(before["under-agent"]) == 1

    result = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes, "--plot", tmp_path / "r.svg",
                     "--format", "json")
    assert result.returncode == 4, result.stderr
    assert f"{outcomes}:9001: confidence: Input should be less than or equal to 1" in result.stderr
    assert f"{outcomes}:9002: correct: Input should be a valid boolean" in result.stderr
    data = json.loads(result.stdout)
    assert set(data["agents"]) == {"over-agent", "under-agent", "well-agent"}
    assert data["agents"]["over-agent"]["overall"]["samples"] == 3000
    assert data["agents"]["over-agent"]["overall"]["ece"] == pytest.approx(0.30, abs=ECE_TOLERANCE)
    assert set(data["agents"]["over-agent"]["action_types"]) == {"write"}  # 3,000 >= min_samples_per_action_type
    assert json.loads(calibration.read_text())["agents"] == data["agents"]
    assert (tmp_path / "r.svg").read_text().lstrip().startswith(("<?xml", "<svg"))

    after = low_confidence()
    assert len(after["over-agent"]) == 1 and "confidence 0.95, calibrated to 0.6" in after["over-agent"][0]
    assert "from over-agent write's record" in after["over-agent"][0]
    assert after["under-agent"] == []  # its 0.6-0.7 bin was right far more often than it said
    assert after["well-agent"] == []

    # The same data, with the per-type table and bins made too demanding: the agent_accuracy fallback applies.
    strict = copy_profile(ws, "default", "strict", {"calibration.min_samples_per_bin": 100000,
                                                    "calibration.min_samples_per_action_type": 100000})
    found = ws.json("evaluate", plan_file, "--profile", strict)
    message = [r["message"] for r in found[0]["reasons"] if r["code"] == "low_confidence"][0]
    assert "over-agent's record has" in message and "fallback agent_accuracy" in message


def test_calibrate_from_store_outcomes_and_png(tmp_path):
    ws = make_workspace(tmp_path)
    plan = [manifest(f"s-{n}", type="write", env="staging") for n in range(3)]
    plan.append(manifest("doc-1", type="documentation", env="production"))
    for item, confidence in zip(plan, (0.95, 0.92, 0.55, 0.85)):
        item["action"]["confidence"] = confidence
    ws.submit(plan)
    assert ws.hitl("approve", "s-0", "--by", "alice").returncode == 0
    assert ws.hitl("approve", "s-1", "--by", "alice").returncode == 0
    assert ws.hitl("reject", "s-2", "--by", "data-platform-lead", "--reason", "wrong table").returncode == 0
    review = ws.hitl("review", "mark", "doc-1", "--by", "bob", "--verdict", "wrong", "--reason", "bad docs")
    assert review.returncode == 0, review.stderr
    calibration = tmp_path / "calibration.json"
    result = ws.hitl("calibrate", "--profile", "default", "--calibration", calibration, "--plot", tmp_path / "r.png",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)["agents"]["trusted-agent"]["overall"]
    assert table["samples"] == 4 and table["accuracy"] == 0.5
    assert {(b["lower"], b["count"], b["accuracy"]) for b in table["bins"] if b["count"]} == {
        (0.5, 1, 0.0), (0.8, 1, 0.0), (0.9, 2, 1.0),
    }
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_calibrate_refusals(tmp_path):
    ws = make_workspace(tmp_path)
    nothing = ws.hitl("calibrate", "--profile", "default", "--calibration", tmp_path / "c.json")
    assert nothing.returncode == 7 and "nothing to calibrate against" in nothing.stderr
    outcomes = tmp_path / "o.jsonl"
    _jsonl(outcomes, WELL[:10])
    bad_plot = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes, "--plot", tmp_path / "r.gif")
    assert bad_plot.returncode == 2 and ".png or .svg" in bad_plot.stderr
    (ws.state.parent / "calibration.json").write_text("{not json")
    plan = ws.write("plan.yaml", [manifest("m-1")])
    result = ws.hitl("evaluate", plan, "--profile", "default")
    assert result.returncode == 5 and "calibration data" in result.stderr and "Traceback" not in result.stderr


def _under_confident_plan(ws):
    """under-agent states 0.65 (under the 0.80 threshold): low_confidence unless its calibration lifts it."""
    item = manifest("under-1", type="write", env="dev", agent="under-agent")
    item["action"]["confidence"] = 0.65
    return ws.write("under.yaml", [item])


def _calibration_file(ws, target):
    outcomes = ws.root / "outcomes.jsonl"
    _jsonl(outcomes, UNDER)
    made = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes, "--calibration", target)
    assert made.returncode == 0, made.stderr
    return target


def _low_confidence(ws, plan, *args, env: dict | None = None) -> list:
    found = ws.json("evaluate", plan, "--profile", "default", *args, env=env)
    return [r for r in found[0]["reasons"] if r["code"] == "low_confidence"]


def test_a_calibration_planted_in_the_working_directory_is_ignored(tmp_path):
    """Attack: a `.hitl/calibration.json` in the working directory lowered a decision. Only the file beside the
    store in use counts (or serve/bundle --calibration)."""
    ws = make_workspace(tmp_path)
    plan = _under_confident_plan(ws)
    elsewhere = tmp_path / "store" / "state.db"
    _calibration_file(ws, tmp_path / ".hitl" / "calibration.json")  # planted in the working directory
    assert len(_low_confidence(ws, plan, "--state", elsewhere)) == 1
    assert len(_low_confidence(ws, plan)) == 1  # the workspace store is in tmp_path, not in tmp_path/.hitl
    planted = {"HITL_CALIBRATION": str(tmp_path / ".hitl" / "calibration.json")}  # an old variable: no longer read
    assert len(_low_confidence(ws, plan, "--state", elsewhere, env=planted)) == 1
    check = ws.hitl("check", plan, "--profile", "default", "--state", elsewhere)
    assert check.returncode == 1, check.stdout  # waits for a person, as without calibration

    # The same data beside the store in use does lift it: the planted file would have lowered the decision.
    (tmp_path / "store").mkdir()
    (tmp_path / ".hitl" / "calibration.json").rename(tmp_path / "store" / "calibration.json")
    assert _low_confidence(ws, plan, "--state", elsewhere) == []


def test_recalibrating_makes_earlier_approvals_stale(tmp_path):
    ws = make_workspace(tmp_path)
    ws.submit([manifest("s-1", type="write", env="staging")])
    assert ws.hitl("approve", "s-1", "--by", "alice").returncode == 0
    assert ws.status("s-1")["status"] == "approved"
    revision = ws.status("s-1")["policy_revision"]

    _calibration_file(ws, ws.state.parent / "calibration.json")
    view = ws.status("s-1")
    assert view["status"] == "stale" and view["may_run"] is False, view["stale_reason"]
    plan = ws.write("again.yaml", [manifest("s-1", type="write", env="staging")])
    assert ws.hitl("check", plan, "--profile", "default", "--track-record", ws.trusted_record).returncode == 1
    again = ws.submit([manifest("s-1", type="write", env="staging")], name="resubmitted.yaml")
    assert again["s-1"]["policy_revision"] != revision


def test_serve_and_bundles_load_only_the_calibration_they_are_given(tmp_path):
    ws = make_workspace(tmp_path)
    calibration = _calibration_file(ws, tmp_path / "given.json")
    plain, calibrated = tmp_path / "plain.tar.gz", tmp_path / "calibrated.tar.gz"
    revision = {}
    for path, extra in ((plain, ()), (calibrated, ("--calibration", calibration))):
        built = ws.hitl("bundle", "build", "--all", "-o", path, *extra)
        assert built.returncode == 0, built.stderr
        revision[path] = built.stdout.split("revision ")[1]
    assert revision[plain] != revision[calibrated]
    refused = ws.hitl("serve", "--bundle", calibrated, "--calibration", calibration)
    assert refused.returncode == 2 and "--calibration" in refused.stderr
