"""Engine settings from the environment (operational knobs, not policy): read when used, validated."""

import math
import os

from hitl_cli.errors import UsageError


def _positive(variable: str, default: float, kind=float):
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{variable}={raw!r}: expected a positive {'integer' if kind is int else 'number'}")
    return value


def opa_request_timeout() -> float:
    """Seconds to wait for one OPA answer before failing closed."""
    return _positive("HITL_OPA_TIMEOUT", 60.0)


def opa_start_timeout() -> float:
    """Seconds a locally started OPA has to become healthy."""
    return _positive("HITL_OPA_START_TIMEOUT", 20.0)


def opa_batch_size() -> int:
    """Manifests decided per OPA request (OPA's time per manifest is the same from a few hundred up; smaller
    batches let the first request start while later files are still being read)."""
    return _positive("HITL_OPA_BATCH_SIZE", 1000, int)


def state_busy_timeout() -> float:
    """Seconds to wait for another process's write to the state store before failing."""
    return _positive("HITL_STATE_TIMEOUT", 30.0)


def max_file_bytes() -> int:
    """Largest input file (manifests, profile, track record) hitl reads; a larger one is an invalid input."""
    return _positive("HITL_MAX_FILE_BYTES", 32 * 1024 * 1024, int)


def max_documents_per_file() -> int:
    """Most documents (YAML documents, elements of a top-level JSON array) one input file may hold; a file with
    more is refused whole before they are built, so a small file of many empty documents cannot exhaust memory."""
    return _positive("HITL_MAX_DOCUMENTS_PER_FILE", 10_000, int)


def max_values_per_file() -> int:
    """Most values one input file may hold (in YAML every mapping, list and scalar; in JSON every mapping and
    list), counted before any is built: what keeps a file within the size limit under 512 MB of memory."""
    return _positive("HITL_MAX_VALUES_PER_FILE", 250_000, int)


def max_problems_per_file() -> int:
    """Most problems reported for one input file; the rest are counted in one last line."""
    return _positive("HITL_MAX_PROBLEMS_PER_FILE", 100, int)


def max_nesting_depth() -> int:
    """Deepest nesting of mappings and lists an input document may have."""
    return _positive("HITL_MAX_NESTING_DEPTH", 64, int)


def max_expanded_nodes() -> int:
    """Largest number of values a profile or track record may expand to through YAML aliases (manifests have none)."""
    return _positive("HITL_MAX_EXPANDED_NODES", 1_000_000, int)
