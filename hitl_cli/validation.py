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
