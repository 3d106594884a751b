"""More engine faults, for the pipelined client: every one fails closed (exit 5, one line, no decision at all).

A stub OPA (fault_proxy.StubOpa, FAULT INJECTION ONLY) answers the way a broken server or a proxy in front of one might:
decisions out of order, an error status, a body cut short, a later batch failing after earlier ones
succeeded. The real OPA behind tests/fault_proxy.py is killed while files are still being read.
"""

import io
import json

import pytest

from conftest import assert_failed_closed, hitl, make_manifest, write_manifests
from fault_proxy import FaultProxy, StubOpa
from hitl_cli.progress import Progress

READS = [make_manifest(id=f"read-{n}", type="read") for n in range(30)]


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("reordered", "policy returned decisions out of order"),
        ("error-status", "OPA failed evaluating data.hitl.main.decisions: eval_conflict_error (complete rules must not produce multiple outputs)"),
        ("cut-short", "is unreachable"),
        ("later-batch-fails", "OPA failed evaluating data.hitl.main.decisions: overloaded"),
    ],
)
@pytest.mark.parametrize("requests", ["1", "2"])
def test_a_broken_answer_fails_closed(tmp_path, fault, needle, requests):
    plan = write_manifests(tmp_path, READS, "plan.json")
    with StubOpa(fault) as stub:
        env = {"HITL_OPA_BATCH_SIZE": "10", "HITL_OPA_REQUESTS": requests}
        result = hitl("check", plan, "--profile", "default", "--opa-url", stub.url, env=env)
    assert_failed_closed(result, needle)
    assert result.stdout == ""  # not even the batches answered before the failure
    if requests == "1":  # one request at a time: nothing is sent after a failure (with two, the next may be in flight)
        assert stub.posts == (3 if fault == "later-batch-fails" else 1)


def test_opa_killed_while_files_are_still_being_read(tmp_path, real_opa):
    url, pid = real_opa
    for n in range(40):  # one manifest per file, so reading goes on while the first batches are decided
        write_manifests(tmp_path, [make_manifest(id=f"read-{n}", type="read")], f"plan-{n:02d}.yaml")
    with FaultProxy(url, pid, "kill", on_post=2) as proxy:
        env = {"HITL_OPA_BATCH_SIZE": "5", "HITL_OPA_REQUESTS": "1"}  # one at a time: none sent after the failure
        result = hitl("check", tmp_path, "--profile", "default", "--opa-url", proxy.url, env=env)
    assert_failed_closed(result, "OPA")
    assert result.stdout == ""
    assert proxy.posts_seen == 2


def test_the_same_decisions_whatever_the_batch_size_and_requests_in_flight(tmp_path):
    manifests = [make_manifest(id=f"m-{n}", type=t, env=e) for n, (t, e) in
                 enumerate((t, e) for t in ("read", "write", "drop", "grant_access") for e in ("dev", "staging", "production"))]
    for n, manifest in enumerate(manifests):
        write_manifests(tmp_path, [manifest], f"plan-{n:02d}.json")
    outputs = {
        (size, requests): hitl(
            "evaluate", tmp_path, "--profile", "bank", "--format", "json",
            env={"HITL_OPA_BATCH_SIZE": size, "HITL_OPA_REQUESTS": requests},
        ).stdout
        for size in ("1", "5", "1000") for requests in ("1", "3")
    }  # fmt: skip
    assert len(set(outputs.values())) == 1  # batches answered out of order are put back in input order
    assert [d["id"] for d in json.loads(outputs[("1", "3")])] == [m["metadata"]["id"] for m in manifests]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_appears_only_once_a_run_is_slow_and_is_erased_at_the_end():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(4, stream, clock)
    progress.file_read()
    assert stream.getvalue() == ""  # quick runs never see it
    clock.now = 1.5
    progress.file_read()
    progress.manifests_decided(7)  # within the redraw interval: not drawn again
    assert stream.getvalue() == "\rhitl: [" + "#" * 12 + "." * 12 + "] 2/4 files read, 0 manifests decided"
    clock.now = 2.0
    progress.manifests_decided(7)
    assert stream.getvalue().endswith("2/4 files read, 7 manifests decided")
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    plan = write_manifests(tmp_path, READS, "plan.json")
    result = hitl("check", plan, "--profile", "default")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "files read" not in result.stderr
