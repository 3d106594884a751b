"""Manifest text, file names and reason messages that quote them cannot become a command or break a report.

Every output format of `evaluate` and `check` (and stderr) is fed a plan whose file name and fields carry
every nasty payload known to act on a CI log, a terminal, a Markdown renderer or an XML parser, through the
real CLI and a real OPA. Each output must hold the invariants of hitl_cli/escaping.py line by line, parse as
its format, and (JSON, SARIF) give back the original text exactly.
"""

import json
import re
import shutil
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

from conftest import ROOT, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from inert import assert_inert

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

# Printable, so a one-line field accepts it: what it does depends on where it is shown.
TYPE = "::stop-commands::pwned [l](https://evil.example/t) @alice ##[set-env name=X;]x"
ENVIRONMENT = "::error file=a,line=1::env <img src=x onerror=alert(1)> ![i](https://evil.example/i.png)"
RESOURCE = "  ::warning::res <https://auto.example> www.evil.example `code` *em* | pipe # h &amp; %0A%25 @bob"
# Free text keeps line breaks and control characters; reports escape them.
FREE_TEXT = (
    "ok\n::error file=x::injected\n  ::warning::indented\r\n::notice::crlf\x1b[2J\x1b]8;;https://evil.example\x07click"
    "\x1b]8;;\x07 \x9b31m c1 \u202egnp.exe \u200b zero \u2028 sep \x85 nel ##[group]"
)
FILE_NAME = "::error::file\n::stop-commands::x\x1b[31m\u202e ##[y] [l](javascript:alert(1)) @carol.yaml"
UNKNOWN_KEY = "evil\n::error::key\x1b[31m"

@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("injection")
    hostile = make_manifest(id="hostile", type=TYPE, env=ENVIRONMENT, statement=FREE_TEXT)
    hostile["target"]["resource"] = RESOURCE
    hostile["target"]["system"] = TYPE
    hostile["action"]["summary"] = RESOURCE
    hostile["context"]["why"] = FREE_TEXT
    hostile["context"][UNKNOWN_KEY] = FREE_TEXT
    invalid = make_manifest(id="invalid", type="read")
    invalid[UNKNOWN_KEY] = FREE_TEXT
    neighbour = make_manifest(id="neighbour", type="read")
    return write_manifests(folder, [hostile, invalid, neighbour], FILE_NAME)


def run(plan, command: str, format: str):
    result = hitl(command, plan, "--profile", "default", "--format", format)
    assert result.returncode in (1, 3, 4), result.stderr
    assert_inert(result.stderr)
    assert_inert(result.stdout, github=format == "github")
    return result


@pytest.mark.parametrize(("command", "format"), [("evaluate", "table"), ("check", "text"), ("check", "github")])
def test_text_outputs_are_inert_line_by_line(opa_bin, plan, command, format):
    result = run(plan, command, format)
    assert "hostile" in result.stdout
    assert format == "github" or "neighbour" in result.stdout  # github annotates only what needs a human
    assert "#2: evil\\x0a::error::key\\x1b[31m: unknown field" in result.stderr


def test_github_values_are_encoded_not_dropped(opa_bin, plan):
    result = run(plan, "check", "github")
    [hostile] = [line for line in result.stdout.splitlines() if "title=hitl%3A hostile" in line]
    # The runner reads the command up to the second `::` (the properties, with `:` encoded, hold none); the rest
    # is the message, shown as the annotation: the reasons are there, their lines joined with %0A.
    command, properties, message = hostile.split("::", 2)[0], hostile.split("::", 2)[1], hostile.split("::", 2)[2]
    assert command == "" and properties.startswith("warning file=") and "%3A%3Astop-commands" in properties
    assert TYPE.replace("##[", "#\\x23[") in message and "%0A" in message


@pytest.mark.parametrize(("command", "format"), [("evaluate", "json"), ("check", "json")])
def test_json_round_trips_the_original_text(opa_bin, plan, command, format):
    result = run(plan, command, format)
    decisions = {d["id"]: d for d in json.loads(result.stdout)}
    assert decisions["hostile"]["declared_type"] == TYPE
    assert decisions["hostile"]["environment"] == ENVIRONMENT
    assert any(TYPE in reason["message"] for reason in decisions["hostile"]["reasons"])
    assert set(decisions) == {"hostile", "neighbour"}


def test_sarif_round_trips_the_file_name_and_text(opa_bin, plan):
    result = run(plan, "check", "sarif")
    results = json.loads(result.stdout)["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {plan.as_uri()}  # percent-encoded, as a URI must be: nothing in it acts, and it decodes back
    assert {unquote(urlsplit(uri).path) for uri in uris} == {str(plan)}
    assert any(TYPE in r["message"]["text"] for r in results)
    assert any(UNKNOWN_KEY in r["message"]["text"] for r in results)


def test_junit_is_well_formed_xml(opa_bin, plan):
    result = run(plan, "check", "junit")
    suite = ET.fromstring(result.stdout).find("testsuite")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert "hostile" in names and "neighbour" in names
    assert any(case.find("error") is not None for case in suite.iter("testcase"))


def _inline_tokens(tokens):
    for token in tokens:
        yield token
        yield from _inline_tokens(token.children or [])


def test_markdown_has_no_links_images_html_or_mentions(opa_bin, plan):
    result = run(plan, "evaluate", "markdown")
    tokens = list(_inline_tokens(MarkdownIt("commonmark").enable("table").parse(result.stdout)))
    kinds = {token.type for token in tokens}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}, kinds
    rendered = "".join(token.content for token in tokens if token.type in ("text", "code_inline"))
    assert "https://evil.example" not in result.stdout and "www.evil" not in result.stdout
    assert TYPE.split(" ")[0].lstrip(":") in rendered  # shown, not swallowed
    for match in re.finditer("@", rendered):
        assert rendered[match.end()] == "\u200b", rendered[match.start() - 5 : match.end() + 5]


ONE_LINE_FIELDS = ["action.type", "action.summary", "target.environment", "target.system", "target.resource"]


@pytest.mark.parametrize("character", ["\n", "\x1b", "\x9b", "\u202e", "\u200b", "\u2028", "\t", "\u00a0"])
@pytest.mark.parametrize("field", ONE_LINE_FIELDS)
def test_one_line_fields_refuse_unprintable_characters(opa_bin, tmp_path, field, character):
    hostile = make_manifest(id="hostile", type="read")
    section, name = field.split(".")
    hostile[section][name] = f"dev{character}::error::x"
    plan = write_manifests(tmp_path, [hostile, make_manifest(id="neighbour", type="read")], "plan.json")
    result = hitl("check", plan, "--profile", "default", "--format", "json", "--track-record",
                  str(_record(tmp_path)))
    assert result.returncode == 4, result.stderr
    refusal = "String should match pattern" if (field, character) == ("action.summary", "\n") else (
        f"holds U+{ord(character):04X} at character 4")
    assert f"{plan}#1: {field}: {refusal}" in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["neighbour"]
    assert_inert(result.stderr)


def _record(folder):
    path = folder / "record.json"
    path.write_text(json.dumps({"agents": {"trusted-agent": {"level": "medium", "reviewed": 1000, "approved": 1000, "rejected": 0}}}))
    return path


@pytest.mark.parametrize("format", ["text", "markdown", "json"])
def test_diff_reports_show_file_names_and_ids_inert(opa_bin, tmp_path, format):
    history = write_manifests(tmp_path, [make_manifest(id="::stop-commands::tok", type="write", env="dev")], FILE_NAME)
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"agents": {"trusted-agent": {"level": "medium", "reviewed": 1000, "approved": 1000, "rejected": 0}}}))
    profile = shipped_profile("bank")
    profile["action_types"]["write"]["tiers"]["dev"] = "auto_approve"
    candidate = write_yaml(tmp_path / "bank-proposed.yaml", profile)
    result = hitl("diff", "--profile", "bank", "--candidate", candidate, "--history", history, "--track-record", record,
                  "--format", format)
    assert result.returncode == 1, result.stderr
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    if format == "json":
        [change] = json.loads(result.stdout)["changes"]
        assert change["source"] == str(history) and change["id"] == "::stop-commands::tok"
    else:
        assert "stop-commands" in result.stdout


def test_profile_file_names_are_listed_inert(tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    hostile = folder / "::stop-commands::tok\x1b[31m\u202e.yaml"
    hostile.write_text((ROOT / "org_profiles" / "default.yaml").read_text())
    shutil.copytree(ROOT / "org_profiles" / "people", folder / "people")  # the people file it names
    listed = hitl("profile", "list", env={"HITL_PROFILES_DIR": str(folder)})
    validated = hitl("profile", "validate", hostile)
    assert listed.returncode == 0 and validated.returncode == 0, (listed.stderr, validated.stderr)
    for result in (listed, validated):
        assert_inert(result.stdout.replace("\t", " "))
        assert "stop-commands" in result.stdout


# A quoted identifier may hold anything, and reason messages name the tables a statement writes.
QUOTED_NAME = 'x\n::error::pwned\x1b[31m <img src=x onerror=alert(1)> [l](https://evil.example) @alice ##[group]'


@pytest.mark.parametrize(("command", "format"), [
    ("evaluate", "table"), ("evaluate", "markdown"), ("check", "text"), ("check", "github"), ("check", "junit"),
])  # fmt: skip
def test_a_table_name_from_the_statement_is_inert_in_every_report(opa_bin, tmp_path, command, format):
    manifest = make_manifest(id="quoted", type="read", env="production", statement=f'UPDATE analytics."{QUOTED_NAME}" SET a = 1')
    manifest["target"]["system"] = "postgres"
    result = hitl(command, write_manifests(tmp_path, [manifest]), "--profile", "default", "--format", format)
    assert result.returncode == (1 if command == "check" else 0), result.stderr  # evaluate only reports
    assert "pwned" in result.stdout  # shown, escaped, not dropped
    assert_inert(result.stdout, github=format == "github")
    if format == "junit":
        ET.fromstring(result.stdout)
    if format == "markdown":
        tokens = MarkdownIt().parseInline(result.stdout)
        assert not [t for t in tokens for c in (t.children or []) if c.type in ("link_open", "image", "html_inline")]
