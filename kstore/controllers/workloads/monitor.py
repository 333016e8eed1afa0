"""The node lifecycle loop: every `monitor_period` (1 s) look at every node's health, its
taints and the evictions on it (Kubernetes' `monitorNodeHealth` runs every
`--node-monitor-period`; the taint eviction controller keeps timers per pod — here a pass per
second reads them, on the injected clock).

Design:
- A timer, not a busy loop: `run()` sleeps `monitor_period` between passes; `monitor_once()`
  is one pass and is what tests call after moving a fake clock.
- Heartbeats are observed twice: by the Node and Lease handlers as they arrive (so a probe
  time is as fresh as the event) and at each pass (so a node whose events stopped is judged).
- Writes of one node failing (a conflict with its kubelet's status update) are logged and
  retried by the next pass; other nodes are not held up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock
from kstore.client.recorder import EventRecorder
from kstore.controllers.workloads.applier import Applier
from kstore.controllers.workloads.meta import labels
from kstore.controllers.workloads.metrics import POD_DELETIONS, UNHEALTHY_NODES, ZONE_SIZE
from kstore.controllers.workloads.model import NODE_LEASE_NAMESPACE, Delete, Obj
from kstore.controllers.workloads.nodehealth import HealthTracker, sync_node_health
from kstore.controllers.workloads.podutil import is_terminating, phase
from kstore.controllers.workloads.tainteviction import (
    EvictionTracker,
    no_execute_taints,
    out_of_service,
    sync_taint_eviction,
)
from kstore.controllers.workloads.view import CacheView

log = logging.getLogger(__name__)

ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclasses.dataclass(frozen=True)
class LifecycleSettings:
    node_grace: float = 40.0  # --node-monitor-grace-period
    pod_eviction_timeout: float = 300.0  # DefaultTolerationSeconds for not-ready / unreachable
    monitor_period: float = 1.0


class NodeMonitor:
    def __init__(self, client: BusClient, view: CacheView, applier: Applier, *, settings: LifecycleSettings,
                 clock: Clock) -> None:
        self._view = view
        self._applier = applier
        self.settings = settings
        self._clock = clock
        self.health = HealthTracker()
        self.evictions = EvictionTracker()
        self.node_recorder = EventRecorder(client, component="node-controller", clock=clock)
        self.taint_recorder = EventRecorder(client, component="taint-eviction-controller", clock=clock)
        self._zones: set[str] = set()
        self._tracked: dict[str, Obj] = {}  # pods under NoExecute taints at the last pass

    # ---- handlers

    def observe_node(self, node: Obj) -> None:
        lease = self._view.get("Lease", NODE_LEASE_NAMESPACE, node["metadata"]["name"])
        self.health.observe(node, lease, self._clock.now())

    def observe_lease(self, lease: Obj) -> None:
        if lease["metadata"].get("namespace") != NODE_LEASE_NAMESPACE:
            return
        node = self._view.get("Node", "", lease["metadata"]["name"])
        if node is not None:
            self.health.observe(node, lease, self._clock.now())

    def forget_node(self, node: Obj) -> None:
        self.health.forget(node["metadata"]["name"])

    def forget_pod(self, pod: Obj) -> None:
        self.evictions.forget(pod["metadata"].get("uid", ""))

    # ---- the loop

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.monitor_period)
            try:
                await self.monitor_once()
            except Exception:
                log.exception("node lifecycle pass failed; next pass in %.1fs", self.settings.monitor_period)

    async def monitor_once(self) -> None:
        now, wall = self._clock.now(), self._clock.wall()
        under_taints: dict[str, Obj] = {}
        zone_size: Counter[str] = Counter()
        unhealthy: Counter[str] = Counter()
        for node in self._view.list("Node"):
            name = node["metadata"]["name"]
            lease = self._view.get("Lease", NODE_LEASE_NAMESPACE, name)
            probe = self.health.observe(node, lease, now)
            pods = self._view.pods_on_node(name)
            zone = labels(node).get(ZONE_LABEL, "")
            zone_size[zone] += 1
            try:
                await self._applier.apply(sync_node_health(node, pods, probe_time=probe, now=now, wall=wall,
                                                           grace=self.settings.node_grace), self.node_recorder)
            except ApiError as e:
                log.info("node %s: health update failed (%s); next pass retries", name, e.message)
            ready = next((c.get("status") for c in (node.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), None)
            if ready != "True":
                unhealthy[zone] += 1
            if not no_execute_taints(node) and out_of_service(node) is None:
                continue
            for pod in pods:
                if not is_terminating(pod) and phase(pod) not in ("Succeeded", "Failed"):
                    uid = pod["metadata"].get("uid", "")
                    self.evictions.mark(uid, now)
                    under_taints[uid] = pod
            since = {uid: self.evictions.since(uid) or now for uid in under_taints}
            actions, _ = sync_taint_eviction(node, pods, since, now=now, wall=wall,
                                             default_seconds=self.settings.pod_eviction_timeout)
            try:
                await self._applier.apply(actions, self.taint_recorder)
            except ApiError as e:
                log.info("node %s: eviction failed (%s); next pass retries", name, e.message)
                continue
            deleted = sum(1 for a in actions if isinstance(a, Delete))
            if deleted:
                POD_DELETIONS.inc(deleted)
                log.info("node %s: %d pods evicted (NoExecute taints: %s)", name, deleted,
                         ", ".join(t.get("key", "") for t in no_execute_taints(node)))
        self._cancel_evictions(under_taints)
        for zone in self._zones | set(zone_size):
            ZONE_SIZE.labels(zone).set(zone_size[zone])
            UNHEALTHY_NODES.labels(zone).set(unhealthy[zone])
        self._zones |= set(zone_size)

    def _cancel_evictions(self, under_taints: dict[str, Obj]) -> None:
        """Pods whose clocks ran but that are no longer under NoExecute taints: if they still
        live (their node lost the taints), their eviction is off."""
        for uid in self.evictions.tracked() - set(under_taints):
            self.evictions.forget(uid)
            last = self._tracked.get(uid)
            if last is None:
                continue
            meta = last["metadata"]
            pod = self._view.get("Pod", meta.get("namespace", ""), meta["name"])
            if pod is not None and pod["metadata"].get("uid") == uid and not is_terminating(pod):
                self.taint_recorder.event(pod, "Normal", "TaintManagerEviction",
                                          f"Cancelling deletion of Pod {meta.get('namespace')}/{meta['name']}")
        self._tracked = under_taints
