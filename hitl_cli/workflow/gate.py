"""`hitl check` honours the store: an action whose request may run now counts as may-run.

A request lets a checked manifest run when it was made for exactly this manifest (same SHA-256), under
exactly this policy and profile revision, was decided at least as strictly as check decides it now
(a request approved as single_approval does not cover a fresh double_approval), and now holds every
approval it needs, unexpired, or an unexpired override. The store is only read (never created), and
only after its audit trail verifies; without a store, check behaves as it would without the workflow.
"""

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from hitl_cli.errors import NotFound
from hitl_cli.evaluation import Clearance, Evaluated, RunResult
from hitl_cli.revision import manifest_sha256
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.run_context import RunContext
from hitl_cli.workflow.integrity import require_verified
from hitl_cli.workflow.policy_context import PolicyContext
from hitl_cli.workflow.status import Standing, standing


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


def _clearance(request_id: str, found: Standing) -> Clearance:
    verdicts = [found.override] if found.status == "overridden" else found.approvals
    return Clearance(request_id, found.status, tuple(verdict.person for verdict in verdicts))


def _approved(item: Evaluated, approved: dict[str, Clearance]) -> Evaluated:
    clearance = approved.get(item.loaded.id)
    return replace(item, cleared_by=clearance) if clearance else item
