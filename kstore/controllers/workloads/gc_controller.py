"""The garbage collector's worker side: keep the uid graph from the informers, queue what to
look at, ask the store about owners the graph does not hold, apply garbagecollector.py's
decisions.

Design:
- Two queues with Kubernetes' names, keyed by uid: `garbage_collector_attempt_to_delete`
  (objects with owners, and owners deleted in the foreground) and
  `garbage_collector_attempt_to_orphan` (owners deleted with `orphan`). One worker each: a
  sync reads the graph, which only handlers change, between its awaits.
- Queued: an object whose owners changed or that has owners at all (every update: a check
  against the graph is cheap); the dependents of an object that is gone, or that starts
  waiting for its dependents; the foreground-deleting owners of an object that changed or
  went (one fewer blocking dependent).
- An owner missing from the graph is looked up in the store before anything is decided
  (informer caches lag and list at different moments; Kubernetes' `isDangling` asks the
  apiserver too); absent uids are remembered in a bounded cache, also fed by deletions the
  informers report.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import WorkQueue
from kstore.controllers.workloads.applier import Applier
from kstore.controllers.workloads.garbagecollector import (
    OwnerState,
    classify_from_graph,
    owner_lookup,
    sync_attempt_to_delete,
    sync_orphan,
)
from kstore.controllers.workloads.gc_graph import GraphNode, UidGraph
from kstore.controllers.workloads.metrics import GC_DELETIONS
from kstore.controllers.workloads.model import FOREGROUND, Delete, Obj

log = logging.getLogger(__name__)

COMPONENT = "garbage-collector-controller"
ABSENT_CACHE_SIZE = 500  # Kubernetes' absentOwnerCache holds 500 uids too


class _AbsentOwners:
    """uids known not to exist any more; least recently used dropped first."""

    def __init__(self, size: int = ABSENT_CACHE_SIZE) -> None:
        self._size = size
        self._uids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self._size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


class GarbageCollector:
    def __init__(self, client: BusClient, applier: Applier, *, clock: Clock) -> None:
        self._client = client
        self._applier = applier
        self.graph = UidGraph()
        self.recorder = EventRecorder(client, component=COMPONENT, clock=clock)
        self.attempt_to_delete: WorkQueue[str] = WorkQueue("garbage_collector_attempt_to_delete", clock=clock)
        self.attempt_to_orphan: WorkQueue[str] = WorkQueue("garbage_collector_attempt_to_orphan", clock=clock)
        self._absent = _AbsentOwners()

    # ---- graph building (informer handlers of every kind it watches)

    def on_upsert(self, obj: Obj) -> None:
        old, new = self.graph.upsert(obj)
        if new is None:
            return
        if new.owners or new.deleting_dependents:
            self.attempt_to_delete.add(new.uid)
        if new.orphaning:
            self.attempt_to_orphan.add(new.uid)
        if new.deleting_dependents and not (old is not None and old.deleting_dependents):
            for dep in self.graph.dependents(new.uid):
                self.attempt_to_delete.add(dep.uid)
        self._wake_waiting_owners(new.owner_uids() | (old.owner_uids() if old is not None else set()))

    def on_remove(self, obj: Obj) -> None:
        old = self.graph.remove(obj)
        if old is None:
            return
        self._absent.add(old.uid)
        for dep in self.graph.dependents(old.uid):
            self.attempt_to_delete.add(dep.uid)
        self._wake_waiting_owners(old.owner_uids())

    def _wake_waiting_owners(self, uids: set[str]) -> None:
        for uid in uids:
            owner = self.graph.get(uid)
            if owner is not None and owner.deleting_dependents:
                self.attempt_to_delete.add(uid)

    # ---- workers

    async def owner_states(self, node: GraphNode) -> Mapping[str, OwnerState]:
        states, unknown = classify_from_graph(node, self.graph)
        for ref in unknown:
            uid = str(ref.get("uid") or "")
            states[uid] = await self._ask_store(node, ref, uid)
        return states

    async def _ask_store(self, node: GraphNode, ref: Mapping[str, object], uid: str) -> OwnerState:
        if uid in self._absent:
            return OwnerState.ABSENT
        kind, namespace, name = owner_lookup(node, ref)
        try:
            owner = await self._client.get(kind, namespace or None, name)
        except ApiError as e:
            if e.code != 404:
                raise
            self._absent.add(uid)
            return OwnerState.ABSENT
        meta = owner.get("metadata") or {}
        if meta.get("uid") != uid:
            self._absent.add(uid)
            return OwnerState.ABSENT  # a namesake: the owner we name is gone
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            return OwnerState.WAITING
        return OwnerState.PRESENT

    async def sync_attempt_to_delete(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None or (node.deleting and not node.deleting_dependents):
            return
        states = await self.owner_states(node) if not node.deleting else {}
        node = self.graph.get(uid)  # the graph may have moved while we asked the store
        if node is None:
            return
        actions = sync_attempt_to_delete(node, self.graph, states)
        await self._applier.apply(actions, self.recorder)
        for a in actions:
            if isinstance(a, Delete):
                GC_DELETIONS.labels(a.propagation or "Background").inc()
                log.info("%s %s: deleted by the garbage collector (%s): its owners are gone or going",
                         node.kind, node.key(), a.propagation)

    async def sync_attempt_to_orphan(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None:
            return
        actions = sync_orphan(node, self.graph)
        await self._applier.apply(actions, self.recorder)
        if actions:
            log.info("%s %s: %d dependents orphaned by the garbage collector", node.kind, node.key(),
                     len(actions) - 1)

    def shut_down(self) -> None:
        self.attempt_to_delete.shut_down()
        self.attempt_to_orphan.shut_down()
