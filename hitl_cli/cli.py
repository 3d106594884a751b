"""The `hitl` command: parse the command line, call the core, render, exit with the documented code."""

import signal
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hitl_cli import __version__
from hitl_cli.documents import input_files
from hitl_cli.engine.access import serve_access
from hitl_cli.engine.binary import find_opa, opa_version, supported_opa_version
from hitl_cli.engine.endpoint import OpaEndpoint, remote_endpoint
from hitl_cli.errors import EngineError, ExitCode, InvalidInput, Problem, UsageError
from hitl_cli.escaping import visible
from hitl_cli.inputs import available_profile_files
from hitl_cli.schemas import OPENAPI_FILE, SCHEMA_MODELS, openapi_text, schema_file, schema_text
from hitl_cli.evaluation import RunResult, run_evaluation
from hitl_cli.output import emit, warn
from hitl_cli.progress import Progress
from hitl_cli.reporters import CHECK_FORMATS, EVALUATE_FORMATS
from hitl_cli.cli_common import (
    CalibrationOption, InputPaths, OpaCaFileOption, OpaTokenFileOption, OpaUrlOption, ProfileOption, StateOption,
    TrackRecordOption, guarded, report_destinations, valid_profiles,
)
from hitl_cli.cli_workflow import register as register_workflow
from hitl_cli.cli_delivery import register as register_delivery
from hitl_cli.cli_governance import SigningAlg, register as register_governance
from hitl_cli.cli_learning import register as register_learning
from hitl_cli.store.connection import state_path
from hitl_cli.workflow.gate import honour_store

app = typer.Typer(
    name="hitl",
    help="Decide how much human involvement an AI data agent's next action needs, from policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EvaluateFormat = Enum("EvaluateFormat", {name: name for name in EVALUATE_FORMATS}, type=str)
CheckFormat = Enum("CheckFormat", {name: name for name in CHECK_FORMATS}, type=str)


def _report_problems(result: RunResult) -> None:
    for problem in result.problems:
        warn(str(problem))


def _evaluate(
    paths: list[Path], profile: str, track_record: Path | None, remote: OpaEndpoint | None, state: Path
) -> RunResult:
    files = input_files(paths)
    if not files:
        raise InvalidInput([Problem(str(path), "", "no manifest files here (.yaml, .yml or .json)") for path in paths])
    progress = Progress.on_terminal(len(files))
    try:
        result = run_evaluation(files, profile, track_record, remote, progress, state)
    finally:
        if progress is not None:
            progress.close()
    _report_problems(result)
    if not result.evaluated and not result.manifest_problems:
        raise InvalidInput([Problem(str(path), "", "holds no action manifest") for path in paths])
    return result


@app.command()
@guarded
def evaluate(
    manifests: InputPaths,
    profile: ProfileOption,
    track_record: TrackRecordOption = None,
    format: Annotated[EvaluateFormat, typer.Option("--format", "-f")] = "table",
    opa_url: OpaUrlOption = None,
    opa_token_file: OpaTokenFileOption = None,
    opa_ca_file: OpaCaFileOption = None,
    state: StateOption = None,
) -> None:
    """Decide each action manifest and show the tier, approvals, delivery and every reason.

    When the state store exists, the policy sees its history (precedents, spend approved today); it is only read.
    """
    result = _evaluate(manifests, profile, track_record, remote_endpoint(opa_url, opa_token_file, opa_ca_file), state_path(state))
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
    report: Annotated[
        Optional[list[str]],
        typer.Option("--report", metavar="FORMAT=FILE", help="Also write a report in another format (repeatable)."),
    ] = None,
    opa_url: OpaUrlOption = None,
    opa_token_file: OpaTokenFileOption = None,
    opa_ca_file: OpaCaFileOption = None,
    state: StateOption = None,
) -> None:
    """Gate a plan in CI: exit 0 only when every action may run now (see the exit codes in the README).

    An action whose request in the state store holds every approval it needs (or an override), still
    valid, may run; the store is only read, and only when it exists. Every report comes from the one run:
    `--format`/`--output`, and each `--report sarif=hitl.sarif`.
    """
    reports = report_destinations((CheckFormat(format).value, output), report or [], CHECK_FORMATS)
    remote = remote_endpoint(opa_url, opa_token_file, opa_ca_file)
    result = honour_store(_evaluate(paths, profile, track_record, remote, state_path(state)), profile, state_path(state))
    for chosen, destination in reports:
        emit(CHECK_FORMATS[chosen](result), destination)
    raise typer.Exit(result.check_exit_code())


@app.command()
@guarded
def serve(
    addr: Annotated[
        str, typer.Option("--addr", help="Address hitl serve listens on; beyond loopback it needs a token.")
    ] = "127.0.0.1:8181",
    profile: Annotated[
        str, typer.Option("--profile", "-p", envvar="HITL_PROFILE", help="The profile every decision is made under.")
    ] = "default",
    track_record_file: TrackRecordOption = None,
    state: StateOption = None,
    token_file: Annotated[
        Optional[Path],
        typer.Option("--token-file", dir_okay=False,
                     help="A file holding the bearer token every request must carry (or HITL_SERVE_TOKEN)."),
    ] = None,
    tls_cert_file: Annotated[
        Optional[Path], typer.Option("--tls-cert-file", dir_okay=False, help="Serve https with this certificate (PEM).")
    ] = None,
    tls_private_key_file: Annotated[
        Optional[Path], typer.Option("--tls-private-key-file", dir_okay=False, help="The certificate's private key (PEM).")
    ] = None,
    decision_logs: Annotated[
        Optional[bool],
        typer.Option("--decision-logs/--no-decision-logs", help="Log every decision to stderr (on by default with --bundle)."),
    ] = None,
    bundle: Annotated[
        Optional[Path], typer.Option("--bundle", exists=True, dir_okay=False, help="Decide with this bundle (hitl bundle build).")
    ] = None,
    verification_key: Annotated[
        Optional[str],
        typer.Option("--verification-key", help="With --bundle: the PEM public key (or HMAC secret) to verify it with."),
    ] = None,
    signing_alg: Annotated[SigningAlg, typer.Option("--signing-alg", help="With --bundle: its signature algorithm.")] = "RS256",
    calibration: CalibrationOption = None,
) -> None:
    """Serve hitl's HTTP API for agents: decisions, requests, waiting for a request, the queue (docs/api.md).

    Decisions use this profile, the track record file (or the store's) and the store (--state); a request
    cannot choose another. A private OPA on loopback decides; with --bundle it serves that bundle, refused
    (exit 5) unless its signature verifies with --verification-key. With a token (HITL_SERVE_TOKEN or
    --token-file) every request must carry it. The OpenAPI document is served at /openapi.json.
    """
    from hitl_cli.calibration import storage as calibration_storage
    from hitl_cli.service import ServedBundle, ServeSettings, serve as serve_api

    access = serve_access(addr, token_file, tls_cert_file, tls_private_key_file)
    served_bundle = None
    if bundle is not None:
        if calibration is not None:
            raise UsageError("--calibration: a bundle carries the calibration it was built with (hitl bundle build --calibration)")
        if verification_key is None:
            warn(f"hitl: no --verification-key: bundle {bundle} is served only if it is unsigned")
        served_bundle = ServedBundle(bundle, verification_key, SigningAlg(signing_alg).value)
        decision_logs = True if decision_logs is None else decision_logs
    elif verification_key is not None:
        raise UsageError("--verification-key verifies a bundle: give --bundle FILE too")
    store = state_path(state)
    settings = ServeSettings(
        addr, access, profile, store, track_record_file, calibration or calibration_storage.beside(store),
        served_bundle, bool(decision_logs),
    )
    raise typer.Exit(serve_api(settings))


SchemaName = Enum("SchemaName", {name: name for name in SCHEMA_MODELS}, type=str)


@app.command()
@guarded
def schema(
    name: Annotated[Optional[SchemaName], typer.Argument(help="Print one schema.")] = None,
    write: Annotated[Optional[Path], typer.Option("--write", file_okay=False, help="Write every schema into this folder.")] = None,
) -> None:
    """JSON Schemas of manifests, profiles and track records, generated from hitl's models; --write also
    writes hitl serve's OpenAPI document (openapi.json)."""
    if write is not None:
        write.mkdir(parents=True, exist_ok=True)
        for each in SCHEMA_MODELS:
            emit(schema_text(each), schema_file(write, each))
        emit(openapi_text(), write / OPENAPI_FILE)
        return
    if name is None:
        raise UsageError("name a schema (" + ", ".join(SCHEMA_MODELS) + ") or pass --write FOLDER")
    emit(schema_text(SchemaName(name).value), None)


profile_app = typer.Typer(help="Validate and list organisation profiles.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
register_workflow(app)
register_delivery(app)
register_governance(app, profile_app)
register_learning(app)


@profile_app.command("validate")
@guarded
def profile_validate(
    profiles: Annotated[list[str], typer.Argument(help="Profile names or paths.")],
) -> None:
    """Check profiles against the model; every problem is reported as file: field.path: message."""
    valid, invalid = valid_profiles(profiles)
    for path, loaded in valid:
        print(visible(f"{path}: ok (profile {loaded.name})"))
    raise typer.Exit(ExitCode.INVALID_INPUT if invalid else ExitCode.OK)


@profile_app.command("list")
@guarded
def profile_list() -> None:
    """The profiles in the profiles folder."""
    for path in available_profile_files():
        print(f"{visible(path.stem)}\t{visible(path)}")


def _version(value: bool) -> None:
    if value:
        print(f"hitl {__version__} (built for OPA {supported_opa_version()})")
        try:
            opa = find_opa()
            print(f"opa {opa_version(opa)} ({opa})")
        except EngineError as error:
            print(f"opa: {error}")
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
