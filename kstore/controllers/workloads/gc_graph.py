"""The garbage collector's graph: every watched object by uid, and who depends on whom
(Kubernetes' `garbagecollector/graph.go` and `graph_builder.go`, reduced to a state cache).

Design (STYLE §3): `UidGraph` is a small class with no I/O. Informer handlers of every kind
that can have owners (and of the kinds that own them) call `upsert(obj)` / `remove(obj)`; the
garbage collector's syncs read `get(uid)` and `dependents(uid)`. An owner that is not in the
graph — not watched, not yet listed, or gone — is only known by the references to it; the
worker asks the store about it before anything is deleted because of it.

Invariants: `dependents(u)` holds exactly the nodes whose ownerReferences name `u`, whether or
not `u` itself is in the graph; `remove` of an object whose uid is not the one in the graph
(an old incarnation) is a no-op; `upsert` of an unchanged object is cheap.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kstore.controllers.workloads.model import FOREGROUND, ORPHAN, Obj


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One object as the garbage collector sees it. `obj` is the informer's dict (read-only)."""

    kind: str
    api_version: str
    namespace: str
    name: str
    uid: str
    owners: tuple[dict[str, Any], ...]
    deleting: bool
    finalizers: tuple[str, ...]
    obj: Obj

    @classmethod
    def of(cls, obj: Obj) -> GraphNode:
        meta = obj["metadata"]
        return cls(kind=obj.get("kind", ""), api_version=obj.get("apiVersion", ""),
                   namespace=meta.get("namespace") or "", name=meta.get("name", ""), uid=meta.get("uid", ""),
                   owners=tuple(meta.get("ownerReferences") or ()), deleting=bool(meta.get("deletionTimestamp")),
                   finalizers=tuple(meta.get("finalizers") or ()), obj=obj)

    @property
    def deleting_dependents(self) -> bool:
        """Being deleted in the foreground: waits for its blocking dependents."""
        return self.deleting and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.deleting and ORPHAN in self.finalizers

    def owner_uids(self) -> set[str]:
        return {str(r.get("uid")) for r in self.owners if r.get("uid")}

    def ref_to(self, uid: str) -> dict[str, Any] | None:
        for ref in self.owners:
            if ref.get("uid") == uid:
                return ref
        return None

    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class UidGraph:
    def __init__(self) -> None:
        self._nodes: dict[str, GraphNode] = {}
        self._dependents: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, uid: str) -> GraphNode | None:
        return self._nodes.get(uid)

    def dependents(self, uid: str) -> list[GraphNode]:
        """The nodes whose ownerReferences name `uid` (in no particular order)."""
        return [self._nodes[d] for d in self._dependents.get(uid, ()) if d in self._nodes]

    def upsert(self, obj: Obj) -> tuple[GraphNode | None, GraphNode | None]:
        """Add or replace the object's node; returns (old node, new node). An object without
        a uid is ignored: (None, None)."""
        node = GraphNode.of(obj)
        if not node.uid:
            return None, None
        old = self._nodes.get(node.uid)
        self._nodes[node.uid] = node
        before = old.owner_uids() if old is not None else set()
        after = node.owner_uids()
        for owner in before - after:
            self._unlink(owner, node.uid)
        for owner in after - before:
            self._dependents.setdefault(owner, set()).add(node.uid)
        return old, node

    def remove(self, obj: Obj) -> GraphNode | None:
        """Drop the object's node; returns it, or None if the graph did not hold that uid."""
        uid = (obj.get("metadata") or {}).get("uid", "")
        old = self._nodes.pop(uid, None)
        if old is None:
            return None
        for owner in old.owner_uids():
            self._unlink(owner, uid)
        return old

    def _unlink(self, owner: str, dependent: str) -> None:
        deps = self._dependents.get(owner)
        if deps is not None:
            deps.discard(dependent)
            if not deps:
                del self._dependents[owner]
