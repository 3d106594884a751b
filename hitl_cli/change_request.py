"""A profile or policy change as an action manifest, so it goes through the approval workflow like any action.

`hitl diff --change-request FILE --proposed-by ID` writes it; `hitl submit FILE` records it, and the profile's
own `profile_change` row decides how many people must approve it (double approval in every shipped profile).
"""

from pydantic import TypeAdapter, ValidationError

from hitl_cli.canonical import canonical_sha256
from hitl_cli.errors import UsageError
from hitl_cli.impact import DiffReport
from hitl_cli.models import ActionManifest
from hitl_cli.models.common import Identifier

CHANGE_ACTION_TYPE = "profile_change"


def change_manifest(report: DiffReport, proposed_by: str, why: str | None) -> ActionManifest:
    """The manifest a reviewer sees: what changes, how many decisions move which way, how to roll back."""
    fingerprint = canonical_sha256({"candidate": report.candidate.model_dump(), "transitions": [t.model_dump() for t in report.transitions]})
    loosened = report.directions.get("loosening", 0) + report.directions.get("mixed", 0)
    summary = (
        f"Change profile {report.current.profile} to {report.candidate.source}: "
        f"{report.changed} of {report.evaluated} recorded decisions change, {loosened} loosen"
    )
    return ActionManifest.model_validate(
        {
            "apiVersion": "hitl/v1",
            "kind": "ActionManifest",
            "metadata": {"id": f"profile-change-{report.current.profile}-{fingerprint[:12]}"},
            "agent": {"id": proposed_by},
            "action": {"type": CHANGE_ACTION_TYPE, "summary": summary[:300], "confidence": 1.0, "reversible": True},
            "target": {"environment": "production", "system": "hitl", "resource": report.current.profile, "resource_type": "other"},
            "context": {
                "why": why or "a proposed profile or policy change",
                "read": report.history,
                "risks": [f"{t.from_tier} -> {t.to_tier}: {t.count}" for t in report.transitions],
                "plan": f"replace {report.current.source} (policies {report.current.rego}) "
                f"with {report.candidate.source} (policies {report.candidate.rego})",
                "rollback": f"restore {report.current.source} and the policies in {report.current.rego}",
            },
        }
    )


def check_proposer(proposed_by: str) -> str:
    """The proposer becomes the request's agent id: refuse a bad one before any OPA is started."""
    try:
        return TypeAdapter(Identifier).validate_python(proposed_by)
    except ValidationError as error:
        raise UsageError(f"--proposed-by {proposed_by!r}: {error.errors()[0]['msg']}") from None
