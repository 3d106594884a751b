"""What every hitl command shares: the fault guard and the common options."""

import functools
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from hitl_cli.engine.patterns import uncompilable
from hitl_cli.errors import ExitCode, HitlError, InvalidInput, Problem
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.models import Profile
from hitl_cli.output import warn

INTERRUPTED = 130

ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", envvar="HITL_PROFILE", help="A profile name in org_profiles/, or a path to a profile file."
    ),
]
TrackRecordOption = Annotated[
    Optional[Path],
    typer.Option("--track-record", exists=True, dir_okay=False, help="What the platform measured about each agent."),
]
OpaUrlOption = Annotated[
    Optional[str],
    typer.Option("--opa-url", help="Use a running OPA (hitl serve) instead of starting one. [env: HITL_OPA_URL]"),
]
InputPaths = Annotated[list[Path], typer.Argument(exists=True, help="Manifest files, or folders walked recursively.")]
StateOption = Annotated[
    Optional[Path],
    typer.Option(
        "--state", envvar="HITL_STATE", dir_okay=False, help="The state store (SQLite), .hitl/state.db by default."
    ),
]


def guarded(command):
    """Faults become one line on stderr and their documented exit code, never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except HitlError as error:
            warn(f"hitl: {error}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            warn("hitl: interrupted; nothing was decided")
            raise typer.Exit(INTERRUPTED) from None
        except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
            if os.environ.get("HITL_DEBUG"):
                raise
            warn(f"hitl: internal error: {type(error).__name__}: {error} (HITL_DEBUG=1 shows the traceback)")
            raise typer.Exit(ExitCode.ENGINE_FAILURE) from None

    return run


def valid_profiles(references: list[str]) -> tuple[list[tuple[Path, Profile]], bool]:
    """Each referenced profile that validates; the problems of the rest go to stderr (the flag says any did)."""
    valid, invalid = [], False
    for reference in references:
        path = profile_path(reference)
        try:
            loaded = load_profile(path)
        except InvalidInput as error:
            invalid = True
            for problem in error.problems:
                warn(str(problem))
            continue
        rejected = uncompilable([rule.pattern for rule in loaded.destructive_statements])
        for index in rejected:
            warn(str(Problem(str(path), f"destructive_statements[{index}].pattern", "OPA (RE2) cannot compile it")))
        invalid = invalid or bool(rejected)
        if not rejected:
            valid.append((path, loaded))
    return valid, invalid
