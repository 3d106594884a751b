"""`hitl calibrate`: compare agents' stated confidence with what happened, and give the policy the result."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from hitl_cli.calibration import plot
from hitl_cli.calibration.storage import beside
from hitl_cli.cli_common import ProfileOption, StateOption, choices, guarded
from hitl_cli.errors import ExitCode
from hitl_cli.formats import OutputFormat
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.output import emit, warn
from hitl_cli.store.connection import state_path


CalibrateFormat = choices("CalibrateFormat", [OutputFormat.TEXT, OutputFormat.JSON])


def _figure(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table_lines(title: str, table: dict) -> list[str]:
    lines = [
        f"{title}: {table['samples']} outcomes, accuracy {_figure(table['accuracy'])}, "
        f"mean confidence {_figure(table['mean_confidence'])}, ECE {_figure(table['ece'])}, Brier {_figure(table['brier'])}",
        f"  {'bin':<11} {'count':>6} {'mean conf':>10} {'accuracy':>9}",
    ]
    for b in table["bins"]:
        span = f"{b['lower']:g}-{b['upper']:g}"
        lines.append(f"  {span:<11} {b['count']:>6} {_figure(b['mean_confidence']):>10} {_figure(b['accuracy']):>9}")
    return lines


def render_text(data: dict, path: Path) -> str:
    lines = []
    for agent, tables in data["agents"].items():
        lines += _table_lines(f"agent {agent}", tables["overall"])
        for action_type, table in tables["action_types"].items():
            lines += _table_lines(f"agent {agent}, action type {action_type}", table)
        lines.append("")
    if not data["agents"]:
        lines.append("no outcomes with a stated confidence: no agent is calibrated")
    lines.append(f"calibration data written to {path} (the confidence rule reads it as data.hitl.calibration)")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def calibrate(
        profile: ProfileOption,
        outcomes: Annotated[
            Optional[list[Path]],
            typer.Option("--outcomes", exists=True, dir_okay=False, help="JSONL outcomes to add: agent, action_type, confidence, correct."),
        ] = None,
        state: StateOption = None,
        calibration: Annotated[
            Optional[Path],
            typer.Option("--calibration", dir_okay=False, help="Write here instead (for serve or bundle build --calibration); default: the state store's calibration (calibration.json beside a SQLite store, a PostgreSQL store's own table), which every command using that store reads."),
        ] = None,
        plot_file: Annotated[
            Optional[Path], typer.Option("--plot", dir_okay=False, help="Draw the reliability diagram (.png or .svg).")
        ] = None,
        format: Annotated[CalibrateFormat, typer.Option("--format", "-f")] = CalibrateFormat.text,
    ) -> None:
        """Reliability tables (per agent, and per action type with enough outcomes), ECE and Brier score, from the
        store's outcomes (approved/rejected, post-hoc ok/wrong) and --outcomes files; writes the calibration data
        the confidence rule uses. Invalid JSONL lines are reported as FILE:LINE: field: message (exit 4); the rest count.
        """
        from hitl_cli.calibration.run import calibrate as run_calibration

        loaded_profile = load_profile(profile_path(profile))
        if plot_file is not None:
            plot.check_format(plot_file)
        store = state_path(state)
        result = run_calibration(loaded_profile, store, list(outcomes or []), calibration or beside(store))
        for problem in result.problems:
            warn(str(problem))
        if plot_file is not None:
            plot.draw(result.data["agents"], plot_file)
        if format == CalibrateFormat.json:
            emit(json.dumps({**result.data, "path": str(result.path)}, indent=2) + "\n", None)
        else:
            emit(render_text(result.data, result.path) + "\n", None)
        raise typer.Exit(ExitCode.INVALID_INPUT if result.problems else ExitCode.OK)
