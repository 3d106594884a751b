"""Red team on the size of a request body: hitl serve read any body whole before deciding anything, so one request
could hold as much of the server's memory as it liked. A body is now held to the limit of an input file
(HITL_MAX_FILE_BYTES): refused with hitl's fault body (413, exit code 4) before it is read whole, whether it declares
its length or not, and the server goes on deciding."""

import pytest
import requests

from conftest import make_manifest
from served_hitl import TOKEN, Service

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

LIMIT = 64 * 1024
REFUSED = {"error": f"invalid input: the request body is larger than HITL_MAX_FILE_BYTES ({LIMIT} bytes)",
           "exit_code": 4, "problems": []}
AUTHORISED = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(opa_bin, tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("serve-body-limit"), env={"HITL_MAX_FILE_BYTES": str(LIMIT)})
    yield service
    service.stop()


def _padded(size: int) -> bytes:
    """A body of `size` bytes: one manifest, then spaces (valid JSON all the way)."""
    body = b'{"manifests": [%s]}' % requests.models.complexjson.dumps(make_manifest(id="padded")).encode()
    return body + b" " * (size - len(body))


def _peak_resident_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _decides(served) -> None:
    answer = served.call("POST", "/v1/decisions", json={"manifests": [make_manifest(id="after")]})
    assert answer.status_code == 200 and answer.json()["decisions"][0]["id"] == "after", answer.text


@pytest.mark.parametrize("route", ["/v1/decisions", "/v1/requests"])
def test_a_body_just_over_the_limit_is_refused_with_the_fault_body(served, route):
    assert requests.post(served.url + route, data=_padded(LIMIT), headers=AUTHORISED, timeout=60).status_code == 200
    answer = requests.post(served.url + route, data=_padded(LIMIT + 1), headers=AUTHORISED, timeout=60)
    assert (answer.status_code, answer.json()) == (413, REFUSED)
    _decides(served)


def test_a_body_without_a_length_is_refused_once_it_passes_the_limit_not_read_to_its_end(served):
    """50 MB sent in chunks (no Content-Length) to a server whose limit is 64 KiB: refused, and the server's peak
    memory does not grow by anything like the body."""
    peak = _peak_resident_kb(served.process.pid)

    def chunks():
        yield b'{"manifests": ['
        for _ in range(50 * 1024):
            yield b" " * 1024

    try:
        answer = requests.post(served.url + "/v1/decisions", data=chunks(), headers=AUTHORISED, timeout=60)
    except requests.ConnectionError:  # the server answered and closed while the client was still sending
        answer = None
    if answer is not None:
        assert (answer.status_code, answer.json()) == (413, REFUSED)
    assert _peak_resident_kb(served.process.pid) - peak < 20 * 1024
    _decides(served)


def test_a_declared_length_over_the_limit_is_refused_before_any_token_or_body_is_read(served):
    answer = requests.post(served.url + "/v1/decisions", data=_padded(LIMIT + 1), timeout=60,
                           headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()) == (413, REFUSED)
