"""Reading the store: where requests stand now, what waits for people, the measured track record."""

from pathlib import Path

from hitl_cli import clock
from hitl_cli.errors import ExitCode, NotFound
from hitl_cli.models.workflow import Request
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, Store, open_store
from hitl_cli.workflow import verdict_files, views
from hitl_cli.workflow.integrity import require_verified
from hitl_cli.workflow.policy_context import PolicyContext, PolicyContexts
from hitl_cli.workflow.status import DEAD, RUNNABLE, WAITING
from hitl_cli.workflow.verdict_files import VerdictFile
from hitl_cli.workflow.views import RequestView


def outcome_code(view: RequestView) -> ExitCode:
    """0 may run now, 1 waits for people, 3 cannot run as submitted (blocked, rejected, stale, expired)."""
    if view.status in RUNNABLE:
        return ExitCode.OK
    if view.status in DEAD or view.status == "blocked":
        return ExitCode.BLOCKED
    return ExitCode.NEEDS_HUMAN


def existing(store: Store, request_id: str) -> Request:
    with store.read() as connection:
        request = records.get_request(connection, request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r} in {store.path}")
    return request


def request_view(state: Path, request_id: str) -> tuple[RequestView, PolicyContext]:
    """One request as it stands now, and the profile context it is judged in."""
    contexts = PolicyContexts(state)
    with open_store(state, Mode.READ) as store:
        request = existing(store, request_id)
        with store.read() as connection:
            return views.load(connection, request, contexts, clock.now(), state), contexts.for_request(request)


def all_views(state: Path) -> list[RequestView]:
    with open_store(state, Mode.READ) as store, store.read() as connection:
        return views.load_all(connection, PolicyContexts(state), clock.now(), state)


def waits_for_people(view: RequestView) -> bool:
    """An approval, escalation or block to decide, or a post-hoc review to give."""
    return view.status in WAITING or (view.status == "approved" and view.awaiting_review)


def review_queue(state: Path) -> list[RequestView]:
    """Auto-approved actions of post-hoc review classes that nobody has reviewed yet, oldest first."""
    return [view for view in all_views(state) if view.decision.tier == "auto_approve" and view.awaiting_review]



def signed_verdicts(state: Path, request_id: str) -> list[VerdictFile]:
    """A request's signed verdicts as files carry them, from a store whose audit trail verifies."""
    with open_store(state, Mode.READ) as store:
        request = existing(store, request_id)
        with store.read() as connection:
            require_verified(connection, str(state))
            return [verdict_files.of(request, v) for v in records.verdicts_for(connection, request_id) if v.signature]
