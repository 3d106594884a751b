"""The state store: schema and migrations, one module per backend (SQLite, PostgreSQL), connections and
transactions, and the tables' repositories."""
