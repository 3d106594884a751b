"""Asking OPA, the engine that evaluates the profile's destructive patterns, which of them it cannot compile.

Python's `re` and OPA's RE2 disagree (lookarounds, backreferences, `\\z`), so only OPA can say.
"""

import json
import subprocess

from hitl_cli import settings
from hitl_cli.engine.binary import find_opa, run_child
from hitl_cli.errors import EngineError

_QUERY = "[i | some i, pattern in input; not regex.is_valid(pattern)]"


def uncompilable(patterns: list[str]) -> list[int]:
    """Indices of the patterns OPA's regex.is_valid rejects."""
    if not patterns:
        return []
    command = [str(find_opa()), "eval", "--stdin-input", "--format", "json", _QUERY]
    try:
        ran = run_child(command, settings.opa_request_timeout(), input=json.dumps(patterns))
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineError(f"OPA could not check the destructive patterns: {error}") from None
    try:
        indices = json.loads(ran.stdout)["result"][0]["expressions"][0]["value"]
    except (ValueError, KeyError, IndexError, TypeError):
        message = " ".join(ran.stderr.split())[:200] or f"exit {ran.returncode}"
        raise EngineError(f"OPA could not check the destructive patterns: {message}") from None
    return sorted(indices)
