"""The state store read-only or out of space, under `submit` and `approve`: fail closed, lose nothing.

FAULT INJECTION: a read-only store is made immutable (`chattr +i` on the file and its folder: root ignores
permission bits) or, for another user, has its write permissions removed; "out of space" is a file-size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored) on the hitl process, so every write past it fails the way a full disk does.
Policy decisions come from a running OPA (--opa-url), so the store is the only thing hitl writes.
After each fault: exit 5 with one line, the store opens and passes SQLite's integrity check, the audit chain
verifies, every record written before the fault is still there unchanged, and the store works on.
"""

import os
import resource
import signal
import sqlite3
import subprocess
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from conftest import (
    TRUSTED_RECORD, hitl_command, isolated_environment, make_manifest, shipped_profile, write_manifests,
    write_yaml,
)
from reliability import tally
from workflow.support import keyed_person, people_entries

TABLES = ("requests", "verdicts", "audit_log")


@pytest.fixture
def store(tmp_path, real_opa):
    url, _ = real_opa
    return Store(tmp_path, url)


class Store:
    def __init__(self, folder: Path, opa_url: str):
        self.folder = folder
        self.state = folder / "state" / "state.db"
        self.record = write_yaml(folder / "record.yaml", TRUSTED_RECORD)
        self.opa_url = opa_url
        profile = shipped_profile("default")
        profile["approvals"]["people"] = people_entries({"alice": ["approver"]})
        self.profile = write_yaml(folder / "default.yaml", profile)

    def hitl(self, *args, preexec=None) -> subprocess.CompletedProcess:
        environment = isolated_environment({"HITL_STATE": str(self.state), "HITL_OPA_URL": self.opa_url})
        return subprocess.run(
            hitl_command(args), capture_output=True, text=True, env=environment, cwd=self.folder, timeout=120,
            preexec_fn=preexec,
        )

    def submit(self, name: str, ids: list[str], preexec=None) -> subprocess.CompletedProcess:
        plan = write_manifests(self.folder, [make_manifest(id=i, type="write", env="staging") for i in ids], name)
        return self.hitl("submit", plan, "--profile", self.profile, "--track-record", self.record, preexec=preexec)

    def approve(self, request_id: str, preexec=None) -> subprocess.CompletedProcess:
        return self.hitl("approve", request_id, "--by", "alice", "--key", keyed_person("alice")[0], preexec=preexec)

    def rows(self) -> dict[str, list[tuple]]:
        with closing(sqlite3.connect(self.state)) as connection:
            return {table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}

    def assert_sound(self) -> None:
        with closing(sqlite3.connect(self.state)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        verified = self.hitl("audit", "verify")
        assert verified.returncode == 0, verified.stderr


def records_lost(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> int:
    """Rows present before the fault and missing (or changed) after it."""
    return sum(len(set(before[table]) - set(after[table])) for table in TABLES)


@contextmanager
def read_only(folder: Path):
    paths = [folder, *folder.iterdir()]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(modes[path] & 0o555)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def out_of_space(limit_bytes: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def assert_failed_closed(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("fault", ["read-only", "out-of-space"])
def test_submit_and_approve_on_a_broken_store_lose_nothing(store, fault):
    seeded = store.submit("seed.yaml", ["seed-1", "seed-2"])
    assert seeded.returncode == 1, seeded.stderr  # both wait for an approval
    request = "seed-1"
    before = store.rows()

    if fault == "read-only":
        with read_only(store.state.parent):
            submitted = store.submit("more.yaml", ["more-1"])
            approved = store.approve(request)
    else:
        limit = out_of_space(1024)  # smaller than one page of the write-ahead log
        submitted = store.submit("more.yaml", ["more-1"], preexec=limit)
        approved = store.approve(request, preexec=limit)

    assert_failed_closed(submitted)
    assert_failed_closed(approved)
    store.assert_sound()
    after = store.rows()
    lost = records_lost(before, after)
    tally("store records lost", lost)
    assert lost == 0
    assert after == before  # and nothing half-written was added
    # The store works on once the fault is gone: the same commands now succeed.
    assert store.approve(request).returncode == 0
    assert store.submit("more.yaml", ["more-1"]).returncode == 1
    store.assert_sound()
