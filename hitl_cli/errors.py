"""Errors hitl reports, each as one line, each with the exit code of spec/cli.md."""

from dataclasses import dataclass
from enum import IntEnum

from hitl_cli.escaping import visible


class ExitCode(IntEnum):
    OK = 0
    NEEDS_HUMAN = 1
    USAGE = 2
    BLOCKED = 3
    INVALID_INPUT = 4
    ENGINE_FAILURE = 5
    REFUSED = 6
    NOT_FOUND = 7
    TAMPERED = 8


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: rendered as `source: field.path: message`."""

    source: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{visible(self.source)}: {visible(self.path or '(document)')}: {visible(self.message)}"


class HitlError(Exception):
    """A fault that stops the run; its message is the one line the user sees."""

    exit_code = ExitCode.USAGE


class UsageError(HitlError):
    exit_code = ExitCode.USAGE


class InvalidInput(HitlError):
    """Input that cannot be used at all (a profile, say): every problem in it is listed."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class EngineError(HitlError):
    """The policy engine is missing, failed or answered nonsense: nothing was decided."""

    exit_code = ExitCode.ENGINE_FAILURE


class StoreError(HitlError):
    """The state store is missing where it must exist, locked past the timeout, unreadable or corrupt."""

    exit_code = ExitCode.ENGINE_FAILURE


class Refused(HitlError):
    """A workflow rule refuses what a person asked for (a second approval by the same person, say)."""

    exit_code = ExitCode.REFUSED


class NotFound(HitlError):
    """No request with that id, or no state store yet."""

    exit_code = ExitCode.NOT_FOUND


class AuditBroken(HitlError):
    """The audit trail does not verify: a record was changed, deleted, inserted or reordered."""

    exit_code = ExitCode.TAMPERED
