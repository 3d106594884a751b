"""Attack: the policy folder decides only through what its revision covers. Every file OPA loads from it -
policies and data alike - is in the policy revision and in bundles; a data file dropped beside the rules makes
earlier approvals stale; links are refused, not followed; an empty or missing folder is an error, never an empty
revision, empty docs or a bundle without policies. Real OPA, real CLI, real SQLite."""

import json
import subprocess
import tarfile

import pytest

from hitl_cli.engine.binary import find_opa
from hitl_cli.policy_files import ignore_options, policy_files
from workflow.support import make_workspace, tier_manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

CANDIDATES = {  # file -> content; each data file sets its own key, each policy its own package
    "a.rego": "package pa\n\nx := 1\n",
    "a_test.rego": "package pt\n\nx := 1\n",
    "sub/b.rego": "package pb\n\nx := 1\n",
    "c.Rego": "package pc\n\nx := 1\n",
    "anything.json": '{"k_json": 1}',
    "sub/data.yaml": "k_yaml: 1\n",
    "sub/deeper/other.yml": "k_yml: 1\n",
    ".hidden/data.json": '{"k_hidden": 1}',
    "upper.JSON": '{"k_upper": 1}',
    "lines.jsonl": '{"k_jsonl": 1}',
    "notes.txt": "k_txt: 1\n",
    "rules/r.schema.json": '{"k_schema": 1}',  # a rule's settings files: hitl's, which OPA is told to ignore
    "rules/r.defaults.yaml": "k_defaults: 1\n",
}


def test_hitl_lists_exactly_the_files_opa_loads(tmp_path):
    for name, content in CANDIDATES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    done = subprocess.run([str(find_opa()), "eval", *ignore_options(tests=True), "-d", str(tmp_path), "data",
                           "--format", "json"], capture_output=True, text=True, check=True)
    loaded_by_opa = json.dumps(json.loads(done.stdout)["result"][0]["expressions"][0]["value"])
    files = policy_files(tmp_path)
    listed = {path.as_posix() for path in files.policies + files.data}
    assert {path.as_posix() for path in files.settings} == {"rules/r.schema.json", "rules/r.defaults.yaml"}
    for name, content in CANDIDATES.items():
        marker = content.split()[1] if name.endswith(".rego") or name.endswith(".Rego") else content.strip("{} \n").split(":")[0].strip('"')
        assert (f'"{marker}"' in loaded_by_opa) == (name in listed), name
    assert listed == {"a.rego", "sub/b.rego", "anything.json", "sub/data.yaml", "sub/deeper/other.yml",
                      ".hidden/data.json"}


@pytest.fixture
def approved(tmp_path):
    ws = make_workspace(tmp_path)
    ws.submit([tier_manifest("single_approval")])
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    assert ws.status("m-single_approval")["status"] == "approved"
    return ws


@pytest.mark.parametrize("planted", ["hitl/planted.json", "data.yaml", "hitl/rules/.x/data.yml"])
def test_a_data_file_beside_the_rules_changes_the_revision_and_makes_approvals_stale(approved, planted):
    ws = approved
    revision = ws.status("m-single_approval")["policy_revision"]
    target = ws.rego / planted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('{"planted_by_a_pull_request": {"lowers": "everything"}}')

    view = ws.status("m-single_approval")
    assert view["status"] == "stale" and not view["may_run"], view
    plan = ws.write("again.yaml", [tier_manifest("single_approval")])
    assert ws.hitl("check", plan, "--profile", "default", "--track-record", ws.trusted_record).returncode == 1
    again = ws.submit([tier_manifest("single_approval")], name="resubmitted.yaml")
    assert again["m-single_approval"]["policy_revision"] != revision


def test_a_bundle_carries_every_data_file_opa_loads(tmp_path):
    ws = make_workspace(tmp_path)
    plain = ws.hitl("bundle", "build", "--all", "-o", tmp_path / "plain.tar.gz")
    assert plain.returncode == 0, plain.stderr
    (ws.rego / "hitl" / "extra").mkdir()
    (ws.rego / "hitl" / "extra" / "limits.yaml").write_text("ceiling: 5\n")
    (ws.rego / "hitl" / "org.json").write_text('{"org": {"name": "acme"}}')
    built = ws.hitl("bundle", "build", "--all", "-o", tmp_path / "with-data.tar.gz")
    assert built.returncode == 0, built.stderr
    assert built.stdout.split("revision ")[1] != plain.stdout.split("revision ")[1]
    with tarfile.open(tmp_path / "with-data.tar.gz") as archive:
        data = json.load(archive.extractfile("/data.json"))
        policies = [name for name in archive.getnames() if name.endswith(".rego")]
    assert data["hitl"]["extra"] == {"ceiling": 5} and data["hitl"]["org"] == {"name": "acme"}
    assert set(data["hitl"]) >= {"profiles", "calibration"}
    assert policies and not any(name.endswith("_test.rego") for name in policies)

    # Data outside the bundle's root (data.hitl) is loaded by a local run; the bundle refuses it, never drops it.
    (ws.rego / "elsewhere.json").write_text('{"elsewhere": 1}')
    one_line_failure(ws.hitl("bundle", "build", "--all", "-o", tmp_path / "refused.tar.gz"), "elsewhere")
    assert not (tmp_path / "refused.tar.gz").exists()


def one_line_failure(result, *words) -> None:
    assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


def every_policy_command(ws):
    plan = ws.write("plan.yaml", [tier_manifest("single_approval", id="fresh")])
    yield ws.hitl("evaluate", plan, "--profile", "default")
    yield ws.hitl("check", plan, "--profile", "default")
    yield ws.hitl("submit", plan, "--profile", "default")
    yield ws.hitl("bundle", "build", "--all", "-o", ws.root / "out.tar.gz")
    yield ws.hitl("docs", "--all", "-o", ws.root / "docs.md")


@pytest.mark.parametrize("link", ["folder", "file"])
def test_links_in_the_policy_folder_are_refused(tmp_path, link):
    ws = make_workspace(tmp_path)
    ws.submit([tier_manifest("single_approval")])
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "lenient.rego").write_text("package hitl.lenient\n\nanything := true\n")
    if link == "folder":
        (ws.rego / "hitl" / "more").symlink_to(outside, target_is_directory=True)
    else:
        (ws.rego / "hitl" / "lenient.rego").symlink_to(outside / "lenient.rego")
    for result in every_policy_command(ws):
        one_line_failure(result, "symbolic link")
    view = ws.status("m-single_approval")  # an approval cannot be honoured under a revision hitl cannot compute
    assert view["status"] == "stale" and "symbolic link" in view["stale_reason"], view["stale_reason"]
    assert not (ws.root / "out.tar.gz").exists() and not (ws.root / "docs.md").exists()


@pytest.mark.parametrize("folder", ["empty", "tests-only", "missing"])
def test_an_empty_or_missing_policy_folder_is_an_error(tmp_path, folder):
    ws = make_workspace(tmp_path)
    policies = tmp_path / folder
    if folder != "missing":
        policies.mkdir()
    if folder == "tests-only":
        (policies / "main_test.rego").write_text("package hitl.main_test\n\ntest_x if true\n")
        (policies / "data.json").write_text("{}")
    ws.env["HITL_REGO_DIR"] = str(policies)
    for result in every_policy_command(ws):
        one_line_failure(result, str(policies))
    assert not (ws.root / "out.tar.gz").exists() and not (ws.root / "docs.md").exists()


def test_a_nested_bundle_is_refused(tmp_path):
    ws = make_workspace(tmp_path)
    (ws.rego / "hitl" / "more.tar.gz").write_bytes(b"\x1f\x8b not really")
    plan = ws.write("plan.yaml", [tier_manifest("single_approval")])
    one_line_failure(ws.hitl("evaluate", plan, "--profile", "default"), "bundle")
