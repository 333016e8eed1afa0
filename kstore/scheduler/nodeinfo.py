"""Per-node state, kept up to date incrementally: what the node offers and what its pods take.

Design (Kubernetes' `framework.NodeInfo`, our code):
- The node's *static* side — labels, effective taints, `spec.unschedulable`, allocatable —
  is read once per Node version by `set_node`. It changes rarely (a kubelet heartbeat changes
  only condition timestamps), so filters that depend on it alone (NodeUnschedulable,
  TaintToleration, NodeAffinity) are answered once per pod *kind* and memoized in
  `static_memo` (keyed by `PodInfo.static_sig`), and once for all plain pods in
  `plain_status`. A static change clears the memo and bumps `generation`.
- Readiness becomes a taint, as the node lifecycle controller does (TaintNodesByCondition):
  a node whose Ready condition is False carries `node.kubernetes.io/not-ready:NoSchedule`,
  Unknown or missing `node.kubernetes.io/unreachable:NoSchedule`, unless the Node already has
  a taint with that key. So a NotReady node is rejected with Kubernetes' own reason
  (`node(s) had untolerated taint {node.kubernetes.io/not-ready: }`) and a pod tolerating it
  (a DaemonSet's) still lands.
- The *dynamic* side is the sum of the pods assigned (or assumed) to the node: requested and
  non-zero requested cpu/memory, the pod count, the pods themselves by uid. `add_pod` /
  `remove_pod` keep it; adding a pod that is already there replaces it (no double count).
  `pods_version` moves on every change, and `volumes_version` when a claim or PV of one of its
  pods changes (the snapshot bumps it), for caches derived from them (attached volumes).
- `static_memo` is bounded (MEMO_LIMIT kinds of pods per node): pods that each carry their own
  selector (one per node, as DaemonSet pods do) must not grow it without end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kstore.scheduler.framework import (
    ERR_NODE_UNSCHEDULABLE,
    NODE_UNSCHEDULABLE,
    TAINT_TOLERATION,
    Status,
    unresolvable,
    untolerated_taint,
)
from kstore.scheduler.podinfo import ZONE_LABEL, PodInfo, milli_cpu, quantity_int

Obj = dict[str, Any]
MEMO_LIMIT = 256
Taint = tuple[str, str, str]  # (key, value, effect)

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE = "NoSchedule", "NoExecute", "PreferNoSchedule"


def ready_status(node: Mapping[str, Any]) -> str:
    """The Ready condition's status: "True", "False", "Unknown" ("" when there is none)."""
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return str(c.get("status") or "Unknown")
    return ""


def effective_taints(node: Mapping[str, Any]) -> tuple[Taint, ...]:
    """The Node's taints, plus the condition taint a NotReady node would get."""
    taints = tuple((str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
                   for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, Mapping))
    ready = ready_status(node)
    if ready != "True":
        key = TAINT_NOT_READY if ready == "False" else TAINT_UNREACHABLE
        if not any(t[0] in (TAINT_NOT_READY, TAINT_UNREACHABLE) for t in taints):
            taints += ((key, "", NO_SCHEDULE),)
    return taints


class NodeInfo:
    __slots__ = (
        "name", "node", "labels", "zone", "taints", "prefer_taints", "unschedulable", "ready",
        "alloc_cpu", "alloc_mem", "alloc_pods", "req_cpu", "req_mem", "nz_cpu", "nz_mem", "pods",
        "generation", "static_memo", "plain_status", "pods_version", "volumes_version", "attach_cache", "score_memo",
        "_fingerprint",
    )

    def __init__(self, node: Obj) -> None:
        self.name = str(node["metadata"]["name"])
        self.req_cpu = self.req_mem = self.nz_cpu = self.nz_mem = 0
        self.pods: dict[str, PodInfo] = {}
        self.generation = 0
        self.pods_version = 0
        self.volumes_version = 0  # bumped when a claim or PV of one of its pods changes
        self.static_memo: dict[str, Status | None] = {}
        self.attach_cache: tuple[Any, Any] | None = None
        self.score_memo: tuple[Any, int] | None = None  # algorithm._resource_score's
        self._fingerprint: Any = None
        self.set_node(node)

    # ---- the node

    def set_node(self, node: Obj) -> bool:
        """Take a new version of the Node; True when what filters read has changed."""
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        labels = meta.get("labels") or {}
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        taints = effective_taints(node)
        unschedulable = bool(spec.get("unschedulable"))
        alloc = (milli_cpu(allocatable["cpu"]) if "cpu" in allocatable else 0,
                 quantity_int(allocatable["memory"]) if "memory" in allocatable else 0,
                 quantity_int(allocatable["pods"]) if "pods" in allocatable else 0)
        fingerprint = (tuple(sorted(labels.items())), taints, unschedulable, alloc)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        self.labels = labels
        self.zone = labels.get(ZONE_LABEL, "")
        self.taints = taints
        self.prefer_taints = tuple(t for t in taints if t[2] == PREFER_NO_SCHEDULE)
        self.unschedulable = unschedulable
        self.ready = ready_status(node) == "True"
        self.alloc_cpu, self.alloc_mem, self.alloc_pods = alloc
        self.generation += 1
        self.static_memo = {}
        self.plain_status = self._plain_status()
        return True

    def _plain_status(self) -> Status | None:
        """The static filters' answer for a pod with no tolerations, selector or node affinity."""
        if self.unschedulable:
            return unresolvable(NODE_UNSCHEDULABLE, ERR_NODE_UNSCHEDULABLE)
        for key, value, effect in self.taints:
            if effect in (NO_SCHEDULE, NO_EXECUTE):
                return unresolvable(TAINT_TOLERATION, untolerated_taint(key, value))
        return None

    # ---- the pods

    def add_pod(self, pod: PodInfo) -> None:
        """Account for a pod on this node; replaces the pod's earlier entry (same uid)."""
        old = self.pods.get(pod.uid)
        if old is not None:
            self._account(old, -1)
        self.pods[pod.uid] = pod
        self._account(pod, 1)

    def remove_pod(self, uid: str) -> PodInfo | None:
        """Forget a pod; no-op (None) if it is not here."""
        old = self.pods.pop(uid, None)
        if old is not None:
            self._account(old, -1)
        return old

    def _account(self, pod: PodInfo, sign: int) -> None:
        self.req_cpu += sign * pod.cpu
        self.req_mem += sign * pod.mem
        self.nz_cpu += sign * pod.nz_cpu
        self.nz_mem += sign * pod.nz_mem
        self.pods_version += 1

    @property
    def pod_count(self) -> int:
        return len(self.pods)

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu})"


__all__ = ["NodeInfo", "effective_taints", "ready_status"]
