"""Validating what people pass to the workflow commands: their name and their reason."""

from pydantic import TypeAdapter, ValidationError

from hitl_cli.errors import UsageError
from hitl_cli.models import names
from hitl_cli.models.workflow import ReasonText


def person_name(value: str) -> str:
    """The name as typed, once hitl_cli.models.names accepts it as someone's."""
    found = names.problem(value)
    if found:
        raise UsageError(f"--by {ascii(value)} {found}; see `Names and identities` in docs/workflow.md")
    return value


def reason_text(value: str | None) -> str | None:
    """The reason without its outer whitespace; None when nothing is left."""
    text = value.strip() if value is not None else ""
    try:
        return TypeAdapter(ReasonText).validate_python(text) or None
    except ValidationError:
        raise UsageError("--reason is longer than 4000 characters") from None
