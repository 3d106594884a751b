"""Where hitl finds its policies, profiles and tools: environment first, then what hitl ships.

hitl ships its policies and profiles in two layouts: in a source checkout (and an editable install of one)
they are the checkout's `rego/` and `org_profiles/`; an installed wheel carries them as package data,
`hitl_cli/policies` and `hitl_cli/profiles` (pyproject.toml maps the folders). Only the package's own
location decides which: never the working directory.
"""

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _installed() -> bool:
    return (PACKAGE / "policies").is_dir()


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else default


def rego_dir() -> Path:
    return _from_env("HITL_REGO_DIR", PACKAGE / "policies" if _installed() else CHECKOUT / "rego")


def profiles_dir() -> Path:
    return _from_env("HITL_PROFILES_DIR", PACKAGE / "profiles" if _installed() else CHECKOUT / "org_profiles")


def tools_bin_dir() -> Path | None:
    """The checkout's own tools (`make setup` builds the pinned OPA there); an installed hitl has none."""
    return None if _installed() else CHECKOUT / ".tools" / "bin"
