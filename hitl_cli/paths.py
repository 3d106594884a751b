"""Where hitl finds its policies, profiles and tools: environment first, then the project checkout."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else default


def rego_dir() -> Path:
    return _from_env("HITL_REGO_DIR", PROJECT_ROOT / "rego")


def profiles_dir() -> Path:
    return _from_env("HITL_PROFILES_DIR", PROJECT_ROOT / "org_profiles")


def tools_bin_dir() -> Path:
    return PROJECT_ROOT / ".tools" / "bin"
