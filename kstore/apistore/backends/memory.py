"""A backend that keeps nothing: the store's own maps are the only copy (for throwaway runs)."""

from __future__ import annotations

from kstore.apistore.backends import Key, Row


class MemoryBackend:
    blocking = False

    def load(self) -> tuple[int, list[Row]]:
        return 0, []

    def write(self, puts: list[Row], deletes: list[Key], revision: int) -> None:
        return None

    def close(self) -> None:
        return None
