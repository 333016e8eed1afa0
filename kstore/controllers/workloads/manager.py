"""The controller-manager: one process, several controllers over shared informers.

Design:
- Informers, one per kind, shared: Deployment, ReplicaSet, StatefulSet, Pod,
  PersistentVolumeClaim, Node, Lease, CSINode, Namespace. Each controller adds its own
  handlers, which only enqueue keys (and keep the GC graph and the node health tracker).
- One work queue per controller, named as Kubernetes names them (`deployment`, `replicaset`,
  `statefulset`, `ephemeral_volume`, `namespace`, the garbage collector's two), and one worker
  per queue: a worker pops a key, reads the view, calls the controller's pure `sync_*` and
  applies the actions (applier.py). A sync that raises is retried with the queue's backoff;
  `RequeueAfter` comes back through `add_after`. Syncs of one queue are not re-entrant: a
  ReplicaSet must see its own creations before deciding again.
- The garbage collector (gc_controller.py) keeps a uid graph from the informers of `GC_KINDS`,
  the kinds that have owners here or own them; any kind can be added to the tuple.
- The node lifecycle is a timer loop (monitor.py), on the injected clock.
- Each controller records events under its Kubernetes component name (deployment-controller,
  replicaset-controller, statefulset-controller, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from kstore.api.kinds import KINDS
from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock, RealClock
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import WorkQueue, run_worker
from kstore.controllers.workloads.applier import Applier
from kstore.controllers.workloads.assume import AssumedDeletes
from kstore.controllers.workloads.deployment import sync_deployment
from kstore.controllers.workloads.ephemeral import sync_ephemeral
from kstore.controllers.workloads.gc_controller import GarbageCollector
from kstore.controllers.workloads.meta import controller_ref, is_deleting, labels, selector_matches
from kstore.controllers.workloads.metrics import EPHEMERAL_CREATE, EPHEMERAL_CREATE_FAILURES
from kstore.controllers.workloads.model import Action, Create, Obj, key_of, split_key
from kstore.controllers.workloads.monitor import LifecycleSettings, NodeMonitor
from kstore.controllers.workloads.namespace import sync_namespace
from kstore.controllers.workloads.replicaset import sync_replica_set
from kstore.controllers.workloads.statefulset import sync_stateful_set
from kstore.controllers.workloads.view import CacheView, add_indexes
from kstore.observe.metrics import timed_sync

log = logging.getLogger(__name__)

PROCESS = "controller-manager"
# Kinds whose objects have owners here, or own them: the garbage collector's graph.
GC_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "Pod", "PersistentVolumeClaim", "CSINode", "Lease", "Node")
INFORMER_KINDS = (*GC_KINDS, "Namespace")
# The queues, with the component name their events are recorded under.
COMPONENTS = {
    "deployment": "deployment-controller",
    "replicaset": "replicaset-controller",
    "statefulset": "statefulset-controller",
    "ephemeral_volume": "ephemeral-volume-controller",
    "namespace": "namespace-controller",
}


class ControllerManager:
    def __init__(self, client: BusClient, *, settings: LifecycleSettings | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.clock: Clock = clock if clock is not None else RealClock()
        self.informers = {kind: Informer(client, kind) for kind in INFORMER_KINDS}
        for kind, informer in self.informers.items():
            add_indexes(informer, namespaced=KINDS[kind].namespaced)
        self.assumed = AssumedDeletes(self.clock)
        self.view = CacheView(self.informers, self.assumed)
        self.applier = Applier(client, self.informers, self.assumed)
        self.queues: dict[str, WorkQueue[str]] = {name: WorkQueue(name, clock=self.clock) for name in COMPONENTS}
        self.recorders = {name: EventRecorder(client, component=component, clock=self.clock)
                          for name, component in COMPONENTS.items()}
        self.gc = GarbageCollector(client, self.applier, clock=self.clock)
        self.monitor = NodeMonitor(client, self.view, self.applier, settings=settings or LifecycleSettings(),
                                   clock=self.clock)
        self._wire()

    # ---- wiring

    def _on(self, kind: str, changed: Callable[[Obj], None], deleted: Callable[[Obj], None] | None = None) -> None:
        self.informers[kind].add_handler(Handler(on_add=changed, on_update=lambda _old, new: changed(new),
                                                 on_delete=deleted or changed))

    def _wire(self) -> None:
        for kind in GC_KINDS:
            self._on(kind, self.gc.on_upsert, self._deleted)
        self._on("Deployment", lambda d: self.queues["deployment"].add(key_of(d)))
        self._on("ReplicaSet", self._replica_set_changed)
        self._on("StatefulSet", lambda s: self.queues["statefulset"].add(key_of(s)))
        self._on("Pod", self._pod_changed, self._pod_deleted)
        self._on("PersistentVolumeClaim", self._claim_changed, self._claim_deleted)
        self._on("Node", self.monitor.observe_node, self.monitor.forget_node)
        self._on("Lease", self.monitor.observe_lease, lambda _lease: None)
        self._on("Namespace", self._namespace_changed, lambda _ns: None)

    def _deleted(self, obj: Obj) -> None:
        """Any watched object reported deleted: our assumption about it is over."""
        self.assumed.forget(obj["metadata"].get("uid", ""))
        self.gc.on_remove(obj)

    def _owners_in_namespace(self, kind: str, obj: Obj) -> list[Obj]:
        """Controllers of `kind` whose selector matches an orphan (who may adopt it)."""
        ns = obj["metadata"].get("namespace", "")
        return [o for o in self.view.list(kind, ns) if selector_matches((o.get("spec") or {}).get("selector"),
                                                                          labels(obj))]

    def _replica_set_changed(self, rs: Obj) -> None:
        self.queues["replicaset"].add(key_of(rs))
        ref = controller_ref(rs)
        ns = rs["metadata"].get("namespace", "")
        if ref is None:
            for d in self._owners_in_namespace("Deployment", rs):
                self.queues["deployment"].add(key_of(d))
        elif ref.get("kind") == "Deployment":
            self.queues["deployment"].add(f"{ns}/{ref.get('name')}")

    def _pod_changed(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        ns = pod["metadata"].get("namespace", "")
        if ref is None:
            for rs in self._owners_in_namespace("ReplicaSet", pod):
                self.queues["replicaset"].add(key_of(rs))
            for sts in self._owners_in_namespace("StatefulSet", pod):
                self.queues["statefulset"].add(key_of(sts))
        elif ref.get("kind") == "ReplicaSet":
            self.queues["replicaset"].add(f"{ns}/{ref.get('name')}")
        elif ref.get("kind") == "StatefulSet":
            self.queues["statefulset"].add(f"{ns}/{ref.get('name')}")
        if any(v.get("ephemeral") for v in (pod.get("spec") or {}).get("volumes") or []):
            self.queues["ephemeral_volume"].add(key_of(pod))

    def _pod_deleted(self, pod: Obj) -> None:
        self.monitor.forget_pod(pod)
        self._pod_changed(pod)
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "ReplicaSet":  # a Recreate rollout waits for old pods to go
            rs = self.view.get("ReplicaSet", pod["metadata"].get("namespace", ""), str(ref.get("name")))
            rs_ref = controller_ref(rs) if rs is not None else None
            if rs_ref is not None and rs_ref.get("kind") == "Deployment":
                self.queues["deployment"].add(f"{rs['metadata'].get('namespace')}/{rs_ref.get('name')}")

    def _claim_changed(self, claim: Obj) -> None:
        if is_deleting(claim):
            self._wake_stateful_sets(claim)

    def _claim_deleted(self, claim: Obj) -> None:
        ns, name = claim["metadata"].get("namespace", ""), claim["metadata"]["name"]
        for pod in self.view.pods_using_ephemeral(ns, name):
            self.queues["ephemeral_volume"].add(key_of(pod))
        self._wake_stateful_sets(claim)

    def _wake_stateful_sets(self, claim: Obj) -> None:
        """A StatefulSet may be waiting for this claim to finish its deletion."""
        for sts in self.view.list("StatefulSet", claim["metadata"].get("namespace", "")):
            self.queues["statefulset"].add(key_of(sts))

    def _namespace_changed(self, ns: Obj) -> None:
        if is_deleting(ns):
            self.queues["namespace"].add(ns["metadata"]["name"])

    @property
    def informer_list(self) -> list[Informer]:
        return list(self.informers.values())

    # ---- workers

    def workers(self) -> list[Awaitable[None]]:
        return [
            run_worker(self.queues["deployment"], self._timed("deployment", self.sync_deployment)),
            run_worker(self.queues["replicaset"], self._timed("replicaset", self.sync_replica_set)),
            run_worker(self.queues["statefulset"], self._timed("statefulset", self.sync_stateful_set)),
            run_worker(self.queues["ephemeral_volume"], self._timed("ephemeral_volume", self.sync_ephemeral)),
            run_worker(self.queues["namespace"], self._timed("namespace", self.sync_namespace)),
            run_worker(self.gc.attempt_to_delete, self._timed("garbage_collector_attempt_to_delete",
                                                              self.gc.sync_attempt_to_delete)),
            run_worker(self.gc.attempt_to_orphan, self._timed("garbage_collector_attempt_to_orphan",
                                                              self.gc.sync_attempt_to_orphan)),
        ]

    def recorder_tasks(self) -> list[asyncio.Task[None]]:
        recorders = [*self.recorders.values(), self.gc.recorder, self.monitor.node_recorder,
                     self.monitor.taint_recorder]
        return [r.start() for r in recorders]

    async def close_recorders(self, timeout: float = 2.0) -> None:
        recorders = [*self.recorders.values(), self.gc.recorder, self.monitor.node_recorder,
                     self.monitor.taint_recorder]
        await asyncio.wait_for(asyncio.gather(*(r.close() for r in recorders)), timeout)

    def _timed(self, loop: str, fn: Callable[[str], Awaitable[None]]) -> Callable[[str], Awaitable[None]]:
        return timed_sync(PROCESS, loop, fn)

    async def _apply(self, queue: str, key: str, actions: Sequence[Action]) -> None:
        delays = await self.applier.apply(actions, self.recorders[queue])
        if delays:
            self.queues[queue].add_after(key, min(delays))

    async def sync_deployment(self, key: str) -> None:
        d = self.view.get("Deployment", *split_key(key))
        if d is not None:
            await self._apply("deployment", key, sync_deployment(d, self.view, now=self.clock.wall()))

    async def sync_replica_set(self, key: str) -> None:
        rs = self.view.get("ReplicaSet", *split_key(key))
        if rs is not None:
            await self._apply("replicaset", key, sync_replica_set(rs, self.view, now=self.clock.wall()))

    async def sync_stateful_set(self, key: str) -> None:
        sts = self.view.get("StatefulSet", *split_key(key))
        if sts is not None:
            await self._apply("statefulset", key, sync_stateful_set(sts, self.view, now=self.clock.wall()))

    async def sync_ephemeral(self, key: str) -> None:
        pod = self.view.get("Pod", *split_key(key))
        if pod is None:
            return
        actions = sync_ephemeral(pod, self.view)
        creates = sum(1 for a in actions if isinstance(a, Create))
        EPHEMERAL_CREATE.inc(creates)
        try:
            await self._apply("ephemeral_volume", key, actions)
        except Exception:
            EPHEMERAL_CREATE_FAILURES.inc()
            raise

    async def sync_namespace(self, name: str) -> None:
        ns = self.view.get("Namespace", "", name)
        if ns is None or not is_deleting(ns):
            return
        contents = {}
        for kind, info in KINDS.items():
            if info.namespaced:
                contents[kind] = (await self.client.list(kind, namespace=name)).items
        await self._apply("namespace", name, sync_namespace(ns, contents, now=self.clock.wall()))

    def shut_down(self) -> None:
        for q in self.queues.values():
            q.shut_down()
        self.gc.shut_down()
        for informer in self.informers.values():
            informer.stop()
