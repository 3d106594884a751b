"""One run: load and validate the inputs, ask the policy engine, collect decisions and problems."""

from contextlib import ExitStack
from dataclasses import dataclass, field

from hitl_cli import settings
from hitl_cli.engine import policy_engine
from hitl_cli.engine.client import PolicyClient, RunInput
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.engine.pipeline import DecisionPipeline
from hitl_cli.errors import ExitCode, Problem
from hitl_cli.inputs import LoadedManifest, ManifestSource, manifests_by_source
from hitl_cli.models import Decision
from hitl_cli.progress import Progress
from hitl_cli.run_context import RunContext
from hitl_cli.statements import analysis_json_async, prefetch


@dataclass(frozen=True)
class Clearance:
    """A request in the state store, or signed verdict files, that let a waiting action run now, and how."""

    request_id: str
    status: str  # approved or overridden
    people: tuple[str, ...]  # who approved, or who overrode
    where: str = "in the state store"

    def describe(self) -> str:
        by = f" by {', '.join(self.people)}" if self.people else ""
        return f"{self.status} {self.where}{by}: request {self.request_id}"


@dataclass(frozen=True)
class Evaluated:
    loaded: LoadedManifest
    decision: Decision
    cleared_by: Clearance | None = None

    @property
    def may_run(self) -> bool:
        return self.decision.may_run or self.cleared_by is not None


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
            if item.may_run:
                continue
            codes.append(ExitCode.BLOCKED if item.decision.tier == "block" else ExitCode.NEEDS_HUMAN)
        if self.problems:
            codes.append(ExitCode.INVALID_INPUT)
        return max(codes)


def decide_files(
    files: list[ManifestSource],
    context: RunContext,
    remote: OpaEndpoint | PolicyClient | None,
    progress: Progress | None = None,
) -> RunResult:
    """Validate the manifests (files, mappings or models) and decide the valid ones with what the run gathered
    (its profile, track record, history and calibration).

    Files are read one at a time and their manifests handed to OPA in batches as they come, so evaluation
    overlaps reading. OPA is started (or reached) only once there is a valid manifest to decide, unless
    `remote` is a client already connected (hitl_cli.api.Engine), which is used as it is.
    """
    profile = context.profile
    result = RunResult(profile=profile.name, other_problems=list(context.record_problems))
    manifests: list[LoadedManifest] = []
    with ExitStack() as running:
        pipeline: DecisionPipeline | None = None
        for loaded, problems in manifests_by_source(files):
            result.manifest_problems.extend(problems)
            if progress is not None:
                progress.file_read()
            if not loaded:
                continue
            prefetch((item.statement, item.system) for item in loaded)  # analysed meanwhile, where a process does it
            if pipeline is None:
                client = remote if isinstance(remote, PolicyClient) else running.enter_context(
                    policy_engine([profile], remote, calibration=context.calibration)
                )
                run = _run_input(context)
                on_decided = progress.manifests_decided if progress is not None else None
                pipeline = running.enter_context(DecisionPipeline(client, run, on_decided))
            manifests.extend(loaded)
            pipeline.add(loaded)
        decisions = pipeline.decisions() if pipeline is not None else []
    result.evaluated = [Evaluated(item, decision) for item, decision in zip(manifests, decisions, strict=True)]
    return result


async def decide_async(files: list[ManifestSource], context: RunContext, client: PolicyClient) -> RunResult:
    """decide_files for a caller on an asyncio event loop with a connected client (hitl serve): the manifests are
    validated here, and their statements' analysis and OPA's answers awaited, batch after batch, without holding
    the loop."""
    result = RunResult(profile=context.profile.name, other_problems=list(context.record_problems))
    manifests: list[LoadedManifest] = []
    for loaded, problems in manifests_by_source(files):
        result.manifest_problems.extend(problems)
        manifests.extend(loaded)
    run = _run_input(context)
    size = settings.opa_batch_size()
    for start in range(0, len(manifests), size):
        batch = manifests[start : start + size]
        facts = [await analysis_json_async(item.statement, item.system) for item in batch]
        decisions = await client.decide_encoded_async(
            run, [item.id for item in batch], [item.policy_json for item in batch], facts
        )
        result.evaluated += [Evaluated(item, decision) for item, decision in zip(batch, decisions, strict=True)]
    return result


def _run_input(context: RunContext) -> RunInput:
    return RunInput.of(context.profile.name, context.track_record.policy_input(), context.now, context.history)
