"""`hitl submit`: decide each manifest and record it as a request.

Request ids: a request takes its manifest's id. Submitting the same manifest (same SHA-256) again under the
same policy revision returns the live request instead of opening another one - also a rejected one, since a
rejection is final. A changed manifest, a changed policy or profile, or an expired request opens a new request
`<id>~2`, `<id>~3`, ... and every older live request of that manifest becomes stale (superseded).
"""

import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from hitl_cli import clock
from hitl_cli.delivery import enqueue
from hitl_cli.errors import ExitCode, Problem
from hitl_cli.engine.client import PolicyClient
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.evaluation import Evaluated, RunResult, decide_files
from hitl_cli.inputs import ManifestSource
from hitl_cli.models import Profile
from hitl_cli.models.workflow import INITIAL_STATUS, Request
from hitl_cli.policy_history import recorded_history
from hitl_cli.revision import manifest_sha256
from hitl_cli.run_context import RunContext
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow import events, views
from hitl_cli.workflow.policy_context import PolicyContext, PolicyContexts
from hitl_cli.workflow.queries import outcome_code
from hitl_cli.workflow.status import standing
from hitl_cli.workflow.views import RequestView

# `~` cannot appear in a manifest id, so the ids of different manifests never collide.
RESUBMISSION_SEPARATOR = "~"


@dataclass(frozen=True)
class Submitted:
    view: RequestView
    outcome: Literal["new", "existing"]
    superseded: list[str]


@dataclass
class SubmitResult:
    profile: str
    submitted: list[Submitted] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def exit_code(self) -> ExitCode:
        codes = [outcome_code(item.view) for item in self.submitted]
        if self.problems:
            codes.append(ExitCode.INVALID_INPUT)
        return max(codes, default=ExitCode.OK)


def submit(files: list[ManifestSource], run: RunContext, remote: OpaEndpoint | PolicyClient | None) -> SubmitResult:
    """Decide each manifest and record it as a request in the run's store (gathered with recording=True), with
    the track record evaluate and check would use."""
    profile, state = run.profile, run.state
    # The revision is taken before OPA reads the policies: a policy edited during the run can only make the
    # new request stale, never bind approvals to a policy that did not decide it. An engine already running
    # (hitl_cli.api.Engine, hitl serve) decides with the revision it loaded, and the request is recorded under
    # that one, then judged, as every request is, against the revision in force.
    context = PolicyContext.of(profile, run.profile_source, state)
    deciding = replace(context, revision=remote.loaded_revision(profile.name)) if isinstance(remote, PolicyClient) else context
    result = decide_files(files, run, remote)
    if not result.evaluated:
        return SubmitResult(profile=profile.name, problems=result.problems)
    resolved = str(run.profile_source.resolve())
    contexts = PolicyContexts(state, {(resolved, profile.name): context})
    with open_store(state, Mode.CREATE) as store, store.write("submit") as connection:
        now = clock.now()  # under the write lock: audit records are dated in the order they are written
        result = _decided_on_recorded_history(connection, files, run, remote, result)
        outcome = SubmitResult(profile=profile.name, problems=result.problems)
        for item in result.evaluated:
            request_id, kind, superseded = _record_submission(connection, item, profile, deciding, resolved, now)
            view = views.load(connection, records.get_request(connection, request_id), contexts, now, state)
            outcome.submitted.append(Submitted(view, kind, superseded))
    return outcome


def _decided_on_recorded_history(
    connection: sqlite3.Connection, files: list[ManifestSource], run: RunContext,
    remote: OpaEndpoint | PolicyClient | None, decided: RunResult,
) -> RunResult:
    """The decisions, made again under the write lock when another process recorded something since the run read
    the store's history: two submissions at once must each count the other's spend and precedents, or both could
    spend today's budget."""
    recorded = recorded_history(connection, run.now, run.history)
    if recorded == run.history:
        return decided
    return decide_files(files, replace(run, history=recorded), remote)


def _record_submission(
    connection: sqlite3.Connection, item: Evaluated, profile: Profile, context: PolicyContext, source: str,
    now: datetime,
) -> tuple[str, Literal["new", "existing"], list[str]]:
    manifest = item.loaded.manifest
    sha = manifest_sha256(manifest)
    earlier = records.requests_for_manifest(connection, manifest.id)
    if earlier:
        latest = earlier[-1]
        if latest.manifest_sha256 == sha and latest.policy_revision == context.revision:
            latest_status = standing(latest, records.verdicts_for(connection, latest.id), context, now).status
            if latest_status not in ("stale", "expired"):
                return latest.id, "existing", []
    request = Request(
        id=_new_request_id(connection, manifest.id, len(earlier)),
        manifest=manifest,
        decision=item.decision,
        manifest_sha256=sha,
        policy_revision=context.revision,
        profile_source=source,
        submitted_at=now,
        status=INITIAL_STATUS[item.decision.tier],
    )
    events.submitted(connection, request)
    enqueue.submitted(connection, profile, request)
    superseded = [old for old in earlier if old.status not in ("rejected", "stale")]
    for old in superseded:
        events.superseded(connection, old, request)
        enqueue.superseded(connection, old, request)
    return request.id, "new", [old.id for old in superseded]


def _new_request_id(connection: sqlite3.Connection, manifest_id: str, earlier: int) -> str:
    if records.get_request(connection, manifest_id) is None:
        return manifest_id
    number = earlier + 1
    while records.get_request(connection, f"{manifest_id}{RESUBMISSION_SEPARATOR}{number}") is not None:
        number += 1
    return f"{manifest_id}{RESUBMISSION_SEPARATOR}{number}"
