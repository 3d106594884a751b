"""`hitl docs`: every rule's METADATA reaches the reference, and a profile's values are the ones shown."""

import yaml

from conftest import ROOT, hitl, shipped_profile, write_yaml

RULE_FILES = sorted(p for p in (ROOT / "rego" / "hitl" / "rules").glob("*.rego") if not p.name.endswith("_test.rego"))


def package_metadata(path) -> tuple[str, list[str]]:
    """The package's METADATA title and reason code(s), read from the file as its author wrote them."""
    text = path.read_text()
    header = text[text.index("# METADATA\n") + len("# METADATA\n") : text.index("\npackage ")]
    metadata = yaml.safe_load("\n".join(line.removeprefix("#").removeprefix(" ") for line in header.splitlines()))
    code = (metadata.get("custom") or {}).get("code")
    return metadata["title"], code if isinstance(code, list) else [code] if code else []


def test_every_rule_file_is_documented_from_its_metadata(opa_bin, tmp_path):
    assert len(RULE_FILES) >= 9
    output = tmp_path / "POLICY.md"
    result = hitl("docs", "-o", output)
    assert result.returncode == 0, result.stderr
    reference = output.read_text()
    for path in RULE_FILES + [ROOT / "rego" / "hitl" / "waivers.rego", ROOT / "rego" / "hitl" / "main.rego"]:
        title, codes = package_metadata(path)
        assert f"\n### {title}\n" in reference, f"{path.name}: title {title!r} missing"
        assert f"`{path.relative_to(ROOT).as_posix()}`" in reference
        for code in codes:
            assert f"`{code}`" in reference, f"{path.name}: code {code} missing"
    assert "_test" not in reference
    assert "\n## Profile" not in reference  # no profile asked for


def test_a_profile_value_change_shows_up(opa_bin, tmp_path):
    shipped = hitl("docs", "--profile", "bank")
    assert shipped.returncode == 0, shipped.stderr
    assert "| `budget.per_action_usd` | `50` |" in shipped.stdout
    assert "| `write` | single_approval | single_approval | double_approval |" in shipped.stdout

    profile = shipped_profile("bank")
    profile["budget"]["per_action_usd"] = 1234.5
    profile["action_types"]["write"]["tiers"]["dev"] = "auto_approve"
    profile["trust"]["minimums"]["medium"]["min_reviewed"] = 777
    profile["waivers"] = [{
        "id": "WVR-9", "agent": "etl-*", "action_type": "write", "resource": "staging.orders_*", "environment": "staging",
        "lower_to": "auto_approve", "approved_by": "ciso", "reason": "Backfill | CHG-9", "expires": "2027-01-31T00:00:00Z",
    }]
    changed = hitl("docs", "--profile", write_yaml(tmp_path / "bank-next.yaml", profile), now="2027-01-15T00:00:00Z")
    assert changed.returncode == 0, changed.stderr
    assert "| `budget.per_action_usd` | `1234.5` |" in changed.stdout
    assert "| `write` | auto_approve | single_approval | double_approval |" in changed.stdout
    assert "| `trust.minimums.medium.min_reviewed` | `777` |" in changed.stdout
    assert "| `WVR-9` | `etl-*` | `write` | `staging.orders_*` | staging | auto_approve | ciso | 2027-01-31T00:00:00+00:00 | Backfill \\| CHG-9 |" in changed.stdout
    assert "1234.5" not in shipped.stdout and "WVR-9" not in shipped.stdout


def test_docs_for_every_profile_and_usage_errors(opa_bin, tmp_path):
    every = hitl("docs", "--all")
    assert every.returncode == 0, every.stderr
    assert [line for line in every.stdout.splitlines() if line.startswith("## Profile")] == [
        "## Profile `bank`", "## Profile `default`", "## Profile `startup`",
    ]
    assert hitl("docs", "--all", "--profile", "bank").returncode == 2
    broken = shipped_profile("bank")
    broken["budget"]["per_action_usd"] = -1
    invalid = hitl("docs", "--profile", write_yaml(tmp_path / "broken.yaml", broken))
    assert invalid.returncode == 4 and "budget.per_action_usd" in invalid.stderr


def test_an_expired_waiver_is_shown_as_expired(opa_bin, tmp_path):
    profile = shipped_profile("bank")
    waiver = {"agent": "etl-agent", "action_type": "write", "resource": "staging.orders", "environment": None,
              "lower_to": "single_approval", "approved_by": "ciso", "reason": "Backfill"}
    profile["waivers"] = [{**waiver, "id": "WVR-OLD", "expires": "2026-05-01T00:00:00Z"},
                          {**waiver, "id": "WVR-NEW", "expires": "2026-06-20T00:00:00Z"}]
    result = hitl("docs", "--profile", write_yaml(tmp_path / "bank-waived.yaml", profile), now="2026-06-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    rows = {line.split(" | ")[0]: line for line in result.stdout.splitlines() if line.startswith("| `WVR-")}
    assert "**expired** 2026-05-01T00:00:00+00:00: ignored in every decision" in rows["| `WVR-OLD`"]
    assert "expired" not in rows["| `WVR-NEW`"]
