"""Hostile input: every file is refused with a clear error in bounded time and memory, or decided without a bypass.

Each hostile manifest sits beside a valid one in the same run: the hostile one is reported (exit 4) with
where and what, and the valid one is still decided.
"""

import json
import shutil

import pytest
import yaml

from conftest import ROOT, hitl, make_manifest, write_manifests, write_yaml
from hitl_cli.documents import read_documents
from hitl_cli.errors import InvalidInput
from hitl_cli.inputs import load_profile, load_track_record
from reliability import tally

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

VALID = make_manifest(id="valid-neighbour", type="read")

BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
)


def manifest_yaml(**replace) -> str:
    return yaml.safe_dump(make_manifest(id="hostile", **replace), sort_keys=False)


HOSTILE_TEXT = {
    "alias-bomb.yaml": (manifest_yaml() + BILLION_LAUGHS.replace("a0:", "lols:", 1), "aliases are not allowed"),
    "merge-key.yaml": (manifest_yaml().replace("action:\n", "action:\n  <<: {type: read}\n", 1), "merge keys (<<) are not allowed"),
    "deep-flow.yaml": ("[" * 500 + "]" * 500, "nested deeper than 64 levels"),
    "deep-block.yaml": ("".join("  " * n + f"k{n}:\n" for n in range(200)) + "  " * 200 + "x", "nested deeper than 64 levels"),
    "deep.json": ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    "long-id.yaml": (manifest_yaml().replace("id: hostile", "id: " + "x" * 10_000), "metadata.id: String should match pattern"),
    # The same key twice: a reviewer (or another parser) sees the DROP, a last-wins parser sees a read.
    "duplicate-key.yaml": (
        manifest_yaml(type="drop", env="production", statement="DROP TABLE analytics.orders")
        + "action: {type: read, summary: harmless}\n",
        "duplicate key 'action'",
    ),
    "duplicate-key.json": (
        json.dumps(make_manifest(id="hostile", type="drop"))[:-1] + ', "action": {"type": "read", "summary": "x"}}',
        "duplicate key 'action'",
    ),
    "nan.json": (json.dumps(make_manifest(id="hostile", confidence=0.9)).replace("0.9", "NaN"), "NaN is not a JSON number"),
    "infinite-cost.yaml": (manifest_yaml().replace("estimated_cost_usd: 0.01", "estimated_cost_usd: .inf"),
                           "impact.estimated_cost_usd: Input should be a finite number"),
    "huge-integer.yaml": (manifest_yaml().replace("  pii: false\n", "  pii: false\n  rows_affected: " + "9" * 5000 + "\n", 1),
                          "Exceeds the limit"),
    "impossible-date.yaml": (manifest_yaml().replace("id: hostile", "id: hostile\n  created: 2026-02-30"), "day is out of range for month"),
    "lone-surrogate.json": (json.dumps(make_manifest(id="hostile")).replace('"a test"', '"\\ud800"'), "unpaired UTF-16 surrogate"),
    "not-a-mapping.yaml": ("- just\n- a\n- list\n", "expected a mapping"),
    "python-tag.yaml": ("!!python/object/apply:os.system ['echo pwned']\n", "could not determine a constructor"),
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One CLI run over every hostile file and one valid manifest."""
    folder = tmp_path_factory.mktemp("hostile")
    for name, (text, _) in HOSTILE_TEXT.items():
        (folder / name).write_text(text)
    (folder / "not-utf8.yaml").write_bytes(manifest_yaml().encode().replace(b"a test", b"caf\xe9 \xff\xfe"))
    write_manifests(folder, [VALID], "valid.yaml")
    tally("hostile files", len(HOSTILE_TEXT) + 1)
    return folder, hitl("check", folder, "--profile", "default", "--format", "json")


def test_hostile_files_are_reported_and_the_valid_one_is_still_decided(hostile_run):
    folder, result = hostile_run
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    decided = json.loads(result.stdout)
    assert [d["id"] for d in decided] == ["valid-neighbour"]
    assert decided[0]["tier"] == "auto_approve"


@pytest.mark.parametrize("name", [*HOSTILE_TEXT, "not-utf8.yaml"])
def test_each_hostile_file_gets_a_clear_error(hostile_run, name):
    folder, result = hostile_run
    expected = HOSTILE_TEXT[name][1] if name in HOSTILE_TEXT else "not UTF-8 text"
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{folder / name}: ")]
    assert lines, result.stderr
    assert any(expected in line for line in lines), lines


def test_a_file_over_the_size_limit_is_refused_without_reading_it_whole(tmp_path):
    write_manifests(tmp_path, [VALID], "valid.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * 65537)
    result = hitl("check", tmp_path / "valid.yaml", huge, "--profile", "default", "--format", "json",
                  env={"HITL_MAX_FILE_BYTES": "65536"})
    assert result.returncode == 4, result.stderr
    assert f"{huge}: (document): larger than 65536 bytes (HITL_MAX_FILE_BYTES)" in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["valid-neighbour"]


@pytest.mark.parametrize(("variable", "value"), [("HITL_MAX_FILE_BYTES", "lots"), ("HITL_MAX_NESTING_DEPTH", "0")])
def test_limits_must_be_positive_numbers(tmp_path, variable, value):
    plan = write_manifests(tmp_path, [VALID])
    result = hitl("check", plan, "--profile", "default", env={variable: value})
    assert result.returncode == 2
    assert result.stderr.strip() == f"hitl: {variable}={value!r}: expected a positive integer"


def test_the_nesting_limit_is_a_setting(tmp_path, monkeypatch):
    path = tmp_path / "nested.yaml"
    path.write_text("a: {b: {c: {d: 1}}}\n")
    monkeypatch.setenv("HITL_MAX_NESTING_DEPTH", "3")
    documents, problems = read_documents(path)
    assert documents == [] and "nested deeper than 3 levels" in problems[0].message
    monkeypatch.setenv("HITL_MAX_NESTING_DEPTH", "4")
    documents, problems = read_documents(path)
    assert problems == [] and documents[0].data == {"a": {"b": {"c": {"d": 1}}}}


def shipped_profile_text(name: str = "default") -> str:
    return (ROOT / "org_profiles" / f"{name}.yaml").read_text()


def test_a_profile_may_use_aliases_but_not_to_explode(tmp_path):
    sane = tmp_path / "anchors.yaml"
    text = shipped_profile_text()
    shutil.copytree(ROOT / "org_profiles" / "people", tmp_path / "people")  # the people file it names
    sane.write_text(text.replace("environments: [dev, staging, production]", "environments: &envs [dev, staging, production]"))
    assert load_profile(sane).environments == ["dev", "staging", "production"]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(text + "\n" + BILLION_LAUGHS.replace("a0:", "x-lols:", 1) + "\n")
    with pytest.raises(InvalidInput, match="expands to more than 1000000 values through aliases"):
        load_profile(bomb)


def test_a_track_record_that_contains_itself_is_refused(tmp_path):
    record = tmp_path / "record.yaml"
    record.write_text("agents: &agents\n  loop: *agents\n")
    agents, problems = load_track_record(record)
    assert agents.agents == {}
    assert "an alias refers to a value that contains it" in problems[0].message


def test_a_profile_with_duplicate_keys_is_refused(tmp_path):
    profile = tmp_path / "twice.yaml"
    profile.write_text(shipped_profile_text() + "\nbudget:\n  per_action_usd: 1000000\n  over_budget_tier: auto_approve\n")
    with pytest.raises(InvalidInput, match="duplicate key 'budget'"):
        load_profile(profile)


# Statements that try to hide a destructive keyword from the policy; a database would still run the DROP.
HIDDEN_DROPS = [
    "SELECT 1; /* nothing to see */ DROP TABLE analytics.orders",
    "select 1;\n\n\tdRoP\n\ttable analytics.orders",
    "SELECT 1 -- DROP? no\n;DROP TABLE analytics.orders",
    "DROP/**/TABLE analytics.orders",
    "/*!DROP TABLE analytics.orders*/",
    "SELECT 1;\u00a0DROP\u00a0TABLE analytics.orders",  # no-break spaces
    "SELECT 1;\u200bDROP TABLE analytics.orders",  # a zero-width space before the keyword
    "SELECT 1;\u2028DROP TABLE analytics.orders",  # a Unicode line separator
    "SELECT 'a;b'; DROP TABLE \"analytics\".\"orders\"",
    "SELECT 1;" + " " * 1_000_000 + "DROP TABLE analytics.orders",  # a megabyte of padding
]


@pytest.mark.parametrize("statement", HIDDEN_DROPS, ids=range(len(HIDDEN_DROPS)))
def test_a_hidden_drop_is_still_a_drop(policy, statement):
    tally("hidden-DROP statements")
    decision = policy.decide("default", make_manifest(type="read", env="production", statement=statement))
    assert decision.action_type == "drop"
    assert decision.tier == "block"


def test_hidden_drops_survive_the_whole_cli(tmp_path):
    manifests = [make_manifest(id=f"hidden-{n}", type="read", env="production", statement=s) for n, s in enumerate(HIDDEN_DROPS)]
    plan = write_manifests(tmp_path, manifests, "plan.json")
    result = hitl("check", plan, "--profile", "default", "--format", "json")
    assert result.returncode == 3, result.stderr
    assert {d["tier"] for d in json.loads(result.stdout)} == {"block"}


def test_a_track_record_entry_that_is_hostile_leaves_its_agent_at_suggestion(policy, tmp_path):
    record = write_yaml(tmp_path / "record.yaml", {"agents": {"sneaky": {"level": "medium", "reviewed": 10**30, "approved": -1, "rejected": 0}}})
    agents, problems = load_track_record(record)
    assert agents.agents == {} and problems[0].path.startswith("agents.sneaky.")
    decision = policy.decide("default", make_manifest(agent="sneaky", type="write", env="dev"), agents.model_dump(mode="json"))
    assert decision.agent_level == "suggestion"
    assert decision.tier != "auto_approve"
