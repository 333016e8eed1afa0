"""Durable backends of the store: `sqlite` (default) and `memory` (throwaway runs).

A backend only persists: it never decides anything. `load()` returns the revision and every
stored object; `write()` makes one batch durable (one transaction, one fsync) and returns only
once it is, which is what lets the store acknowledge a write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

Row = tuple[str, str, str, int, bytes]  # kind, namespace, name, resourceVersion, msgpack bytes
Key = tuple[str, str, str]  # kind, namespace, name


class Backend(Protocol):
    blocking: bool  # True: write() does I/O and runs on the writer thread

    def load(self) -> tuple[int, list[Row]]: ...

    def write(self, puts: list[Row], deletes: list[Key], revision: int) -> None: ...

    def close(self) -> None: ...


def open_backend(kind: str, path: Path | None = None) -> Backend:
    if kind == "memory":
        from kstore.apistore.backends.memory import MemoryBackend

        return MemoryBackend()
    if kind == "sqlite":
        from kstore.apistore.backends.sqlite import SqliteBackend

        if path is None:
            raise ValueError("the sqlite backend needs a path")
        return SqliteBackend(path)
    raise ValueError(f"unknown backend {kind!r}: expected 'sqlite' or 'memory'")
