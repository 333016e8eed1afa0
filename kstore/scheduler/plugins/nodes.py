"""Node-level filters and scores: NodeUnschedulable, TaintToleration, NodeAffinity,
NodeResourcesFit (with its LeastAllocated score) and NodeResourcesBalancedAllocation.

Design (Kubernetes' plugins of the same names, our code):
- The first three depend only on the Node and on the pod's nodeSelector, required node
  affinity and tolerations: `static_filter` answers them in the profile's order and memoizes the
  answer per node and per pod kind (`PodInfo.static_sig`); plain pods read the node's
  precomputed `plain_status` (nodeinfo.py).
- Tolerations match taints as `ToleratesTaint` does: same effect (or none), same key (or none,
  with Exists), and Exists or an equal value. Only NoSchedule and NoExecute taints filter;
  PreferNoSchedule ones lower the TaintToleration score.
- NodeResourcesFit rejects with one reason per missing resource ("Too many pods",
  "Insufficient cpu", "Insufficient memory"); a node can count for several. Scores use the
  non-zero requests, as Kubernetes: LeastAllocated = mean over cpu and memory of
  (allocatable - requested) * 100 / allocatable; BalancedAllocation = (1 - std of the two
  utilizations) * 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kstore.api.selectors import node_selector_matches, node_selector_term_matches
from kstore.scheduler.framework import (
    ERR_INSUFFICIENT_CPU,
    ERR_INSUFFICIENT_MEMORY,
    ERR_NODE_AFFINITY,
    ERR_NODE_UNSCHEDULABLE,
    ERR_TOO_MANY_PODS,
    NODE_AFFINITY,
    NODE_RESOURCES_FIT,
    NODE_UNSCHEDULABLE,
    TAINT_TOLERATION,
    Status,
    unresolvable,
    unschedulable,
    untolerated_taint,
)
from kstore.scheduler.nodeinfo import MEMO_LIMIT, NO_EXECUTE, NO_SCHEDULE, TAINT_UNSCHEDULABLE, NodeInfo
from kstore.scheduler.podinfo import PodInfo

MAX_NODE_SCORE = 100
_MISSING = object()


def tolerates(toleration: Mapping[str, Any], key: str, value: str, effect: str) -> bool:
    t_effect = toleration.get("effect") or ""
    if t_effect and t_effect != effect:
        return False
    t_key = toleration.get("key") or ""
    if t_key and t_key != key:
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == value


def tolerated(tolerations: Sequence[Mapping[str, Any]], key: str, value: str, effect: str) -> bool:
    return any(tolerates(t, key, value, effect) for t in tolerations)


def node_affinity_matches(pi: PodInfo, node: NodeInfo) -> bool:
    """nodeSelector and required node affinity (the NodeAffinity filter)."""
    labels = node.labels
    if pi.node_selector:
        for k, v in pi.node_selector.items():
            if labels.get(k) != v:
                return False
    if pi.required_node_affinity is not None:
        return node_selector_matches(pi.required_node_affinity, labels, {"metadata.name": node.name})
    return True


def _static_filter(pi: PodInfo, node: NodeInfo) -> Status | None:
    tolerations = pi.tolerations
    if node.unschedulable and not tolerated(tolerations, TAINT_UNSCHEDULABLE, "", NO_SCHEDULE):
        return unresolvable(NODE_UNSCHEDULABLE, ERR_NODE_UNSCHEDULABLE)
    for key, value, effect in node.taints:
        if effect in (NO_SCHEDULE, NO_EXECUTE) and not tolerated(tolerations, key, value, effect):
            return unresolvable(TAINT_TOLERATION, untolerated_taint(key, value))
    if not node_affinity_matches(pi, node):
        return unresolvable(NODE_AFFINITY, ERR_NODE_AFFINITY)
    return None


def static_filter(pi: PodInfo, node: NodeInfo) -> Status | None:
    """NodeUnschedulable, TaintToleration and NodeAffinity, memoized per node and pod kind."""
    sig = pi.static_sig
    if sig is None:
        return node.plain_status
    memo = node.static_memo
    status = memo.get(sig, _MISSING)
    if status is _MISSING:
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        status = memo[sig] = _static_filter(pi, node)
    return status  # type: ignore[return-value]


def fit(pi: PodInfo, node: NodeInfo) -> Status | None:
    """NodeResourcesFit: the pod count, cpu and memory left on the node."""
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(ERR_TOO_MANY_PODS)
    if pi.cpu and pi.cpu > node.alloc_cpu - node.req_cpu:
        reasons.append(ERR_INSUFFICIENT_CPU)
    if pi.mem and pi.mem > node.alloc_mem - node.req_mem:
        reasons.append(ERR_INSUFFICIENT_MEMORY)
    return unschedulable(NODE_RESOURCES_FIT, *reasons) if reasons else None


def resource_scores(pi: PodInfo, node: NodeInfo) -> tuple[int, int]:
    """(LeastAllocated, BalancedAllocation) scores, 0..100 each."""
    alloc_cpu, alloc_mem = node.alloc_cpu, node.alloc_mem
    cpu = node.nz_cpu + pi.nz_cpu
    mem = node.nz_mem + pi.nz_mem
    least_cpu = (alloc_cpu - cpu) * MAX_NODE_SCORE // alloc_cpu if alloc_cpu and cpu <= alloc_cpu else 0
    least_mem = (alloc_mem - mem) * MAX_NODE_SCORE // alloc_mem if alloc_mem and mem <= alloc_mem else 0
    f_cpu = min(cpu / alloc_cpu, 1.0) if alloc_cpu else 1.0
    f_mem = min(mem / alloc_mem, 1.0) if alloc_mem else 1.0
    balanced = int((1 - abs(f_cpu - f_mem) / 2) * MAX_NODE_SCORE)
    return (least_cpu + least_mem) // 2, balanced


def intolerable_prefer_taints(pi: PodInfo, node: NodeInfo) -> int:
    """How many PreferNoSchedule taints the pod does not tolerate (TaintToleration's raw score)."""
    return sum(1 for key, value, effect in node.prefer_taints if not tolerated(pi.tolerations, key, value, effect))


def preferred_affinity_weight(pi: PodInfo, node: NodeInfo) -> int:
    """Sum of the weights of the preferred node affinity terms the node matches."""
    total = 0
    for term in pi.preferred_node_affinity:
        preference = term.get("preference") or {}
        if node_selector_term_matches(preference, node.labels, {"metadata.name": node.name}):
            total += int(term.get("weight") or 0)
    return total


__all__ = [
    "fit",
    "intolerable_prefer_taints",
    "node_affinity_matches",
    "preferred_affinity_weight",
    "resource_scores",
    "static_filter",
    "tolerated",
    "tolerates",
]
