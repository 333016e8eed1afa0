"""The scheduler's loop: informers → snapshot and queue → one decision at a time → binding.

Design (Kubernetes' `scheduler.go`, `schedule_one.go`, `eventhandlers.go`; our code):
- Informers on Pods, Nodes, PVs, PVCs, StorageClasses and CSINodes feed the `Snapshot`
  (assigned and assumed pods, per-node state, volume caches) and the `SchedulingQueue`
  (pending pods with `spec.schedulerName` default-scheduler and no `spec.nodeName`). Their
  handlers also move waiting pods on the events that may help them (queue.py) and wake the
  binding cycles waiting on a claim.
- The scheduling cycle is synchronous: pop a pod, `schedule_one` (algorithm.py), and on
  success *Reserve* — assume its volumes (volumebinding.assume) and the pod itself in the
  snapshot — before the next pod is looked at, so the next decision already counts it. One
  decision at a time; the loop yields to the event loop between two decisions.
- The binding cycle runs as its own task, many in flight: PreBind writes the volume decision
  (the PV's claimRef; the claim's `volume.kubernetes.io/selected-node`), waits — woken by PVC
  and PV events, and by one shared tick every RECHECK seconds — until every claim is fully bound
  (`check_bindings`), then binds the pod (pods/binding). Any failure (timeout after
  `bind_timeout`, the provisioner giving up, a conflict) is Unreserve: the assumptions are
  reverted, and the pod goes back to the queue with backoff.
- What users see, as from kube-scheduler: a `Scheduled` event "Successfully assigned ns/pod to
  node" (component default-scheduler); for a pod that fits nowhere a Warning `FailedScheduling`
  event with the FitError text and the condition `PodScheduled=False`, reason `Unschedulable`
  (`SchedulerError` for errors), written only when it changes. A stale selected node found
  during a cycle is removed from its claim.
- Not done (kstore emulates the storage side of the scheduler): preemption (no pod is ever
  evicted to make room; the FitError says no victims were found), NodePorts, ImageLocality,
  preferred inter-pod affinity and ScheduleAnyway spread constraints of the pod's own,
  CSIStorageCapacity, extenders, multiple profiles.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient, object_key
from kstore.client.clock import Clock, RealClock
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder, rfc3339
from kstore.controllers.pv.model import ANN_SELECTED_NODE
from kstore.observe.metrics import E2E_LATENCY, RECONCILE_DURATION
from kstore.scheduler import framework as fw
from kstore.scheduler.algorithm import ERROR, SCHEDULED, Decision, schedule_one
from kstore.scheduler.assume import AssumeError
from kstore.scheduler.config import SchedulerConfig
from kstore.scheduler.metrics import (
    RESULT_ERROR,
    RESULT_SCHEDULED,
    RESULT_UNSCHEDULABLE,
    SCHEDULE_ATTEMPTS,
    SCHEDULING_ATTEMPT_DURATION,
    VOLUME_SCHEDULING_STAGE_ERRORS,
)
from kstore.scheduler.podinfo import DEFAULT_SCHEDULER, PodInfo, pod_info
from kstore.scheduler.queue import QueuedPod, SchedulingQueue
from kstore.scheduler.snapshot import Snapshot
from kstore.scheduler.volumebinding import BindingError, PodVolumes, assume, check_bindings, revert
from kstore.volume.drivers import DriverMap

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KINDS = ("StorageClass", "CSINode", "Node", "PersistentVolume", "PersistentVolumeClaim", "Pod")
RECHECK = 5.0  # the longest a binding cycle waits without looking again
MSG_GATED = "Scheduling is blocked due to non-empty scheduling gates"

# Which plugins' rejections an event may undo (EventsToRegister of the default plugins).
PV_EVENT = frozenset((fw.VOLUME_BINDING, fw.VOLUME_ZONE, fw.NODE_VOLUME_LIMITS, fw.VOLUME_RESTRICTIONS))
CLASS_EVENT = frozenset((fw.VOLUME_BINDING,))
CSINODE_EVENT = frozenset((fw.NODE_VOLUME_LIMITS, fw.VOLUME_BINDING))
ASSIGNED_POD_ADD = frozenset((fw.INTER_POD_AFFINITY, fw.POD_TOPOLOGY_SPREAD))


def _condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "PodScheduled":
            return c
    return None


class Scheduler:
    def __init__(self, client: BusClient, *, drivers: DriverMap | None = None,
                 node_attach_limits: dict[str, int] | None = None, config: SchedulerConfig | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.client = client
        self.config = config or SchedulerConfig()
        self.clock: Clock = clock if clock is not None else RealClock()
        self.rng = rng or random.Random()
        self.snapshot = Snapshot(drivers=drivers, node_attach_limits=node_attach_limits)
        self.queue = SchedulingQueue(clock=self.clock, initial_backoff=self.config.initial_backoff,
                                     max_backoff=self.config.max_backoff,
                                     max_unschedulable=self.config.max_unschedulable)
        self.recorder = EventRecorder(client, component=fw.PROFILE, clock=self.clock, buffer_size=20_000)
        self.informers = {kind: Informer(client, kind) for kind in KINDS}
        self._next_start = 0
        self._first_seen: dict[str, float] = {}  # pod uid → when it was first seen pending
        self._binding: dict[str, asyncio.Task[None]] = {}  # pod key → binding cycle
        self._waiters: dict[str, set[asyncio.Event]] = {}  # claim key → binding cycles waiting on it
        self._waiting: set[asyncio.Event] = set()  # every binding cycle waiting for its claims
        self._writes: set[asyncio.Task[Any]] = set()
        self._cycle = RECONCILE_DURATION.labels("scheduler", "schedule_one")
        self._wire()

    # ---- informer handlers

    def _wire(self) -> None:
        inf = self.informers
        inf["Pod"].add_handler(Handler(on_add=self._pod_changed, on_update=lambda o, n: self._pod_changed(n, o),
                                       on_delete=self._pod_deleted))
        inf["Node"].add_handler(Handler(on_add=self._node_changed, on_update=lambda _o, n: self._node_changed(n),
                                        on_delete=lambda o: self.snapshot.remove_node(o["metadata"]["name"])))
        inf["PersistentVolume"].add_handler(Handler(
            on_add=self._pv_changed, on_update=lambda _o, n: self._pv_changed(n),
            on_delete=lambda o: self.snapshot.remove_pv(o["metadata"]["name"])))
        inf["PersistentVolumeClaim"].add_handler(Handler(
            on_add=self._pvc_changed, on_update=lambda _o, n: self._pvc_changed(n), on_delete=self._pvc_deleted))
        inf["StorageClass"].add_handler(Handler(
            on_add=self._class_changed, on_update=lambda _o, n: self._class_changed(n),
            on_delete=lambda o: self.snapshot.remove_class(o["metadata"]["name"])))
        inf["CSINode"].add_handler(Handler(
            on_add=self._csinode_changed, on_update=lambda _o, n: self._csinode_changed(n),
            on_delete=lambda o: self.snapshot.remove_csinode(o["metadata"]["name"])))

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        was_assigned = old is not None and (old.get("spec") or {}).get("nodeName") and \
            (old.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        pi = self.snapshot.set_pod(pod)
        if pi.node_name or pi.terminal:
            self.queue.delete(pi.key)
            self._first_seen.pop(pi.uid, None)
            if pi.terminal and was_assigned:
                self.queue.move(None)  # resources, RWOP claims, anti-affinity freed
            elif pi.node_name and not was_assigned:
                self.queue.move(ASSIGNED_POD_ADD)
            return
        if pi.scheduler_name != DEFAULT_SCHEDULER:
            return
        if pi.uid in self.snapshot.assumed:
            # Its binding is in flight (or done, and this is an older version arriving late):
            # keep the newest object for the binding cycle, never queue it again.
            if pi.key in self.queue:
                self.queue.update(pi)
            return
        self._first_seen.setdefault(pi.uid, self.clock.now())
        self.queue.add(pi)
        if pi.gated:
            self._set_condition(pod, "SchedulingGated", MSG_GATED)

    def _pod_deleted(self, pod: Obj) -> None:
        pi = pod_info(pod)
        was_assigned = self.snapshot.remove_pod(pi.uid) is not None
        self.queue.delete(pi.key)
        self._first_seen.pop(pi.uid, None)
        for claim in pi.claim_keys:
            self._notify(claim)
        if was_assigned:
            self.queue.move(None)

    def _node_changed(self, node: Obj) -> None:
        if self.snapshot.set_node(node):
            self.queue.move(None)

    def _pv_changed(self, pv: Obj) -> None:
        self.snapshot.set_pv(pv)
        self.queue.move(PV_EVENT)
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self._notify(f"{ref.get('namespace', '')}/{ref.get('name', '')}")

    def _pvc_changed(self, claim: Obj) -> None:
        key = object_key(claim)
        self.snapshot.set_pvc(claim)
        self.queue.move_claim(key)
        self._notify(key)

    def _pvc_deleted(self, claim: Obj) -> None:
        key = object_key(claim)
        self.snapshot.remove_pvc(key)
        self._notify(key)

    def _class_changed(self, sc: Obj) -> None:
        self.snapshot.set_class(sc)
        self.queue.move(CLASS_EVENT)

    def _csinode_changed(self, csinode: Obj) -> None:
        self.snapshot.set_csinode(csinode)
        self.queue.move(CSINODE_EVENT)

    def _notify(self, claim_key: str) -> None:
        for event in self._waiters.get(claim_key, ()):
            event.set()

    # ---- the scheduling loop

    async def run(self) -> None:
        """Schedule pods one at a time until cancelled."""
        while True:
            qp = await self.queue.pop()
            try:
                self.schedule(qp)
            except Exception:
                log.exception("%s: scheduling attempt crashed; retrying after backoff", qp.key)
                self.queue.requeue_error(qp)
            await asyncio.sleep(0)  # let informer events and binding cycles run

    async def recheck_loop(self) -> None:
        """Wake every binding cycle waiting for its claims every RECHECK seconds: the deadline is
        checked then, and a relation an event did not reveal is caught (one timer for all of
        them, instead of one per cycle)."""
        while True:
            await asyncio.sleep(RECHECK)
            for wake in list(self._waiting):
                wake.set()

    async def flush_loop(self) -> None:
        """Move pods stranded in the unschedulable queue (podMaxInUnschedulablePodsDuration)."""
        while True:
            await asyncio.sleep(self.config.flush_period)
            moved = self.queue.flush()
            if moved:
                log.info("moved %d pods that waited too long in the unschedulable queue", moved)

    def schedule(self, qp: QueuedPod) -> Decision | None:
        """One scheduling cycle for the pod; starts its binding cycle when it fits."""
        pi = qp.pod
        if pi.pod["metadata"].get("deletionTimestamp") or pi.node_name:
            self.queue.delete(qp.key)
            return None
        start = time.perf_counter()
        decision = schedule_one(pi, self.snapshot, start=self._next_start, rng=self.rng,
                                percentage=self.config.percentage_of_nodes_to_score)
        self._cycle.observe(time.perf_counter() - start)
        if self.snapshot.node_list:
            self._next_start = (self._next_start + decision.evaluated) % len(self.snapshot.node_list)
        if decision.result != SCHEDULED:
            # (a scheduled pod's PreBind writes the new selected node over the stale one)
            for claim in decision.stale_claims:
                self._drop_selected_node(claim)
        if decision.result == SCHEDULED:
            try:
                volumes = assume(decision.volumes, decision.node, self.snapshot) if decision.volumes else PodVolumes()
            except AssumeError as e:
                VOLUME_SCHEDULING_STAGE_ERRORS.labels("assume").inc()
                self._failed(qp, RESULT_ERROR, f"running Reserve plugin \"VolumeBinding\": {e}", start)
                return decision
            self.snapshot.assume_pod(pi, decision.node)
            task = asyncio.get_running_loop().create_task(self._bind(qp, decision.node, volumes, start))
            self._binding[qp.key] = task
            task.add_done_callback(lambda t, key=qp.key: self._binding.pop(key, None) if self._binding.get(key) is t
                                   else None)
        elif decision.result == ERROR:
            self._failed(qp, RESULT_ERROR, decision.message, start)
        else:
            self._failed(qp, RESULT_UNSCHEDULABLE, decision.message, start, plugins=decision.plugins)
        return decision

    def _failed(self, qp: QueuedPod, result: str, message: str, start: float,
                plugins: Iterable[str] = ()) -> None:
        SCHEDULE_ATTEMPTS.labels(result, fw.PROFILE).inc()
        SCHEDULING_ATTEMPT_DURATION.labels(result, fw.PROFILE).observe(time.perf_counter() - start)
        pod = qp.pod.pod
        log.info("%s: %s: %s", qp.key, "unschedulable" if result == RESULT_UNSCHEDULABLE else "error", message)
        self.recorder.event(pod, "Warning", "FailedScheduling", message)
        reason = "Unschedulable" if result == RESULT_UNSCHEDULABLE else "SchedulerError"
        self._set_condition(pod, reason, message)
        if result == RESULT_UNSCHEDULABLE:
            self.queue.requeue_unschedulable(qp, plugins)
        else:
            self.queue.requeue_error(qp)

    # ---- the binding cycle

    async def _bind(self, qp: QueuedPod, node: str, volumes: PodVolumes, start: float) -> None:
        pi = qp.pod
        try:
            if volumes:
                written = await self._prebind(volumes, node)
                await self._wait_bound(pi, node, volumes, written)
            await self.client.bind(pi.namespace, pi.name, node, uid=pi.uid)
        except asyncio.CancelledError:
            self._unreserve(pi, volumes)
            raise
        except (BindingError, ApiError) as e:
            self._unreserve(pi, volumes)
            if isinstance(e, BindingError):
                VOLUME_SCHEDULING_STAGE_ERRORS.labels("bind").inc()
                message = f'running PreBind plugin "VolumeBinding": binding volumes: {e}'
            elif e.code == 404 or qp.key not in self.queue:
                log.info("%s: gone before it was bound to %s", qp.key, node)
                self.queue.delete(qp.key)
                return
            else:
                message = f'binding rejected: running Bind plugin "DefaultBinder": {e.message}'
            current = self.queue.get(qp.key)
            if current is None or current.pod.uid != pi.uid:
                return  # deleted (or replaced) meanwhile: nothing to retry
            self._failed(current, RESULT_ERROR, message, start)
            return
        self.queue.done(qp.key)
        SCHEDULE_ATTEMPTS.labels(RESULT_SCHEDULED, fw.PROFILE).inc()
        SCHEDULING_ATTEMPT_DURATION.labels(RESULT_SCHEDULED, fw.PROFILE).observe(time.perf_counter() - start)
        seen = self._first_seen.pop(pi.uid, None)
        if seen is not None:
            E2E_LATENCY.labels("pod_scheduled").observe(max(0.0, self.clock.now() - seen))
        log.debug("%s: bound to %s", qp.key, node)
        self.recorder.event(pi.pod, "Normal", "Scheduled", f"Successfully assigned {pi.key} to {node}")

    async def _prebind(self, volumes: PodVolumes, node: str) -> dict[str, int]:
        written: dict[str, int] = {}
        for _, pv in volumes.bindings:
            stored = await self.client.update(pv)
            written[f"PersistentVolume/{pv['metadata']['name']}"] = int(stored["metadata"]["resourceVersion"])
        for claim in volumes.provisions:
            meta = claim["metadata"]
            stored = await self.client.patch("PersistentVolumeClaim", meta["namespace"], meta["name"],
                                             {"metadata": {"annotations": {ANN_SELECTED_NODE: node}}}, "merge")
            written[f"PersistentVolumeClaim/{object_key(claim)}"] = int(stored["metadata"]["resourceVersion"])
        return written

    async def _wait_bound(self, pi: PodInfo, node: str, volumes: PodVolumes, written: dict[str, int]) -> None:
        """Until the PV controller has bound every claim of the decision (event-driven)."""
        keys = {object_key(c) for c, _ in volumes.bindings} | {object_key(c) for c in volumes.provisions}
        wake = asyncio.Event()
        for key in keys:
            self._waiters.setdefault(key, set()).add(wake)
        self._waiting.add(wake)
        deadline = self.clock.now() + self.config.bind_timeout
        try:
            while True:
                current = self.queue.get(pi.key)
                if current is None or current.pod.uid != pi.uid:
                    raise BindingError("pod does not exist any more")
                if check_bindings(volumes, node, self.snapshot, written):
                    return
                if self.clock.now() >= deadline:
                    raise BindingError("timed out waiting for the condition")
                wake.clear()
                await wake.wait()  # a PVC / PV event of its claims, or the RECHECK tick
        finally:
            self._waiting.discard(wake)
            for key in keys:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(wake)
                    if not waiting:
                        del self._waiters[key]

    def _unreserve(self, pi: PodInfo, volumes: PodVolumes) -> None:
        revert(volumes, self.snapshot)
        self.snapshot.forget_pod(pi.uid)

    # ---- writes that are not part of a cycle

    def _spawn(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._writes.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._writes.discard(t)
            if not t.cancelled() and t.exception() is not None:
                err = t.exception()
                log.warning("%s failed: %s", what, getattr(err, "message", None) or err)

        task.add_done_callback(done)

    def _set_condition(self, pod: Obj, reason: str, message: str) -> None:
        """PodScheduled=False with the reason and message, unless the pod already says so."""
        current = _condition(pod)
        if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
                "False", reason, message):
            return
        since = current.get("lastTransitionTime") if current is not None and current.get("status") == "False" \
            else rfc3339(self.clock.wall())
        condition = {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": since,
                     "reason": reason, "message": message}
        meta = pod["metadata"]

        async def write() -> None:
            try:
                await self.client.patch("Pod", meta.get("namespace"), meta["name"],
                                        {"status": {"conditions": [condition]}}, "strategic", subresource="status")
            except ApiError as e:
                if e.code != 404:
                    raise

        self._spawn(write(), f"{object_key(pod)}: PodScheduled condition")

    def _drop_selected_node(self, claim: Obj) -> None:
        """Remove a selected node that can no longer take the claim, so provisioning retries."""
        meta = claim["metadata"]
        node = (meta.get("annotations") or {}).get(ANN_SELECTED_NODE)
        log.info("claim %s: selected node %s is gone or not Ready; dropping %s", object_key(claim), node,
                 ANN_SELECTED_NODE)

        async def write() -> None:
            try:
                await self.client.patch("PersistentVolumeClaim", meta["namespace"], meta["name"],
                                        {"metadata": {"annotations": {ANN_SELECTED_NODE: None}}}, "merge")
            except ApiError as e:
                if e.code != 404:
                    raise

        self._spawn(write(), f"claim {object_key(claim)}: dropping {ANN_SELECTED_NODE}")

    # ---- lifecycle

    async def shut_down(self) -> None:
        self.queue.close()
        for task in [*self._binding.values(), *self._writes]:
            task.cancel()
        await asyncio.gather(*self._binding.values(), *self._writes, return_exceptions=True)
        for informer in self.informers.values():
            informer.stop()


__all__ = ["KINDS", "Scheduler"]
