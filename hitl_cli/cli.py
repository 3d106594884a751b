"""The `hitl` command: parse the command line, call the core, render, exit with the documented code."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from hitl_cli import __version__
from hitl_cli.documents import input_files
from hitl_cli.engine.binary import find_opa, opa_version, supported_opa_version
from hitl_cli.engine.endpoint import OpaEndpoint, remote_endpoint
from hitl_cli.errors import EngineError, ExitCode, InvalidInput, Problem, UsageError
from hitl_cli.escaping import visible
from hitl_cli.inputs import available_profile_files
from hitl_cli.schemas import OPENAPI_FILE, SCHEMA_MODELS, openapi_text, schema_file, schema_text
from hitl_cli.output import emit, warn
from hitl_cli.reporters import CHECK_FORMATS, EVALUATE_FORMATS
from hitl_cli.cli_common import (
    CalibrationOption, InputPaths, OpaCaFileOption, OpaTokenFileOption, OpaUrlOption, PolicyOption, ProfileOption,
    StateOption, TrackRecordOption, choices, guarded, report_destinations, valid_profiles,
)
from hitl_cli.cli_workflow import register as register_workflow
from hitl_cli.cli_delivery import register as register_delivery
from hitl_cli.cli_governance import SigningAlg, register as register_governance
from hitl_cli.cli_learning import register as register_learning
from hitl_cli import settings, stop_signals
from hitl_cli.store.connection import state_path
from hitl_cli.cli_workflow import ExpectHeadOption

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult
    from hitl_cli.run_context import RunContext

# What only deciding (evaluate, check) or serving needs is imported by those commands: every other command,
# a signed approve above all, starts without it (bench/RESULTS.md).

app = typer.Typer(
    name="hitl",
    help="Decide how much human involvement an AI data agent's next action needs, from policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EvaluateFormat = choices("EvaluateFormat", EVALUATE_FORMATS)
CheckFormat = choices("CheckFormat", CHECK_FORMATS)


STATEMENT_TIMEOUT = 10.0  # seconds an analyst process of hitl's may take over one statement (docs/statements.md)
StatementTimeoutOption = Annotated[
    float,
    typer.Option("--statement-timeout", min=0.001, metavar="SECONDS",
                 help="Seconds hitl's statement analyst may take over one statement; past that, nothing is decided for it (exit 5)."),
]


def _report_problems(result: "RunResult") -> None:
    for problem in result.problems:
        warn(str(problem))


def _evaluate(paths: list[Path], context: "RunContext", remote: OpaEndpoint | None) -> "RunResult":
    from hitl_cli.evaluation import decide_files
    from hitl_cli.progress import Progress

    files = input_files(paths)
    if not files:
        raise InvalidInput([Problem(str(path), "", "no manifest files here (.yaml, .yml or .json)") for path in paths])
    progress = Progress.on_terminal(len(files))
    try:
        result = decide_files(files, context, remote, progress)
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
    policy: PolicyOption = None,
    statement_timeout: StatementTimeoutOption = STATEMENT_TIMEOUT,
) -> None:
    """Decide each action manifest and show the tier, approvals, delivery and every reason.

    When the state store exists, the policy sees its history (precedents, spend approved today); it is only read.
    """
    from hitl_cli import run_context
    from hitl_cli.statements import forked

    forked.limit(statement_timeout)
    context = run_context.gather(profile, track_record, state_path(state))
    result = _evaluate(manifests, context, remote_endpoint(opa_url, opa_token_file, opa_ca_file))
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
    policy: PolicyOption = None,
    approvals: Annotated[
        Optional[Path],
        typer.Option("--approvals", file_okay=False, help="A folder of signed verdict files (hitl approvals export, --attest)."),
    ] = None,
    expect_head: ExpectHeadOption = None,
) -> None:
    """Gate a plan in CI: exit 0 only when every action may run now (see the exit codes in the README).

    An action whose request in the state store holds every approval it needs (or an override), still
    valid, may run; the store is only read, and only when it exists. With --approvals, signed verdict files
    clear actions under the same rules, with no store; a file that does not count is reported and ignored.
    With --expect-head, the store must exist and its audit trail extend that head (else exit 8). Every report
    comes from the one run: `--format`/`--output`, and each `--report sarif=hitl.sarif`.
    """
    from hitl_cli import run_context
    from hitl_cli.workflow.gate import honour_files, honour_store
    from hitl_cli.workflow.integrity import verify_head

    reports = report_destinations((CheckFormat(format).value, output), report or [], CHECK_FORMATS)
    remote = remote_endpoint(opa_url, opa_token_file, opa_ca_file)
    if expect_head is not None:
        verify_head(state_path(state), expect_head)
    context = run_context.gather(profile, track_record, state_path(state))
    result = honour_store(_evaluate(paths, context, remote), context)
    if approvals is not None:
        result, problems = honour_files(result, context, approvals)
        for problem in problems:
            warn(str(problem))
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
        str, typer.Option("--profile", "-p", envvar=settings.PROFILE, help="The profile every decision is made under.")
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
    policy: PolicyOption = None,
    statement_timeout: StatementTimeoutOption = STATEMENT_TIMEOUT,
) -> None:
    """Serve hitl's HTTP API for agents: decisions, requests, waiting for a request, the queue (docs/api.md).

    Decisions use this profile, the track record file (or the store's) and the store (--state); a request
    cannot choose another. A private OPA on loopback decides; with --bundle it serves that bundle, refused
    (exit 5) unless its signature verifies with --verification-key. With a token (HITL_SERVE_TOKEN or
    --token-file) every request must carry it. The OpenAPI document is served at /openapi.json.
    """
    from hitl_cli.calibration import storage as calibration_storage
    from hitl_cli.engine.access import serve_access
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
    served = ServeSettings(
        addr, access, profile, store, track_record_file, calibration or calibration_storage.beside(store),
        served_bundle, bool(decision_logs), statement_timeout,
    )
    raise typer.Exit(serve_api(served))


SchemaName = choices("SchemaName", SCHEMA_MODELS)


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
    policy: PolicyOption = None,
) -> None:
    """Check profiles against the model; every problem is reported as file: field.path: message."""
    valid, invalid = valid_profiles(profiles)
    for path, loaded in valid:
        emit(visible(f"{path}: ok (profile {loaded.name})") + "\n", None)
    raise typer.Exit(ExitCode.INVALID_INPUT if invalid else ExitCode.OK)


@profile_app.command("list")
@guarded
def profile_list() -> None:
    """The profiles in the profiles folder."""
    for path in available_profile_files():
        emit(f"{visible(path.stem)}\t{visible(path)}\n", None)


def _version(value: bool) -> None:
    if value:
        emit(f"hitl {__version__} (built for OPA {supported_opa_version()})\n", None)
        try:
            opa = find_opa()
            emit(f"opa {opa_version(opa)} ({opa})\n", None)
        except EngineError as error:
            emit(f"opa: {error}\n", None)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """hitl — policy-as-code oversight for AI data agents."""


def main() -> None:
    """Entry point: SIGTERM unwinds like Ctrl-C, so a local OPA is always stopped."""
    settings.turn_off_pydantic_plugins()
    stop_signals.install()
    app()
