"""Attack: a package installed beside hitl declares a pydantic plugin, which pydantic would run inside every
validation (it sees, and may rewrite, what a manifest or a profile validates to). The hitl command turns
pydantic's plugins off: the plugin is never loaded. Real CLI, real OPA."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import hitl, make_manifest, write_manifests

pytestmark = pytest.mark.attack

PLUGIN = '''
from pathlib import Path


class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        Path(__import__("os").environ["PLUGIN_MARKER"]).write_text("loaded")
        return None, None, None


plugin = Plugin()
'''


def _install_plugin(folder: Path) -> Path:
    """A distribution on PYTHONPATH whose entry point pydantic looks up; it writes a marker file when run."""
    folder.mkdir()
    (folder / "planted_plugin.py").write_text(PLUGIN)
    metadata = folder / "planted_plugin-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: planted-plugin\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text("[pydantic]\nplanted = planted_plugin:plugin\n")
    return folder


def test_a_pydantic_plugin_installed_beside_hitl_is_never_run(tmp_path, opa_bin):
    site = _install_plugin(tmp_path / "site")
    marker = tmp_path / "marker"
    env = {"PYTHONPATH": str(site), "PLUGIN_MARKER": str(marker)}
    control = subprocess.run(
        [sys.executable, "-c", "import pydantic\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)"],
        env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )
    assert control.returncode == 0 and marker.read_text() == "loaded", control.stderr  # pydantic would run it
    marker.unlink()
    plan = write_manifests(tmp_path, [make_manifest(id="read-1", type="read", env="production")], "plan.yaml")
    result = hitl("evaluate", plan, "--profile", "default", env=env)
    assert result.returncode == 0, result.stderr
    assert "read-1" in result.stdout
    assert not marker.exists()
