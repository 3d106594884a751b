"""The statement kinds hitl tells apart (docs/statements.md); importing this does not load sqlglot."""

# Kinds hitl can never analyse: a profile cannot map them to an action type (hitl_cli/models/profile.py).
DYNAMIC = "dynamic"  # EXECUTE, EXEC, EXECUTE IMMEDIATE, DO blocks, CALL: SQL built or run at run time
COMMAND = "command"  # a statement sqlglot passes through unparsed
UNSUPPORTED = "unsupported"  # a statement node this module does not classify
UNPARSED = "unparsed"  # text sqlglot cannot parse
UNANALYSABLE_KINDS = (DYNAMIC, COMMAND, UNSUPPORTED, UNPARSED)

# Kinds a profile maps to action types (statements.kinds); `function_call` is a statement calling a function
# sqlglot does not know, which may do anything a procedure can.
ANALYSABLE_KINDS = (
    "select", "show", "describe", "use", "set", "insert", "insert_overwrite", "replace", "update", "delete",
    "merge", "copy_from", "copy_to", "copy_program", "create", "create_or_replace", "select_into", "drop",
    "undrop", "truncate", "alter_add", "alter_drop", "alter_rename", "alter_swap", "alter_column", "alter_set",
    "alter_other", "grant", "revoke", "comment", "vacuum", "function_call", "transaction",
)  # fmt: skip
