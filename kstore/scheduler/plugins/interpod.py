"""Pod-to-pod placement: InterPodAffinity and PodTopologySpread (required rules) and the
default spreading score.

Design (Kubernetes' `interpodaffinity` and `podtopologyspread` plugins, our code):
- Both work in two steps like Kubernetes': a PreFilter pass over the assigned (and assumed) pods
  builds counts per topology pair (key, value), then the per-node Filter only looks up the
  node's own pairs. The PreFilter pass costs O(pods) and runs only for pods that have such
  rules (or when some assigned pod has required anti-affinity).
- InterPodAffinity, in Kubernetes' order: the pod's affinity terms (every term needs a matching
  pod in the node's domain; the first pod of a group that matches its own terms may go
  anywhere the topology keys exist) → UnschedulableAndUnresolvable "node(s) didn't match pod
  affinity rules"; its anti-affinity terms → "node(s) didn't match pod anti-affinity rules";
  other pods' anti-affinity terms that select this pod → "node(s) didn't satisfy existing pods
  anti-affinity rules".
- PodTopologySpread (whenUnsatisfiable: DoNotSchedule): eligible nodes are those with every
  constraint's key that pass the pod's node affinity (nodeAffinityPolicy Honor) and, with
  nodeTaintsPolicy Honor, its taints; skew = pods matching in the node's domain + 1 if the pod
  matches its own selector - the minimum over the domains (0 when there are fewer domains than
  minDomains); a node without the key is "(missing required label)".
- Default spreading (`spread_scores`): Kubernetes' system default constraints (hostname
  maxSkew 3, zone maxSkew 5, ScheduleAnyway) over the pods of the same controller owner
  (kstore does not watch Services, ReplicaSets or StatefulSets, so "selected by the same
  workload" is "owned by the same controller"): raw score per node Σ (count + maxSkew - 1) ·
  log(domains + 2), normalized so the least crowded node scores 100. This is what spreads
  Deployment replicas and StatefulSet ordinals over nodes and zones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kstore.scheduler.framework import (
    ERR_AFFINITY,
    ERR_ANTI_AFFINITY,
    ERR_EXISTING_ANTI_AFFINITY,
    ERR_SPREAD,
    ERR_SPREAD_MISSING_LABEL,
    INTER_POD_AFFINITY,
    POD_TOPOLOGY_SPREAD,
    Status,
    unresolvable,
    unschedulable,
)
from kstore.scheduler.nodeinfo import NO_EXECUTE, NO_SCHEDULE, NodeInfo
from kstore.scheduler.plugins.nodes import MAX_NODE_SCORE, node_affinity_matches, tolerated
from kstore.scheduler.podinfo import HOSTNAME_LABEL, ZONE_LABEL, PodInfo
from kstore.scheduler.snapshot import Snapshot

Pair = tuple[str, str]


class InterPodAffinity:
    """PreFilter state of InterPodAffinity for one pod; `filter(node)` is the per-node check."""

    __slots__ = ("pod", "affinity_counts", "anti_counts", "forbidden", "self_match")

    def __init__(self, pi: PodInfo, snap: Snapshot) -> None:
        self.pod = pi
        self.affinity_counts: dict[Pair, int] = {}
        self.anti_counts: dict[Pair, int] = {}
        self.forbidden: set[Pair] = set()
        # Other pods' anti-affinity terms that select this pod.
        for uid, other in snap.anti_affinity_pods.items():
            node = snap.node_of(uid)
            if node is None:
                continue
            for term in other.anti_affinity:
                if term.topology_key in node.labels and term.matches(pi.namespace, pi.labels):
                    self.forbidden.add((term.topology_key, node.labels[term.topology_key]))
        if pi.affinity or pi.anti_affinity:
            for other in snap.assigned_pods():
                if other.uid == pi.uid:
                    continue
                node = snap.node_of(other.uid)
                if node is None:
                    continue
                _count(pi.affinity, other, node, self.affinity_counts)
                _count(pi.anti_affinity, other, node, self.anti_counts)
        self.self_match = all(t.matches(pi.namespace, pi.labels) for t in pi.affinity)

    @staticmethod
    def needed(pi: PodInfo, snap: Snapshot) -> bool:
        return bool(pi.affinity or pi.anti_affinity or snap.anti_affinity_pods)

    def filter(self, node: NodeInfo) -> Status | None:
        labels = node.labels
        if self.pod.affinity:
            exist = True
            for term in self.pod.affinity:
                value = labels.get(term.topology_key)
                if value is None:
                    return unresolvable(INTER_POD_AFFINITY, ERR_AFFINITY)
                if self.affinity_counts.get((term.topology_key, value), 0) <= 0:
                    exist = False
            if not exist and not (not self.affinity_counts and self.self_match):
                return unresolvable(INTER_POD_AFFINITY, ERR_AFFINITY)
        for term in self.pod.anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and self.anti_counts.get((term.topology_key, value), 0) > 0:
                return unschedulable(INTER_POD_AFFINITY, ERR_ANTI_AFFINITY)
        for key, value in self.forbidden:
            if labels.get(key) == value:
                return unschedulable(INTER_POD_AFFINITY, ERR_EXISTING_ANTI_AFFINITY)
        return None


def _count(terms: Iterable, other: PodInfo, node: NodeInfo, counts: dict[Pair, int]) -> None:
    for term in terms:
        value = node.labels.get(term.topology_key)
        if value is not None and term.matches(other.namespace, other.labels):
            pair = (term.topology_key, value)
            counts[pair] = counts.get(pair, 0) + 1


class TopologySpread:
    """PreFilter state of PodTopologySpread (DoNotSchedule constraints) for one pod."""

    __slots__ = ("pod", "counts", "minimum", "self_match")

    def __init__(self, pi: PodInfo, snap: Snapshot) -> None:
        self.pod = pi
        constraints = pi.spread
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in snap.node_list:
            labels = node.labels
            if any(c.topology_key not in labels for c in constraints):
                continue
            for i, c in enumerate(constraints):
                if c.honor_node_affinity and not node_affinity_matches(pi, node):
                    continue
                if c.honor_taints and any(e in (NO_SCHEDULE, NO_EXECUTE) and not tolerated(pi.tolerations, k, v, e)
                                          for k, v, e in node.taints):
                    continue
                matching = sum(1 for other in node.pods.values()
                               if other.namespace == pi.namespace and not other.pod["metadata"].get("deletionTimestamp")
                               and c.selector.matches(other.labels))
                domain = labels[c.topology_key]
                self.counts[i][domain] = self.counts[i].get(domain, 0) + matching
        self.minimum = [
            0 if len(counts) < c.min_domains or not counts else min(counts.values())
            for c, counts in zip(constraints, self.counts, strict=True)
        ]
        self.self_match = [c.selector.matches(pi.labels) for c in constraints]

    def filter(self, node: NodeInfo) -> Status | None:
        labels = node.labels
        for c in self.pod.spread:
            if c.topology_key not in labels:
                return unresolvable(POD_TOPOLOGY_SPREAD, ERR_SPREAD_MISSING_LABEL)
        for i, c in enumerate(self.pod.spread):
            skew = self.counts[i].get(labels[c.topology_key], 0) + self.self_match[i] - self.minimum[i]
            if skew > c.max_skew:
                return unschedulable(POD_TOPOLOGY_SPREAD, ERR_SPREAD)
        return None


# Kubernetes' system default constraints: (topology key, maxSkew).
DEFAULT_CONSTRAINTS = ((HOSTNAME_LABEL, 3), (ZONE_LABEL, 5))


def spread_scores(pi: PodInfo, nodes: list[NodeInfo], snap: Snapshot) -> list[int] | None:
    """Default spreading scores (0..100) of `nodes` for a pod with a controller owner; None
    when there is nothing to spread against (no owner, or no other pod of it anywhere)."""
    if pi.owner is None or pi.spread:
        return None
    per_node = snap.owner_nodes.get(pi.owner)
    if not per_node:
        return None
    per_zone: dict[str, int] = {}
    for name, count in per_node.items():
        node = snap.nodes.get(name)
        if node is not None and node.zone:
            per_zone[node.zone] = per_zone.get(node.zone, 0) + count
    zones = {n.zone for n in nodes if n.zone}
    w_host = math.log(len(nodes) + 2)
    w_zone = math.log(len(zones) + 2)
    (_, host_skew), (_, zone_skew) = DEFAULT_CONSTRAINTS
    raw = []
    for node in nodes:
        score = (per_node.get(node.name, 0) + host_skew - 1) * w_host
        if node.zone:
            score += (per_zone.get(node.zone, 0) + zone_skew - 1) * w_zone
        raw.append(score)
    high, low = max(raw), min(raw)
    if high == 0:
        return [MAX_NODE_SCORE] * len(nodes)
    return [int(MAX_NODE_SCORE * (high + low - s) / high) for s in raw]


__all__ = ["InterPodAffinity", "TopologySpread", "spread_scores"]
