"""The volume binder's assume cache: informer objects, overlaid with the scheduler's own
decisions until the store has caught up with them.

Design (Kubernetes' volumebinding `assume_cache.go`, our code):
- `put` / `remove` follow the informer. `get` answers with the *assumed* version of an object
  when there is one, else the informer's; `get_api` always with the informer's (the binding
  check must read what the store says, not what we hope).
- `assume(obj)` records a decision made in memory — a PV pre-bound to a claim, a claim with
  `volume.kubernetes.io/selected-node` — so the next scheduling decision already sees it
  (two pods never take one PV) before the write is even sent. The object must be built on the
  current version: an older resourceVersion is refused (`AssumeError`), as Kubernetes does.
- An informer version newer than the assumed one replaces it: the store has the truth now,
  whether our write made it or someone else's. `restore(key)` drops an assumption (the
  pod's binding failed: Unreserve).
- `scheduler_volume_binder_cache_requests_total{operation}` counts: `add` per assumption,
  `update` when a newer informer version replaces an assumption, `delete` when one is
  restored (the binding did not happen). Kubernetes registers this counter for its binder
  cache with the same operations.

Invariants: every assumed key has an informer object (assume needs one; when the informer
drops the object the assumption goes with it). Not thread-safe: event-loop use only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kstore.scheduler.metrics import BINDER_CACHE_REQUESTS

Obj = dict[str, Any]


class AssumeError(Exception):
    """The object to assume is unknown or older than the cached one."""


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class AssumeCache:
    def __init__(self, kind: str, key: Callable[[Obj], str]) -> None:
        self.kind = kind
        self._key = key
        self._api: dict[str, Obj] = {}
        self._assumed: dict[str, Obj] = {}
        self._m_add = BINDER_CACHE_REQUESTS.labels("add")
        self._m_update = BINDER_CACHE_REQUESTS.labels("update")
        self._m_delete = BINDER_CACHE_REQUESTS.labels("delete")

    # ---- informer side

    def put(self, obj: Obj) -> Obj | None:
        """Store the informer's version; returns the previous informer version."""
        key = self._key(obj)
        old = self._api.get(key)
        self._api[key] = obj
        assumed = self._assumed.get(key)
        if assumed is not None and _rv(obj) > _rv(assumed):
            del self._assumed[key]
            self._m_update.inc()
        return old

    def remove(self, key: str) -> Obj | None:
        self._assumed.pop(key, None)
        return self._api.pop(key, None)

    # ---- reads

    def get(self, key: str) -> Obj | None:
        """The assumed version if any, else the informer's."""
        obj = self._assumed.get(key)
        return obj if obj is not None else self._api.get(key)

    def get_api(self, key: str) -> Obj | None:
        return self._api.get(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def __len__(self) -> int:
        return len(self._api)

    def values(self) -> Iterator[Obj]:
        """Every object, assumed versions first-class."""
        for key, obj in self._api.items():
            yield self._assumed.get(key, obj)

    # ---- decisions

    def assume(self, obj: Obj) -> None:
        key = self._key(obj)
        current = self.get(key)
        if current is None:
            raise AssumeError(f"{self.kind} {key!r} not found in the cache")
        if _rv(obj) < _rv(current):
            raise AssumeError(f"{self.kind} {key!r} is out of sync (stored: {_rv(current)}, assume: {_rv(obj)})")
        self._assumed[key] = obj
        self._m_add.inc()

    def restore(self, key: str) -> None:
        """Forget the assumption about `key`; no-op if there is none."""
        if self._assumed.pop(key, None) is not None:
            self._m_delete.inc()


__all__ = ["AssumeCache", "AssumeError"]
