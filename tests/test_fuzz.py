"""Property-based fuzzing of manifests, track records, profiles and raw files (hypothesis).

Inputs are built valid or invalid *by construction*: an invalid one carries exactly one known defect and the
field path it must be reported at. Properties, for thousands of generated inputs:
- nothing raises (no traceback), whatever the bytes;
- every invalid manifest is reported at its field path and never reaches the policy, so it cannot be approved;
- every valid manifest in the same run is still decided;
- a track-record entry that is invalid leaves its agent at suggestion level;
- a profile is either wholly valid (and the policy decides under it) or refused with field paths.
Most examples run in-process against the session's real OPA; a smaller number run the real CLI.
Examples are derandomized and no example database is kept, so CI runs are reproducible.
"""

import itertools
import json
from datetime import timezone

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, hitl, make_manifest, shipped_profile
from hitl_cli.errors import InvalidInput
from hitl_cli.inputs import load_profile, load_track_record, manifests_by_file
from hitl_cli.models.common import TIERS
from reliability import tally


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


_file_numbers = itertools.count()

# --- manifests ---------------------------------------------------------------------------------------------

KNOWN_TYPES = ["read", "catalog_update", "documentation", "test_generation", "test_execution", "write",
               "schema_migration", "delete", "drop", "grant_access"]
# One-line manifest fields hold printable characters only (hitl_cli/models/plain_text.py).
printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")) | st.just(" "),
                    min_size=1, max_size=20)
unprintable = st.sampled_from(["dev\n::error::x", "\x1b[31mred", "a\u202eb", "zero\u200bwidth", "line\u2028sep", "tab\there", "nbsp\u00a0"])
identifiers = st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True)
names = st.one_of(st.sampled_from(KNOWN_TYPES + ["dev", "staging", "production"]), st.text(min_size=1, max_size=30))
statements = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.lists(st.sampled_from(["SELECT 1", "DROP TABLE t", "drop view v", "DELETE FROM t", "TRUNCATE t", "/* c */",
                              "-- x\n", ";", "\n", "dropped_at", "UPDATE t SET a = 1", "\u200b", "ＤＲＯＰ"]), max_size=6).map(" ".join),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def valid_manifests(draw) -> dict:
    manifest = make_manifest(
        id="placeholder",
        type=draw(st.one_of(st.sampled_from(KNOWN_TYPES), printable)),
        env=draw(st.one_of(st.sampled_from(["dev", "staging", "production"]), printable)),
        agent=draw(st.one_of(st.just("trusted-agent"), identifiers)),
        confidence=draw(st.one_of(st.none(), st.floats(0.0, 1.0))),
        reversible=draw(st.booleans()),
        novel=draw(st.booleans()),
        statement=draw(statements),
        pii=draw(st.booleans()),
        exposes_pii=draw(st.booleans()),
        cost=draw(st.one_of(st.none(), st.floats(0.0, 1e6))),
    )
    created = draw(st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))))
    if created is not None:
        manifest["metadata"]["created"] = created.isoformat()
    manifest["action"]["summary"] = draw(printable)
    manifest["context"].update(draw(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=3)))
    return manifest


def _delete(manifest: dict, path: str) -> None:
    *parents, last = path.split(".")
    node = manifest
    for part in parents:
        node = node[part]
    del node[last]


def _set(manifest: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    node = manifest
    for part in parents:
        node = node[part]
    node[last] = value


REQUIRED = ["apiVersion", "kind", "metadata", "metadata.id", "agent.id", "action.type", "action.summary", "target.environment"]
WRONG_VALUES = [
    ("apiVersion", st.sampled_from(["hitl/v2", "v1", ""])),
    ("metadata.id", st.one_of(st.text(min_size=129, max_size=10_000, alphabet="x"), st.sampled_from(["has space", "", "semi;colon", "ünï"]))),
    ("agent.id", st.sampled_from(["", "a/b", "x" * 200])),
    ("action.confidence", st.one_of(st.floats(min_value=1.0000001, max_value=1e9), st.floats(max_value=-1e-9, min_value=-1e9), st.just("0.9"))),
    ("action.reversible", st.sampled_from(["yes", 1, "true", None])),
    ("action.novel", st.sampled_from(["no", 0])),
    ("action.summary", st.one_of(unprintable, st.just("two\nlines"), st.text(min_size=301, max_size=400, alphabet="s"), st.just(""))),
    ("action.statement", st.one_of(st.integers(), st.lists(st.just("DROP TABLE t"), min_size=1, max_size=2))),
    ("action.type", st.one_of(unprintable, st.just(""), st.integers(), st.text(min_size=129, max_size=200, alphabet="t"))),
    ("target.resource_type", st.sampled_from(["database", "TABLE", ""])),
    ("target.environment", st.one_of(unprintable, st.just(""), st.lists(st.just("dev"), min_size=1, max_size=1))),
    ("impact.rows_affected", st.one_of(st.integers(max_value=-1), st.just(1.5), st.just("10"))),
    ("impact.estimated_cost_usd", st.one_of(st.floats(max_value=-0.001, min_value=-1e9), st.just("cheap"))),
    ("impact.pii", st.sampled_from(["no", 0, None])),
    ("context.read", st.one_of(st.just("not a list"), st.just([1, 2]))),
    ("metadata.created", st.sampled_from(["yesterday", "2026-13-01T00:00:00Z", [2026]])),
]
UNKNOWN_KEYS = ["", "action.", "target.", "impact.", "metadata.", "agent."]


@st.composite
def defects(draw) -> tuple[str, str, object]:
    """(kind, field path the problem must name, value): one known defect to inject."""
    kind = draw(st.sampled_from(["missing", "wrong", "unknown"]))
    if kind == "missing":
        return kind, draw(st.sampled_from(REQUIRED)), None
    if kind == "wrong":
        path, values = draw(st.sampled_from(WRONG_VALUES))
        return kind, path, draw(values)
    return kind, draw(st.sampled_from(UNKNOWN_KEYS)) + draw(st.sampled_from(["typo", "tier", "approved", "extra_field"])), 1


def inject(manifest: dict, defect: tuple[str, str, object]) -> dict:
    kind, path, value = defect
    if kind == "missing":
        _delete(manifest, path)
    else:
        _set(manifest, path, value)
    return manifest


@st.composite
def batches(draw, max_size: int = 8, prefix: str = "fuzz") -> list[tuple[dict, str | None]]:
    """Manifests with unique ids, each paired with the field path of its defect (None when valid)."""
    size = draw(st.integers(1, max_size))
    batch = []
    for index in range(size):
        manifest = draw(valid_manifests())
        manifest["metadata"]["id"] = f"{prefix}-{index}"
        defect = draw(st.one_of(st.none(), defects()))
        batch.append((manifest, None) if defect is None else (inject(manifest, defect), defect[1]))
    return batch


def write_batch(folder, batch: list[tuple[dict, str | None]], as_json: bool):
    path = folder / f"batch-{next(_file_numbers)}.{'json' if as_json else 'yaml'}"
    manifests = [manifest for manifest, _ in batch]
    path.write_text(json.dumps(manifests) if as_json else yaml.safe_dump_all(manifests, sort_keys=False))
    return path


def label(path, index: int, count: int) -> str:
    return f"{path}#{index + 1}" if count > 1 else str(path)


def expected_outcome(path, batch):
    valid = {m["metadata"]["id"] for m, defect in batch if defect is None}
    invalid = {label(path, i, len(batch)): defect for i, (_, defect) in enumerate(batch) if defect is not None}
    return valid, invalid


def assert_reported_at(problems, invalid: dict[str, str]) -> None:
    by_source: dict[str, list] = {}
    for problem in problems:
        by_source.setdefault(problem.source, []).append(problem)
    assert set(by_source) == set(invalid), (by_source, invalid)
    for source, path in invalid.items():
        # The defect's own path, or its parent's when the defect removed or replaced a whole mapping.
        paths = [problem.path for problem in by_source[source]]
        assert any(p == path or path.startswith(p + ".") or p.startswith(path + ".") or p.startswith(path + "[") for p in paths), (path, paths)


@fuzz_settings(300)
@given(batch=batches(), as_json=st.booleans())
def test_manifests_in_process(policy, tmp_path_factory, batch, as_json):
    folder = tmp_path_factory.getbasetemp()
    path = write_batch(folder, batch, as_json)
    [(loaded, problems)] = list(manifests_by_file([path]))
    valid, invalid = expected_outcome(path, batch)
    tally("fuzz: manifests (in-process, real OPA)", len(batch))
    tally("fuzz: of those, invalid by construction (none may be decided)", len(invalid))
    assert {item.id for item in loaded} == valid, [str(problem) for problem in problems]
    assert_reported_at(problems, invalid)
    if loaded:
        decisions = policy.decide_loaded("default", loaded, {"agents": {}})
        assert [d.id for d in decisions] == [item.id for item in loaded]
        assert all(d.tier in TIERS for d in decisions)
        for item in loaded:  # what hitl keeps is exactly the manifest it validated
            assert item.manifest.policy_input() == json.loads(item.policy_json)


@st.composite
def plans(draw) -> list[list[tuple[dict, str | None]]]:
    """Several files of manifests, ids unique across all of them."""
    return [draw(batches(max_size=6, prefix=f"file{k}")) for k in range(draw(st.integers(1, 3)))]


@fuzz_settings(12)
@given(files=plans(), as_json=st.booleans())
def test_manifests_through_the_cli(tmp_path_factory, files, as_json):
    folder = tmp_path_factory.mktemp("cli-fuzz")
    paths = [write_batch(folder, batch, as_json) for batch in files]
    tally("fuzz: manifests (CLI subprocess)", sum(map(len, files)))
    result = hitl("check", folder, "--profile", "default", "--format", "json")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    valid, invalid = set(), {}
    for path, batch in zip(paths, files):
        batch_valid, batch_invalid = expected_outcome(path, batch)
        valid |= batch_valid
        invalid.update(batch_invalid)
    decided = json.loads(result.stdout)
    assert {d["id"] for d in decided} == valid
    assert all(d["tier"] in TIERS for d in decided)
    error_lines = result.stderr.splitlines()
    for source, path in invalid.items():  # `file#n: field.path: message`
        assert any(line.startswith(f"{source}: ") for line in error_lines), (source, result.stderr)
    assert result.returncode == (4 if invalid else max(map(_check_code, decided)))


def _check_code(decision: dict) -> int:
    return {"auto_approve": 0, "block": 3}.get(decision["tier"], 1)


# --- raw files ---------------------------------------------------------------------------------------------

yaml_fragments = st.lists(
    st.sampled_from(["a: 1", "- x", "&anchor", "*anchor", "<<: {b: 2}", "!!binary", "!!python/name:os.system", "---", "...",
                     "[", "]", "{", "}", "'", '"', "? key", ": value", "|", ">", "\t", "  ", "\n", "#", "%YAML 1.1", "\\x00",
                     "apiVersion: hitl/v1", "kind: ActionManifest", "2026-02-30", "1e400", "0x1F", ".nan", "~"]),
    max_size=30,
).map("".join)


@fuzz_settings(1500)
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode), yaml_fragments.map(str.encode)),
       suffix=st.sampled_from([".yaml", ".json"]))
def test_any_bytes_are_read_or_reported_never_raised(tmp_path_factory, content, suffix):
    path = tmp_path_factory.getbasetemp() / f"raw-{next(_file_numbers)}{suffix}"
    path.write_bytes(content)
    tally("fuzz: raw files")
    for loaded, problems in manifests_by_file([path]):
        assert all(problem.source.startswith(str(path)) and problem.message for problem in problems)
        assert all(item.manifest.id == item.id for item in loaded)


# --- track records -----------------------------------------------------------------------------------------

counts = st.integers(0, 10_000)
wrong_record_values = [
    ("level", st.sampled_from(["high", "admin", "", 2])),
    ("reviewed", st.one_of(st.integers(max_value=-1), st.just(1.5), st.just("200"))),
    ("approved", st.one_of(st.integers(max_value=-1), st.just(None))),
    ("rejected", st.just("none")),
    ("promoted_by", st.just("me")),
]


@st.composite
def agent_entries(draw) -> tuple[dict, str | None]:
    reviewed = draw(counts)
    approved = draw(st.integers(0, reviewed))
    entry = {"level": draw(st.sampled_from(["suggestion", "low", "medium"])), "reviewed": reviewed,
             "approved": approved, "rejected": draw(st.integers(0, reviewed - approved))}
    if draw(st.booleans()):
        return entry, None
    kind = draw(st.sampled_from(["wrong", "missing", "over"]))
    if kind == "missing":
        field = draw(st.sampled_from(sorted(entry)))
        del entry[field]
        return entry, field
    if kind == "over":
        entry.update(reviewed=10, approved=8, rejected=5)
        return entry, ""
    field, values = draw(st.sampled_from(wrong_record_values))
    entry[field] = draw(values)
    return entry, field


@fuzz_settings(150)
@given(entries=st.lists(agent_entries(), min_size=1, max_size=6))
def test_track_records(policy, tmp_path_factory, entries):
    agents = {f"agent-{n}": entry for n, (entry, _) in enumerate(entries)}
    invalid = {f"agent-{n}" for n, (_, defect) in enumerate(entries) if defect is not None}
    path = tmp_path_factory.getbasetemp() / f"record-{next(_file_numbers)}.json"
    path.write_text(json.dumps({"agents": agents}))
    tally("fuzz: track-record entries", len(entries))
    record, problems = load_track_record(path)
    assert set(record.agents) == set(agents) - invalid
    assert {problem.path.split(".")[1] for problem in problems} == invalid
    manifests = [make_manifest(id=f"m-{agent}", agent=agent, type="write", env="dev") for agent in agents]
    decisions = policy.decide_many("default", manifests, record.model_dump(mode="json"))
    for agent, decision in zip(agents, decisions):
        if agent in invalid:  # treated as new: suggestion mode, so a write needs a person
            assert decision.agent_level == "suggestion" and decision.tier != "auto_approve"


# --- profiles ----------------------------------------------------------------------------------------------

SHIPPED = shipped_profile("default")
tiers = st.sampled_from(list(TIERS))
valid_profile_edits = [
    ("budget.per_action_usd", st.floats(0, 1e9)),
    ("budget.over_budget_tier", tiers),
    ("confidence.threshold", st.floats(0, 1)),
    ("confidence.below_threshold_tier", tiers),
    ("novelty.tier", tiers),
    ("pii.touch_floor", st.one_of(st.none(), tiers)),
    ("action_types.write.tiers.dev", tiers),
    ("action_types.drop.risk.production", st.sampled_from(["low", "medium", "high"])),
    ("trust.minimums.low.min_reviewed", st.integers(0, 10**6)),
    ("trust.minimums.medium.min_approval_rate", st.floats(0, 1)),
    ("approvals.required.single_approval", st.integers(0, 5)),
    ("delivery.escalate", st.sampled_from(["none", "digest", "interrupt"])),
]
invalid_profile_edits = [
    ("budget.per_action_usd", st.one_of(st.floats(max_value=-0.01, min_value=-1e9), st.just("100"))),
    ("confidence.threshold", st.one_of(st.floats(min_value=1.01, max_value=10), st.just(None))),
    ("novelty.tier", st.sampled_from(["autoapprove", "", "BLOCK"])),
    ("action_types.write.tiers.dev", st.just("maybe")),
    # An RE2 pattern OPA cannot compile is refused by `profile validate` (asked of OPA): test_statement_analysis.
    ("destructive_statements", st.just([{"pattern": "", "treated_as": "drop"}])),
    ("statements.kinds", st.sampled_from([{"dynamic": "read"}, {"unparsed": "read"}, {"select": "no_such_type"}])),
    ("statements.unanalysable_tier", st.sampled_from(["lenient", None])),
    ("environments", st.just([])),
    ("trust.minimums.low.min_approval_rate", st.floats(min_value=1.5, max_value=9)),
    ("approvals.required.block", st.integers(max_value=-1)),
    ("delivery.escalate", st.just("email")),
    ("metadata.name", st.sampled_from(["has space", ""])),
    ("apiVersion", st.just("hitl/v0")),
]


@st.composite
def profiles(draw) -> tuple[dict, str | None]:
    profile = json.loads(json.dumps(SHIPPED))
    profile["metadata"]["name"] = "fuzzed"
    for path, values in draw(st.lists(st.sampled_from(valid_profile_edits), max_size=4)):
        _set(profile, path, draw(values))
    if draw(st.booleans()):
        return profile, None
    path, values = draw(st.sampled_from(invalid_profile_edits))
    _set(profile, path, draw(values))
    return profile, path


@fuzz_settings(200)
@given(case=profiles())
def test_profiles_in_process(tmp_path_factory, case):
    profile, defect = case
    path = tmp_path_factory.getbasetemp() / f"profile-{next(_file_numbers)}.yaml"
    path.write_text(yaml.safe_dump(profile))
    tally("fuzz: profiles (in-process)")
    try:
        loaded = load_profile(path)
    except InvalidInput as error:
        assert defect is not None, error
        assert any(p.path == defect or p.path.startswith(defect + ".") or p.path.startswith(defect + "[") or defect.startswith(p.path + ".")
                   for p in error.problems), (defect, [str(p) for p in error.problems])
        return
    assert defect is None
    assert loaded.name == "fuzzed"


@fuzz_settings(8)
@given(case=profiles())
def test_profiles_through_the_cli(tmp_path_factory, case):
    """A valid profile is one the policy decides under (never an engine failure); an invalid one exits 4."""
    profile, defect = case
    folder = tmp_path_factory.mktemp("profile-fuzz")
    path = folder / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(profile))
    plan = folder / "plan.json"
    plan.write_text(json.dumps([make_manifest(id=f"p-{t}", type=t, env="production") for t in KNOWN_TYPES]))
    tally("fuzz: profiles (CLI subprocess)")
    result = hitl("check", plan, "--profile", path, "--format", "json")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if defect is not None:
        assert result.returncode == 4 and result.stdout == "", result.stderr
        assert f"{path}: " in result.stderr
    else:
        assert result.returncode in (0, 1, 3), result.stderr
        assert len(json.loads(result.stdout)) == len(KNOWN_TYPES)
