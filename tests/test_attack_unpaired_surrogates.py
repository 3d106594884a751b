"""Red team on text that JSON can carry and UTF-8 cannot: an unpaired UTF-16 surrogate (`"\\ud800"`) in a manifest
handed to the Engine as a mapping or to `hitl serve` in a request body (where no file reader stands in the way: the
CLI refuses such a file as invalid JSON/YAML, exit 4). hitl must answer as it answers any invalid manifest - a
problem naming the field - and never with an exception of its own or an HTTP 500 without hitl's fault body."""

import json
from datetime import datetime

import pytest
import requests

from conftest import make_manifest
from served_hitl import TOKEN, Service
from hitl_cli import Engine
from hitl_cli.validation import unpaired_surrogate_field

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

SURROGATE_STATEMENT = make_manifest(id="surrogate", type="read", env="production", statement="SELECT 1;\ud800 DROP TABLE t")
SURROGATE_CONTEXT = make_manifest(id="surrogate", type="read", env="production", context={"why": "\udfff", "rollback": "r"})


@pytest.fixture(scope="module")
def served(opa_bin, tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("serve-surrogates"))
    yield service
    service.stop()


@pytest.mark.parametrize(("hostile", "field"), [(SURROGATE_STATEMENT, "action.statement"), (SURROGATE_CONTEXT, "context.why")])
def test_an_engine_given_an_unpaired_surrogate_reports_a_problem(opa_bin, tmp_path, record, hostile, field):
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        result = engine.decide([hostile, make_manifest(id="fine", type="read", env="dev")])
        assert [item.decision.id for item in result.evaluated] == ["fine"]
        assert any(field in str(problem) for problem in result.problems), result.problems


@pytest.mark.parametrize("route", ["/v1/decisions", "/v1/requests"])
def test_hitl_serve_refuses_an_unpaired_surrogate_with_its_own_fault(served, route):
    body = '{"manifests": [%s]}' % json.dumps(SURROGATE_STATEMENT)  # json.dumps keeps \\ud800 escaped
    answer = requests.post(served.url + route, data=body.encode(), timeout=60,
                           headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code in (400, 422), (answer.status_code, answer.text)
    assert answer.json()["exit_code"] == 4 and any("action.statement" in p for p in answer.json()["problems"])


@pytest.mark.parametrize(("data", "field"), [
    ({"a": [{"b": "fine"}, {"c": "x\ud800"}]}, "a[1].c"),
    ({"a": {"\udc00key": "fine"}}, "a.\udc00key"),
    ({"when": datetime(2026, 12, 2), "why": "\udfff"}, "why"),  # a value json cannot encode: found all the same
    ({"fine": ["text", 1, None, {"ok": True}]}, None),
])
def test_an_unpaired_surrogate_is_found_wherever_it_hides(data, field):
    assert unpaired_surrogate_field(data) == field
