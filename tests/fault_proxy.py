"""FAULT INJECTION ONLY: a loopback HTTP proxy in front of a real OPA that misbehaves on request.

It forwards requests to the real server until told to fail, then — on the chosen POST — kills the real OPA
(SIGKILL) mid-request, stalls, or answers garbage. Tests use it to prove hitl fails closed.
"""

import http.server
import json
import os
import signal
import threading
import time
import urllib.request


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON bodies."""

    def log_message(self, *args):
        pass

    def _answer(self, status: int, payload: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def data_path(what: str) -> str:
    """The HTTP path hitl asks a document (data.a.b) at."""
    return "/v1/" + what.replace(".", "/")


def truthful_get(path: str) -> bytes:
    """What a real `hitl serve` answers to hitl's look-ups: its OPA version, the loaded profiles and their policy
    revisions."""
    from hitl_cli.engine.binary import supported_opa_version
    from hitl_cli.engine.client import OPA_VERSION_WHAT
    from hitl_cli.engine.revisions import REVISIONS_PATH, expected_revision
    from hitl_cli.inputs import load_all_profiles

    if path == data_path(OPA_VERSION_WHAT):
        return json.dumps({"result": supported_opa_version().removeprefix("v")}).encode()
    profiles = load_all_profiles()
    if path == REVISIONS_PATH:
        return json.dumps({"result": {profile.name: expected_revision(profile) for profile in profiles}}).encode()
    return json.dumps({"result": {profile.name: {} for profile in profiles}}).encode()


def stand_in_decisions(asked: dict, decide) -> dict:
    """What a stand-in OPA answers a decision request with, each manifest decided by `decide`: one decision for
    data.hitl.main.decision (input.manifest, what hitl asks for a single manifest), a list for
    data.hitl.main.decisions (input.manifests)."""
    if "manifest" in asked:
        return {"result": decide(asked["manifest"])}
    return {"result": [decide(m) for m in asked["manifests"]]}


class LoopbackServer:
    """`with Server(...) as server:` — a threaded HTTP server on a free loopback port, shut down on exit."""

    def _listen(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


class FaultProxy(LoopbackServer):
    def __init__(self, upstream_url: str, opa_pid: int | None, fault: str, on_post: int = 1):
        self.upstream_url = upstream_url
        self.opa_pid = opa_pid
        self.fault = fault
        self.on_post = on_post
        self.posts_seen = 0
        self.release = threading.Event()
        proxy = self

        class Handler(QuietHandler):
            def _forward(self, body: bytes | None):
                request = urllib.request.Request(
                    proxy.upstream_url + self.path, data=body, method=self.command, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        payload, status = answer.read(), answer.status
                except urllib.error.HTTPError as error:
                    payload, status = error.read(), error.code
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._forward(None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.posts_seen += 1
                if proxy.posts_seen < proxy.on_post:
                    return self._forward(body)
                if proxy.fault == "kill":
                    os.kill(proxy.opa_pid, signal.SIGKILL)
                    time.sleep(0.2)
                    self.close_connection = True
                    self.connection.shutdown(2)
                elif proxy.fault == "stall":
                    proxy.release.wait(30)
                elif proxy.fault == "garbage":
                    self._answer(200, b"<html>502 bad gateway</html>")
                elif proxy.fault == "malformed":
                    self._answer(200, b'{"result": [{"id": "x", "tier": "auto_approve"}]}')

        self._listen(Handler)

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        super().__exit__(*exc_info)


def decision_for(manifest: dict) -> dict:
    """A stand-in OPA's decision for a manifest: auto-approved, every field consistent with the manifest."""
    return {
        "id": manifest["metadata"]["id"], "tier": "auto_approve", "approvals_required": 0, "post_hoc_review": False,
        "delivery": "none", "agent_level": "medium", "profile": "default",
        "reasons": [{"code": "trusted_read", "tier": "auto_approve", "message": "a read"}], "agent": manifest["agent"]["id"],
        "action_type": "read", "declared_type": "read", "environment": "dev", "risk": "low",
    }


class StubOpa(LoopbackServer):
    """FAULT INJECTION ONLY: a stand-in OPA that answers profile and revision look-ups truthfully and decision
    requests according to `fault` (reordered, error-status, cut-short, later-batch-fails)."""

    def __init__(self, fault: str):
        self.fault = fault
        self.posts = 0
        stub = self

        class Handler(QuietHandler):
            def do_GET(self):
                self._answer(200, truthful_get(self.path))

            def do_POST(self):
                stub.posts += 1
                answered = stand_in_decisions(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"],
                                              decision_for)
                decisions = answered["result"]
                if not isinstance(decisions, list):  # one manifest (data.hitl.main.decision): answered, or failed as a later batch fails
                    ok = stub.fault != "later-batch-fails" or stub.posts < 3
                    return self._answer(200 if ok else 503, json.dumps(answered if ok else {"message": "overloaded"}).encode())
                if stub.fault == "reordered":
                    self._answer(200, json.dumps({"result": decisions[::-1]}).encode())
                elif stub.fault == "error-status":
                    body = {"code": "internal_error", "message": "eval_conflict_error", "errors": [{"message": "complete rules must not produce multiple outputs"}]}
                    self._answer(500, json.dumps(body).encode())
                elif stub.fault == "cut-short":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"result": [')
                    self.close_connection = True
                elif stub.fault == "later-batch-fails":
                    ok = stub.posts < 3
                    self._answer(200 if ok else 503, json.dumps({"result": decisions} if ok else {"message": "overloaded"}).encode())

        self._listen(Handler)
