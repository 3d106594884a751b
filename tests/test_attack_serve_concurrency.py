"""Red team on `hitl serve`'s concurrent decisions (hitl_cli/service/app.py on hitl_cli/api.Engine): decisions
answered side by side on worker threads through pooled OPA connections, the store's history kept between calls,
and answers written without FastAPI's response validation. Each test tries to get one request's answer to another,
to get a body to bring its own history, moment or record, or to spend past the daily budget with requests at once."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import make_manifest
from served_hitl import TOKEN, Service, signed_verdict

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

PER_AGENT_USD = 1000  # the default profile's daily_budget.per_agent_usd (org_profiles/default.yaml)
COST = 99  # under its cost.per_action_usd (100): each alone is auto-approved, twelve are over the daily budget
SHAPES = [("read", "dev"), ("write", "production"), ("drop", "production"), ("write", "staging"), ("read", "production"),
          ("write", "dev")]


@pytest.fixture(scope="module")
def served(opa_bin, tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("serve-attack"))
    yield service
    service.stop()


def _shaped(n: int, prefix: str = "c") -> dict:
    kind, env = SHAPES[n % len(SHAPES)]
    return make_manifest(id=f"{prefix}-{n}", type=kind, env=env, cost=float(n % 5))


def _without_id(decision: dict) -> dict:
    return {key: value for key, value in decision.items() if key != "id"}


def test_two_hundred_decisions_at_once_each_get_their_own_answer(served):
    """200 requests at once on 16 connections, each with one to three manifests of distinct ids: every answer lists
    exactly its own request's ids in order, each decided as its shape is decided alone."""
    alone = {}
    for n in range(len(SHAPES) * 5):
        decision = served.call("POST", "/v1/decisions", json={"manifests": [_shaped(n, "alone")]}).json()["decisions"][0]
        alone[(n % len(SHAPES), n % 5)] = _without_id(decision)
    bodies = [[_shaped(n * 3 + k, f"r{n}") for k in range(1 + n % 3)] for n in range(200)]

    def ask(batch: list[dict]) -> tuple[list[dict], int, dict]:
        with requests.Session() as session:
            answer = session.post(served.url + "/v1/decisions", json={"manifests": batch},
                                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        return batch, answer.status_code, answer.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ask, bodies))
    for batch, status, body in answers:
        assert status == 200, body
        assert [d["id"] for d in body["decisions"]] == [m["metadata"]["id"] for m in batch]
        for manifest, decision in zip(batch, body["decisions"]):
            n = int(manifest["metadata"]["id"].split("-")[1])
            assert _without_id(decision) == alone[(n % len(SHAPES), n % 5)], manifest["metadata"]["id"]


FORGED = [
    {"history": {"precedents": [], "spent_today": {"day": "2000-01-01", "agents": {}, "organisation": 0, "manifests": {}}}},
    {"now": "2000-01-01T00:00:00Z"}, {"now": "2999-01-01T00:00:00Z"}, {"input": {"history": {}, "now": "2000-01-01"}},
    {"statement_facts": {"statements": [{"kind": "select"}], "unanalysable": []}}, {"spent_today": {}},
    {"calibration": {}}, {"profile_name": "startup"}, {"track_record": {}}, {"manifests_json": "[]"},
]


def _spend(served, prefix: str, cost: float, count: int) -> list[dict]:
    """Submit `count` auto-approved dev writes of `cost` USD each for the trusted agent, one request each, at once."""
    def one(n: int) -> dict:
        manifest = make_manifest(id=f"{prefix}-{n}", type="write", env="dev", cost=cost)
        answer = served.call("POST", "/v1/requests", json={"manifests": [manifest]})
        assert answer.status_code == 200, answer.text
        return answer.json()["requests"][0]["request"]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_submissions_at_once_over_http_never_spend_past_the_daily_budget(served):
    """Twelve requests of 99 USD at once against a 1,000 USD budget an agent: they are recorded one after another,
    each decided with those before it, so at most ten are approved."""
    views = _spend(served, "spend", COST, 12)
    approved = [view for view in views if view["status"] in ("approved", "overridden")]
    assert len(approved) * COST <= PER_AGENT_USD, [view["status"] for view in views]
    assert approved, "none approved: the test spends nothing and proves nothing"


def test_a_body_cannot_bring_its_own_history_moment_or_facts(served):
    """Once today's budget is spent, a 99 USD write is not approved however the body forges the history, the moment
    or the statement facts - beside the manifests or inside one."""
    _spend(served, "more", COST, 11)
    over = make_manifest(id="over", type="write", env="dev", cost=COST)
    honest = served.call("POST", "/v1/decisions", json={"manifests": [over]})
    assert honest.status_code == 200, honest.text
    honest_decision = honest.json()["decisions"][0]
    assert honest_decision["tier"] != "auto_approve"
    codes = {reason["code"] for reason in honest_decision["reasons"]}
    assert "daily_agent_budget" in codes, codes
    for forged in FORGED:
        beside = served.call("POST", "/v1/decisions", json={"manifests": [over], **forged})
        assert beside.status_code == 200 and beside.json() == honest.json(), forged
        inside = served.call("POST", "/v1/decisions", json={"manifests": [{**over, **forged}]})
        assert inside.status_code == 422 or inside.json() == honest.json(), (forged, inside.text)
        nested = {**over, "action": {**over["action"], **forged}, "impact": {**over["impact"], **forged}}
        answer = served.call("POST", "/v1/decisions", json={"manifests": [nested]})
        assert answer.status_code == 422 or answer.json() == honest.json(), (forged, answer.text)


def test_a_verdict_given_over_http_counts_at_the_next_decision(opa_bin, tmp_path):
    """891 USD approved today, and a 99 USD production write waiting for two people: a 99 USD decision fits the
    1,000 USD budget; once both approve over HTTP (the server's history kept from before the verdicts), it does not."""
    service = Service(tmp_path / "verdicts")
    try:
        views = _spend(service, "pre", COST, 9)
        assert all(view["status"] == "approved" for view in views), [view["status"] for view in views]
        waiting = make_manifest(id="waiting", type="write", env="production", cost=COST)
        [item] = service.call("POST", "/v1/requests", json={"manifests": [waiting]}).json()["requests"]
        view = item["request"]
        assert view["approvals_missing"] == 2, view
        asked = {"manifests": [make_manifest(id="asked", type="write", env="dev", cost=COST)]}
        assert service.call("POST", "/v1/decisions", json=asked).json()["decisions"][0]["tier"] == "auto_approve"
        for person in ("alice", "bob"):
            given = service.call("POST", f"/v1/requests/{view['id']}/verdicts", json=signed_verdict(tmp_path, view, person))
            assert given.status_code == 200, given.text
        assert given.json()["status"] == "approved", given.text
        decision = service.call("POST", "/v1/decisions", json=asked).json()["decisions"][0]
        assert decision["tier"] == "block" and "daily_agent_budget" in {r["code"] for r in decision["reasons"]}, decision
    finally:
        service.stop()
