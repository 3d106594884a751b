"""pydantic validation errors as `source: field.path: message` problems."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hitl_cli.errors import Problem

Model = TypeVar("Model", bound=BaseModel)


def field_path(location: tuple) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def unpaired_surrogate_field(data: Any) -> str | None:
    """The field path of a key or string under `data` holding half of a UTF-16 surrogate pair (which JSON and
    Python strings can carry, and no text holds), or None. For data handed over in memory, which no file reader
    has checked (hitl_cli.documents refuses such files)."""
    seen: set[int] = set()
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return field_path(location)
        elif isinstance(value, (dict, list, tuple)) and id(value) not in seen:
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(key, str) and not _is_text(key):
                    return field_path((*location, key))
                stack.append(((*location, key), child))
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"].removeprefix("Value error, ")


def validate(model: type[Model], data: Any, source: str) -> tuple[Model | None, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        return None, [Problem(source, field_path(e["loc"]), _message(e)) for e in error.errors()]
