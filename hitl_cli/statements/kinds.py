"""What one parsed SQL statement does: its operations, each with a kind, the tables it writes and reads.

A statement is classified from sqlglot's syntax tree by node type, never by its text. Anything sqlglot
only recognised as a generic Command, or a statement node this module does not know, is unanalysable.
"""

import re
from dataclasses import dataclass, field

from sqlglot import exp

from hitl_cli.statements.kind_names import COMMAND, DYNAMIC, UNPARSED, UNSUPPORTED

_DYNAMIC_COMMANDS = {"EXECUTE", "EXEC", "DO", "CALL", "PREPARE", "DEALLOCATE", "BEGIN", "DECLARE"}
_PASS_THROUGH_KINDS = {"VACUUM": "vacuum"}
_SIMPLE_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Operation:
    kind: str
    detail: str = ""
    has_where: bool | None = None
    writes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    def as_fact(self) -> dict:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "has_where": self.has_where,
            "writes": self.writes,
            "reads": self.reads,
        }


def operations(statement: exp.Expression, dialect: str) -> list[Operation]:
    """The statement's own operation first, then the other actions it can take (a MERGE that can delete, an
    INSERT that updates on conflict), one for each data-changing node nested in it (a DELETE in a CTE, a DROP
    in a CREATE ... AS) and for each call of a function sqlglot does not know."""
    found = [_classify(statement, dialect), *_other_actions(statement, dialect)]
    for node in statement.walk():
        if node is statement or isinstance(node.parent, (exp.Alter, exp.When)):
            continue
        if isinstance(node, _NESTED_CHANGES):
            found += [_classify(node, dialect), *_other_actions(node, dialect)]
        elif isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
            found.append(Operation("function_call", f"calls {node.name or 'a function'}()"))
    _add_reads(found[0], statement, dialect)
    return found


def _other_actions(node: exp.Expression, dialect: str) -> list[Operation]:
    """What a multi-action statement can also do, each as its own operation so the strictest one counts:
    each WHEN ... THEN of a MERGE, and the DO UPDATE / ON DUPLICATE KEY UPDATE of an INSERT."""
    if isinstance(node, exp.Merge):
        writes = _names([node.this], dialect)
        whens = node.args.get("whens")
        return [_merge_action(when, writes) for when in (whens.expressions if whens else [])]
    conflict = node.args.get("conflict") if isinstance(node, exp.Insert) else None
    if conflict is not None and "UPDATE" in str(conflict.args.get("action") or "").upper():
        return [Operation("update", "INSERT ... ON CONFLICT UPDATE", True, _insert(node, dialect).writes)]
    return []


def _merge_action(when: exp.When, writes: list[str]) -> Operation:
    then = when.args.get("then")
    if isinstance(then, exp.Update):
        return Operation("update", "MERGE ... THEN UPDATE", True, writes)
    if isinstance(then, exp.Insert):
        return Operation("insert", "MERGE ... THEN INSERT", writes=writes)
    if str(then or "").upper() == "DELETE":
        return Operation("delete", "MERGE ... THEN DELETE", True, writes)
    return Operation(UNSUPPORTED, f"MERGE ... THEN {str(then or '')[:60]}")


def unparsed(detail: str) -> Operation:
    return Operation(UNPARSED, detail)


def _classify(node: exp.Expression, dialect: str) -> Operation:
    classify = _CLASSIFIERS.get(type(node))
    if classify is None:
        if isinstance(node, exp.Query):
            return _select(node, dialect)
        return Operation(UNSUPPORTED, f"{type(node).__name__} statement")
    return classify(node, dialect)


def _select(node: exp.Query, dialect: str) -> Operation:
    into = node.args.get("into")
    if into is not None:
        return Operation("select_into", "SELECT ... INTO", writes=_names(into.find_all(exp.Table), dialect))
    return Operation("select")


def _insert(node: exp.Insert, dialect: str) -> Operation:
    writes = _names([node.this.find(exp.Table)] if node.this else [], dialect)
    if node.args.get("overwrite"):
        return Operation("insert_overwrite", "INSERT OVERWRITE", writes=writes)
    if str(node.args.get("alternative") or "").upper() == "REPLACE" or node.args.get("replace"):
        return Operation("replace", "INSERT OR REPLACE", writes=writes)
    return Operation("insert", writes=writes)


def _update(node: exp.Update, dialect: str) -> Operation:
    where = node.args.get("where") is not None
    return Operation("update", "" if where else "UPDATE without WHERE", where, _names(_named(node), dialect))


def _delete(node: exp.Delete, dialect: str) -> Operation:
    where = node.args.get("where") is not None
    return Operation("delete", "" if where else "DELETE without WHERE", where, _names(_named(node), dialect))


def _named(node: exp.Expression) -> list[exp.Table]:
    """Every table an UPDATE or DELETE names outside its subqueries: in MySQL's `UPDATE a JOIN b SET b.x`
    and T-SQL's `UPDATE alias ... FROM t alias` the table written is a joined or aliased one, so all count."""
    return [table for table in node.find_all(exp.Table) if not _in_subquery(table, node)]


def _in_subquery(table: exp.Table, statement: exp.Expression) -> bool:
    parent = table.parent
    while parent is not None and parent is not statement:
        if isinstance(parent, (exp.Query, exp.Subquery, exp.CTE)):
            return True
        parent = parent.parent
    return False


def _merge(node: exp.Merge, dialect: str) -> Operation:
    return Operation("merge", writes=_names([node.this], dialect))


# Objects whose body is code that runs later, with whatever rights it was given (SECURITY DEFINER).
_CODE_OBJECTS = {"FUNCTION", "PROCEDURE", "TRIGGER", "RULE", "MACRO", "TASK", "EVENT", "PACKAGE", "TYPE"}


def _create(node: exp.Create, dialect: str) -> Operation:
    what = str(node.args.get("kind") or "").upper()
    if what in _CODE_OBJECTS:
        return Operation(DYNAMIC, f"CREATE {what} (code that runs later)")
    writes = _names([node.this.find(exp.Table)] if node.this else [], dialect)
    if node.args.get("replace"):
        return Operation("create_or_replace", f"CREATE OR REPLACE {what}".strip(), writes=writes)
    return Operation("create", f"CREATE {what}".strip(), writes=writes)


def _drop(node: exp.Drop, dialect: str) -> Operation:
    what = str(node.args.get("kind") or "").upper()
    tables = [t for t in node.expressions if isinstance(t, exp.Table)] or list(node.find_all(exp.Table))
    return Operation("drop", f"DROP {what}".strip(), writes=_names(tables, dialect))


def _undrop(node: exp.Expression, dialect: str) -> Operation:
    return Operation("undrop", writes=_names(node.find_all(exp.Table), dialect))


def _truncate(node: exp.TruncateTable, dialect: str) -> Operation:
    return Operation("truncate", writes=_names(node.expressions, dialect))


_ALTER_ACTIONS = {
    exp.ColumnDef: "alter_add",
    exp.Drop: "alter_drop",
    exp.AlterRename: "alter_rename",
    exp.RenameColumn: "alter_rename",
    exp.SwapTable: "alter_swap",
    exp.AlterColumn: "alter_column",
    exp.AlterSet: "alter_set",
}
# Destructive sub-kinds first: an ALTER with several actions takes the first of these it has.
_ALTER_ORDER = ("alter_swap", "alter_drop", "alter_rename", "alter_column", "alter_set", "alter_add", "alter_other")


def _alter(node: exp.Alter, dialect: str) -> Operation:
    actions = node.args.get("actions") or []
    kinds = {_ALTER_ACTIONS.get(type(action), "alter_other") for action in actions} or {"alter_other"}
    kind = next(k for k in _ALTER_ORDER if k in kinds)
    tables = [node.this] + [a.this for a in actions if isinstance(a, exp.SwapTable)]
    return Operation(kind, f"ALTER {str(node.args.get('kind') or '').upper()}".strip(), writes=_names(tables, dialect))


def _access(kind: str):
    def classify(node: exp.Expression, dialect: str) -> Operation:
        securable = node.args.get("securable")
        return Operation(kind, writes=_names([securable] if isinstance(securable, exp.Table) else [], dialect))

    return classify


def _copy(node: exp.Copy, dialect: str) -> Operation:
    files = node.args.get("files") or []
    writes = _names([node.this] if isinstance(node.this, exp.Table) else [], dialect)
    if any(not (isinstance(f, exp.Literal) and f.is_string) for f in files):
        return Operation("copy_program", "COPY to or from something other than a named file", writes=writes)
    return Operation("copy_from", writes=writes) if node.args.get("kind") else Operation("copy_to")


def _command(node: exp.Command, dialect: str) -> Operation:
    name = str(node.this or "").upper()
    if name in _PASS_THROUGH_KINDS:
        return Operation(_PASS_THROUGH_KINDS[name], name)
    if name in _DYNAMIC_COMMANDS:
        return Operation(DYNAMIC, f"{name} (dynamic SQL)")
    return Operation(COMMAND, f"{name} is not understood")


def _fixed(kind: str, detail: str = ""):
    return lambda node, dialect: Operation(kind, detail)


_CLASSIFIERS = {
    exp.Insert: _insert,
    exp.Update: _update,
    exp.Delete: _delete,
    exp.Merge: _merge,
    exp.Create: _create,
    exp.Drop: _drop,
    exp.TruncateTable: _truncate,
    exp.Alter: _alter,
    exp.Grant: _access("grant"),
    exp.Revoke: _access("revoke"),
    exp.Copy: _copy,
    exp.Command: _command,
    exp.Show: _fixed("show"),
    exp.Describe: _fixed("describe"),
    exp.Use: _fixed("use"),
    exp.Set: _fixed("set"),
    exp.Comment: _fixed("comment"),
    exp.Transaction: _fixed("transaction", "BEGIN"),
    exp.Commit: _fixed("transaction", "COMMIT"),
    exp.Rollback: _fixed("transaction", "ROLLBACK"),
    exp.Execute: _fixed(DYNAMIC, "EXECUTE (dynamic SQL)"),
    exp.ExecuteSql: _fixed(DYNAMIC, "EXEC (dynamic SQL)"),
}
if hasattr(exp, "Undrop"):
    _CLASSIFIERS[exp.Undrop] = _undrop
if hasattr(exp, "EndStatement"):
    _CLASSIFIERS[exp.EndStatement] = _fixed("transaction", "END")
_NESTED_CHANGES = tuple(cls for cls in _CLASSIFIERS if cls not in (exp.Show, exp.Describe, exp.Use, exp.Set))


def _add_reads(operation: Operation, statement: exp.Expression, dialect: str) -> None:
    written = set(operation.writes)
    operation.reads = [name for name in _names(statement.find_all(exp.Table), dialect) if name not in written]


def _names(tables, dialect: str) -> list[str]:
    """Table names as dotted paths: unquoted parts lower-cased, any other part quoted as the dialect quotes it,
    so a quoted `"analytics.staging_x"` never reads as the two-part name analytics.staging_x."""
    names = []
    for table in tables:
        if not isinstance(table, exp.Table) or not table.name:
            continue
        parts = [_part(identifier, dialect) for identifier in table.parts]
        name = ".".join(parts)
        if name not in names:
            names.append(name)
    return names


def _part(identifier: exp.Expression, dialect: str) -> str:
    if isinstance(identifier, exp.Identifier) and _SIMPLE_IDENTIFIER.fullmatch(identifier.name):
        return identifier.name if identifier.quoted else identifier.name.lower()
    return identifier.sql(dialect=dialect or None)
