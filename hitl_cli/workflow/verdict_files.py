"""Signed verdicts as files, so approvals travel to CI without the store (`hitl approvals export`,
`--attest DIR`, `hitl check --approvals DIR`).

A file holds the statement a person signed and their SSH signature of it. Nothing in it is trusted: a file
counts only when hitl_cli.workflow.signatures would count the verdict it carries, for a request made of the
manifest and policy revision the runner has in hand (hitl_cli.workflow.gate).
"""

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints, ValidationError

from hitl_cli.canonical import sha256_hex
from hitl_cli.errors import InvalidInput, Problem, UsageError
from hitl_cli.models.common import DeferredModel
from hitl_cli.models.workflow import Request, Verdict
from hitl_cli.signing.statement import VerdictStatement
from hitl_cli.validation import validate

SUFFIX = ".verdict.json"
# A verdict file is a few kilobytes; anything much larger is not one, and is not read into memory.
MAX_BYTES = 64 * 1024


class VerdictFile(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: Literal["hitl/v1"]
    kind: Literal["SignedVerdict"]
    statement: VerdictStatement
    # Never empty: a file anyone can write counts only when signed, even under a profile that counts unsigned
    # verdicts recorded in its store.
    signature: Annotated[str, StringConstraints(min_length=1, max_length=4096)]

    def verdict(self) -> Verdict:
        s = self.statement
        return Verdict(request_id=s.request_id, kind=s.verdict, person=s.person, reason=s.reason, at=s.at,
                       signature=self.signature)

    def text(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def of(request: Request, verdict: Verdict) -> VerdictFile:
    return VerdictFile(apiVersion="hitl/v1", kind="SignedVerdict", statement=VerdictStatement.of(request, verdict),
                       signature=verdict.signature)


def write(folder: Path, carried: list[VerdictFile]) -> list[Path]:
    """Each verdict as a file named by its content, so writing one twice writes the same file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for item in carried:
            text = item.text()
            path = folder / f"{item.statement.request_id.replace('/', '_')[:64]}-{sha256_hex(text)[:16]}{SUFFIX}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written
    except OSError as error:
        raise UsageError(f"verdict files cannot be written to {folder}: {error.strerror}") from None


def parse(data: dict, source: str) -> VerdictFile:
    """A verdict file's content already read (a mapping); InvalidInput with `source: field.path: message`."""
    carried, problems = validate(VerdictFile, data, source)
    if problems:
        raise InvalidInput(problems)
    return carried


def read(folder: Path) -> tuple[list[tuple[str, VerdictFile]], list[Problem]]:
    """Every *.verdict.json directly in folder, by name: (source, file) for each that parses, a problem for each
    that does not."""
    if not folder.is_dir():
        raise UsageError(f"--approvals {folder}: no such folder")
    found, problems = [], []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        source = str(path)
        try:
            if not path.is_file() or path.stat().st_size > MAX_BYTES:
                problems.append(Problem(source, "", f"not a verdict file (a regular file of at most {MAX_BYTES} bytes)"))
                continue
            found.append((source, VerdictFile.model_validate_json(path.read_bytes())))
        except OSError as error:
            problems.append(Problem(source, "", f"cannot be read: {error.strerror}"))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            problems.append(Problem(source, where, f"not a verdict file: {first['msg']}"))
    return found, problems
