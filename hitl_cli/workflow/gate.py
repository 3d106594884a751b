"""`hitl check` honours the store: an action whose request may run now counts as may-run.

A request lets a checked manifest run when it was made for exactly this manifest (same SHA-256), under
exactly this policy and profile revision, was decided at least as strictly as check decides it now
(a request approved as single_approval does not cover a fresh double_approval), and now holds every
approval it needs, unexpired, or an unexpired override. The store is only read (never created), and
only after its audit trail verifies; without a store, check behaves as it would without the workflow.
"""

from dataclasses import replace
from pathlib import Path

from hitl_cli import clock
from hitl_cli.errors import NotFound
from hitl_cli.evaluation import Clearance, Evaluated, RunResult
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.revision import manifest_sha256
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow.integrity import require_verified
from hitl_cli.workflow.policy_context import PolicyContext
from hitl_cli.workflow.status import Standing, standing


def honour_store(result: RunResult, profile_ref: str, state: Path) -> RunResult:
    waiting = [item for item in result.evaluated if not item.may_run]
    if not waiting or not state.exists():
        return result
    source = profile_path(profile_ref)
    context = PolicyContext.of(load_profile(source), source, state)
    try:
        approved = _approved_requests(state, waiting, context)
    except NotFound:  # an empty store file: nothing recorded yet
        return result
    return replace(result, evaluated=[_approved(item, approved) for item in result.evaluated])


def _approved_requests(state: Path, waiting: list[Evaluated], context: PolicyContext) -> dict[str, Clearance]:
    """Manifest id -> the request that lets it run now, for each waiting manifest that has one."""
    now = clock.now()
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
