"""`hitl serve` as the tests run it: a real subprocess on a free loopback port, with a token and its own store,
and verdict files signed as a person elsewhere signs them (test_serve and the attack tests on the service)."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests
import yaml

from conftest import ROOT, TRUSTED_RECORD, proc_stat, processes_naming
from workflow.support import keyed_person, make_workspace
from hitl_cli.canonical import canonical_json
from hitl_cli.engine.server import free_loopback_port

TOKEN = "serve-test-token-41c9"
ANALYST_PROGRAM = "hitl_cli.statements.analyst_main"
DEADLINE_SECONDS = 60  # generous: only a broken setup ever waits this long


class Service:
    """`hitl serve` as a subprocess on a free loopback port, with a token and its own store."""

    def __init__(self, folder: Path, *args: str, token: str | None = TOKEN, env: dict[str, str] | None = None,
                 record_file: bool = True, **popen):
        """env: variables set for the server beside the inherited ones (none of the caller's HITL_SERVE*, HITL_OPA*);
        record_file: decide with a track record file (TRUSTED_RECORD), or else with the store's own record;
        popen: more subprocess.Popen options."""
        folder.mkdir(parents=True, exist_ok=True)
        self.state = folder / "state.db"
        self.record = folder / "record.yaml"
        self.record.write_text(yaml.safe_dump(TRUSTED_RECORD))
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        # The shipped profiles and policies, with people who sign their verdicts (tests/workflow/support.py).
        self.people = make_workspace(folder / "people")
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("HITL_SERVE", "HITL_OPA"))}
        environment.update({name: value for name, value in self.people.env.items() if name != "HITL_STATE"})
        if token:
            environment["HITL_SERVE_TOKEN"] = token
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hitl_cli", "serve", "--addr", f"127.0.0.1:{self.port}", "--state", str(self.state),
             *(["--track-record", str(self.record)] if record_file else []), *args],
            cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen,
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not self._healthy():
            assert self.process.poll() is None, self.process.stderr.read()
            assert time.monotonic() < deadline, "hitl serve never became healthy"
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            return requests.get(self.url + "/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def call(self, method: str, path: str, token: str | None = TOKEN, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def private_opa(self) -> list[int]:
        """The pids of the OPA this server started (its children whose command line names its folder)."""
        return [pid for pid in processes_naming("hitl-serve-") if _parent(pid) == self.process.pid]

    def analysts(self) -> list[int]:
        """The pids of the analyst processes this server started (hitl_cli.statements.analyst_process)."""
        return [pid for pid in processes_naming(ANALYST_PROGRAM) if _parent(pid) == self.process.pid]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=30)
        return stderr


class Asked(threading.Thread):
    """One request to the service on a thread of its own: `answer` (or `error`) once `done` is set."""

    def __init__(self, service: Service, manifests: list[dict]):
        super().__init__(daemon=True)
        self.service, self.manifests = service, manifests
        self.answer, self.error, self.done = None, None, threading.Event()
        self.start()

    def run(self):
        try:
            self.answer = self.service.call("POST", "/v1/decisions", json={"manifests": self.manifests})
        except requests.RequestException as error:
            self.error = error
        finally:
            self.done.set()


def answered_meanwhile(service: Service, asked: Asked, body: dict, answer: dict, times: int) -> None:
    """/health, and the body's decisions (the answer it had before), are given `times` times before what `asked`
    asked for is answered."""
    for _ in range(times):
        assert service.call("GET", "/health").status_code == 200
        again = service.call("POST", "/v1/decisions", json=body)
        assert again.status_code == 200 and again.json() == answer, again.text
    assert not asked.done.is_set(), "the slow statement was analysed before the quick answers: nothing was shown"


def _parent(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[1]) if fields is not None else None


def signed_verdict(folder: Path, view: dict, person: str, verdict: str = "approve", reason: str | None = None,
                   signer: str | None = None, **statement_changes) -> dict:
    """A verdict file made as a person elsewhere makes one: the statement of the request as the API shows it,
    signed with OpenSSH's own `ssh-keygen -Y sign` (with the key of `signer`, the person by default)."""
    statement = {"type": "hitl-verdict/v1", "request_id": view["id"], "manifest_sha256": view["manifest_sha256"],
                 "policy_revision": view["policy_revision"], "tier": view["decision"]["tier"], "verdict": verdict,
                 "person": person, "reason": reason,
                 "at": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                 **statement_changes}
    message = folder / f"statement-{uuid.uuid4().hex}"
    message.write_text(canonical_json(statement))
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keyed_person(signer or person)[0]), "-n", "hitl-verdict",
                    str(message)], check=True, capture_output=True)
    return {"apiVersion": "hitl/v1", "kind": "SignedVerdict", "statement": statement,
            "signature": message.with_name(message.name + ".sig").read_text()}
