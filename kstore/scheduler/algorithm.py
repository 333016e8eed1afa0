"""One scheduling decision: PreFilter, Filter over the nodes, Score, select — pure.

Design (Kubernetes' `schedule_one.go`: `schedulePod`, `findNodesThatFitPod`,
`numFeasibleNodesToFind`, `prioritizeNodes`, `selectHost`; our code):
- `schedule_one(pi, snap, start=..., rng=...)` reads the snapshot and returns a `Decision`; it
  never writes and never awaits. The caller assumes the pod and its volumes (Reserve) and runs
  the binding cycle.
- PreFilter in the default profile's order: VolumeRestrictions (missing claims), NodeVolumeLimits,
  VolumeBinding, VolumeZone, PodTopologySpread, InterPodAffinity. A rejection there is the
  answer for every node.
- Filter visits the nodes from a rotating start (`start`, advanced by the caller by
  `Decision.evaluated`) and stops once it has found `feasible_nodes_to_find(n)` feasible ones:
  all nodes below 100, else (50 - n/125)% of them but at least 100 — kube-scheduler's adaptive
  percentageOfNodesToScore, which keeps a decision O(nodes) with a small constant. Each node
  costs a few attribute reads for the common pod: the static filters are memoized per node,
  resources are integers, and the volume answer is computed once when it cannot depend on the
  node. A node's status is its first failing plugin's. When nothing fits, every node was
  visited, so the FitError message counts all of them.
- Score (weights of the default profile): LeastAllocated 1, BalancedAllocation 1, default
  spreading by controller owner 2 (PodTopologySpread's system defaults), TaintToleration 3
  (PreferNoSchedule), NodeAffinity 2 (preferred terms). The highest total wins; ties are
  broken at random (reservoir sampling, `rng`), as `selectHost`. One feasible node is taken
  without scoring.
- An ERROR status (a claim without a class on the provisioning path, …) aborts the attempt:
  the pod goes to backoff with the message, as kube-scheduler treats plugin errors.
"""

from __future__ import annotations

import dataclasses
import itertools
import random

from kstore.scheduler.framework import (
    ERR_NO_NODES,
    Code,
    Status,
    fit_error_message,
)
from kstore.scheduler.nodeinfo import NodeInfo
from kstore.scheduler.plugins.interpod import InterPodAffinity, TopologySpread, spread_scores
from kstore.scheduler.plugins.nodes import (
    MAX_NODE_SCORE,
    fit,
    intolerable_prefer_taints,
    preferred_affinity_weight,
    resource_scores,
    static_filter,
)
from kstore.scheduler.plugins.volumes import VolumeLimits, VolumeZone, volume_restrictions
from kstore.scheduler.podinfo import PodInfo
from kstore.scheduler.snapshot import Snapshot
from kstore.scheduler.volumebinding import PodVolumeBinding, PodVolumes

Obj = dict

MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5

SCHEDULED, UNSCHEDULABLE, ERROR = "scheduled", "unschedulable", "error"


@dataclasses.dataclass
class Decision:
    result: str  # scheduled | unschedulable | error
    node: str = ""
    volumes: PodVolumes | None = None  # the volume decision for `node` (not yet assumed)
    message: str = ""  # FitError or error text
    plugins: frozenset[str] = frozenset()  # plugins that rejected nodes (for queueing hints)
    stale_claims: list[Obj] = dataclasses.field(default_factory=list)  # drop their selected node
    evaluated: int = 0
    feasible: list[NodeInfo] = dataclasses.field(default_factory=list)  # the feasible nodes found
    statuses: dict[str, Status] = dataclasses.field(default_factory=dict)  # rejected nodes' first status


def feasible_nodes_to_find(num_nodes: int, percentage: int = 0) -> int:
    """kube-scheduler's numFeasibleNodesToFind (percentage 0: adaptive)."""
    if num_nodes < MIN_FEASIBLE_NODES or percentage >= 100:
        return num_nodes
    if percentage <= 0:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_PERCENTAGE)
    return max(num_nodes * percentage // 100, MIN_FEASIBLE_NODES)


def schedule_one(pi: PodInfo, snap: Snapshot, *, start: int = 0, rng: random.Random | None = None,
                 percentage: int = 0) -> Decision:
    nodes = snap.node_list
    n = len(nodes)
    if n == 0:
        return Decision(UNSCHEDULABLE, message=ERR_NO_NODES)  # waits for a Node event

    # ---- PreFilter
    pre, rwop = volume_restrictions(pi, snap)
    stale: list[Obj] = []
    vb = None
    if pre is None:
        vb = PodVolumeBinding.prefilter(pi, snap)
        if vb is not None:
            stale = vb.stale
            pre = vb.prefilter_status
    if pre is not None:
        return Decision(UNSCHEDULABLE, message=fit_error_message(n, prefilter=pre), plugins=frozenset((pre.plugin,)),
                        stale_claims=stale)
    limits = VolumeLimits.for_pod(pi, snap)
    zone = VolumeZone.for_pod(pi, snap)
    spread = TopologySpread(pi, snap) if pi.spread else None
    ipa = InterPodAffinity(pi, snap) if InterPodAffinity.needed(pi, snap) else None
    extra = [c for c in (limits, vb, zone, spread, ipa) if c is not None]
    if vb is not None:
        # The common dynamic-provisioning pod: VolumeBinding answers the same for every node.
        same, answer = vb.uniform(nodes[start % n])
        if same and answer is not None and answer.code == Code.ERROR:
            return Decision(ERROR, message=f'running "{answer.plugin}" filter plugin: {answer.message}',
                            stale_claims=stale)
        if same and answer is None:
            extra.remove(vb)

    # ---- Filter
    want = feasible_nodes_to_find(n, percentage)
    feasible: list[NodeInfo] = []
    statuses: dict[str, Status] = {}
    sig = pi.static_sig
    cpu, mem = pi.cpu, pi.mem
    evaluated = 0
    start %= n
    for node in itertools.chain(itertools.islice(nodes, start, None), itertools.islice(nodes, start)):
        evaluated += 1
        st = node.plain_status if sig is None else static_filter(pi, node)
        if st is None:
            # NodeResourcesFit, inlined for the common case that fits.
            if (len(node.pods) >= node.alloc_pods or (cpu and cpu > node.alloc_cpu - node.req_cpu)
                    or (mem and mem > node.alloc_mem - node.req_mem)):
                st = fit(pi, node)
            elif rwop is not None:
                st = rwop
            else:
                for check in extra:
                    st = check.filter(node)
                    if st is not None:
                        break
        if st is None:
            feasible.append(node)
            if len(feasible) >= want:
                break
        elif st.code == Code.ERROR:
            return Decision(ERROR, message=f'running "{st.plugin}" filter plugin: {st.message}',
                            stale_claims=stale, evaluated=evaluated, statuses=statuses)
        else:
            statuses[node.name] = st
    if not feasible:
        return Decision(UNSCHEDULABLE, plugins=frozenset(s.plugin for s in statuses.values()), stale_claims=stale,
                        message=fit_error_message(n, statuses=statuses, preemption_never=pi.preemption_never),
                        evaluated=evaluated, statuses=statuses)

    # ---- Score and select
    chosen = feasible[0] if len(feasible) == 1 else _select(pi, feasible, snap, rng or random.Random())
    volumes = vb.find(chosen)[1] if vb is not None else None
    return Decision(SCHEDULED, node=chosen.name, volumes=volumes, stale_claims=stale, evaluated=evaluated,
                    feasible=feasible, statuses=statuses)


def _resource_score(pi: PodInfo, node: NodeInfo) -> int:
    """LeastAllocated + BalancedAllocation of the node for the pod, memoized on the node until
    its pods change (most nodes are untouched between two decisions)."""
    key = (node.pods_version, node.generation, pi.nz_cpu, pi.nz_mem)
    memo = node.score_memo
    if memo is not None and memo[0] == key:
        return memo[1]
    a_cpu, a_mem = node.alloc_cpu, node.alloc_mem
    cpu, mem = node.nz_cpu + pi.nz_cpu, node.nz_mem + pi.nz_mem
    if a_cpu and a_mem and cpu <= a_cpu and mem <= a_mem:
        least = ((a_cpu - cpu) * MAX_NODE_SCORE // a_cpu + (a_mem - mem) * MAX_NODE_SCORE // a_mem) // 2
        score = least + int((1 - abs(cpu / a_cpu - mem / a_mem) / 2) * MAX_NODE_SCORE)
    else:
        least, balanced = resource_scores(pi, node)
        score = least + balanced
    node.score_memo = (key, score)
    return score


def _select(pi: PodInfo, nodes: list[NodeInfo], snap: Snapshot, rng: random.Random) -> NodeInfo:
    totals = [_resource_score(pi, node) for node in nodes]
    spread = spread_scores(pi, nodes, snap)
    if spread is not None:
        for i, s in enumerate(spread):
            totals[i] += 2 * s
    if snap.prefer_taint_nodes:
        counts = [intolerable_prefer_taints(pi, node) for node in nodes]
        worst = max(counts)
        for i, c in enumerate(counts):
            totals[i] += 3 * (MAX_NODE_SCORE - c * MAX_NODE_SCORE // worst if worst else MAX_NODE_SCORE)
    if pi.preferred_node_affinity:
        weights = [preferred_affinity_weight(pi, node) for node in nodes]
        best = max(weights)
        if best > 0:
            for i, w in enumerate(weights):
                totals[i] += 2 * (w * MAX_NODE_SCORE // best)
    # selectHost: the highest score, ties broken uniformly at random.
    best_score = max(totals)
    ties = [i for i, score in enumerate(totals) if score == best_score]
    return nodes[ties[0] if len(ties) == 1 else rng.choice(ties)]


__all__ = ["Decision", "feasible_nodes_to_find", "schedule_one"]
