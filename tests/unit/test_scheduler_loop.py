"""scheduler.py: the loop through its informers, against an in-memory API (no sockets): pods are
bound once their claims are, failures show as events and conditions, waiting pods come back on
events, a binding that never completes times out on the injected clock and is undone."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from bus import codec
from kstore.api.errors import ApiError
from kstore.api.patch import apply_patch
from kstore.client.clock import FakeClock
from kstore.controllers.pv.model import ANN_BIND_COMPLETED, ANN_SELECTED_NODE
from kstore.scheduler.config import SchedulerConfig
from kstore.scheduler.scheduler import Scheduler
from kstore.scheduler.testing import (
    RWOP,
    make_class,
    make_node,
    make_pod,
    make_pv,
    make_pvc,
)

Obj = dict[str, Any]
NS = "testns"


def _key(obj: Obj) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace") or "", meta["name"]


class FakeApi:
    """A tiny store: resourceVersions, conflicts, merge/strategic patches, pods/binding, and
    watch events delivered to the scheduler's informers on the next loop turn."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.rv = itertools.count(10)
        self.scheduler: Scheduler | None = None
        self.events: list[Obj] = []
        self.on_write: list[Callable[[Obj], None]] = []
        self.subscriber = self  # Informer.stop() unsubscribes

    def unsubscribe(self, topic: str) -> None:
        pass

    def _store(self, obj: Obj, etype: str) -> Obj:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects[_key(obj)] = obj
        self._emit(etype, obj)
        for hook in self.on_write:
            hook(obj)
        return copy.deepcopy(obj)

    def _emit(self, etype: str, obj: Obj) -> None:
        if self.scheduler is not None and obj["kind"] in self.scheduler.informers:
            informer = self.scheduler.informers[obj["kind"]]
            rv = int(obj["metadata"]["resourceVersion"])
            asyncio.get_running_loop().call_soon(informer.on_event, etype, rv, codec.encode(obj))

    def load(self, *objs: Obj) -> None:
        """Create objects and deliver them (before or while the scheduler runs)."""
        for obj in objs:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(next(self.rv))
            self.objects[_key(obj)] = obj
            if self.scheduler is not None:
                informer = self.scheduler.informers[obj["kind"]]
                informer.on_event("ADDED", int(obj["metadata"]["resourceVersion"]), codec.encode(obj))

    def get(self, kind: str, name: str, namespace: str = NS) -> Obj:
        ns = "" if kind in ("Node", "PersistentVolume", "StorageClass", "CSINode") else namespace
        return self.objects[(kind, ns, name)]

    # ---- the BusClient surface the scheduler uses

    async def create(self, obj: Obj, **_: Any) -> Obj:
        if obj["kind"] == "Event":
            self.events.append(obj)
            return obj
        return self._store(obj, "ADDED")

    async def update(self, obj: Obj, **_: Any) -> Obj:
        current = self.objects.get(_key(obj))
        if current is None:
            raise ApiError(404, "NotFound", "not found")
        if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        new = copy.deepcopy(obj)
        new["status"] = current.get("status")
        return self._store(new, "MODIFIED")

    async def patch(self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
                    subresource: str | None = None) -> Obj:
        if kind == "Event":
            return {}
        ns = namespace or ""
        current = self.objects.get((kind, ns, name))
        if current is None:
            raise ApiError(404, "NotFound", "not found")
        return self._store(apply_patch(copy.deepcopy(current), patch, patch_type), "MODIFIED")

    async def bind(self, namespace: str, name: str, node: str, *, uid: str | None = None) -> Obj:
        pod = self.objects.get(("Pod", namespace, name))
        if pod is None or (uid and pod["metadata"]["uid"] != uid):
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        if pod["spec"].get("nodeName"):
            raise ApiError(409, "Conflict", f"pod {name} is already assigned to node")
        pod = copy.deepcopy(pod)
        pod["spec"]["nodeName"] = node
        pod["status"]["conditions"] = [c for c in pod["status"].get("conditions") or ()
                                       if c["type"] != "PodScheduled"] + [{"type": "PodScheduled", "status": "True"}]
        return self._store(pod, "MODIFIED")

    # ---- what the user sees

    def events_for(self, name: str) -> list[tuple[str, str, str]]:
        return [(e["type"], e["reason"], e["message"]) for e in self.events if e["involvedObject"]["name"] == name]


class PVController:
    """Provisions and binds a claim once it has a selected node (what pv-controller does)."""

    def __init__(self, api: FakeApi, *, enabled: bool = True) -> None:
        self.api = api
        self.enabled = enabled
        api.on_write.append(self._seen)

    def _seen(self, obj: Obj) -> None:
        if not self.enabled or obj["kind"] != "PersistentVolumeClaim":
            return
        node = (obj["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
        if node and not obj["spec"].get("volumeName"):
            asyncio.get_running_loop().call_soon(self._provision, obj["metadata"]["name"])

    def _provision(self, name: str) -> None:
        claim = copy.deepcopy(self.api.get("PersistentVolumeClaim", name))
        pv = make_pv(f"pvc-{claim['metadata']['uid']}", claim["spec"]["storageClassName"], claim=name,
                     csi_driver="kstore.io.block")
        self.api._store(pv, "ADDED")
        claim["spec"]["volumeName"] = pv["metadata"]["name"]
        claim["metadata"]["annotations"][ANN_BIND_COMPLETED] = "yes"
        claim["status"]["phase"] = "Bound"
        self.api._store(claim, "MODIFIED")


NODES = [make_node(f"node-{i}", zone=f"zone-{'abc'[i - 1]}") for i in (1, 2, 3)]


async def settle(api: FakeApi, until: Callable[[], bool], *, turns: int = 2000) -> None:
    for _ in range(turns):
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("did not settle")


@pytest.fixture
async def cluster():  # noqa: ANN201
    api = FakeApi()
    clock = FakeClock(start=1000.0, epoch=1_700_000_000.0)
    sched = Scheduler(api, config=SchedulerConfig(bind_timeout=600), clock=clock)  # type: ignore[arg-type]
    api.scheduler = sched
    api.load(*NODES, make_class("wait-sc"), make_class("standard", mode="Immediate"))
    run = asyncio.get_running_loop().create_task(sched.run())
    writer = sched.recorder.start()
    yield api, sched, clock
    run.cancel()
    await sched.shut_down()
    await sched.recorder.close()
    writer.cancel()


def bound(api: FakeApi, name: str) -> str | None:
    return api.get("Pod", name)["spec"].get("nodeName")


async def test_wait_for_first_consumer_claim_is_provisioned_on_the_pod_node_then_the_pod_is_bound(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    PVController(api)
    api.load(make_pvc("data", "wait-sc"), make_pod("app", claims=["data"]))
    await settle(api, lambda: bound(api, "app") is not None and not sched.snapshot.assumed)
    await sched.recorder.flush()
    node = bound(api, "app")
    claim = api.get("PersistentVolumeClaim", "data")
    assert claim["metadata"]["annotations"][ANN_SELECTED_NODE] == node
    assert claim["status"]["phase"] == "Bound"
    assert api.events_for("app") == [("Normal", "Scheduled", f"Successfully assigned testns/app to {node}")]
    assert sched.queue.sizes()["in_flight"] == 0 and not sched.snapshot.assumed


async def test_unschedulable_pod_gets_event_and_condition_and_comes_back_when_a_node_fits(cluster) -> None:  # noqa: ANN001
    api, sched, clock = cluster
    api.load(make_pod("picky", node_selector={"disk": "ssd"}))
    message = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes "
               "are available: 3 Preemption is not helpful for scheduling.")
    await settle(api, lambda: bool(api.get("Pod", "picky")["status"].get("conditions")))
    await sched.recorder.flush()
    assert api.events_for("picky") == [("Warning", "FailedScheduling", message)]
    (condition,) = api.get("Pod", "picky")["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "PodScheduled", "False", "Unschedulable", message)
    assert sched.queue.sizes()["unschedulable"] == 1
    # a new node with the label is an event that moves the pod back (once its 1 s backoff is over)
    clock.advance(1)
    api.load(make_node("node-4", labels={"disk": "ssd"}))
    await settle(api, lambda: bound(api, "picky") is not None)
    assert bound(api, "picky") == "node-4"


async def test_rwop_second_pod_stays_pending_with_the_message(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    api.load(make_pvc("solo", "standard", modes=[RWOP], bound_to="pv-solo"),
             make_pv("pv-solo", "standard", modes=[RWOP], claim="solo", csi_driver="kstore.io.block"),
             make_pod("first", claims=["solo"]))
    await settle(api, lambda: bound(api, "first") is not None)
    api.load(make_pod("second", claims=["solo"]))
    await settle(api, lambda: bool(api.get("Pod", "second")["status"].get("conditions")))
    await sched.recorder.flush()
    assert api.events_for("second") == [("Warning", "FailedScheduling", (
        "0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
        "access mode. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."))]


async def test_immediate_claim_pod_waits_until_the_claim_is_bound(cluster) -> None:  # noqa: ANN001
    api, sched, clock = cluster
    api.load(make_pvc("imm", "standard"), make_pod("waiter", claims=["imm"]))
    await settle(api, lambda: bool(api.get("Pod", "waiter")["status"].get("conditions")))
    assert "pod has unbound immediate PersistentVolumeClaims" in api.get("Pod", "waiter")["status"]["conditions"][0][
        "message"]
    # the PV controller binds it: the PVC event moves the pod, which is then bound
    clock.advance(1)
    pv = make_pv("pv-imm", "standard", claim="imm", csi_driver="kstore.io.block")
    claim = copy.deepcopy(api.get("PersistentVolumeClaim", "imm"))
    claim["spec"]["volumeName"] = "pv-imm"
    claim["metadata"]["annotations"][ANN_BIND_COMPLETED] = "yes"
    api._store(pv, "ADDED")
    api._store(claim, "MODIFIED")
    await settle(api, lambda: bound(api, "waiter") is not None)


async def test_binding_that_never_completes_times_out_and_is_undone(cluster) -> None:  # noqa: ANN001
    api, sched, clock = cluster
    provisioner = PVController(api, enabled=False)
    api.load(make_pvc("slow", "wait-sc"), make_pod("patient", claims=["slow"]))
    await settle(api, lambda: ANN_SELECTED_NODE in api.get("PersistentVolumeClaim", "slow")["metadata"]["annotations"])
    assert sched.snapshot.assumed == {"uid-patient"}
    clock.advance(601)
    sched._notify(f"{NS}/slow")  # the next look after the deadline gives up (an event, or the RECHECK tick)
    await settle(api, lambda: not sched.snapshot.assumed and api.get("Pod", "patient")["status"].get("conditions"))
    await sched.recorder.flush()
    assert api.events_for("patient")[-1] == ("Warning", "FailedScheduling", 'running PreBind plugin "VolumeBinding": '
                                             "binding volumes: timed out waiting for the condition")
    assert api.get("Pod", "patient")["status"]["conditions"][0]["reason"] == "SchedulerError"
    assert sched.queue.sizes()["backoff"] == 1
    # the claim keeps its selected node: the retry goes to the same node, and succeeds once provisioned
    provisioner.enabled = True
    clock.advance(10)
    sched.queue.flush()  # (the real timer would wake it; the fake clock needs a nudge)
    node = api.get("PersistentVolumeClaim", "slow")["metadata"]["annotations"][ANN_SELECTED_NODE]
    await settle(api, lambda: bound(api, "patient") is not None)
    assert bound(api, "patient") == node


async def test_stale_selected_node_is_dropped_when_the_pod_cannot_go_anywhere_else(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    api.load(make_class("zonal", "kstore.io/block", allowed_topologies={"topology.kubernetes.io/zone": ["zone-z"]}),
             make_pvc("orphan", "zonal", selected_node="node-9"), make_pod("stuck", claims=["orphan"]))
    await settle(api, lambda: ANN_SELECTED_NODE not in api.get("PersistentVolumeClaim", "orphan")["metadata"][
        "annotations"])
    assert bound(api, "stuck") is None


async def test_pods_for_other_schedulers_and_bound_pods_are_left_alone(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    api.load(make_pod("custom", scheduler_name="my-scheduler"), make_pod("placed", node="node-2"))
    for _ in range(50):
        await asyncio.sleep(0)
    assert bound(api, "custom") is None and api.get("Pod", "custom")["status"].get("conditions") is None
    assert sched.snapshot.nodes["node-2"].pod_count == 1


async def test_replicas_spread_through_the_loop(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    api.load(*(make_pod(f"web-{i}", owner="web", cpu="100m") for i in range(3)))
    await settle(api, lambda: all(bound(api, f"web-{i}") for i in range(3)))
    assert sorted(bound(api, f"web-{i}") for i in range(3)) == ["node-1", "node-2", "node-3"]


async def test_late_versions_of_an_assumed_pod_never_queue_it_again(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    provisioner = PVController(api, enabled=False)
    api.load(make_pvc("late", "wait-sc"), make_pod("racer", claims=["late"]))
    await settle(api, lambda: "uid-racer" in sched.snapshot.assumed)
    stale = copy.deepcopy(api.get("Pod", "racer"))
    sched._pod_changed(stale)  # e.g. our own condition write, arriving while the binding is in flight
    assert sched.queue.sizes()["active"] == 0 and sched.queue.sizes()["in_flight"] == 1
    provisioner.enabled = True
    api._store(copy.deepcopy(api.get("PersistentVolumeClaim", "late")), "MODIFIED")  # wake the provisioner
    await settle(api, lambda: bound(api, "racer") is not None and sched.queue.sizes()["in_flight"] == 0)
    sched._pod_changed(stale)  # the pending version again, after the bind, before the bound version
    assert sched.queue.sizes() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0, "in_flight": 0}
    await settle(api, lambda: not sched.snapshot.assumed)
    await sched.recorder.flush()
    assert [e[1] for e in api.events_for("racer")] == ["Scheduled"]


async def test_gated_pod_gets_the_scheduling_gated_condition(cluster) -> None:  # noqa: ANN001
    api, sched, _ = cluster
    api.load(make_pod("gated", gates=["example.com/later"]))
    await settle(api, lambda: bool(api.get("Pod", "gated")["status"].get("conditions")))
    (condition,) = api.get("Pod", "gated")["status"]["conditions"]
    assert (condition["reason"], condition["message"]) == (
        "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates")
    ungated = copy.deepcopy(api.get("Pod", "gated"))
    del ungated["spec"]["schedulingGates"]
    api._store(ungated, "MODIFIED")
    await settle(api, lambda: bound(api, "gated") is not None)
