"""Issue 10's "done when", end to end, as a new user: hitl installed from its wheel in a fresh virtualenv outside
the checkout, `hitl init`, a SOX rule with a setting in the profile and a Rego test, seen in `test`, `evaluate`,
`check`, `docs` and a signed bundle served by `hitl serve --bundle`; changing the rule or its setting changes the
policy revision, so the served bundle (and every approval bound to the old revision) is no longer believed."""

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import make_manifest, wait_until_healthy, write_manifests
from hitl_cli.engine.binary import find_opa
from hitl_cli.engine.server import free_loopback_port, opa_run_command
from installed_package import key_pair, run

RULES = Path(__file__).resolve().parent / "org_rules"


@pytest.fixture(scope="module")
def repository(installed) -> Path:
    folder = installed["cwd"] / "acme-policies"
    assert run(installed, "init", folder, "--name", "acme").returncode == 0
    for file in RULES.iterdir():
        shutil.copyfile(file, folder / "policies" / "rules" / file.name)
    set_sox_tables(folder, ["analytics.ledger"])
    write_manifests(folder / "plans", [make_manifest(id="ledger-read", type="read", env="dev")], "ledger.yaml")
    (folder / "plans" / "ledger.yaml").write_text(
        (folder / "plans" / "ledger.yaml").read_text().replace("analytics.orders", "analytics.ledger")
    )
    return folder


def set_sox_tables(folder: Path, tables: list[str]) -> None:
    profile_file = folder / "profiles" / "acme.yaml"
    profile = yaml.safe_load(profile_file.read_text())
    profile["rules"]["sox"] = {"tables": tables}
    profile_file.write_text(yaml.safe_dump(profile, sort_keys=False))


def in_repository(installed, repository, *args):
    return subprocess.run([installed["hitl"], *map(str, args)], capture_output=True, text=True,
                          env=installed["env"], cwd=repository, timeout=300)


DECIDE = ("--policy", "policies", "--profile", "profiles/acme.yaml")


def test_a_new_user_adds_a_sox_rule_and_sees_it_everywhere(installed, repository, tmp_path):
    tested = in_repository(installed, repository, "test", "policies")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "policies/rules/sox.rego" in tested.stdout and "policies/rules/change_freeze.rego" in tested.stdout

    evaluated = in_repository(installed, repository, "evaluate", "plans/ledger.yaml", *DECIDE, "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    [decision] = json.loads(evaluated.stdout)
    assert decision["tier"] == "double_approval" and "sox_table" in {r["code"] for r in decision["reasons"]}

    checked = in_repository(installed, repository, "check", "plans/ledger.yaml", *DECIDE)
    assert checked.returncode == 1, checked.stderr
    assert "sox_table" in checked.stdout

    docs = in_repository(installed, repository, "docs", *DECIDE)
    assert docs.returncode == 0, docs.stderr
    assert "SOX tables" in docs.stdout and "`sox_table`" in docs.stdout and "Change freeze" in docs.stdout

    private, public = key_pair(tmp_path, "fleet")
    bundle = tmp_path / "acme.tar.gz"
    built = in_repository(installed, repository, "bundle", "build", *DECIDE, "--output", bundle, "--signing-key", private)
    assert built.returncode == 0, built.stderr

    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    # The fleet's own OPA serves the signed bundle, verified (hitl serve is hitl's API, not an OPA for --opa-url).
    server = subprocess.Popen(
        opa_run_command(find_opa(), f"127.0.0.1:{port}", [bundle], ["--bundle", "--verification-key", str(public)]),
        cwd=repository, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(url, server, "OPA serving the bundle")
        served = in_repository(installed, repository, "evaluate", "plans/ledger.yaml", *DECIDE, "--format", "json",
                               "--opa-url", url)
        assert served.returncode == 0, served.stderr
        assert json.loads(served.stdout) == [decision]

        set_sox_tables(repository, ["analytics.ledger", "analytics.journal"])  # the setting changes
        stale = in_repository(installed, repository, "evaluate", "plans/ledger.yaml", *DECIDE, "--opa-url", url)
        assert stale.returncode == 5 and "serves policy revision" in stale.stderr, stale.stderr
        set_sox_tables(repository, ["analytics.ledger"])
        again = in_repository(installed, repository, "evaluate", "plans/ledger.yaml", *DECIDE, "--opa-url", url)
        assert again.returncode == 0, again.stderr

        rule = repository / "policies" / "rules" / "sox.rego"
        rule.write_text(rule.read_text() + "\n# reviewed for the audit\n")  # the rule changes
        stale = in_repository(installed, repository, "evaluate", "plans/ledger.yaml", *DECIDE, "--opa-url", url)
        assert stale.returncode == 5 and "serves policy revision" in stale.stderr, stale.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
