"""nodehealth.py, tainteviction.py and monitor.py on an injected clock: a node that stops
heartbeating turns Unknown and tainted, its pods are evicted after their toleration, and it
recovers when its kubelet posts again."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kstore.client.clock import FakeClock
from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.meta import condition, format_time
from kstore.controllers.workloads.model import (
    TAINT_NOT_READY,
    TAINT_OUT_OF_SERVICE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    Action,
    Delete,
    Event,
    Obj,
    Update,
)
from kstore.controllers.workloads.monitor import LifecycleSettings, NodeMonitor
from kstore.controllers.workloads.nodehealth import HealthTracker, sync_node_health
from kstore.controllers.workloads.tainteviction import (
    FOREVER,
    effective_tolerations,
    sync_taint_eviction,
    tolerates,
    toleration_time,
)

NOW = t.NOW
UNREACHABLE_NOEXEC = {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": format_time(NOW)}


# ---- health tracking


def test_probe_time_moves_only_when_a_heartbeat_or_the_lease_changes() -> None:
    h = HealthTracker()
    n = t.node("n1", heartbeat=NOW)
    assert h.observe(n, t.lease("n1", "a"), 5.0) == 5.0  # first sight: a fresh grace period
    assert h.observe(n, t.lease("n1", "a"), 9.0) == 5.0
    assert h.observe(n, t.lease("n1", "b"), 12.0) == 12.0  # lease renewed
    assert h.observe(t.node("n1", heartbeat=NOW + 10), t.lease("n1", "b"), 20.0) == 20.0  # status posted
    h.forget("n1")
    assert h.probe_time("n1") is None


def taint_keys(node: Obj) -> list[tuple[str, str]]:
    return sorted((x["key"], x["effect"]) for x in (node.get("spec") or {}).get("taints") or [])


def applied(node: Obj, actions: Sequence[Action]) -> Obj:
    c = t.FakeCluster([node])
    c.apply(actions)
    got = c.obj("Node", node["metadata"]["name"])
    assert got is not None
    return got


def test_within_grace_nothing_happens() -> None:
    assert sync_node_health(t.node("n1"), [], probe_time=0.0, now=39.0, wall=NOW, grace=40.0) == []


def test_past_grace_every_condition_is_unknown_and_the_node_is_tainted_unreachable() -> None:
    n = t.node("n1")
    ready_pod = t.pod("p", node="n1", phase="Running", ready=True)
    actions = sync_node_health(n, [ready_pod], probe_time=0.0, now=41.0, wall=NOW + 41, grace=40.0)
    got = applied(n, actions)
    for ctype in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        c = condition(got, ctype)
        assert c is not None
        assert (c["status"], c["reason"], c["message"]) == ("Unknown", "NodeStatusUnknown",
                                                           "Kubelet stopped posting node status.")
    assert taint_keys(got) == [(TAINT_UNREACHABLE, "NoExecute"), (TAINT_UNREACHABLE, "NoSchedule")]
    no_exec = next(x for x in got["spec"]["taints"] if x["effect"] == "NoExecute")
    assert no_exec["timeAdded"] == format_time(NOW + 41)
    events = [a.on_success for a in actions if isinstance(a, Update) and a.on_success]
    assert [(e.obj["kind"], e.reason, e.message) for e in events] == [
        ("Node", "NodeNotReady", "Node n1 status is now: NodeNotReady"),
        ("Pod", "NodeNotReady", "Node is not ready")]
    pod_update = next(a.obj for a in actions if isinstance(a, Update) and a.obj["kind"] == "Pod")
    assert condition(pod_update, "Ready")["status"] == "False"


@pytest.mark.parametrize(("ready", "unschedulable", "user_taints", "expected"), [
    ("True", False, [UNREACHABLE_NOEXEC, {"key": TAINT_UNREACHABLE, "effect": "NoSchedule"}], []),  # back
    ("False", False, [], [(TAINT_NOT_READY, "NoExecute"), (TAINT_NOT_READY, "NoSchedule")]),
    ("True", True, [], [(TAINT_UNSCHEDULABLE, "NoSchedule")]),
    ("True", False, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                     {"key": TAINT_OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}],
     [("dedicated", "NoSchedule"), (TAINT_OUT_OF_SERVICE, "NoExecute")]),  # not ours: untouched
])
def test_taints_follow_conditions(ready: str, unschedulable: bool, user_taints: list[Obj],
                                  expected: list[tuple[str, str]]) -> None:
    n = t.node("n1", ready=ready, taints=user_taints)
    n["spec"]["unschedulable"] = unschedulable or None
    got = applied(n, sync_node_health(n, [], probe_time=0.0, now=1.0, wall=NOW, grace=40.0))
    assert taint_keys(got) == expected


# ---- tolerations


@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"key": "a", "operator": "Equal", "value": "1", "effect": "NoExecute"}, {"key": "a", "value": "1",
                                                                             "effect": "NoExecute"}, True),
    ({"key": "a", "value": "2"}, {"key": "a", "value": "1", "effect": "NoExecute"}, False),
    ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "1", "effect": "NoSchedule"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),
    ({"key": "a", "operator": "Exists", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"}, False),
])
def test_tolerates(toleration: Obj, taint: Obj, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_default_toleration_seconds_are_added_unless_the_pod_has_its_own() -> None:
    plain = effective_tolerations(t.pod("p"), 300)
    assert [(x["key"], x["tolerationSeconds"]) for x in plain] == [(TAINT_NOT_READY, 300), (TAINT_UNREACHABLE, 300)]
    own = t.pod("q", tolerations=[{"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": 6}])
    assert toleration_time([UNREACHABLE_NOEXEC], effective_tolerations(own, 300)) == 6
    forever = t.pod("r", tolerations=[{"operator": "Exists"}])
    assert toleration_time([UNREACHABLE_NOEXEC], effective_tolerations(forever, 300)) == FOREVER
    assert toleration_time([{"key": "x", "effect": "NoExecute"}], effective_tolerations(t.pod("s"), 300)) is None


def evictions(actions: list[Action]) -> list[tuple[str, int | None]]:
    return [(a.name, a.grace_period) for a in actions if isinstance(a, Delete)]


def test_eviction_after_the_toleration_with_disruption_target_and_event() -> None:
    n = t.node("n1", taints=[UNREACHABLE_NOEXEC])
    p = t.pod("p", node="n1", phase="Running")
    actions, due = sync_taint_eviction(n, [p], {"uid-p": 100.0}, now=102.0, wall=NOW, default_seconds=3)
    assert (actions, due) == ([], 103.0)
    actions, due = sync_taint_eviction(n, [p], {"uid-p": 100.0}, now=103.0, wall=NOW, default_seconds=3)
    assert evictions(actions) == [("p", None)]
    status = next(a.obj["status"] for a in actions if isinstance(a, Update))
    assert condition({"status": status}, "DisruptionTarget")["reason"] == "DeletionByTaintManager"
    assert [(e.reason, e.message) for e in actions if isinstance(e, Event)] == [
        ("TaintManagerEviction", "Marking for deletion Pod default/p")]


def test_untolerated_taint_evicts_at_once_and_forever_tolerations_never() -> None:
    n = t.node("n1", taints=[{"key": "maintenance", "effect": "NoExecute"}])
    pods = [t.pod("plain", node="n1"), t.pod("tolerant", node="n1", tolerations=[{"operator": "Exists"}])]
    actions, _ = sync_taint_eviction(n, pods, {}, now=0.0, wall=NOW, default_seconds=300)
    assert evictions(actions) == [("plain", None)]


def test_out_of_service_deletes_every_pod_at_once_with_grace_zero() -> None:
    n = t.node("n1", ready="Unknown", taints=[{"key": TAINT_OUT_OF_SERVICE, "value": "nodeshutdown",
                                               "effect": "NoExecute"}])
    terminating = t.pod("stuck", node="n1", phase="Running")
    terminating["metadata"]["deletionTimestamp"] = format_time(NOW)
    pods = [t.pod("a", node="n1", phase="Running"), terminating, t.pod("done", node="n1", phase="Succeeded")]
    actions, _ = sync_taint_eviction(n, pods, {}, now=0.0, wall=NOW, default_seconds=300)
    assert evictions(actions) == [("a", 0), ("stuck", 0)]


# ---- the loop, on a fake clock


class FakeApplier:
    def __init__(self, cluster: t.FakeCluster) -> None:
        self.cluster = cluster

    async def apply(self, actions: Sequence[Action], _recorder: object) -> list[float]:
        self.cluster.apply(actions)
        return []


async def test_node_monitor_marks_taints_evicts_and_recovers() -> None:
    clock = FakeClock(1000.0, epoch=NOW - 1000)
    c = t.FakeCluster([t.node("n1"), t.lease("n1", "r1"), t.pod("p", node="n1", phase="Running", ready=True),
                       t.pod("q", node="n1", phase="Running", tolerations=[
                           {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": 10}])])
    settings = LifecycleSettings(node_grace=4, pod_eviction_timeout=3, monitor_period=1)
    mon = NodeMonitor(object(), c, FakeApplier(c), settings=settings, clock=clock)  # type: ignore[arg-type]

    async def tick(seconds: float) -> None:
        clock.advance(seconds)
        c.now = clock.wall()
        await mon.monitor_once()

    await tick(0)
    await tick(4)
    assert condition(c.obj("Node", "n1"), "Ready")["status"] == "True"  # exactly the grace: not yet
    await tick(1)
    node = c.obj("Node", "n1")
    assert condition(node, "Ready")["status"] == "Unknown"
    assert taint_keys(node) == [(TAINT_UNREACHABLE, "NoExecute"), (TAINT_UNREACHABLE, "NoSchedule")]
    await tick(1)  # the taint is seen: eviction clocks start
    await tick(2)
    assert c.obj("Pod", "p")["metadata"].get("deletionTimestamp") is None
    await tick(1)  # 3 s under the taint
    assert c.obj("Pod", "p")["metadata"]["deletionTimestamp"]
    assert c.obj("Pod", "q")["metadata"].get("deletionTimestamp") is None  # tolerates 10 s
    # the kubelet comes back: Ready again, taints off, q's eviction cancelled
    back = c.obj("Node", "n1")
    back["status"]["conditions"] = t.node("n1", heartbeat=c.now)["status"]["conditions"]
    c.objects["Lease"]["kube-node-lease/n1"]["spec"]["renewTime"] = "r2"
    await tick(1)
    await tick(1)
    assert taint_keys(c.obj("Node", "n1")) == []
    assert c.obj("Pod", "q")["metadata"].get("deletionTimestamp") is None
    assert mon.evictions.tracked() == set()


def test_a_node_whose_kubelet_never_posted_is_unknown_too() -> None:
    bare = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n9", "uid": "uid-n9", "resourceVersion": "1",
                                                             "creationTimestamp": format_time(NOW - 100)}}
    got = applied(bare, sync_node_health(bare, [], probe_time=0.0, now=41.0, wall=NOW, grace=40.0))
    ready = condition(got, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("Unknown", "NodeStatusNeverUpdated",
                                                                    "Kubelet never posted node status.")
    assert ready["lastHeartbeatTime"] == format_time(NOW - 100)
    assert taint_keys(got) == [(TAINT_UNREACHABLE, "NoExecute"), (TAINT_UNREACHABLE, "NoSchedule")]
