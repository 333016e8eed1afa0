"""SQLite in WAL mode, one transaction per group commit.

`synchronous=FULL` makes every commit fsync the WAL, so a write the store acknowledged
survives `kill -9` of the apistore (and a power cut). Group commit amortises that fsync over
all the writes that arrived while the previous batch was being written.

The table keeps the latest version of each object; the store-wide revision lives in `meta`
so that resourceVersions keep growing across restarts even after deletions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kstore.apistore.backends import Key, Row


class SqliteBackend:
    blocking = True

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used only from the store's single writer thread (and load(), before it starts).
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
            " rv INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")

    def load(self) -> tuple[int, list[Row]]:
        row = self._db.execute("SELECT v FROM meta WHERE k = 'revision'").fetchone()
        rows = self._db.execute("SELECT kind, namespace, name, rv, data FROM objects").fetchall()
        revision = row[0] if row else 0
        return max([revision, *(r[3] for r in rows)]), rows

    def write(self, puts: list[Row], deletes: list[Key], revision: int) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            if puts:
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", puts)
            if deletes:
                db.executemany("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?", deletes)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (revision,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
