"""Where hitl finds its policies, profiles and tools: environment first, then what hitl ships.

hitl ships its policies and profiles in two layouts: in a source checkout (and an editable install of one)
they are the checkout's `rego/` and `org_profiles/`; an installed wheel carries them as package data,
`hitl_cli/policies` and `hitl_cli/profiles` (pyproject.toml maps the folders). Only the package's own
location decides which: never the working directory.
"""

from pathlib import Path

from hitl_cli import settings

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _installed() -> bool:
    return (PACKAGE / "policies").is_dir()


def rego_dir() -> Path:
    return settings.rego_dir() or shipped_rego_dir()


def shipped_rego_dir() -> Path:
    """The policy folder hitl ships (whatever HITL_REGO_DIR says)."""
    return PACKAGE / "policies" if _installed() else CHECKOUT / "rego"


def profiles_dir() -> Path:
    return settings.profiles_dir() or (PACKAGE / "profiles" if _installed() else CHECKOUT / "org_profiles")


def tools_bin_dir() -> Path | None:
    """The checkout's own tools (`make setup` builds the pinned OPA there); an installed hitl has none."""
    return None if _installed() else CHECKOUT / ".tools" / "bin"
