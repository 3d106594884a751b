"""Issue 8 section 2 against the real CLI, OPA and SQLite store: a person is one person however they spell it,
an action needs what every tier of its reasons needs, and what it needs comes from the profile in force."""

import pytest
import yaml

from hitl_cli.errors import UsageError
from hitl_cli.models.decision import Decision
from hitl_cli.models.workflow import Request, VerdictAction
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow import events

from .support import copy_profile, keyed_person, refused, tier_manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)
APPROVE, REJECT, OVERRIDE = VerdictAction.APPROVE, VerdictAction.REJECT, VerdictAction.OVERRIDE

# The agent's own id (trusted-agent), spelled so that it once counted as someone else.
SAME_AS_THE_AGENT = [
    "trusted\u2010agent",  # U+2010 HYPHEN
    "trusted\u2011agent",  # NON-BREAKING HYPHEN
    "trusted\u2212agent",  # MINUS SIGN
    "trusted\uff0dagent",  # FULLWIDTH HYPHEN-MINUS
    "ＴＲＵＳＴＥＤ-ＡＧＥＮＴ",
    "Trusted-Agent",
]
REFUSED_SPELLINGS = [
    ("trusted-agent\u200b", "U+200B"),  # zero-width space
    ("trusted\u00adagent", "U+00AD"),  # soft hyphen
    ("trusted-agent\u034f", "U+034F"),  # combining grapheme joiner: a mark that draws nothing
    ("trusted-agent\ufe0f", "U+FE0F"),  # variation selector
    ("\u202etrusted-agent", "U+202E"),  # right-to-left override
    ("trusted-agent\x1b[0m", "U+001B"),
    ("trustеd-agent", "mixes scripts"),  # Cyrillic е
    ("\u3000", "empty once normalised"),
]


@pytest.fixture
def requests(ws):
    manifests = [tier_manifest(t) for t in ("single_approval", "double_approval", "escalate", "block")]
    both = tier_manifest("double_approval", id="m-escalate-and-double", novel=True)
    return ws.submit([*manifests, both])


def usage_error(ws, *args, needle: str) -> None:
    before = ws.audit_count()
    result = ws.hitl(*args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr, result.stderr
    assert ws.audit_count() == before


def test_the_agent_never_approves_its_own_request_under_any_spelling(ws, requests):
    """In process (the rules and the name checks), then once through the CLI for its exit codes."""
    for spelling in SAME_AS_THE_AGENT:
        ws.refuses(ws.verdict, APPROVE, "m-double_approval", spelling, needle="an agent never decides its own request")
        ws.refuses(ws.verdict, REJECT, "m-double_approval", spelling, "no", needle="the agent that asked")
    for spelling, needle in REFUSED_SPELLINGS:
        ws.refuses(ws.verdict, APPROVE, "m-double_approval", spelling, needle=needle, error=UsageError)
        ws.refuses(ws.verdict, OVERRIDE, "m-block", spelling, "x", needle=needle, error=UsageError)
        ws.refuses(ws.review, "m-double_approval", spelling, "ok", needle=needle, error=UsageError)
    refused(ws, "approve", "m-double_approval", "--by", SAME_AS_THE_AGENT[0], needle="the agent that asked")
    usage_error(ws, "approve", "m-double_approval", "--by", REFUSED_SPELLINGS[0][0], needle=REFUSED_SPELLINGS[0][1])
    assert ws.view("m-double_approval")["approvals"] == []


def test_two_spellings_of_one_person_are_one_approval(ws, requests):
    first = ws.json("approve", "m-double_approval", "--by", "alice")
    assert first["approvals"][0]["identity"] == "alice"
    # Width and case; then Latin look-alikes and combining marks: dotless i, Latin alpha, a dot above, İ, an overline
    for spelling in ("ａｌｉｃｅ", "ALICE", "Ａlice", "al\u0131ce", "\u0251lice", "ali\u0307ce", "AL\u0130CE", "a\u0305lice"):
        ws.refuses(ws.verdict, APPROVE, "m-double_approval", spelling, needle="already approved")
    ws.refuses(ws.verdict, APPROVE, "m-double_approval", "аlice", needle="mixes scripts", error=UsageError)  # Cyrillic а
    assert ws.status("m-double_approval")["status"] == "pending"
    done = ws.json("approve", "m-double_approval", "--by", "bob")
    assert done["status"] == "approved" and done["may_run"] is True
    with ws.database() as connection:
        keys = connection.execute("SELECT person, person_key FROM verdicts ORDER BY seq").fetchall()
    assert keys == [("alice", "alice"), ("bob", "bob")]


def test_reviewers_and_holders_are_matched_by_identity_and_never_by_a_look_alike(ws, requests):
    ws.refuses(ws.verdict, OVERRIDE, "m-block", "cto\u2010x", "x", needle="only the profile's override holders")
    ws.refuses(ws.verdict, OVERRIDE, "m-block", "сto", "x", needle="mixes scripts", error=UsageError)  # Cyrillic с
    ws.refuses(ws.verdict, APPROVE, "m-escalate", "security-oncall\u200d", needle="U+200D", error=UsageError)
    view = ws.json("approve", "m-escalate", "--by", "ＳＥＣＵＲＩＴＹ\u2010ONCALL")
    assert view["status"] == "approved" and view["approvals"][0]["identity"] == "security-oncall"
    assert ws.json("override", "m-block", "--by", "ＣＴＯ", "--reason", "legal signed off")["status"] == "overridden"


def test_an_escalation_that_also_needs_double_approval_needs_a_reviewer_and_someone_else(ws, requests):
    first = ws.status("m-escalate-and-double")
    assert {r["tier"] for r in first["decision"]["reasons"]} >= {"escalate", "double_approval"}
    assert (first["status"], first["approvals_required"], first["reviewers_missing"]) == ("escalated", 2, 1)
    after_reviewer = ws.json("approve", "m-escalate-and-double", "--by", "security-oncall")
    assert after_reviewer["status"] == "escalated" and after_reviewer["may_run"] is False
    assert after_reviewer["approvals_missing"] == 1 and after_reviewer["reviewers_missing"] == 0
    refused(ws, "approve", "m-escalate-and-double", "--by", "Security\u2011Oncall", needle="already approved")
    done = ws.json("approve", "m-escalate-and-double", "--by", "alice")
    assert done["status"] == "approved" and done["may_run"] is True


def test_the_other_person_may_come_first_but_the_reviewer_is_still_needed(ws, requests):
    assert ws.json("approve", "m-escalate-and-double", "--by", "alice")["status"] == "escalated"
    refused(ws, "approve", "m-escalate-and-double", "--by", "bob", needle="only the profile's escalation reviewers")
    assert ws.status("m-escalate-and-double")["may_run"] is False
    assert ws.hitl("status", "m-escalate-and-double").returncode == 1
    assert ws.json("approve", "m-escalate-and-double", "--by", "data-platform-lead")["status"] == "approved"


def test_the_requirement_follows_the_profile_in_force(ws):
    """Thresholds are data: three approvals for double_approval in a copied profile, no code change."""
    profile = copy_profile(ws, "default", "three-people", {"approvals.required.double_approval": 3})
    ws.submit([tier_manifest("double_approval")], "--profile", str(profile))
    for person in ("alice", "bob"):
        assert ws.json("approve", "m-double_approval", "--by", person)["status"] == "pending"
    assert ws.json("approve", "m-double_approval", "--by", "carol")["status"] == "approved"


def _forge(ws, request_id: str, changes: dict) -> None:
    """A request the store holds, with a recorded decision that understates what it needs, written with its
    audit record (the trail verifies): what a hitl with a lying engine or an older bug would have recorded."""
    with open_store(ws.store, Mode.WRITE) as store, store.write("forge") as connection:
        row = connection.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        columns = [c[0] for c in connection.execute("SELECT * FROM requests").description]
        original = Request.model_validate_json(_as_json(dict(zip(columns, row))))
        decision = Decision.model_validate({**original.decision.model_dump(), **changes})
        status = "approved" if changes.get("tier") == "auto_approve" else original.status
        forged = original.model_copy(update={"id": f"{request_id}~9", "decision": decision, "status": status})
        events.submitted(connection, forged)


def _as_json(row: dict) -> str:
    import json

    fields = ("id", "manifest_sha256", "policy_revision", "profile_source", "submitted_at", "status", "superseded_by")
    data = {key: row[key] for key in fields}
    return json.dumps({**data, "manifest": json.loads(row["manifest"]), "decision": json.loads(row["decision"])})


@pytest.mark.parametrize(
    "changes", [{"approvals_required": 0}, {"approvals_required": 1}, {"approvals_required": 0, "tier": "auto_approve"}]
)
def test_a_recorded_count_never_lowers_what_a_request_needs(ws, changes):
    plan = ws.write("plan.yaml", [tier_manifest("double_approval")])
    ws.submit([tier_manifest("double_approval")])
    _forge(ws, "m-double_approval", changes)
    assert ws.verify().returncode == 0
    check = ("check", plan, "--profile", "default", "--track-record", ws.trusted_record)
    forged = ws.status("m-double_approval~9")
    assert forged["may_run"] is False and forged["approvals_required"] == 2 and forged["status"] == "pending"
    assert ws.hitl(*check).returncode == 1
    assert ws.json("approve", "m-double_approval~9", "--by", "alice")["may_run"] is False
    assert ws.hitl(*check).returncode == 1
    assert ws.hitl("status", "m-double_approval~9").returncode == 1
    assert ws.json("approve", "m-double_approval~9", "--by", "bob")["may_run"] is True
    # Two people approved: check passes, unless the forged tier is below what check decides now (never covers).
    assert ws.hitl(*check).returncode == (1 if "tier" in changes else 0)


def _people(*names_and_roles: tuple[str, list[str]]) -> list[dict]:
    return [{"name": name, "roles": roles, "keys": [keyed_person(f"key-{index}")[1]]}
            for index, (name, roles) in enumerate(names_and_roles)]


def test_profile_validate_refuses_a_reviewer_name_with_a_control_or_look_alike_character(ws):
    data = yaml.safe_load((ws.profiles / "default.yaml").read_text())
    reviewer = ["escalation_reviewer"]
    data["approvals"]["people"] = _people(("security-oncall", reviewer), ("cto\u200b", reviewer), ("аlice", reviewer))
    path = ws.root / "bad-names.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = ws.hitl("profile", "validate", path)
    assert result.returncode == 4, result.stderr
    assert f"{path}: approvals.people[1].name: " in result.stderr and "U+200B" in result.stderr
    assert f"{path}: approvals.people[2].name: " in result.stderr and "mixes scripts" in result.stderr
    assert "\u200b" not in result.stderr


def test_profile_validate_refuses_one_person_listed_twice_under_two_spellings(ws):
    data = yaml.safe_load((ws.profiles / "default.yaml").read_text())
    data["approvals"]["people"] = _people(("cto", ["override_holder"]), ("ＣＴＯ", ["approver"]))
    path = ws.root / "twice.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = ws.hitl("profile", "validate", path)
    assert result.returncode == 4, result.stderr
    assert f"{path}: approvals.people[1].name: " in result.stderr and "is 'cto'" in result.stderr


def test_stats_count_one_reviewer_under_every_spelling(ws):
    ws.submit([tier_manifest("single_approval", id="one"), tier_manifest("single_approval", id="two")])
    ws.json("approve", "one", "--by", "alice")
    ws.json("approve", "two", "--by", "ＡＬＩＣＥ")
    reviewers = ws.json("stats", "--profile", "default")["by_reviewer"]
    assert [(r["person"], r["approvals"]) for r in reviewers] == [("alice", 2)]
