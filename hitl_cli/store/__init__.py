"""The state store: SQLite schema and migrations, connections and transactions, and the tables' repositories."""
