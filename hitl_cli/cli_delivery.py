"""`hitl deliver`: send the outbox's due interrupts and digests to the profile's channels.

Exit 0: everything due was sent (or nothing was due); 1: some messages failed and will be retried by a later
run; 3: some messages failed permanently (shown in `hitl queue` and `hitl stats`); 4: invalid profile;
5: the state store failed. `--watch` runs until SIGTERM or SIGINT, then exits 0 after the message in hand.
"""

import json
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from hitl_cli.cli_common import PolicyOption, ProfileOption, StateOption, guarded
from hitl_cli.cli_workflow import FormatOption, TextOrJson
from hitl_cli.errors import ExitCode
from hitl_cli.formats import OutputFormat
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.output import emit, warn
from hitl_cli.store.connection import state_path

if TYPE_CHECKING:  # the runner brings in requests, which a command that delivers nothing never needs
    from hitl_cli.delivery.runner import Report


def _exit_code(report: "Report") -> ExitCode:
    if report.failed:
        return ExitCode.BLOCKED
    return ExitCode.NEEDS_HUMAN if report.retrying else ExitCode.OK


def _summary(report: "Report", as_json: bool) -> str:
    counts = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed,
              "withdrawn": report.withdrawn}
    if as_json:
        return json.dumps({**counts, "problems": report.problems}, ensure_ascii=False) + "\n"
    return ", ".join(f"{count} {name}" for name, count in counts.items()) + "\n"


def deliver(
    profile: ProfileOption,
    watch: Annotated[bool, typer.Option("--watch", help="Keep delivering until SIGTERM or SIGINT.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between passes with --watch.")
    ] = 30.0,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Send the profile's due interrupts and digests (docs/workflow.md, "Delivery").

    Interrupts go at once; digest items wait for the profile's digest times and go as one message per channel.
    Each message carries a stable idempotency key; failures are retried with backoff until the profile's
    give-up age, then recorded as permanent failures.

    Exit 0: all sent; 1: some will be retried; 3: some failed permanently; 5: store fault.
    """
    from hitl_cli.delivery.runner import Deliverer

    json_lines = TextOrJson(format).value == OutputFormat.JSON  # one JSON object per pass
    source = profile_path(profile)
    deliverer = Deliverer(load_profile(source), source, state_path(state))
    if not watch:
        report = deliverer.run_once()
        for problem in report.problems:
            warn(f"hitl: {problem}")
        emit(_summary(report, json_lines), None)
        raise typer.Exit(_exit_code(report))
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())

    def on_report(report: "Report") -> None:
        for problem in report.problems:
            warn(f"hitl: {problem}")
        if report.sent or report.retrying or report.failed or report.withdrawn:
            emit(_summary(report, json_lines), None)

    deliverer.watch(interval, stop, on_report)
    warn("hitl: deliver stopped")


def register(app: typer.Typer) -> None:
    app.command()(guarded(deliver))
