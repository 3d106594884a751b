"""What every hitl command shares: the fault guard and the common options."""

import functools
from collections.abc import Iterable
from enum import Enum
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from hitl_cli import policy_set, settings
from hitl_cli.engine.patterns import uncompilable
from hitl_cli.errors import ExitCode, HitlError, InvalidInput, Problem, UsageError
from hitl_cli.inputs import load_profiles, profile_path
from hitl_cli.models import Profile
from hitl_cli.output import silence_stdout, warn
from hitl_cli.program import CLOSED_PIPE, INTERRUPTED, INTERRUPTED_LINE, resume_collection


ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", envvar=settings.PROFILE, help="A profile name in org_profiles/, or a path to a profile file."
    ),
]
TrackRecordOption = Annotated[
    Optional[Path],
    typer.Option("--track-record", exists=True, dir_okay=False, help="What the platform measured about each agent."),
]
OpaUrlOption = Annotated[
    Optional[str],
    typer.Option("--opa-url", help="Use a running OPA (serving a hitl bundle) instead of starting one. [env: HITL_OPA_URL]"),
]
OpaTokenFileOption = Annotated[
    Optional[Path],
    typer.Option(
        "--opa-token-file", dir_okay=False,
        help="A file holding the bearer token for --opa-url (or set HITL_OPA_TOKEN; never the token itself here).",
    ),
]
OpaCaFileOption = Annotated[
    Optional[Path],
    typer.Option(
        "--opa-ca-file", dir_okay=False, help="Verify an https --opa-url against this CA certificate file. [env: HITL_OPA_CA_FILE]"
    ),
]
InputPaths = Annotated[list[Path], typer.Argument(exists=True, help="Manifest files, or folders walked recursively.")]
StateOption = Annotated[
    Optional[str],
    typer.Option(
        "--state", envvar=settings.STATE,
        help="The state store: a SQLite file (.hitl/state.db by default) or a postgresql:// URL.",
    ),
]

PolicyOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--policy", file_okay=False, callback=policy_set.choose,
        help="An organisation policy folder (rules hitl.rules.<name>) beside hitl's own; repeatable. "
        "[env: HITL_POLICY_PATH, folders separated by the system's path separator]",
    ),
]

CalibrationOption = Annotated[
    Optional[Path],
    typer.Option(
        "--calibration", exists=True, dir_okay=False,
        help="The calibration data to load (hitl calibrate writes it beside the state store); none by default.",
    ),
]


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """The choices of an option, as typer takes them (an Enum whose members are the values)."""
    return Enum(name, {value: value for value in values}, type=str)


def guarded(command):
    """Faults become one line on stderr and their documented exit code, never a traceback. The command's own
    work collects its garbage (hitl_cli.program): a caught exception is a cycle, and a command that loops over
    them (deliver --watch retrying a dead channel, serve) would otherwise grow without bound."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        resume_collection()
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except InvalidInput as error:  # each problem is already a `file: field.path: message` line
            for problem in error.problems:
                warn(str(problem))
            raise typer.Exit(error.exit_code) from None
        except HitlError as error:
            warn(f"hitl: {error}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            warn(INTERRUPTED_LINE)
            raise typer.Exit(INTERRUPTED) from None
        except BrokenPipeError:  # the reader went away (`hitl check | head -1`): nothing more to say to anyone
            silence_stdout()
            raise typer.Exit(CLOSED_PIPE) from None
        except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
            if settings.debug():
                raise
            warn(f"hitl: internal error: {type(error).__name__}: {error} (HITL_DEBUG=1 shows the traceback)")
            raise typer.Exit(ExitCode.ENGINE_FAILURE) from None

    return run


def valid_profiles(references: list[str], enforce_floor: bool = True) -> tuple[list[tuple[Path, Profile]], bool]:
    """Each referenced profile that validates; the problems of the rest go to stderr (the flag says any did).
    Profiles whose destructive patterns OPA (RE2) cannot compile are refused too."""
    loaded, problems = load_profiles([profile_path(reference) for reference in references], enforce_floor)
    valid = []
    for path, profile in loaded:
        rejected = uncompilable([rule.pattern for rule in profile.destructive_statements])
        problems += [Problem(str(path), f"destructive_statements[{index}].pattern", "OPA (RE2) cannot compile it")
                     for index in rejected]
        if not rejected:
            valid.append((path, profile))
    for problem in problems:
        warn(str(problem))
    return valid, bool(problems)


def report_destinations(console: tuple[str, Path | None], specs: list[str], formats: dict) -> list[tuple[str, Path | None]]:
    """Every report of one run: the console's (--format, --output) and each `--report FORMAT=FILE`, checked
    before anything runs. No two reports share a file."""
    destinations = [console]
    _require_writable_place(console[1])
    for spec in specs:
        chosen, separator, file = spec.partition("=")
        if not separator or not file:
            raise UsageError(f"--report {spec!r}: expected FORMAT=FILE, e.g. sarif=hitl.sarif")
        if chosen not in formats:
            raise UsageError(f"--report {spec!r}: unknown format {chosen!r} (one of {', '.join(formats)})")
        if any(taken is not None and Path(file).resolve() == taken.resolve() for _, taken in destinations):
            raise UsageError(f"--report {spec!r}: {file} is already the destination of another report")
        _require_writable_place(Path(file))
        destinations.append((chosen, Path(file)))
    return destinations


def _require_writable_place(destination: Path | None) -> None:
    """A report's file must be able to exist: its folder is there, and it is not a folder itself."""
    if destination is None:
        return
    folder = Path(os.path.dirname(destination) or ".")
    if not folder.is_dir() or destination.is_dir():
        raise UsageError(f"cannot write {destination}: {'it is a folder' if destination.is_dir() else f'no folder {folder}'}")
