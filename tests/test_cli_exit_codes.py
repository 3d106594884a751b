"""Exit codes of `hitl evaluate` and `hitl check` (spec/cli.md), through the real CLI and its own OPA."""

import json
import signal

import pytest

from conftest import (
    ROOT, TRUSTED_RECORD, hitl, hitl_process, make_manifest, standalone_profile_text, write_manifests, write_yaml,
)

AUTO = make_manifest(id="auto-1", type="read")
NEEDS_HUMAN = make_manifest(id="human-1", type="schema_migration", env="production")
BLOCKED = make_manifest(id="blocked-1", type="drop", env="production")
INVALID = {**make_manifest(id="invalid-1"), "surprise": True}


@pytest.fixture
def record(tmp_path):
    return write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)


def run(command, tmp_path, record, manifests, *extra):
    plan = write_manifests(tmp_path, manifests)
    return hitl(command, plan, "--profile", "default", "--track-record", record, *extra)


@pytest.mark.parametrize(
    ("manifests", "code"),
    [
        ([AUTO], 0),
        ([AUTO, NEEDS_HUMAN], 1),
        ([AUTO, NEEDS_HUMAN, BLOCKED], 3),
        ([AUTO, INVALID], 4),
        ([BLOCKED, INVALID], 4),
    ],
    ids=["all-auto", "needs-human", "blocked", "invalid", "invalid-beats-blocked"],
)
def test_check_exit_codes(opa_bin, tmp_path, record, manifests, code):
    assert run("check", tmp_path, record, manifests).returncode == code


@pytest.mark.parametrize(("manifests", "code"), [([AUTO, NEEDS_HUMAN, BLOCKED], 0), ([BLOCKED, INVALID], 4)])
def test_evaluate_exit_codes(opa_bin, tmp_path, record, manifests, code):
    assert run("evaluate", tmp_path, record, manifests).returncode == code


def test_invalid_manifest_is_reported_with_its_field_path_and_the_rest_is_decided(opa_bin, tmp_path, record):
    bad = make_manifest(id="bad-1", confidence=None)
    bad["action"]["confidence"] = 1.7
    bad["metadata"]["created"] = "yesterday"
    result = run("evaluate", tmp_path, record, [AUTO, bad, NEEDS_HUMAN], "--format", "json")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'plan.yaml'}#2: action.confidence: " in result.stderr
    assert f"{tmp_path / 'plan.yaml'}#2: metadata.created: " in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["auto-1", "human-1"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda m: m.update(surprise=1), "surprise: unknown field"),
        (lambda m: m.update(apiVersion="hitl/v2"), "apiVersion: "),
        (lambda m: m["metadata"].update(id="has spaces"), "metadata.id: "),
        (lambda m: m["metadata"].update(id="x" * 129), "metadata.id: "),
        (lambda m: m["agent"].pop("id"), "agent.id: required field is missing"),
        (lambda m: m["action"].update(summary="two\nlines"), "action.summary: "),
        (lambda m: m["action"].update(reversible="yes"), "action.reversible: "),
        (lambda m: m["impact"].update(rows_affected=-1), "impact.rows_affected: "),
        (lambda m: m["target"].update(resource_type="spreadsheet"), "target.resource_type: "),
        (lambda m: m["target"].update(colour="red"), "target.colour: unknown field"),
    ],
)
def test_invalid_fields(opa_bin, tmp_path, record, mutate, path):
    manifest = make_manifest(id="bad-1")
    mutate(manifest)
    result = run("check", tmp_path, record, [manifest, AUTO])
    assert result.returncode == 4
    assert path in result.stderr
    assert "auto-1: MAY RUN" in result.stdout


def test_unknown_context_keys_are_kept(opa_bin, tmp_path, record):
    manifest = make_manifest(id="ctx-1", type="read")
    manifest["context"]["ticket"] = "DATA-1234"
    assert run("check", tmp_path, record, [manifest]).returncode == 0


def test_duplicate_ids_in_one_run_are_invalid(opa_bin, tmp_path, record):
    result = run("check", tmp_path, record, [AUTO, AUTO])
    assert result.returncode == 4
    assert "metadata.id: duplicate id 'auto-1'" in result.stderr


def test_a_document_that_is_not_a_manifest_is_one_problem(opa_bin, tmp_path, record):
    result = hitl("check", record, "--profile", "default")
    assert result.returncode == 4
    assert result.stderr.strip() == f"{record}: (document): not an action manifest (no apiVersion or kind)"


def test_unparseable_files_are_reported_and_the_rest_decided(opa_bin, tmp_path, record):
    (tmp_path / "broken.yaml").write_text("apiVersion: [unclosed\n")
    (tmp_path / "broken.json").write_text("{nope")
    (tmp_path / "latin1.yaml").write_bytes("summary: caf\xe9\n".encode("latin-1"))
    write_manifests(tmp_path, [AUTO], "good.json")
    record.unlink()
    result = hitl("check", tmp_path, "--profile", "default")
    assert result.returncode == 4
    assert "broken.yaml: (document): invalid YAML at line" in result.stderr
    assert "broken.json: (document): invalid JSON" in result.stderr
    assert "latin1.yaml: (document): not UTF-8" in result.stderr
    assert "auto-1: MAY RUN" in result.stdout


def test_yaml_aliases_are_refused_in_manifests(opa_bin, tmp_path, record):
    (tmp_path / "bomb.yaml").write_text('a: &a ["x", "x"]\nb: [*a, *a]\n')
    result = hitl("check", tmp_path / "bomb.yaml", "--profile", "default")
    assert result.returncode == 4
    assert "aliases are not allowed" in result.stderr


def test_folders_are_walked_recursively_for_yaml_and_json(opa_bin, tmp_path, record):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write_manifests(tmp_path / "a", [AUTO], "one.yml")
    write_manifests(tmp_path / "a" / "b", [make_manifest(id="auto-2", type="read")], "two.json")
    (tmp_path / "a" / "notes.txt").write_text("not a manifest")
    result = hitl("check", tmp_path / "a", "--profile", "default", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert sorted(d["id"] for d in json.loads(result.stdout)) == ["auto-1", "auto-2"]


@pytest.mark.parametrize(
    "args",
    [
        ["check", ROOT / "examples/manifests", "--profile", "default", "--format", "yaml"],
        ["check", "no/such/folder", "--profile", "default"],
        ["evaluate", ROOT / "examples/manifests", "--profile", "no-such-profile"],
        ["evaluate", ROOT / "examples/manifests"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args):
    result = hitl(*args, env={"HITL_PROFILE": ""})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_profile_from_environment(opa_bin):
    result = hitl("evaluate", ROOT / "examples/manifests/describe-table.yaml", "--format", "json", env={"HITL_PROFILE": "bank"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["profile"] == "bank"


def test_profile_by_path(opa_bin, tmp_path):
    profile = tmp_path / "custom.yaml"
    profile.write_text(standalone_profile_text("startup").replace("name: startup", "name: custom"))
    result = hitl("evaluate", ROOT / "examples/manifests/describe-table.yaml", "--profile", profile, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["profile"] == "custom"


def test_invalid_profile_lists_every_problem(opa_bin, tmp_path):
    profile = tmp_path / "broken.yaml"
    text = standalone_profile_text("default")
    text = text.replace("per_action_usd: 100", "per_action_usd: -5").replace("threshold: 0.80", "threshold: 1.5")
    text = text.replace("tiers: {dev: auto_approve, staging: single_approval, production: double_approval}", "tiers: {dev: auto_approve}", 1)
    profile.write_text(text)
    expected = [f"{profile}: budget.per_action_usd: ", f"{profile}: confidence.threshold: ",
                f"{profile}: action_types.test_execution.tiers: no cell for environment 'production'",
                f"{profile}: action_types.test_execution.tiers: no cell for environment 'staging'"]
    for command in (("evaluate", ROOT / "examples/manifests", "--profile", profile), ("profile", "validate", profile)):
        result = hitl(*command)
        assert result.returncode == 4
        lines = result.stderr.splitlines()
        assert len(lines) == len(expected), result.stderr
        assert all(line.startswith(start) for line, start in zip(lines, expected)), result.stderr


def test_invalid_track_record_entries_fall_back_to_suggestion(opa_bin, tmp_path):
    record = write_yaml(
        tmp_path / "record.yaml",
        {"agents": {"trusted-agent": {"level": "admin", "reviewed": 5, "approved": 9, "rejected": 0}}},
    )
    plan = write_manifests(tmp_path, [make_manifest(id="w-1", type="write", env="dev")])
    result = hitl("evaluate", plan, "--profile", "default", "--track-record", record, "--format", "json")
    assert result.returncode == 4
    assert f"{record}: agents.trusted-agent.level: " in result.stderr
    decision = json.loads(result.stdout)[0]
    assert decision["agent_level"] == "suggestion"
    assert "its track-record entry is invalid" in decision["reasons"][0]["message"]
    assert "new: not in the track record" not in result.stdout


def test_a_reader_that_goes_away_ends_the_run_quietly(opa_bin, tmp_path):
    """`hitl check | head -1`: a closed pipe is not an engine failure, and no error is printed."""
    plan = write_manifests(tmp_path, [make_manifest(id=f"w-{n}") for n in range(3000)])
    reader = hitl_process("check", plan, "--profile", "default", cwd=tmp_path, text=False)
    assert reader.stdout.readline().startswith(str(plan).encode())
    reader.stdout.close()
    assert reader.wait(timeout=120) == 128 + signal.SIGPIPE
    assert reader.stderr.read() == b""
