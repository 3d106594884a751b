"""Validating what people pass to the workflow commands: their name and their reason."""

from pydantic import TypeAdapter, ValidationError

from hitl_cli.errors import UsageError
from hitl_cli.models.workflow import PersonName, ReasonText


def person_name(value: str) -> str:
    try:
        return TypeAdapter(PersonName).validate_python(value)
    except ValidationError:
        raise UsageError(
            f"--by {value!r}: a person's name is 1-128 characters, without control characters or outer spaces"
        ) from None


def reason_text(value: str | None) -> str | None:
    """The reason without its outer whitespace; None when nothing is left."""
    text = value.strip() if value is not None else ""
    try:
        return TypeAdapter(ReasonText).validate_python(text) or None
    except ValidationError:
        raise UsageError("--reason is longer than 4000 characters") from None
