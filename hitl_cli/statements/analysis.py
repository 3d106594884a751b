"""The facts hitl derives from action.statement and the agent never supplies (docs/statements.md)."""

import json
import logging

from sqlglot import Dialect, ErrorLevel
from sqlglot.tokens import TokenType

from hitl_cli.statements.characters import hidden_characters, non_ascii_outside_strings
from hitl_cli.statements.dialects import dialect_for
from hitl_cli.statements.kind_names import UNANALYSABLE_KINDS
from hitl_cli.statements.kinds import Operation, operations, unparsed

# sqlglot logs a warning for each statement it falls back to a Command for; hitl reports those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_STRING_TOKENS = {
    TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING,
    TokenType.BYTE_STRING, TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.UNICODE_STRING,
}  # fmt: skip
# MySQL runs the text of /*! ... */ as SQL, where every other reader sees a comment.
_EXECUTABLE_COMMENT = "/*!"


def analyse(statement: str | None, system: str | None) -> dict:
    """{dialect, statements: [{kind, detail, has_where, writes, reads}], unanalysable: [why]}.

    `statements` lists every operation found, in order; `unanalysable` says why the text cannot be trusted
    to do only what those operations say (empty when it can).
    """
    dialect = dialect_for(system)
    facts = {"dialect": dialect or "generic", "statements": [], "unanalysable": []}
    if statement is None:
        return facts
    problems = hidden_characters(statement)
    if _EXECUTABLE_COMMENT in statement:
        problems.append("executable comment /*! ... */ (MySQL runs its text)")
    found = _operations(statement, dialect, problems)
    facts["statements"] = [operation.as_fact() for _, operation in found]
    facts["unanalysable"] = problems + [
        f"statement {number}: {operation.kind}: {operation.detail}"
        for number, operation in found
        if operation.kind in UNANALYSABLE_KINDS
    ]
    return facts


def analysis_json(statement: str | None, system: str | None) -> bytes:
    return json.dumps(analyse(statement, system), separators=(",", ":")).encode()


def _operations(statement: str, dialect: str, problems: list[str]) -> list[tuple[int, Operation]]:
    try:
        reader = Dialect.get_or_raise(dialect or None)
        tokens = reader.tokenize(statement)
        if not statement.isascii():
            problems.extend(non_ascii_outside_strings([t.text for t in tokens if t.token_type not in _STRING_TOKENS]))
        trees = reader.parser(error_level=ErrorLevel.RAISE).parse(tokens, statement)
    except Exception as error:  # noqa: BLE001 - any parser failure (even a RecursionError) is "cannot parse"
        return [(1, unparsed(_first_line(error)))]
    found = []
    for number, tree in enumerate((t for t in trees if t is not None), start=1):
        found.extend((number, operation) for operation in operations(tree, dialect))
    return found


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__

