"""Engine settings from the environment (operational knobs, not policy): read when used, validated."""

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
    if value is None or value <= 0:
        raise UsageError(f"{variable}={raw!r}: expected a positive {'integer' if kind is int else 'number'}")
    return value


def opa_request_timeout() -> float:
    """Seconds to wait for one OPA answer before failing closed."""
    return _positive("HITL_OPA_TIMEOUT", 60.0)


def opa_start_timeout() -> float:
    """Seconds a locally started OPA has to become healthy."""
    return _positive("HITL_OPA_START_TIMEOUT", 20.0)


def opa_batch_size() -> int:
    """Manifests decided per OPA request."""
    return _positive("HITL_OPA_BATCH_SIZE", 5000, int)


def state_busy_timeout() -> float:
    """Seconds to wait for another process's write to the state store before failing."""
    return _positive("HITL_STATE_TIMEOUT", 30.0)
