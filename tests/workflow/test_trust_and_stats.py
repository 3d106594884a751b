"""Graduated trust from the store (export, offers, promotion - decided by OPA) and `hitl stats`."""

import yaml

from .support import at, copy_profile, manifest


def test_trust_export_offers_and_promotion(ws):
    # Thresholds are data: a profile where two reviews at 50% earn `low`, four at 80% earn `medium`.
    profile = str(copy_profile(ws, "default", "acme", {
        "trust.minimums.low": {"min_reviewed": 2, "min_approval_rate": 0.5},
        "trust.minimums.medium": {"min_reviewed": 4, "min_approval_rate": 0.8},
    }))
    ws.submit([manifest(f"a{n}", env="staging", agent="etl-agent") for n in range(4)], profile=profile, trusted=False)
    for n in range(3):
        assert ws.hitl("approve", f"a{n}", "--by", "alice").returncode == 0
    ws.hitl("reject", "a3", "--by", "alice", "--reason", "wrong partition")

    exported = ws.hitl("trust", "export")
    assert yaml.safe_load(exported.stdout) == {
        "agents": {"etl-agent": {"level": "suggestion", "reviewed": 4, "approved": 3, "rejected": 1}}
    }
    offers = ws.json("trust", "offers", "--profile", profile)
    assert [(o["agent"], o["offered"], o["granted"], o["promotable"]) for o in offers] == [
        ("etl-agent", "low", "suggestion", ["low"])
    ]

    before = ws.audit_count()
    unsupported = ws.hitl("trust", "promote", "etl-agent", "--level", "medium", "--by", "bob", "--profile", profile)
    assert unsupported.returncode == 6 and "cannot be promoted to medium" in unsupported.stderr
    itself = ws.hitl("trust", "promote", "etl-agent", "--level", "low", "--by", "etl-agent", "--profile", profile)
    assert itself.returncode == 6
    unknown = ws.hitl("trust", "promote", "ghost-agent", "--level", "low", "--by", "bob", "--profile", profile)
    assert unknown.returncode == 7
    assert ws.audit_count() == before

    granted = ws.json("trust", "promote", "etl-agent", "--level", "low", "--by", "bob", "--profile", profile)
    assert granted["agent"] == "etl-agent" and granted["level"] == "low" and granted["person"] == "bob"
    assert ws.audit_records()[-1]["kind"] == "trust_grant"
    assert yaml.safe_load(ws.hitl("trust", "export").stdout)["agents"]["etl-agent"]["level"] == "low"
    assert ws.json("trust", "offers", "--profile", profile) == []
    again = ws.hitl("trust", "promote", "etl-agent", "--level", "low", "--by", "bob", "--profile", profile)
    assert again.returncode == 6

    # The grant reaches decisions: at `low`, a low-risk documentation change runs at once (post-hoc review).
    decided = ws.submit([manifest("doc", type="documentation", env="dev", agent="etl-agent")], profile=profile,
                        trusted=False, name="doc.yaml", expect=0)
    assert decided["doc"]["decision"]["agent_level"] == "low"
    assert decided["doc"]["status"] == "approved" and decided["doc"]["awaiting_review"] is True


def test_stats_rates_reasons_time_and_rubber_stamping(ws):
    profile = str(copy_profile(ws, "default", "acme", {
        "rubber_stamping": {"min_decisions": 3, "min_approval_rate": 0.9, "max_median_seconds": 30},
    }))
    ws.submit([manifest(f"s{n}", env="staging", agent="etl-agent") for n in range(4)]
              + [manifest(f"c{n}", type="schema_migration", env="staging", agent="ddl-agent") for n in range(3)],
              profile=profile, trusted=False, now=at(0))
    for n in range(4):  # approves within five seconds, every time
        ws.hitl("approve", f"s{n}", "--by", "stamp", now=at(5 / 3600))
    ws.hitl("reject", "c0", "--by", "careful", "--reason", "Wrong  table", now=at(1))
    ws.hitl("reject", "c1", "--by", "careful", "--reason", "wrong table", now=at(2))
    ws.hitl("approve", "c2", "--by", "careful", now=at(3))

    stats = ws.json("stats", "--profile", profile)
    assert stats["requests"] == 7
    assert stats["overall"]["decided"] == 7 and stats["overall"]["approved"] == 5
    assert stats["by_agent"]["etl-agent"]["approval_rate"] == 1.0
    assert stats["by_agent"]["ddl-agent"]["rejection_rate"] == 2 / 3
    assert stats["by_action_type"]["schema_migration"]["rejected"] == 2
    reviewers = {r["person"]: r for r in stats["by_reviewer"]}
    assert reviewers["stamp"]["decisions"] == 4 and reviewers["stamp"]["median_seconds"] == 5
    assert reviewers["careful"]["approval_rate"] == 1 / 3
    assert stats["rubber_stamping"] == ["stamp"]
    assert stats["rejection_reasons"][0] == {"reason": "Wrong table", "count": 2}
    assert stats["time_to_decide"]["decided"] == 7
    text = ws.hitl("stats", "--profile", profile).stdout
    assert "RUBBER-STAMPING" in text and "2× Wrong table" in text

    # The thresholds are the profile's: tighten the median and nobody is flagged.
    strict = str(copy_profile(ws, "default", "strict", {
        "rubber_stamping": {"min_decisions": 3, "min_approval_rate": 0.9, "max_median_seconds": 1},
    }))
    assert ws.json("stats", "--profile", strict)["rubber_stamping"] == []
