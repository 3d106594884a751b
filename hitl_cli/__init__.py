"""hitl: how much human involvement an AI data agent's next action needs, decided by OPA from policy.

The typed API (hitl_cli.api, docs/api.md): `from hitl_cli import Engine`. Its names are imported when first
used, so the command line does not pay for what it does not need.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hitl_cli.api import Engine
    from hitl_cli.errors import (
        AuditBroken, EngineError, ExitCode, HitlError, InvalidInput, NotFound, Problem, Refused, StoreError, UsageError,
    )
    from hitl_cli.evaluation import RunResult
    from hitl_cli.models import ActionManifest, Decision
    from hitl_cli.workflow.submission import SubmitResult
    from hitl_cli.workflow.views import RequestView

_EXPORTS = {
    "Engine": "hitl_cli.api",
    "RunResult": "hitl_cli.evaluation",
    "SubmitResult": "hitl_cli.workflow.submission",
    "RequestView": "hitl_cli.workflow.views",
    "ActionManifest": "hitl_cli.models",
    "Decision": "hitl_cli.models",
    **{
        name: "hitl_cli.errors"
        for name in (
            "AuditBroken", "EngineError", "ExitCode", "HitlError", "InvalidInput", "NotFound", "Problem", "Refused",
            "StoreError", "UsageError",
        )
    },
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hitl_cli' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
