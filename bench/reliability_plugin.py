"""pytest plugin for `make bench`: writes the reliability tests' figures to bench/out/reliability.json.

    PYTHONPATH=bench .venv/bin/python -m pytest -p reliability_plugin tests/test_fuzz.py ...
    PYTHONPATH=bench scripts/with-postgres .venv/bin/python -m pytest -p reliability_plugin -n auto tests  # make bench

Inputs tried come from the tests' own tallies (tests/reliability.py); faults injected are the fault-injection
tests that passed (each injects one fault and checks hitl failed closed); records lost come from the store
fault tests, which compare the store before and after each fault. Attacks are the tests marked `attack` (each
tries one way past the gate against a real OPA or store): tried is how many ran, got through how many failed.
Run over the whole tests folder, it keeps only the reliability files and the attack tests.
"""

import json
from pathlib import Path

import pytest

OUT = Path(__file__).resolve().parent / "out" / "reliability.json"
FAULT_FILES = {
    "engine": ("test_faults.py", "test_engine_faults.py"),
    "state store": ("test_store_faults.py", "test_crash.py"),
}
RELIABILITY_FILES = {"test_fuzz.py", "test_hostile_input.py", *(name for files in FAULT_FILES.values() for name in files)}
_passed: dict[str, int] = {}
_attacks = {"tried": 0, "got through": 0}
_worker_figures: list[dict[str, int]] = []


def _file_name(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(config, items):
    kept = [item for item in items if _file_name(item.nodeid) in RELIABILITY_FILES or item.get_closest_marker("attack")]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def pytest_runtest_logreport(report):
    if report.when == "call" and "attack" in report.keywords:
        _attacks["tried"] += 1
        _attacks["got through"] += report.failed
    if report.when != "call" or not report.passed:
        return
    file_name = _file_name(report.nodeid)
    for kind, files in FAULT_FILES.items():
        if file_name in files:
            _passed[kind] = _passed.get(kind, 0) + 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: a worker's tallies of inputs tried, summed into the controller's when the session ends."""
    _worker_figures.append(getattr(node, "workeroutput", {}).get("reliability_figures", {}))


def pytest_sessionfinish(session, exitstatus):
    from reliability import FIGURES, tally  # tests/reliability.py: the tests' folder is on sys.path by then

    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: its tallies go to the controller
        session.config.workeroutput["reliability_figures"] = dict(FIGURES)
        return
    for tallies in _worker_figures:
        for name, value in tallies.items():
            tally(name, value)
    figures = dict(sorted(FIGURES.items()))
    for kind in FAULT_FILES:
        figures[f"faults injected ({kind}), each failing closed"] = _passed.get(kind, 0)
    figures.setdefault("store records lost", 0)
    figures["attacks tried (tests marked attack)"] = _attacks["tried"]
    figures["attacks that got through"] = _attacks["got through"]
    figures["reliability tests failed"] = session.testsfailed
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
