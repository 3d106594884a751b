"""One run: load and validate the inputs, ask the policy engine, collect decisions and problems."""

from dataclasses import dataclass, field
from pathlib import Path

from hitl_cli.engine import policy_engine
from hitl_cli.errors import ExitCode, Problem
from hitl_cli.inputs import LoadedManifest, load_manifests, load_profile, load_track_record, profile_path
from hitl_cli.models import Decision


@dataclass(frozen=True)
class Evaluated:
    loaded: LoadedManifest
    decision: Decision


@dataclass
class RunResult:
    profile: str
    evaluated: list[Evaluated] = field(default_factory=list)
    manifest_problems: list[Problem] = field(default_factory=list)
    other_problems: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return self.other_problems + self.manifest_problems

    def invalid_documents(self) -> dict[str, list[Problem]]:
        """Each invalid manifest document (or unreadable file) with its problems, in input order."""
        grouped: dict[str, list[Problem]] = {}
        for problem in self.manifest_problems:
            grouped.setdefault(problem.source, []).append(problem)
        return grouped

    def evaluate_exit_code(self) -> ExitCode:
        return ExitCode.INVALID_INPUT if self.problems else ExitCode.OK

    def check_exit_code(self) -> ExitCode:
        codes = [ExitCode.OK]
        for item in self.evaluated:
            if item.decision.tier == "block":
                codes.append(ExitCode.BLOCKED)
            elif not item.decision.may_run:
                codes.append(ExitCode.NEEDS_HUMAN)
        if self.problems:
            codes.append(ExitCode.INVALID_INPUT)
        return max(codes)


def run_evaluation(files: list[Path], profile_ref: str, track_record: Path | None, opa_url: str | None) -> RunResult:
    profile = load_profile(profile_path(profile_ref))
    record, record_problems = load_track_record(track_record)
    manifests, manifest_problems = load_manifests(files)
    result = RunResult(profile=profile.name, manifest_problems=manifest_problems, other_problems=record_problems)
    if not manifests:
        return result
    with policy_engine([profile], opa_url) as engine:
        decisions = engine.decide(
            profile.name, record.model_dump(mode="json"), [item.manifest.policy_input() for item in manifests]
        )
    result.evaluated = [Evaluated(item, decision) for item, decision in zip(manifests, decisions)]
    return result
