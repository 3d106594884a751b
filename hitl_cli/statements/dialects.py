"""Which SQL dialect a statement is read in, from target.system (docs/statements.md lists the mapping)."""

# target.system (lower-cased) -> sqlglot dialect name. A system not listed is read in sqlglot's generic
# dialect: a statement it cannot parse is unanalysable, so an unknown system never loosens anything.
DIALECTS = {
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "postgres": "postgres",
    "postgresql": "postgres",
    "redshift": "redshift",
    "databricks": "databricks",
    "spark": "spark",
    "hive": "hive",
    "mysql": "mysql",
    "mariadb": "mysql",
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "sqlserver": "tsql",
    "mssql": "tsql",
    "tsql": "tsql",
    "synapse": "tsql",
    "oracle": "oracle",
    "trino": "trino",
    "presto": "presto",
    "athena": "athena",
    "clickhouse": "clickhouse",
    "teradata": "teradata",
}
GENERIC = ""  # sqlglot's own dialect


def dialect_for(system: str | None) -> str:
    return DIALECTS.get((system or "").strip().lower(), GENERIC)
