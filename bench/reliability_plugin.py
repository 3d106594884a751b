"""pytest plugin for `make bench`: writes the reliability tests' figures to bench/out/reliability.json.

    PYTHONPATH=bench .venv/bin/python -m pytest -p reliability_plugin tests/test_fuzz.py ...

Inputs tried come from the tests' own tallies (tests/reliability.py); faults injected are the fault-injection
tests that passed (each injects one fault and checks hitl failed closed); records lost come from the store
fault tests, which compare the store before and after each fault.
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "reliability.json"
FAULT_FILES = {
    "engine": ("test_faults.py", "test_engine_faults.py"),
    "state store": ("test_store_faults.py", "test_crash.py"),
}
_passed: dict[str, int] = {}


def pytest_runtest_logreport(report):
    if report.when != "call" or not report.passed:
        return
    file_name = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    for kind, files in FAULT_FILES.items():
        if file_name in files:
            _passed[kind] = _passed.get(kind, 0) + 1


def pytest_sessionfinish(session, exitstatus):
    from reliability import FIGURES  # tests/reliability.py: the tests' folder is on sys.path by then

    figures = dict(sorted(FIGURES.items()))
    for kind in FAULT_FILES:
        figures[f"faults injected ({kind}), each failing closed"] = _passed.get(kind, 0)
    figures.setdefault("store records lost", 0)
    figures["reliability tests failed"] = session.testsfailed
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
