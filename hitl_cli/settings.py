"""Every HITL_* environment variable hitl reads: read here and only here, validated, each listed in VARIABLES.

They are operational knobs and places (where OPA, the policies, the store are; how long to wait; how large an
input may be), never policy. Each is read when used; an empty one counts as unset. docs/cli.md ("Environment
variables") documents them, and tests/test_settings.py keeps that table and VARIABLES the same.
"""

import math
import os
from pathlib import Path

from hitl_cli.errors import UsageError


VARIABLES: dict[str, str | int] = {}  # each variable's default: a number for the numeric ones, else as documented


def _variable(name: str, default: str | int = "—") -> str:
    VARIABLES[name] = default
    return name


def turn_off_pydantic_plugins() -> None:
    """The hitl command's models are validated by pydantic alone: pydantic would run, inside every validation,
    each plugin an installed package declares (and find them by reading every installed package's metadata)."""
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"


# Defaults of command-line options: the option declarations name these, and typer reads them.
PROFILE = _variable("HITL_PROFILE")
STATE = _variable("HITL_STATE", "`.hitl/state.db`")
# Where OPA, the policies and the profiles are, and how to reach a remote OPA.
OPA_URL = _variable("HITL_OPA_URL")
OPA_TOKEN = _variable("HITL_OPA_TOKEN")
SERVE_TOKEN = _variable("HITL_SERVE_TOKEN")
OPA_CA_FILE = _variable("HITL_OPA_CA_FILE")
OPA_BIN = _variable("HITL_OPA_BIN", "`.tools/bin/opa`, then `PATH`")
REGO_DIR = _variable("HITL_REGO_DIR", "the checkout's `rego/`")
PROFILES_DIR = _variable("HITL_PROFILES_DIR", "the checkout's `org_profiles/`")
POLICY_PATH = _variable("HITL_POLICY_PATH", "none: only hitl's own policies")
# How long to wait, and how much to send at once.
OPA_TIMEOUT = _variable("HITL_OPA_TIMEOUT", 60)
OPA_START_TIMEOUT = _variable("HITL_OPA_START_TIMEOUT", 20)
OPA_BATCH_SIZE = _variable("HITL_OPA_BATCH_SIZE", 250)
OPA_REQUESTS = _variable("HITL_OPA_REQUESTS", 2)
STATE_TIMEOUT = _variable("HITL_STATE_TIMEOUT", 30)
# The bounds of every input file (docs/manifest.md, "Limits").
MAX_FILE_BYTES = _variable("HITL_MAX_FILE_BYTES", 33554432)
MAX_DOCUMENTS_PER_FILE = _variable("HITL_MAX_DOCUMENTS_PER_FILE", 10000)
MAX_VALUES_PER_FILE = _variable("HITL_MAX_VALUES_PER_FILE", 250000)
MAX_NESTING_DEPTH = _variable("HITL_MAX_NESTING_DEPTH", 64)
MAX_EXPANDED_NODES = _variable("HITL_MAX_EXPANDED_NODES", 1000000)
MAX_PROBLEMS_PER_FILE = _variable("HITL_MAX_PROBLEMS_PER_FILE", 100)
DEBUG = _variable("HITL_DEBUG")


def _text(variable: str) -> str | None:
    return os.environ.get(variable) or None


def _positive(variable: str, kind=float):
    raw = _text(variable)
    if raw is None:
        return kind(VARIABLES[variable])
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{variable}={raw!r}: expected a positive {'integer' if kind is int else 'number'}")
    return value


def _path(variable: str) -> Path | None:
    raw = _text(variable)
    return Path(raw) if raw is not None else None


def opa_url() -> str | None:
    return _text(OPA_URL)


def opa_token() -> str | None:
    """Validated where it is used (hitl_cli.engine.endpoint), since a token file is checked the same way."""
    return _text(OPA_TOKEN)


def serve_token() -> str | None:
    """The token `hitl serve` requires of its clients; validated where it is used (hitl_cli.engine.access)."""
    return _text(SERVE_TOKEN)


def opa_ca_file() -> Path | None:
    return _path(OPA_CA_FILE)


def opa_bin() -> Path | None:
    return _path(OPA_BIN)


def rego_dir() -> Path | None:
    return _path(REGO_DIR)


def profiles_dir() -> Path | None:
    return _path(PROFILES_DIR)


def policy_path() -> list[Path]:
    """Organisation policy folders, separated by the system's path separator (os.pathsep)."""
    return [Path(entry) for entry in (_text(POLICY_PATH) or "").split(os.pathsep) if entry]


def debug() -> bool:
    return _text(DEBUG) is not None


def opa_request_timeout() -> float:
    """Seconds to wait for one OPA answer before failing closed."""
    return _positive(OPA_TIMEOUT)


def opa_start_timeout() -> float:
    """Seconds a locally started OPA has to become healthy."""
    return _positive(OPA_START_TIMEOUT)


def opa_batch_size() -> int:
    """Manifests decided per OPA request (OPA's time per manifest is the same from a few hundred up; smaller
    batches let the first request start while later files are still being read)."""
    return _positive(OPA_BATCH_SIZE, int)


def opa_requests() -> int:
    """Batches in flight at once: a large run waits on OPA, which evaluates each request on a core of its own."""
    return _positive(OPA_REQUESTS, int)


def state_busy_timeout() -> float:
    """Seconds to wait for another process's write to the state store before failing."""
    return _positive(STATE_TIMEOUT)


def max_file_bytes() -> int:
    """Largest input file (manifests, profile, track record) hitl reads; a larger one is an invalid input."""
    return _positive(MAX_FILE_BYTES, int)


def max_documents_per_file() -> int:
    """Most documents (YAML documents, elements of a top-level JSON array) one input file may hold; a file with
    more is refused whole before they are built, so a small file of many empty documents cannot exhaust memory."""
    return _positive(MAX_DOCUMENTS_PER_FILE, int)


def max_values_per_file() -> int:
    """Most values one input file may hold (in YAML every mapping, list and scalar; in JSON every mapping and
    list), counted before any is built: what keeps a file within the size limit under 512 MB of memory."""
    return _positive(MAX_VALUES_PER_FILE, int)


def max_problems_per_file() -> int:
    """Most problems reported for one input file; the rest are counted in one last line."""
    return _positive(MAX_PROBLEMS_PER_FILE, int)


def max_nesting_depth() -> int:
    """Deepest nesting of mappings and lists an input document may have."""
    return _positive(MAX_NESTING_DEPTH, int)


def max_expanded_nodes() -> int:
    """Largest number of values a profile or track record may expand to through YAML aliases (manifests have none)."""
    return _positive(MAX_EXPANDED_NODES, int)
