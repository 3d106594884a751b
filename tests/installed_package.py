"""hitl installed from its wheel in a new virtualenv outside the checkout (the `installed` fixture of conftest
builds it once per test session), and the keys the bundle tests sign with: shared by several test modules.

The wheel is built from a copy of the project's files (so the build leaves nothing in the checkout) and
installed without its dependencies, which the new virtualenv takes from the test's own environment through a
.pth line: what is under test is the wheel's content (code, policies, profiles, templates), not the index.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("hitl_cli", "rego", "org_profiles", "pyproject.toml", "setup.py", "README.md")


def _copy_project(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            (target / name).write_bytes(source.read_bytes())
    return target


def install_wheel(root: Path, opa_bin: Path) -> dict:
    """A virtualenv with hitl installed from its wheel, and an environment that knows nothing of the checkout."""
    source = _copy_project(root / "source")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheels, source],
                   check=True, capture_output=True)
    [wheel] = wheels.glob("hitl-*.whl")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel],
                   check=True, capture_output=True)
    purelib = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "dependencies-from-the-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("HITL_") and key != "PYTHONPATH"}
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{opa_bin.parent}{os.pathsep}{env.get('PATH', '')}"
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return {"hitl": environment / "bin" / "hitl", "python": python, "purelib": purelib, "env": env, "cwd": elsewhere}


def run(installed: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([installed["hitl"], *map(str, args)], capture_output=True, text=True,
                          env=installed["env"], cwd=installed["cwd"], timeout=120)


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_file, public_file = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private_file.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_file.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_file, public_file
