"""The `hitl` process ends with os._exit (hitl_cli.program): nothing closes what a command left open. A SQLite
store in WAL mode keeps committed writes in its -wal file until the last connection closes and checkpoints
them; a command that exited with its connection open would leave its writes there, and a store copied or
backed up as its one file (state.db) would silently lose them. Every write command closes its store first.
Real `hitl` processes and a real SQLite store.
"""

import shutil
import sqlite3
from contextlib import closing

import pytest

from .support import tier_manifest


def requests_and_verdicts(database) -> tuple[int, int]:
    """What the database file alone holds, read from a copy made without its -wal and -shm files."""
    with closing(sqlite3.connect(database)) as connection:
        return (connection.execute("SELECT count(*) FROM requests").fetchone()[0],
                connection.execute("SELECT count(*) FROM verdicts").fetchone()[0])


@pytest.mark.attack
def test_the_store_file_alone_holds_every_write_once_each_command_has_exited(sqlite_ws, tmp_path):
    ws = sqlite_ws
    ws.submit([tier_manifest("single_approval", id=f"s-{n}") for n in range(3)])
    assert ws.hitl("approve", "s-0", "--by", "alice").returncode == 0
    assert ws.hitl("reject", "s-1", "--by", "bob", "--reason", "not now").returncode == 0
    wal = ws.state.with_name(ws.state.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "committed writes were left in the -wal file"
    copy = tmp_path / "copied.db"
    shutil.copyfile(ws.state, copy)
    assert requests_and_verdicts(copy) == (3, 2)
