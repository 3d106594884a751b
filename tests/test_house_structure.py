"""House structure that a test can hold: all output through one path (hitl_cli/output.py: emit for reports,
warn for stderr, escaped and written atomically), and a core that decides with what the CLI edge gathered."""

import ast
import re
import subprocess

from conftest import ROOT

PACKAGE = ROOT / "hitl_cli"
WRITERS = re.compile(r"\bprint\(|sys\.(stdout|stderr)\.write|typer\.echo|rich\.print")


def test_nothing_but_output_writes_to_stdout_or_stderr():
    """(The progress line, hitl_cli/progress.py, writes to a terminal's stderr through the stream it is given.)"""
    writing = {
        source.relative_to(PACKAGE).as_posix() for source in PACKAGE.rglob("*.py") if WRITERS.search(source.read_text())
    }
    assert writing == {"output.py"}


def test_the_core_never_opens_the_store_nor_loads_a_profile():
    """hitl_cli/evaluation.py decides with the run context (hitl_cli/run_context.py) it is handed."""
    tree = ast.parse((PACKAGE / "evaluation.py").read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
    }
    forbidden = [name for name in imported if re.search(r"store|policy_history|load_profile|read_track_record|clock", name)]
    assert forbidden == []


def test_no_test_module_imports_another():
    """Shared fixtures and helpers live in conftest.py and the support modules (served_hitl.py, installed_package.py,
    ...): a test module imported by another runs its module fixtures twice and couples unrelated suites."""
    importing = {}
    for source in (ROOT / "tests").rglob("test_*.py"):
        modules = [
            name
            for node in ast.walk(ast.parse(source.read_text()))
            for name in (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
        ]
        found = [module for module in modules if module.split(".")[-1].startswith("test_")]
        if found:
            importing[source.relative_to(ROOT).as_posix()] = found
    assert importing == {}


# Package registries' hosts, spelt in parts so that this file does not name them either.
REGISTRY_HOSTS = [".".join(parts) for parts in (
    ("pypi", "org"), ("files", "pythonhosted", "org"), ("proxy", "golang", "org"), ("registry", "npmjs", "org"),
    ("repo1", "maven", "org"), ("crates", "io"),
)]


def test_no_tracked_file_names_a_package_registry_host():
    """The project installs from whatever index the machine is set up with; it never names one."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    naming = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.is_file():
            text = path.read_bytes().lower()
            naming += [f"{name.decode()}: {host}" for host in REGISTRY_HOSTS if host.encode() in text]
    assert naming == []
