"""Deletions this process made that its informers have not reported yet.

Why: a ReplicaSet that deletes two pods and syncs again before the two DELETED events arrive
must not see them as still running and delete two more (Kubernetes keeps *expectations* for
this). Created and updated objects are put straight into the informer cache (the write
returns them); a deletion cannot be written there safely, since an older MODIFIED event
still in flight would put the pod back. So the deletion is remembered here, with the
resourceVersion the store gave it, and the view shows every cached copy older than that as
the store now has it: terminating (graceful deletion of a pod on a node), or gone.

Invariants: an entry lives until the informer delivers a copy at least as new, reports the
object deleted (`forget`), or `ttl` seconds pass (a safety net: a lost event is repaired by
the informer's re-list, not by us); entries are kept in expiry order, and `record` drops the
expired ones, so memory stays bounded by the deletions of the last `ttl` seconds. No I/O; one
event loop.
"""

from __future__ import annotations

import dataclasses

from kstore.client.clock import Clock, RealClock
from kstore.controllers.workloads.model import Obj

DEFAULT_TTL = 120.0


@dataclasses.dataclass(frozen=True)
class _Deleted:
    rv: int
    obj: Obj | None  # the terminating object, or None when it is gone
    expires: float


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class AssumedDeletes:
    def __init__(self, clock: Clock | None = None, *, ttl: float = DEFAULT_TTL) -> None:
        self._clock = clock if clock is not None else RealClock()
        self._ttl = ttl
        self._entries: dict[str, _Deleted] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, reply: Obj) -> None:
        """Remember the store's answer to a delete: the object as it is now (with a
        deletionTimestamp while it terminates) or its last state when it is gone."""
        meta = reply.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        gone = not meta.get("deletionTimestamp")
        now = self._clock.now()
        self._entries.pop(uid, None)  # re-inserted last: the dict stays in expiry order
        self._entries[uid] = _Deleted(_rv(reply), None if gone else reply, now + self._ttl)
        while self._entries:  # drop the expired ones nobody asked about again
            first = next(iter(self._entries))
            if self._entries[first].expires >= now:
                break
            del self._entries[first]

    def resolve(self, cached: Obj) -> Obj | None:
        """What the view shows for a cached object: itself, or what our deletion made of it."""
        uid = (cached.get("metadata") or {}).get("uid", "")
        entry = self._entries.get(uid)
        if entry is None:
            return cached
        if _rv(cached) >= entry.rv or self._clock.now() > entry.expires:
            del self._entries[uid]  # the informer has caught up (or we stop guessing)
            return cached
        return entry.obj

    def forget(self, uid: str) -> None:
        """The informer saw the object deleted. No-op for an unknown uid."""
        self._entries.pop(uid, None)
