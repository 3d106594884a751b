"""The approval workflow's commands: submit, approve, reject, override, status, queue, digest, notify,
review, audit, trust and stats. Each parses, calls hitl_cli.workflow, renders, and exits.

Exit codes beyond spec/cli.md's 0-5 (docs/workflow.md): 6 refused by a workflow rule, 7 no such request
or no store yet, 8 the audit trail does not verify. Store faults exit 5, like engine faults.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, get_args

import typer

from hitl_cli import clock, settings
from hitl_cli.cli_common import (
    InputPaths, OpaCaFileOption, OpaTokenFileOption, OpaUrlOption, PolicyOption, ProfileOption, StateOption, TrackRecordOption,
    choices,
    guarded,
)
from hitl_cli.documents import input_files
from hitl_cli.engine.endpoint import remote_endpoint
from hitl_cli.errors import ExitCode, NotFound
from hitl_cli.escaping import json_text, visible_lines
from hitl_cli.formats import OutputFormat
from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.models.common import PromotableLevel
from hitl_cli.models.workflow import ReviewVerdict, VerdictAction
from hitl_cli.output import emit, warn
from hitl_cli.store.connection import state_path

# The workflow's core (hitl_cli.workflow, the store's reading, the templates, signing) is imported by the commands
# that use it: every other command, a single evaluate above all, starts without it (bench/RESULTS.md).
if TYPE_CHECKING:
    from pydantic import BaseModel

    from hitl_cli.rendering import Templates
    from hitl_cli.workflow.verdict_files import VerdictFile
    from hitl_cli.workflow.views import RequestView


TextOrJson = choices("TextOrJson", [OutputFormat.TEXT, OutputFormat.JSON])
MessageFormat = choices("MessageFormat", [OutputFormat.MARKDOWN, OutputFormat.HTML, OutputFormat.SLACK, OutputFormat.JSON])
DeliveryChoice = choices("DeliveryChoice", ["digest", "interrupt"])
ReviewChoice = choices("ReviewChoice", get_args(ReviewVerdict))
LevelChoice = choices("LevelChoice", get_args(PromotableLevel))
RecordFormat = choices("RecordFormat", [OutputFormat.YAML, OutputFormat.JSON])
ExportFormat = choices("ExportFormat", [OutputFormat.JSONL])

FormatOption = Annotated[TextOrJson, typer.Option("--format", "-f", help="text for people, json for scripts.")]
MessageFormatOption = Annotated[MessageFormat, typer.Option("--format", "-f")]
RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request id (`hitl submit` prints it).")]
ByPerson = Annotated[str, typer.Option("--by", help="Who decides: a person, never the agent that asked.")]
OptionalReason = Annotated[Optional[str], typer.Option("--reason", help="Why.")]
RequiredReason = Annotated[str, typer.Option("--reason", help="Why (required, non-empty).")]
KeyOption = Annotated[
    Optional[Path],
    typer.Option("--key", dir_okay=False, help="Sign the verdict with this OpenSSH ed25519 private key file."),
]
AttestOption = Annotated[
    Optional[Path],
    typer.Option("--attest", file_okay=False, help="Also write the signed verdict as a file in this folder (for CI)."),
]
ExpectHeadOption = Annotated[
    Optional[str],
    typer.Option("--expect-head", metavar="SEQ:HASH", help="Fail (exit 8) unless the trail extends this head (`hitl audit head`)."),
]
OutputOption = Annotated[Optional[Path], typer.Option("--output", "-o", dir_okay=False, help="Write it here.")]


def _json(data) -> str:
    return json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _message(templates: "Templates", name: str, format: MessageFormat, context: dict) -> str:
    """A message in a template's format, or for scripts the very context the templates are given, as JSON."""
    from pydantic_core import to_jsonable_python

    chosen = MessageFormat(format).value
    return _json(to_jsonable_python(context)) if chosen == OutputFormat.JSON else templates.render(name, chosen, context)


def _wants_json(format: TextOrJson) -> bool:
    return TextOrJson(format).value == OutputFormat.JSON


def _show(view: "RequestView", format: TextOrJson) -> None:
    from hitl_cli.workflow import text

    emit(_json(view.model_dump(mode="json")) if _wants_json(format) else visible_lines(text.status(view)), None)


def _show_all(items: list["BaseModel"], format: TextOrJson, as_text: str) -> None:
    emit(_json([item.model_dump(mode="json") for item in items]) if _wants_json(format) else visible_lines(as_text), None)


def _decided(given: tuple["RequestView", "VerdictFile | None"], attest: Path | None, format: TextOrJson) -> None:
    from hitl_cli.workflow import verdict_files

    view, carried = given
    _show(view, format)
    if attest is not None and carried is None:
        warn("hitl: --attest: the verdict is unsigned, so no verdict file was written (only signed verdicts travel)")
    elif attest is not None:
        for path in verdict_files.write(attest, [carried]):
            warn(f"hitl: wrote {path}")


def submit(
    manifests: InputPaths,
    profile: ProfileOption,
    track_record_file: TrackRecordOption = None,
    format: FormatOption = "text",
    state: StateOption = None,
    opa_url: OpaUrlOption = None,
    opa_token_file: OpaTokenFileOption = None,
    opa_ca_file: OpaCaFileOption = None,
    policy: PolicyOption = None,
) -> None:
    """Decide each manifest and record it as a request; prints the request ids.

    A request is approved (auto_approve), pending, escalated or blocked. The same manifest submitted again
    returns its live request; a changed one opens a new request (ID~2, ...) and the old one turns stale.
    Without --track-record, the track record measured in the store is used.

    Exit 0: every action may run now; 1: some wait for people; 3: some cannot run (blocked, rejected);
    4: invalid input (the valid manifests are still recorded); 5: engine or store fault, nothing recorded.
    """
    files = input_files(manifests)
    from hitl_cli import run_context  # submitting decides: the core is imported by this command only
    from hitl_cli.workflow import submission, text

    context = run_context.gather(profile, track_record_file, state_path(state), recording=True)
    result = submission.submit(files, context, remote_endpoint(opa_url, opa_token_file, opa_ca_file))
    for problem in result.problems:
        warn(str(problem))
    if _wants_json(format):
        found = [
            {**item.view.model_dump(mode="json"), "submission": item.outcome, "superseded": item.superseded}
            for item in result.submitted
        ]
        emit(_json(found), None)
    else:
        emit(visible_lines(text.submitted(result)), None)
    raise typer.Exit(result.exit_code())


def approve(
    request_id: RequestId,
    by: ByPerson,
    reason: OptionalReason = None,
    key: KeyOption = None,
    attest: AttestOption = None,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Approve a request, signed with --key (an OpenSSH ed25519 private key the profile lists for --by).

    Only the profile's people with the approver or escalation_reviewer role approve; two approvals come from two
    people; nobody approves twice; the agent that asked never approves; escalations only by escalation reviewers;
    blocked requests only by override. Unsigned, it counts only where the profile's
    approvals.unsigned_verdicts_count allows. --attest DIR also writes the signed verdict file for CI.

    Exit 0: recorded; 6: refused by a rule (or it would not count); 7: no such request.
    """
    from hitl_cli.workflow import verdicts

    _decided(verdicts.give_verdict(state_path(state), request_id, VerdictAction.APPROVE, by, reason, key), attest, format)


def reject(
    request_id: RequestId,
    by: ByPerson,
    reason: RequiredReason,
    key: KeyOption = None,
    attest: AttestOption = None,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Reject a request, with a reason; a rejection is final.

    Exit 0: recorded; 6: refused (empty reason, not allowed, already final); 7: no such request.
    """
    from hitl_cli.workflow import verdicts

    _decided(verdicts.give_verdict(state_path(state), request_id, VerdictAction.REJECT, by, reason, key), attest, format)


def override(
    request_id: RequestId,
    by: ByPerson,
    reason: RequiredReason,
    key: KeyOption = None,
    attest: AttestOption = None,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Lift a block or a waiting request, with a reason: the profile's override holders only, and never one whose
    reasons include a code of the profile's override_policy.unoverridable (pii_exposure).

    Exit 0: recorded; 6: refused; 7: no such request.
    """
    from hitl_cli.workflow import verdicts

    _decided(verdicts.give_verdict(state_path(state), request_id, VerdictAction.OVERRIDE, by, reason, key), attest, format)


def status(request_id: RequestId, format: FormatOption = "text", state: StateOption = None, policy: PolicyOption = None) -> None:
    """Where a request stands: status, approvals so far, whether the action may run now.

    Exit 0: the action may run now; 1: it waits for people; 3: it cannot run as submitted (blocked,
    rejected, stale or expired); 7: no such request.
    """
    from hitl_cli.workflow import queries

    view, _ = queries.request_view(state_path(state), request_id)
    _show(view, format)
    raise typer.Exit(queries.outcome_code(view))


def queue(
    delivery: Annotated[
        Optional[DeliveryChoice], typer.Option("--delivery", help="Only what is delivered this way.")
    ] = None,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """What waits for people, oldest first: approvals, escalations, blocks and post-hoc reviews; then every
    message `hitl deliver` failed to deliver (each request's `undelivered` in JSON)."""
    from hitl_cli.workflow import queries, text

    every = queries.all_views(state_path(state))
    if delivery is not None:
        every = [view for view in every if view.decision.delivery == DeliveryChoice(delivery).value]
    views = [view for view in every if queries.waits_for_people(view)]
    undelivered = [view for view in every if view.undelivered]
    _show_all(views, format, text.queue(views, clock.now(), undelivered))


def digest(
    since: Annotated[str, typer.Option("--since", help="How far back: 90m, 24h, 7d.")] = "24h",
    format: MessageFormatOption = "markdown",
    profile: Annotated[
        Optional[str],
        typer.Option("--profile", "-p", envvar=settings.PROFILE, help="Only this profile's requests, in its templates."),
    ] = None,
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """The batched review of what the profile routes to the digest, grouped and ordered by priority."""
    from hitl_cli.rendering import Templates
    from hitl_cli.workflow import digest as digest_entries
    from hitl_cli.workflow import queries
    from hitl_cli.workflow.policy_context import PolicyContext

    now = clock.now()
    start = now - digest_entries.parse_since(since)
    views = queries.all_views(state_path(state))
    templates = Templates()
    if profile is not None:
        source = profile_path(profile)
        context = PolicyContext.of(load_profile(source), source, state_path(state))
        views = [view for view in views if view.profile == context.profile.name]
        templates = Templates(context.templates)
    groups = digest_entries.groups(views, start)
    count = sum(len(group.entries) for group in groups)
    emit(_message(templates, "digest", format, {"groups": groups, "count": count, "since": start, "generated_at": now}), None)


def notify(request_id: RequestId, format: MessageFormatOption = "markdown", state: StateOption = None, policy: PolicyOption = None) -> None:
    """The interrupt message for one request, in the templates of the profile that decided it."""
    from hitl_cli.rendering import Templates
    from hitl_cli.workflow import queries

    view, context = queries.request_view(state_path(state), request_id)
    emit(_message(Templates(context.templates), "notify", format, {"request": view, "generated_at": clock.now()}), None)


def stats(
    profile: ProfileOption,
    top: Annotated[int, typer.Option("--top", min=1, help="How many rejection reasons to list.")] = 10,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """How people decide: rates by agent, action type and reviewer, reasons, time, rubber-stamping.

    A reviewer is flagged as rubber-stamping under the profile's `rubber_stamping` thresholds.
    """
    from hitl_cli.store.connection import Mode, open_store
    from hitl_cli.workflow import stats as workflow_stats
    from hitl_cli.workflow import text

    loaded = load_profile(profile_path(profile))
    with open_store(state_path(state), Mode.READ) as store, store.read() as connection:
        result = workflow_stats.compute(connection, loaded, top)
    emit(_json(result.model_dump(mode="json")) if _wants_json(format) else visible_lines(text.stats(result)), None)


review_app = typer.Typer(help="Post-hoc review of auto-approved actions.", invoke_without_command=True)


@review_app.callback()
@guarded
def review(ctx: typer.Context, format: FormatOption = "text", state: StateOption = None, policy: PolicyOption = None) -> None:
    """List auto-approved actions awaiting post-hoc review, oldest first; `review mark` records a verdict."""
    from hitl_cli.workflow import queries, text

    if ctx.invoked_subcommand is not None:
        return
    views = queries.review_queue(state_path(state))
    _show_all(views, format, text.queue(views, clock.now()))


@review_app.command("mark")
@guarded
def review_mark(
    request_id: RequestId,
    by: ByPerson,
    verdict: Annotated[ReviewChoice, typer.Option("--verdict", help="ok, or wrong (which needs --reason).")],
    reason: OptionalReason = None,
    format: FormatOption = "text",
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Record a post-hoc verdict on an auto-approved action.

    Exit 0: recorded; 6: refused (not auto-approved, already reviewed, `wrong` without a reason); 7: no such request.
    """
    from hitl_cli.workflow import verdicts

    _show(verdicts.mark_review(state_path(state), request_id, by, ReviewChoice(verdict).value, reason), format)


audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
@guarded
def audit_verify(format: FormatOption = "text", expect_head: ExpectHeadOption = None, state: StateOption = None) -> None:
    """Check the hash chain, and that the tables hold exactly what it records (and that it extends the head
    published earlier, with --expect-head).

    Exit 0: it verifies; 8: it does not (the first bad record is named); 7: no store.
    """
    from hitl_cli.store.connection import Mode, open_store
    from hitl_cli.workflow import integrity, text

    path = state_path(state)
    with open_store(path, Mode.READ) as store, store.read() as connection:
        check = integrity.verify(connection, expect_head)
    emit(_json(check.model_dump(mode="json")) if _wants_json(format) else visible_lines(text.audit_check(check, str(path))), None)
    if not check.ok:
        warn(f"hitl: the audit trail of {path} does not verify: {check.problem}")
    raise typer.Exit(ExitCode.OK if check.ok else ExitCode.TAMPERED)


@audit_app.command("head")
@guarded
def audit_head(state: StateOption = None) -> None:
    """The head to publish outside the store (a CI variable, a ticket, a signed tag), as SEQ:HASH; later,
    `audit verify --expect-head` and `check --expect-head` fail when the trail does not extend it.

    Exit 0: printed; 8: the trail does not verify (nothing is printed); 7: no store or an empty trail.
    """
    from hitl_cli.store.connection import Mode, open_store
    from hitl_cli.workflow import integrity

    path = state_path(state)
    with open_store(path, Mode.READ) as store, store.read() as connection:
        integrity.require_verified(connection, str(path))
        check = integrity.verify(connection)
    head = integrity.head_text(check)
    if head is None:
        raise NotFound(f"the audit trail of {path} is empty: there is no head yet")
    emit(head + "\n", None)


@audit_app.command("export")
@guarded
def audit_export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = "jsonl",
    output: OutputOption = None,
    state: StateOption = None,
) -> None:
    """Every audit record, one JSON object per line, in order, as stored (verify before relying on it). A verdict's
    record carries its signature; `signed_with`, beside the record and outside its hash, names the key's fingerprint."""
    from hitl_cli import audit
    from hitl_cli.store.connection import Mode, open_store

    with open_store(state_path(state), Mode.READ) as store, store.read() as connection:
        lines = [json_text(json.dumps(_with_signer(record), ensure_ascii=False, sort_keys=True)) + "\n"
                 for record in audit.export(connection)]
    emit("".join(lines), output)


def _with_signer(record: dict) -> dict:
    from hitl_cli.signing import sshsig

    verdict = record["payload"].get("verdict") if isinstance(record.get("payload"), dict) else None
    signature = verdict.get("signature") if isinstance(verdict, dict) else None
    return {**record, "signed_with": sshsig.claimed_fingerprint(signature)} if isinstance(signature, str) else record


approvals_app = typer.Typer(help="Signed verdicts as files, for CI without the store.", no_args_is_help=True)


@approvals_app.command("export")
@guarded
def approvals_export(
    request_id: RequestId,
    output: Annotated[Path, typer.Option("--output", "-o", file_okay=False, help="The folder to write them in.")],
    state: StateOption = None,
    policy: PolicyOption = None,
) -> None:
    """Write each signed verdict of a request as a file (`hitl check --approvals DIR` honours them with no store).

    Unsigned verdicts are not written: a file is only worth its signature. Exit 0: written; 7: no such request.
    """
    from hitl_cli.workflow import queries, verdict_files

    written = verdict_files.write(output, queries.signed_verdicts(state_path(state), request_id))
    emit("".join(f"{path}\n" for path in written), None)


trust_app = typer.Typer(help="Graduated trust: the measured track record, offers and promotions.", no_args_is_help=True)


@trust_app.command("export")
@guarded
def trust_export(
    format: Annotated[RecordFormat, typer.Option("--format", "-f")] = "yaml",
    output: OutputOption = None,
    state: StateOption = None,
) -> None:
    """The track record (docs/track-record.md) measured in the store, for --track-record."""
    import yaml

    from hitl_cli.store.connection import Mode, open_store
    from hitl_cli.workflow.track import track_record

    with open_store(state_path(state), Mode.READ) as store, store.read() as connection:
        record = track_record(connection).model_dump(mode="json")
    as_json = RecordFormat(format).value == OutputFormat.JSON
    emit(_json(record) if as_json else yaml.safe_dump(record, sort_keys=False), output)


@trust_app.command("offers")
@guarded
def trust_offers(
    profile: ProfileOption,
    format: FormatOption = "text",
    state: StateOption = None,
    opa_url: OpaUrlOption = None,
    opa_token_file: OpaTokenFileOption = None,
    opa_ca_file: OpaCaFileOption = None,
    policy: PolicyOption = None,
) -> None:
    """Agents whose measured accuracy supports a higher level than they were granted (the policy decides)."""
    from hitl_cli.workflow import text, trust

    found = trust.offers(state_path(state), profile, remote_endpoint(opa_url, opa_token_file, opa_ca_file))
    if _wants_json(format):
        emit(_json([offer.as_dict() for offer in found]), None)
    else:
        emit(visible_lines(text.offers(found, profile)), None)


@trust_app.command("promote")
@guarded
def trust_promote(
    agent: Annotated[str, typer.Argument(help="The agent id.")],
    level: Annotated[LevelChoice, typer.Option("--level")],
    by: ByPerson,
    profile: ProfileOption,
    format: FormatOption = "text",
    state: StateOption = None,
    opa_url: OpaUrlOption = None,
    opa_token_file: OpaTokenFileOption = None,
    opa_ca_file: OpaCaFileOption = None,
    policy: PolicyOption = None,
) -> None:
    """Accept an offer: grant an agent a level its measured record supports.

    Exit 0: granted; 6: refused (the numbers do not support it, or it is no promotion); 7: no record of the agent.
    """
    from hitl_cli.workflow import text, trust

    grant = trust.promote(state_path(state), agent, LevelChoice(level).value, by, profile, remote_endpoint(opa_url, opa_token_file, opa_ca_file))
    emit(_json(grant.model_dump(mode="json")) if _wants_json(format) else visible_lines(text.granted(grant)), None)


def register(app: typer.Typer) -> None:
    for command in (submit, approve, reject, override, status, queue, digest, notify, stats):
        app.command()(guarded(command))
    app.add_typer(review_app, name="review")
    app.add_typer(audit_app, name="audit")
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(trust_app, name="trust")
