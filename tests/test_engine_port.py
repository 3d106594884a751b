"""The run's own OPA is the one hitl asks. hitl picks a free loopback port and then starts OPA on it; another
process can take the port in between (two CI jobs on one runner). hitl must then start its OPA on another port,
and never take the other server, which answers health checks too, for its own. The race is injected from inside
the test process by making hitl's port choice return a port a real foreign OPA already listens on."""

import subprocess

import pytest

from conftest import Policy, make_manifest, wait_until_healthy
from hitl_cli.engine import policy_engine, server
from hitl_cli.inputs import load_all_profiles

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)


@pytest.fixture
def foreign_opa(opa_bin, tmp_path):
    """A real OPA of someone else's on a loopback port: healthy, serving no hitl policy, asking no token."""
    port = server.free_loopback_port()
    process = subprocess.Popen([opa_bin, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_healthy(f"http://127.0.0.1:{port}", process, "the foreign OPA")
    yield port
    process.kill()
    process.wait()


def test_a_server_holding_the_chosen_port_is_never_taken_for_the_runs_own(foreign_opa, monkeypatch):
    chosen = iter([foreign_opa])
    real_choice = server.free_loopback_port
    monkeypatch.setattr(server, "free_loopback_port", lambda: next(chosen, None) or real_choice())
    with policy_engine(load_all_profiles(), None) as client:
        assert not client.url.endswith(f":{foreign_opa}")
        decision = Policy(client).decide("default", make_manifest(type="drop", env="production",
                                                                  statement="DROP TABLE analytics.orders"))
    assert decision.tier == "block"


def test_a_port_taken_at_every_try_fails_closed_naming_it(foreign_opa, monkeypatch):
    monkeypatch.setattr(server, "free_loopback_port", lambda: foreign_opa)
    with pytest.raises(server.EngineError, match=f"OPA could not listen on 127.0.0.1:{foreign_opa}: the port is taken"):
        with policy_engine(load_all_profiles(), None):
            pass
