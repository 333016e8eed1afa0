"""algorithm.py's scoring and node sampling: replicas and StatefulSet ordinals spread, the least
allocated node wins, preferences count, and the adaptive number of nodes to find."""

from __future__ import annotations

import random

import pytest

from kstore.scheduler.algorithm import SCHEDULED, feasible_nodes_to_find, schedule_one
from kstore.scheduler.podinfo import pod_info
from kstore.scheduler.snapshot import Snapshot
from kstore.scheduler.testing import ZONE, make_node, make_pod, taint, term


def place(snap: Snapshot, pods: list[dict], seed: int = 0) -> dict[str, str]:
    """Schedule pods one after the other, assuming each, as the scheduling loop does."""
    rng = random.Random(seed)
    placed = {}
    for pod in pods:
        pi = pod_info(pod)
        decision = schedule_one(pi, snap, rng=rng)
        assert decision.result == SCHEDULED, decision.message
        snap.assume_pod(pi, decision.node)
        placed[pi.name] = decision.node
    return placed


@pytest.mark.parametrize("seed", range(5))
def test_replicas_of_one_owner_spread_over_nodes(seed: int) -> None:
    snap = Snapshot.from_objects(nodes=[make_node(f"node-{i}", zone=f"zone-{'abc'[i - 1]}") for i in (1, 2, 3)])
    placed = place(snap, [make_pod(f"web-{i}", owner="web-rs", cpu="100m") for i in range(3)], seed)
    assert sorted(placed.values()) == ["node-1", "node-2", "node-3"]


@pytest.mark.parametrize("seed", range(5))
def test_statefulset_ordinals_spread_over_zones_then_nodes(seed: int) -> None:
    nodes = [make_node(f"node-{z}{i}", zone=f"zone-{z}") for z in "abc" for i in (1, 2)]
    snap = Snapshot.from_objects(nodes=nodes)
    placed = place(snap, [make_pod(f"db-{i}", owner="db") for i in range(6)], seed)
    assert len(set(placed.values())) == 6
    first_three = {snap.nodes[placed[f"db-{i}"]].zone for i in range(3)}
    assert first_three == {"zone-a", "zone-b", "zone-c"}


def test_pods_of_different_owners_do_not_repel_each_other() -> None:
    # node-1 holds a pod of rs-a; node-2 is busier (an unowned pod asking for a whole cpu)
    snap = Snapshot.from_objects(nodes=[make_node("node-1"), make_node("node-2")],
                                 pods=[make_pod("a", node="node-1", owner="rs-a"), make_pod("x", node="node-2", cpu="1")])
    for seed in range(10):
        assert schedule_one(pod_info(make_pod("b", owner="rs-b")), snap, rng=random.Random(seed)).node == "node-1"
        assert schedule_one(pod_info(make_pod("a2", owner="rs-a")), snap, rng=random.Random(seed)).node == "node-2"


def test_least_allocated_node_wins() -> None:
    snap = Snapshot.from_objects(
        nodes=[make_node("busy"), make_node("idle")],
        pods=[make_pod("load", node="busy", cpu="3", memory="6Gi")])
    assert schedule_one(pod_info(make_pod("p", cpu="500m", memory="1Gi")), snap).node == "idle"


def test_preferred_node_affinity_and_prefer_no_schedule() -> None:
    nodes = [make_node("plain"), make_node("ssd", labels={"disk": "ssd"}),
             make_node("soft", labels={"disk": "ssd"}, taints=[taint("soft", "", "PreferNoSchedule")])]
    snap = Snapshot.from_objects(nodes=nodes)
    pod = make_pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": term("disk", "ssd")}]}})
    for seed in range(10):
        assert schedule_one(pod_info(pod), snap, rng=random.Random(seed)).node == "ssd"


def test_ties_are_broken_at_random() -> None:
    snap = Snapshot.from_objects(nodes=[make_node(f"n{i}") for i in range(4)])
    chosen = {schedule_one(pod_info(make_pod("p")), snap, rng=random.Random(s)).node for s in range(40)}
    assert chosen == {"n0", "n1", "n2", "n3"}


@pytest.mark.parametrize(("nodes", "percentage", "want"), [
    (3, 0, 3), (99, 0, 99), (100, 0, 100), (200, 0, 100), (1000, 0, 420), (5000, 0, 500), (10_000, 0, 500),
    (1000, 10, 100), (1000, 50, 500), (1000, 100, 1000),
])
def test_feasible_nodes_to_find(nodes: int, percentage: int, want: int) -> None:
    assert feasible_nodes_to_find(nodes, percentage) == want


def test_a_large_cluster_is_sampled_from_a_rotating_start() -> None:
    snap = Snapshot.from_objects(nodes=[make_node(f"n{i:04}", zone=ZONE) for i in range(1000)])
    first = schedule_one(pod_info(make_pod("p")), snap, start=0)
    assert first.evaluated == 420 and len(first.feasible) == 420
    second = schedule_one(pod_info(make_pod("q")), snap, start=first.evaluated)
    assert {n.name for n in second.feasible}.isdisjoint({n.name for n in first.feasible})
    # a pod that fits nowhere visits every node, so its FitError counts them all
    none = schedule_one(pod_info(make_pod("r", node_selector={"x": "y"})), snap, start=500)
    assert none.evaluated == 1000 and none.message.startswith("0/1000 nodes are available: 1000 node(s) didn't")


def test_pods_listed_before_their_nodes_count_once_the_nodes_arrive() -> None:
    snap = Snapshot()
    for i in range(3):
        snap.set_pod(make_pod(f"p{i}", node="late", cpu="1"))
    snap.remove_pod("uid-p2")
    snap.set_node(make_node("late"))
    assert snap.nodes["late"].pod_count == 2 and snap.nodes["late"].req_cpu == 2000
    snap.remove_node("late")
    snap.set_node(make_node("late"))
    assert snap.nodes["late"].pod_count == 2


def test_no_nodes_at_all() -> None:
    decision = schedule_one(pod_info(make_pod("p")), Snapshot())
    assert (decision.result, decision.message) == ("unschedulable", "no nodes available to schedule pods")
