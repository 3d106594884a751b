"""The `hitl` command: parse the command line, call the core, render, exit with the documented code."""

import functools
import os
import signal
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hitl_cli import __version__
from hitl_cli.documents import input_files
from hitl_cli.engine import opa_url_from
from hitl_cli.errors import ExitCode, HitlError
from hitl_cli.evaluation import RunResult, run_evaluation
from hitl_cli.output import emit, warn
from hitl_cli.reporters import CHECK_FORMATS, EVALUATE_FORMATS

INTERRUPTED = 130

app = typer.Typer(
    name="hitl",
    help="Decide how much human involvement an AI data agent's next action needs, from policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EvaluateFormat = Enum("EvaluateFormat", {name: name for name in EVALUATE_FORMATS}, type=str)
CheckFormat = Enum("CheckFormat", {name: name for name in CHECK_FORMATS}, type=str)

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


def _report_problems(result: RunResult) -> None:
    for problem in result.problems:
        warn(str(problem))


def _evaluate(paths: list[Path], profile: str, track_record: Path | None, opa_url: str | None) -> RunResult:
    result = run_evaluation(input_files(paths), profile, track_record, opa_url_from(opa_url))
    _report_problems(result)
    return result


@app.command()
@guarded
def evaluate(
    manifests: InputPaths,
    profile: ProfileOption,
    track_record: TrackRecordOption = None,
    format: Annotated[EvaluateFormat, typer.Option("--format", "-f")] = "table",
    opa_url: OpaUrlOption = None,
) -> None:
    """Decide each action manifest and show the tier, approvals, delivery and every reason."""
    result = _evaluate(manifests, profile, track_record, opa_url)
    emit(EVALUATE_FORMATS[EvaluateFormat(format).value](result), None)
    raise typer.Exit(result.evaluate_exit_code())


@app.command()
@guarded
def check(
    paths: InputPaths,
    profile: ProfileOption,
    track_record: TrackRecordOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = "text",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Write the report here.")] = None,
    opa_url: OpaUrlOption = None,
) -> None:
    """Gate a plan in CI: exit 0 only when every action may run now (see the exit codes in the README)."""
    result = _evaluate(paths, profile, track_record, opa_url)
    emit(CHECK_FORMATS[CheckFormat(format).value](result), output)
    raise typer.Exit(result.check_exit_code())


def _version(value: bool) -> None:
    if value:
        print(f"hitl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """hitl — policy-as-code oversight for AI data agents."""


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point: SIGTERM unwinds like Ctrl-C, so a local OPA is always stopped."""
    signal.signal(signal.SIGTERM, _terminate)
    app()
