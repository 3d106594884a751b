"""Outcomes to calibrate against: what happened to actions whose confidence the agent stated.

From the state store: an action people approved (every approval it needed) is correct, one they rejected is
incorrect, and an auto-approved one marked ok / wrong in post-hoc review is correct / incorrect
(hitl_cli.workflow.track.outcomes, the same outcomes the track record counts). Actions without a confidence
are left out. From JSONL: one `{"agent", "action_type", "confidence", "correct"}` object per line.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError

from hitl_cli.errors import NotFound, Problem
from hitl_cli.models.common import Identifier, Name, StrictModel
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow.track import outcomes as store_outcomes


@dataclass(frozen=True)
class ConfidenceOutcome:
    agent: str
    action_type: str | None
    confidence: float
    correct: bool


class ImportedOutcome(StrictModel):
    agent: Identifier
    action_type: Name | None = None
    confidence: Annotated[float, Field(ge=0.0, le=1.0, strict=True)]
    correct: Annotated[bool, Field(strict=True)]


def from_store(state: Path) -> list[ConfidenceOutcome]:
    try:
        with open_store(state, Mode.READ) as store, store.read() as connection:
            found = store_outcomes(
                records.all_requests(connection), records.all_verdicts(connection), records.all_reviews(connection)
            )
    except NotFound:  # an empty store file
        return []
    return [
        ConfidenceOutcome(o.request.agent, o.request.decision.action_type, o.request.manifest.action.confidence, o.approved)
        for o in found
        if o.request.manifest.action.confidence is not None
    ]


def from_jsonl(path: Path) -> tuple[list[ConfidenceOutcome], list[Problem]]:
    """Every valid line; a problem `FILE:LINE: field: message` for each invalid one (blank lines are skipped)."""
    found, problems = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(str(path), "", f"cannot be read: {getattr(error, 'strerror', None) or error}")]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        try:
            data = json.loads(line)
        except ValueError as error:
            problems.append(Problem(source, "", f"not JSON: {error}"))
            continue
        try:
            item = ImportedOutcome.model_validate(data)
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"])
                problems.append(Problem(source, where, detail["msg"]))
            continue
        found.append(ConfidenceOutcome(item.agent, item.action_type, float(item.confidence), item.correct))
    return found, problems
