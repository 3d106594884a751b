"""`hitl check` honours the store and signed verdict files: an action whose request may run now counts as may-run.

A request lets a checked manifest run when it was made for exactly this manifest (same SHA-256), under
exactly this policy and profile revision, was decided at least as strictly as check decides it now
(a request approved as single_approval does not cover a fresh double_approval), and now holds every
approval it needs, unexpired, or an unexpired override. The store is only read (never created), and
only after its audit trail verifies (and extends the head the caller expects); without a store, check behaves as
it would without the workflow.

Verdict files (`--approvals DIR`) are judged by the same rules with no store at all: the files for one request id
make a request of the manifest in hand, decided as strictly as the files say (never less strictly than check
decides it now), under the policy revision in force, and count exactly as its verdicts would in the store.
A file for another manifest, revision, tier, person or key is reported, one line each, and ignored.
"""

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from hitl_cli.errors import NotFound, Problem
from hitl_cli.evaluation import Clearance, Evaluated, RunResult
from hitl_cli.models.common import TIERS
from hitl_cli.models.workflow import INITIAL_STATUS, Request
from hitl_cli.signing.statement import VerdictStatement
from hitl_cli.revision import manifest_sha256
from hitl_cli.run_context import RunContext
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow import verdict_files
from hitl_cli.workflow.integrity import require_verified
from hitl_cli.workflow.policy_context import PolicyContext
from hitl_cli.workflow.status import Standing, standing
from hitl_cli.workflow.verdict_files import VerdictFile


def honour_store(result: RunResult, run: RunContext) -> RunResult:
    """run: the context the result was decided in (its profile, store and moment)."""
    waiting = [item for item in result.evaluated if not item.may_run]
    if not waiting or not run.state.exists():
        return result
    context = PolicyContext.of(run.profile, run.profile_source, run.state)
    try:
        approved = _approved_requests(run.state, waiting, context, run.now)
    except NotFound:  # an empty store file: nothing recorded yet
        return result
    return replace(result, evaluated=[_approved(item, approved) for item in result.evaluated])


def _approved_requests(
    state: Path, waiting: list[Evaluated], context: PolicyContext, now: datetime
) -> dict[str, Clearance]:
    """Manifest id -> the request that lets it run now, for each waiting manifest that has one."""
    approved: dict[str, Clearance] = {}
    with open_store(state, Mode.READ) as store, store.read() as connection:
        require_verified(connection, str(state))
        for item in waiting:
            sha = manifest_sha256(item.loaded.manifest)
            for request in reversed(records.requests_for_manifest(connection, item.loaded.id)):
                if request.manifest_sha256 != sha or request.policy_revision != context.revision:
                    continue
                if request.decision.severity >= item.decision.severity:
                    found = standing(request, records.verdicts_for(connection, request.id), context, now)
                    if found.may_run:
                        approved[item.loaded.id] = _clearance(request.id, found)
                break
    return approved


def _clearance(request_id: str, found: Standing, where: str = "in the state store") -> Clearance:
    verdicts = [found.override] if found.status == "overridden" else found.approvals
    return Clearance(request_id, found.status, tuple(verdict.person for verdict in verdicts), where)


def honour_files(result: RunResult, run: RunContext, folder: Path) -> tuple[RunResult, list[Problem]]:
    """The run with each waiting action the verdict files clear marked cleared; and a problem for each file that
    does not count. run: the context the result was decided in (its profile, the store the calibration lies
    beside, and its moment)."""
    carried, problems = verdict_files.read(folder)
    source = run.profile_source
    context = PolicyContext.of(run.profile, source, run.state)
    now = run.now
    by_sha = {manifest_sha256(item.loaded.manifest): item for item in result.evaluated}
    groups: dict[tuple[str, str, str], list[tuple[str, VerdictFile]]] = {}
    for name, carried_file in carried:
        statement = carried_file.statement
        item = by_sha.get(statement.manifest_sha256)
        why = _mismatch(statement, item, context.revision)
        if why:
            problems.append(Problem(name, "statement", f"{why}; ignored"))
        elif not item.may_run:
            groups.setdefault((item.loaded.id, statement.request_id, statement.tier), []).append((name, carried_file))
    cleared: dict[str, Clearance] = {}
    rejected: set[str] = set()  # a rejection is final for the manifest, whichever request id it was given under
    for (manifest_id, request_id, tier), files in groups.items():
        item = next(item for item in result.evaluated if item.loaded.id == manifest_id)
        request = _carried_request(item, request_id, tier, files, context, source)
        found = standing(request, [carried_file.verdict() for _, carried_file in files], context, now)
        for ignored in found.ignored:
            name = next(name for name, f in files if f.verdict() == ignored.verdict)
            problems.append(Problem(name, "statement", f"does not count: {ignored.why}; ignored"))
        if found.status == "rejected":
            rejected.add(manifest_id)
        elif found.may_run and manifest_id not in cleared:
            cleared[manifest_id] = _clearance(request_id, found, f"by verdict files in {folder}")
    cleared = {manifest_id: found for manifest_id, found in cleared.items() if manifest_id not in rejected}
    return replace(result, evaluated=[_approved(item, cleared) for item in result.evaluated]), problems


def _mismatch(statement: VerdictStatement, item: Evaluated | None, revision: str | None) -> str | None:
    if item is None:
        return f"is for another manifest (sha256 {statement.manifest_sha256[:12]}) than any in the plan"
    if statement.policy_revision != revision:
        return f"is for another policy revision ({statement.policy_revision[:12]}) than the one in force"
    if TIERS.index(statement.tier) < item.decision.severity:
        return f"was signed for {statement.tier}, and {item.loaded.id} is now {item.decision.tier}"
    return None


def _carried_request(
    item: Evaluated, request_id: str, tier: str, files: list, context: PolicyContext, source: Path
) -> Request:
    """The request the files speak for: this manifest, decided as strictly as they were signed for."""
    decision = item.decision if item.decision.tier == tier else item.decision.model_copy(update={"tier": tier})
    return Request(
        id=request_id, manifest=item.loaded.manifest, decision=decision,
        manifest_sha256=manifest_sha256(item.loaded.manifest), policy_revision=context.revision,
        profile_source=str(source), submitted_at=min(f.statement.at for _, f in files), status=INITIAL_STATUS[tier],
    )


def _approved(item: Evaluated, approved: dict[str, Clearance]) -> Evaluated:
    clearance = approved.get(item.loaded.id)
    return replace(item, cleared_by=clearance) if clearance else item
