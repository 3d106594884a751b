"""The facts hitl derives from action.statement and the agent never supplies (docs/statements.md)."""

import json
import logging
import os
import queue
import re
import threading
from concurrent.futures import Future
from dataclasses import replace

from sqlglot import Dialect, ErrorLevel
from sqlglot.tokens import TokenType

from hitl_cli.statements import remembered
from hitl_cli.statements.characters import hidden_characters, non_ascii_outside_strings
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
# SQL inside SQL (the text of an EXECUTE, a CREATE FUNCTION body, what follows EXPLAIN ANALYZE or PREPARE ... AS)
# is looked into this many levels deep, starting at each of its first few tokens, within a budget of parses.
_EMBEDDED_DEPTH = 8
_EMBEDDED_STARTS = 8
_EMBEDDED_PARSES = 64
_EMBEDDED_MAX_CHARS = 100_000
# Where SQL families read the same text differently: backslash escapes and `#` comments (MySQL), dollar quotes
# and nested comments (PostgreSQL), brackets (T-SQL), backticks and double quotes (identifiers or strings), `--`
# with no space after it (a comment except in MySQL), triple quotes (BigQuery). A text holding any of these is
# also read as each of _OTHER_READINGS.
_LEXICALLY_AMBIGUOUS = re.compile(r"""[\\#$\[`"]|/\*|--\S|'''""")
_OTHER_READINGS = ("postgres", "mysql", "tsql")


def analysis_json(statement: str | None, system: str | None) -> bytes:
    """analyse() in JSON, for the dialect target.system is read in."""
    return analysis_future(statement, system).result()


def analysis_future(statement: str | None, system: str | None) -> Future:
    """analysis_json's answer as a Future: done at once for a statement remembered, else once the analyst thread has
    analysed it (a caller on an event loop awaits it without holding the loop)."""
    return remembered.analysis_future(statement, system, _analysed_json)


# sqlglot recurses once or more per level of nesting, so a statement nested deep enough is unparsed (RecursionError)
# at a depth Python's recursion limit sets for the whole stack, the caller's calls included. Those differ from one
# entry point to another (the forked analyser asks from near the bottom of its stack, `hitl check` from under its
# CLI): statements are analysed on a thread of their own instead, always from the same depth, so that one text has
# the same facts whoever asks. Its stack is of one size everywhere too (a thread's is otherwise what `ulimit -s` says,
# 2 MiB when that is unlimited): sqlglot's compiled parser recurses on it without counting against Python's limit.
_ANALYST_STACK_BYTES = 16 * 1024 * 1024
_Request = tuple[Future, str | None, str, bool]  # (its answer, statement, dialect, whether to remember it)
_requests: "queue.SimpleQueue[_Request]" = queue.SimpleQueue()
_analyst: threading.Thread | None = None
_starting = threading.Lock()


def _analysed_json(statement: str | None, dialect: str, remember: bool = False) -> Future:
    global _analyst
    with _starting:
        if _analyst is None:  # set once it runs: a thread that could not start is tried again, never waited for
            analyst = threading.Thread(target=_analyse_requests, name="hitl-statement-analysis", daemon=True)
            default_stack = threading.stack_size(_ANALYST_STACK_BYTES)
            try:
                analyst.start()
            finally:
                threading.stack_size(default_stack)
            _analyst = analyst
    answer: Future = Future()
    _requests.put((answer, statement, dialect, remember))
    return answer


def _analyse_requests() -> None:
    while True:
        answer, statement, dialect, remember = _requests.get()
        if not answer.set_running_or_notify_cancel():  # its caller gave up (a cancelled task): no answer is set on it
            continue
        try:
            analysed = json.dumps(analyse(statement, dialect), separators=(",", ":")).encode()
        except BaseException as error:  # noqa: BLE001 - raised where the analysis was asked for
            answer.set_exception(error)
            continue
        if remember:
            remembered.remembered.put((statement, dialect), analysed)
        answer.set_result(analysed)


def _forget_the_analyst() -> None:
    """A process forked from this one has the requests' queue, not the thread that reads it."""
    global _requests, _analyst, _starting
    _requests, _analyst, _starting = queue.SimpleQueue(), None, threading.Lock()


os.register_at_fork(after_in_child=_forget_the_analyst)


def analyse(statement: str | None, dialect: str) -> dict:
    """{dialect, statements: [{kind, detail, has_where, writes, reads}], unanalysable: [why]}.

    `statements` lists every operation found, in order; `unanalysable` says why the text cannot be trusted
    to do only what those operations say (empty when it can).
    """
    facts = {"dialect": dialect or "generic", "statements": [], "unanalysable": []}
    if statement is None:
        return facts
    problems = hidden_characters(statement)
    if _EXECUTABLE_COMMENT in statement:
        problems.append("executable comment /*! ... */ (MySQL runs its text)")
    found = _operations(statement, dialect, problems)
    found += _other_readings(statement, dialect, found)
    facts["statements"] = [operation.as_fact() for _, operation in found]
    facts["unanalysable"] = problems + [
        f"statement {number}: {operation.kind}: {operation.detail}"
        for number, operation in found
        if operation.kind in UNANALYSABLE_KINDS
    ]
    return facts


def _other_readings(statement: str, dialect: str, found: list[tuple[int, Operation]]) -> list[tuple[int, Operation]]:
    """What the text does when read by a SQL family that quotes, escapes or comments differently from the declared
    one: target.system is the agent's word, and `SELECT 'a\\'; UPDATE t SET x = NULL; -- '` is one string to
    MySQL and an UPDATE to PostgreSQL. Each operation another reading finds that the declared one did not counts
    (a reading that cannot be parsed adds nothing)."""
    if not _LEXICALLY_AMBIGUOUS.search(statement):
        return []
    seen = {(op.kind, tuple(op.writes)) for _, op in found}
    extra = []
    for other in _OTHER_READINGS:
        if other == dialect:
            continue
        reader = Dialect.get_or_raise(other)
        try:
            tokens = reader.tokenize(statement)
        except Exception:  # noqa: BLE001 - a reading whose tokenizer fails finds nothing
            continue
        # Table names are written as the declared dialect quotes them, so one table read twice is one table.
        for number, op in _statement_by_statement(reader, tokens, statement, _Embedded(reader, dialect)):
            if op.kind not in UNANALYSABLE_KINDS and (op.kind, tuple(op.writes)) not in seen:
                seen.add((op.kind, tuple(op.writes)))
                extra.append((number, replace(op, detail=f"read as {other}: {op.detail}".rstrip(": "))))
    return extra


def _operations(statement: str, dialect: str, problems: list[str]) -> list[tuple[int, Operation]]:
    reader = Dialect.get_or_raise(dialect or None)
    try:
        tokens = reader.tokenize(statement)
    except Exception as error:  # noqa: BLE001 - any tokenizer failure is "cannot parse"
        return [(1, unparsed(_first_line(error)))]
    if not statement.isascii():
        problems.extend(non_ascii_outside_strings([t.text for t in tokens if t.token_type not in _STRING_TOKENS]))
    embedded = _Embedded(reader, dialect)
    try:
        trees = [tree for tree in _parse(reader, tokens, statement) if tree is not None]
    except Exception:  # noqa: BLE001 - one statement sqlglot cannot parse must not hide the others
        return _statement_by_statement(reader, tokens, statement, embedded)
    found = [(number, op) for number, tree in enumerate(trees, start=1) for op in operations(tree, dialect)]
    return found + _carried(embedded, found, tokens)


def _statement_by_statement(reader: Dialect, tokens: list, statement: str, embedded: "_Embedded") -> list:
    """Each statement between semicolons parsed on its own, as sqlglot splits them: those it cannot parse are
    `unparsed`, the others are understood."""
    found = []
    for number, chunk in enumerate(_statements(tokens), start=1):
        try:
            trees = [tree for tree in _parse(reader, chunk, statement) if tree is not None]
        except Exception as error:  # noqa: BLE001 - any parser failure (even a RecursionError) is "cannot parse"
            found.append((number, unparsed(_first_line(error))))
            continue
        found += [(number, op) for tree in trees for op in operations(tree, embedded.dialect)]
    return found + _carried(embedded, found, tokens)


def _statements(tokens: list) -> list[list]:
    chunks: list[list] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [chunk for chunk in chunks if chunk]


def _carried(embedded: "_Embedded", found: list, tokens: list) -> list[tuple[int, Operation]]:
    """When the text holds something hitl cannot analyse, the operations of the SQL it carries in its strings:
    string literals, and the rest of a statement sqlglot only passes through (`EXPLAIN ANALYZE DELETE ...`),
    which its tokenizer reads as one string."""
    numbers = [number for number, op in found if op.kind in UNANALYSABLE_KINDS]
    if not numbers:
        return []
    carried = [op for token in tokens if token.token_type in _STRING_TOKENS for op in embedded.inside(token.text)]
    return [(numbers[0], op) for op in carried]


def _parse(reader: Dialect, tokens: list, text: str) -> list:
    _refuse_costly_joins(tokens)
    _refuse_deep_nesting(tokens, reader.parser_class)
    _refuse_long_subscript_chains(tokens)
    return reader.parser(error_level=ErrorLevel.RAISE).parse(tokens, text)


# sqlglot backtracks over a JOIN with neither ON nor USING (a nested join's condition may follow), so the time to
# parse a run of them doubles with each one: 18 take a second, 25 take minutes, and the run would never be decided.
# A longer run than this is not parsed (the statement is unanalysable). A CROSS or NATURAL JOIN never has a
# condition, and is not part of a run.
_CONDITIONLESS_JOINS = 12
_RUN_ENDS = {TokenType.ON, TokenType.USING, TokenType.SEMICOLON}
_NO_CONDITION = {TokenType.CROSS, TokenType.NATURAL}


def _refuse_costly_joins(tokens: list) -> None:
    run, previous = 0, None
    for token in tokens:
        if token.token_type in _RUN_ENDS:
            run = 0
        elif token.token_type == TokenType.JOIN and previous not in _NO_CONDITION:
            run += 1
            if run > _CONDITIONLESS_JOINS:
                raise ValueError(f"more than {_CONDITIONLESS_JOINS} joins in a row without ON or USING: too costly to parse")
        previous = token.token_type


# sqlglot's parser recurses for each bracket, CASE and nested type (`ARRAY<`) open at a point of a statement, and
# some of those recursions (a subquery in FROM, a nested type) run in its compiled code without counting against
# Python's recursion limit: some 15,000 of them overflow the analyst's stack and kill the process, `hitl serve`
# with it. The others end in a RecursionError near 500 deep, a depth the Python and sqlglot builds decide. A
# statement nested deeper than this is not parsed (it is unanalysable): real SQL nests some tens deep. A closer
# only closes the opener it pairs with (END a CASE, `>` an `ARRAY<`), and a semicolon ends every one of them, as
# it ends the statement sqlglot parses.
_NESTING_DEPTH = 128
# A bracket after a type's name (`ARRAY[`, `DATE(`, `STRUCT(`) is read as the type's arguments first, and again
# as an expression when that fails, so the time to parse them doubles (triples for MySQL's BINARY) with each one
# nested in another: 18 `ARRAY[` took ten seconds. More than this many open at once are not parsed: real SQL
# nests them a few deep (ClickHouse's `Map(String, Array(Tuple(String, Nullable(String))))`), and 6 cost about as
# much as a run of 12 joins.
_TYPE_CALL_DEPTH = 6
_CLOSES = {
    TokenType.R_PAREN: TokenType.L_PAREN, TokenType.R_BRACKET: TokenType.L_BRACKET,
    TokenType.R_BRACE: TokenType.L_BRACE, TokenType.END: TokenType.CASE, TokenType.GT: TokenType.LT,
}  # fmt: skip
_OPENERS = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_TYPE_ARGUMENTS = {TokenType.L_PAREN, TokenType.L_BRACKET}
# END and `>` are also a column named end and a comparison: they close only the innermost opener, brackets close
# theirs wherever it is (what was opened inside it and left open cannot outlive it in sqlglot either). A CASE
# closed early by a column named end, and chains of prefix operators (NOT NOT ...), are not counted: sqlglot
# recurses over those where Python's recursion limit counts, and they end in a RecursionError (unparsed).
_BRACKETS = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}


def _refuse_deep_nesting(tokens: list, parser: type) -> None:
    opened: list[TokenType] = []
    after_type: list[bool] = []  # for each opener, whether it follows a type's name
    previous = None
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.SEMICOLON:
            opened, after_type = [], []
        elif kind in _OPENERS or (kind == TokenType.LT and previous in parser.NESTED_TYPE_TOKENS):
            opened.append(kind)
            after_type.append(kind in _TYPE_ARGUMENTS and previous in parser.TYPE_TOKENS)
            if len(opened) > _NESTING_DEPTH:
                raise ValueError(f"nested more than {_NESTING_DEPTH} deep (brackets, CASE, nested types): too deep to parse")
            if sum(after_type) > _TYPE_CALL_DEPTH:
                raise ValueError(f"more than {_TYPE_CALL_DEPTH} brackets after a type's name nested: too costly to parse")
        elif kind in _BRACKETS and _CLOSES[kind] in opened:
            del opened[len(opened) - 1 - opened[::-1].index(_CLOSES[kind]) :]
            del after_type[len(opened) :]
        elif kind in _CLOSES and opened[-1:] == [_CLOSES[kind]]:
            opened.pop()
            after_type.pop()
        previous = kind


# sqlglot's time to read subscripts one after another on one value (`x[1][2][3]`, `x[1].a[2].b`) grows with the
# square of how many there are: 800 took one to three seconds, and a statement within the input limits could hold
# hundreds of thousands. A longer chain than this is not parsed (the statement is unanalysable): real SQL takes a
# few subscripts in a row, and 32 parse in about 10 ms. Subscripts side by side (`x[1], y[2]`) are not a chain.
_SUBSCRIPT_CHAIN = 32
_CHAIN_LINKS = {TokenType.DOT, TokenType.VAR, TokenType.IDENTIFIER}  # `.name` between two subscripts of one chain


def _refuse_long_subscript_chains(tokens: list) -> None:
    chains, linked = [0], [False]  # per bracket level: the chain being read there, and whether a `[` continues it
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.L_BRACKET:
            chains[-1] = chains[-1] + 1 if linked[-1] else 1
            if chains[-1] > _SUBSCRIPT_CHAIN:
                raise ValueError(f"more than {_SUBSCRIPT_CHAIN} subscripts in a row on one value: too costly to parse")
            chains.append(0)
            linked.append(False)
        elif kind == TokenType.R_BRACKET and len(chains) > 1:
            chains.pop()
            linked.pop()
            linked[-1] = True
        elif kind not in _CHAIN_LINKS:
            linked[-1] = False


class _Embedded:
    """The operations of SQL carried inside a statement hitl cannot analyse: `EXECUTE IMMEDIATE 'CREATE OR
    REPLACE TABLE t ...'` or `EXPLAIN ANALYZE DELETE ...` stays unanalysable, and also counts as what it runs,
    so wrapping a blocked statement never lowers it to the unanalysable tier."""

    def __init__(self, reader: Dialect, dialect: str):
        self.reader, self.dialect, self.parses_left = reader, dialect, _EMBEDDED_PARSES

    def inside(self, text: str, depth: int = _EMBEDDED_DEPTH) -> list[Operation]:
        """Operations of the first statement found from one of the text's first tokens, and of SQL in its
        string literals, `depth` levels down."""
        if depth == 0 or len(text) > _EMBEDDED_MAX_CHARS:
            return []
        try:
            tokens = self.reader.tokenize(text)
        except Exception:  # noqa: BLE001 - text that does not tokenize holds no statement to find
            return []
        found = self._first_statement(text, tokens)
        for token in tokens:
            if token.token_type in _STRING_TOKENS:
                found += self.inside(token.text, depth - 1)
        return found

    def _first_statement(self, text: str, tokens: list) -> list[Operation]:
        for token in tokens[:_EMBEDDED_STARTS]:
            if self.parses_left == 0:
                break
            self.parses_left -= 1
            rest = text[token.start :]
            try:
                trees = _parse(self.reader, self.reader.tokenize(rest), rest)
            except Exception:  # noqa: BLE001 - not a statement from this token on
                continue
            found = [op for tree in trees if tree is not None for op in operations(tree, self.dialect)]
            if any(op.kind not in UNANALYSABLE_KINDS for op in found):
                return found
        return []


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__

