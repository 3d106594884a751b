"""The people who may decide, when a profile names a file of them (`approvals.people: people.yaml`) rather than
listing them: the file, relative to the profile, holds `people: [...]`, so a compliance team can own it."""

from pathlib import Path

from hitl_cli.documents import read_documents
from hitl_cli.errors import InvalidInput, Problem
from hitl_cli.models.common import StrictModel
from hitl_cli.models.profile import Decider
from hitl_cli.validation import validate


class PeopleFile(StrictModel):
    people: list[Decider]


def with_people(data: dict, profile: Path) -> dict:
    """The profile's data with a named people file read in; as it is when the people are listed inline."""
    approvals = data.get("approvals")
    if not isinstance(approvals, dict) or not isinstance(approvals.get("people"), str):
        return data
    source = profile.parent / approvals["people"]
    if not source.is_file():
        raise InvalidInput([Problem(str(profile), "approvals.people", f"people file {source} does not exist")])
    documents, problems = read_documents(source, allow_aliases=True)
    if not problems and (len(documents) != 1 or not isinstance(documents[0].data, dict)):
        problems = [Problem(str(source), "", "a people file holds exactly one mapping (people: [...])")]
    if problems:
        raise InvalidInput(problems)
    _, problems = validate(PeopleFile, documents[0].data, str(source))
    if problems:
        raise InvalidInput(problems)
    return {**data, "approvals": {**approvals, "people": documents[0].data["people"]}}
