"""Each filter plugin, as a table: the cluster, the pod, and which nodes fit — or the exact
FitError text kube-scheduler would give (plugins/*.py through algorithm.schedule_one)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from kstore.scheduler.algorithm import SCHEDULED, UNSCHEDULABLE, schedule_one
from kstore.scheduler.podinfo import pod_info
from kstore.scheduler.snapshot import Snapshot
from kstore.scheduler.testing import (
    HOSTNAME,
    RWOP,
    ZONE,
    make_class,
    make_csinode,
    make_node,
    make_pod,
    make_pv,
    make_pvc,
    pod_affinity_term,
    required_node_affinity,
    taint,
    term,
)
from kstore.volume.drivers import DriverMap

Obj = dict[str, Any]
TAIL = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
NO_VICTIMS = "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."


def three_nodes(**overrides: dict[str, Any]) -> list[Obj]:
    """node-1..3 in zone-a..c (overrides per node name: make_node keyword arguments)."""
    return [make_node(f"node-{i}", zone=f"zone-{'abc'[i - 1]}", **overrides.get(f"node-{i}", {})) for i in (1, 2, 3)]


@dataclasses.dataclass
class Case:
    name: str
    pod: Obj
    nodes: list[Obj] = dataclasses.field(default_factory=three_nodes)
    pods: list[Obj] = dataclasses.field(default_factory=list)
    pvcs: list[Obj] = dataclasses.field(default_factory=list)
    pvs: list[Obj] = dataclasses.field(default_factory=list)
    classes: list[Obj] = dataclasses.field(default_factory=list)
    csinodes: list[Obj] = dataclasses.field(default_factory=list)
    drivers: DriverMap | None = None
    node_limits: dict[str, int] = dataclasses.field(default_factory=dict)
    fits: set[str] | None = None  # the feasible nodes
    message: str | None = None  # the FitError, when nothing fits


def run(case: Case):  # noqa: ANN201
    snap = Snapshot.from_objects(nodes=case.nodes, pods=case.pods, pvs=case.pvs, pvcs=case.pvcs,
                                 classes=case.classes, csinodes=case.csinodes, drivers=case.drivers,
                                 node_attach_limits=case.node_limits)
    return schedule_one(pod_info(case.pod), snap, percentage=100, rng=random.Random(1))


def check(case: Case) -> None:
    decision = run(case)
    if case.fits is not None:
        assert decision.result == SCHEDULED, decision.message
        assert {n.name for n in decision.feasible} == case.fits
        assert decision.node in case.fits
    if case.message is not None:
        assert decision.result == UNSCHEDULABLE
        assert decision.message == case.message


TOLERATE_GPU = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
EXISTS_ALL = {"operator": "Exists"}

NODE_CASES = [
    # --- NodeAffinity
    Case("nodeSelector picks the labelled node", make_pod("p", node_selector={"disk": "ssd"}),
         nodes=three_nodes(**{"node-2": {"labels": {"disk": "ssd"}}}), fits={"node-2"}),
    Case("nodeSelector no node matches", make_pod("p", node_selector={"disk": "nvme"}),
         message=f"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. {TAIL}"),
    Case("required node affinity by zone", make_pod("p", affinity=required_node_affinity(term(ZONE, "zone-b", "zone-c"))),
         fits={"node-2", "node-3"}),
    Case("node affinity terms are ORed", make_pod("p", affinity=required_node_affinity(
        term(HOSTNAME, "node-1"), term(ZONE, "zone-c"))), fits={"node-1", "node-3"}),
    Case("node affinity NotIn", make_pod("p", affinity=required_node_affinity(term(ZONE, "zone-a", operator="NotIn"))),
         fits={"node-2", "node-3"}),
    Case("node affinity matchFields metadata.name", make_pod("p", affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-3"]}]}]}}}),
         fits={"node-3"}),
    Case("nodeSelector and affinity must both match", make_pod(
        "p", node_selector={"disk": "ssd"}, affinity=required_node_affinity(term(ZONE, "zone-a"))),
         nodes=three_nodes(**{"node-2": {"labels": {"disk": "ssd"}}}),
         message=f"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. {TAIL}"),
    # --- TaintToleration
    Case("NoSchedule taint keeps pods off", make_pod("p"),
         nodes=three_nodes(**{"node-1": {"taints": [taint("dedicated", "gpu")]}}), fits={"node-2", "node-3"}),
    Case("untolerated taint reason names key and value", make_pod("p"),
         nodes=three_nodes(**{n: {"taints": [taint("dedicated", "gpu")]} for n in ("node-1", "node-2", "node-3")}),
         message=f"0/3 nodes are available: 3 node(s) had untolerated taint {{dedicated: gpu}}. {TAIL}"),
    Case("toleration with Equal value", make_pod("p", tolerations=[TOLERATE_GPU]),
         nodes=three_nodes(**{n: {"taints": [taint("dedicated", "gpu")]} for n in ("node-1", "node-2", "node-3")}),
         fits={"node-1", "node-2", "node-3"}),
    Case("toleration with another value does not tolerate", make_pod("p", tolerations=[
        {**TOLERATE_GPU, "value": "cpu"}]),
         nodes=three_nodes(**{"node-1": {"taints": [taint("dedicated", "gpu")]}}), fits={"node-2", "node-3"}),
    Case("NoExecute taint filters too", make_pod("p"),
         nodes=three_nodes(**{"node-3": {"taints": [taint("evict", "", "NoExecute")]}}), fits={"node-1", "node-2"}),
    Case("PreferNoSchedule does not filter", make_pod("p"),
         nodes=three_nodes(**{n: {"taints": [taint("soft", "", "PreferNoSchedule")]} for n in ("node-1", "node-2")}),
         fits={"node-1", "node-2", "node-3"}),
    Case("operator Exists with no key tolerates everything", make_pod("p", tolerations=[EXISTS_ALL]),
         nodes=three_nodes(**{n: {"taints": [taint("a", "b"), taint("c", "", "NoExecute")]}
                              for n in ("node-1", "node-2", "node-3")}), fits={"node-1", "node-2", "node-3"}),
    Case("a NotReady node carries the not-ready taint", make_pod("p"),
         nodes=three_nodes(**{"node-1": {"ready": "False"}, "node-2": {"ready": "Unknown"}}), fits={"node-3"}),
    Case("NotReady reasons", make_pod("p"),
         nodes=three_nodes(**{"node-1": {"ready": "False"}, "node-2": {"ready": "Unknown"}, "node-3": {"ready": None}}),
         message="0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                 f"2 node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}. {TAIL}"),
    Case("a pod tolerating not-ready lands on a NotReady node", make_pod("p", tolerations=[
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]),
         nodes=three_nodes(**{n: {"ready": "False"} for n in ("node-1", "node-2", "node-3")}),
         fits={"node-1", "node-2", "node-3"}),
    # --- NodeUnschedulable
    Case("cordoned nodes are skipped", make_pod("p"),
         nodes=three_nodes(**{"node-1": {"unschedulable": True}}), fits={"node-2", "node-3"}),
    Case("cordoned everywhere", make_pod("p"),
         nodes=three_nodes(**{n: {"unschedulable": True} for n in ("node-1", "node-2", "node-3")}),
         message=f"0/3 nodes are available: 3 node(s) were unschedulable. {TAIL}"),
    Case("tolerating the unschedulable taint", make_pod("p", tolerations=[
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]),
         nodes=three_nodes(**{n: {"unschedulable": True} for n in ("node-1", "node-2", "node-3")}),
         fits={"node-1", "node-2", "node-3"}),
    Case("unschedulable is checked before taints and affinity", make_pod("p", node_selector={"x": "y"}),
         nodes=three_nodes(**{"node-1": {"unschedulable": True, "taints": [taint("a")]},
                              "node-2": {"taints": [taint("a")]}}),
         message="0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had "
                 f"untolerated taint {{a: }}, 1 node(s) were unschedulable. {TAIL}"),
    # --- NodeResourcesFit
    Case("cpu requests against allocatable", make_pod("p", cpu="3"),
         pods=[make_pod("big", node="node-1", cpu="2"), make_pod("small", node="node-2", cpu="1")],
         fits={"node-2", "node-3"}),
    Case("insufficient cpu and memory count separately", make_pod("p", cpu="3", memory="7Gi"),
         pods=[make_pod("a", node="node-1", cpu="2"), make_pod("b", node="node-2", memory="2Gi"),
               make_pod("c", node="node-3", cpu="2", memory="2Gi")],
         message="0/3 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: 0/3 nodes are "
                 "available: 3 No preemption victims found for incoming pod."),
    Case("too many pods", make_pod("p"), nodes=three_nodes(**{n: {"pods": "1"} for n in ("node-1", "node-2")}),
         pods=[make_pod("a", node="node-1"), make_pod("b", node="node-2")], fits={"node-3"}),
    Case("terminated pods free their resources", make_pod("p", cpu="3"),
         pods=[make_pod(f"done-{n}", node=n, cpu="4", phase="Succeeded") for n in ("node-1", "node-2", "node-3")],
         fits={"node-1", "node-2", "node-3"}),
    Case("a pod asking for nothing fits a full node", make_pod("p"),
         pods=[make_pod(f"hog-{n}", node=n, cpu="4", memory="8Gi") for n in ("node-1", "node-2", "node-3")],
         fits={"node-1", "node-2", "node-3"}),
    Case("taints are checked before resources", make_pod("p", cpu="8"),
         nodes=three_nodes(**{"node-1": {"taints": [taint("a")]}}),
         message="0/3 nodes are available: 1 node(s) had untolerated taint {a: }, 2 Insufficient cpu. preemption: "
                 "0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found "
                 "for incoming pod."),
]

WEB = {"app": "web"}
INTERPOD_CASES = [
    Case("pod affinity to a pod on node-2 (hostname)", make_pod("p", affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}),
         pods=[make_pod("web-1", node="node-2", labels=WEB)], fits={"node-2"}),
    Case("pod affinity by zone", make_pod("p", affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB, ZONE)]}}),
         nodes=[*three_nodes(), make_node("node-4", zone="zone-b")],
         pods=[make_pod("web-1", node="node-2", labels=WEB)], fits={"node-2", "node-4"}),
    Case("pod affinity no matching pod", make_pod("p", affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}),
         pods=[make_pod("db", node="node-1", labels={"app": "db"})],
         message=f"0/3 nodes are available: 3 node(s) didn't match pod affinity rules. {TAIL}"),
    Case("the first pod of a self-affine group goes anywhere", make_pod("p", labels=WEB, affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}),
         fits={"node-1", "node-2", "node-3"}),
    Case("pod affinity only in the pod's namespace by default", make_pod("p", affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}),
         pods=[make_pod("web-1", node="node-2", labels=WEB, namespace="other")],
         message=f"0/3 nodes are available: 3 node(s) didn't match pod affinity rules. {TAIL}"),
    Case("pod anti-affinity by hostname", make_pod("p", labels=WEB, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}),
         pods=[make_pod("web-1", node="node-1", labels=WEB)], fits={"node-2", "node-3"}),
    Case("pod anti-affinity by zone everywhere", make_pod("p", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB, ZONE)]}}),
         pods=[make_pod(f"web-{i}", node=f"node-{i}", labels=WEB) for i in (1, 2, 3)],
         message=f"0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. {NO_VICTIMS}"),
    Case("existing pods' anti-affinity", make_pod("p", labels=WEB),
         pods=[make_pod("loner", node="node-3", labels={"app": "loner"}, affinity={"podAntiAffinity": {
             "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}})],
         fits={"node-1", "node-2"}),
    Case("existing pods' anti-affinity everywhere", make_pod("p", labels=WEB),
         pods=[make_pod(f"l-{i}", node=f"node-{i}", affinity={"podAntiAffinity": {
             "requiredDuringSchedulingIgnoredDuringExecution": [pod_affinity_term(WEB)]}}) for i in (1, 2, 3)],
         message="0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules. "
                 f"{NO_VICTIMS}"),
]

SPREAD = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
          "labelSelector": {"matchLabels": WEB}}
SPREAD_CASES = [
    Case("spread: skew keeps the pod off the crowded zone", make_pod("p", labels=WEB, spread=[SPREAD]),
         pods=[make_pod("w1", node="node-1", labels=WEB), make_pod("w2", node="node-2", labels=WEB)],
         fits={"node-3"}),
    Case("spread: balanced domains all fit", make_pod("p", labels=WEB, spread=[SPREAD]),
         pods=[make_pod(f"w{i}", node=f"node-{i}", labels=WEB) for i in (1, 2, 3)],
         fits={"node-1", "node-2", "node-3"}),
    Case("spread: maxSkew 2 allows more", make_pod("p", labels=WEB, spread=[{**SPREAD, "maxSkew": 2}]),
         pods=[make_pod("w1", node="node-1", labels=WEB)], fits={"node-1", "node-2", "node-3"}),
    Case("spread: the emptiest domain fits", make_pod("p", labels=WEB, spread=[{**SPREAD, "topologyKey": "rack"}]),
         nodes=three_nodes(**{"node-1": {"labels": {"rack": "r1"}}, "node-2": {"labels": {"rack": "r2"}}}),
         pods=[make_pod("w1", node="node-1", labels=WEB), make_pod("w2", node="node-1", labels=WEB)],
         fits={"node-2"}),
    Case("spread: minDomains not reached, and missing topology label", make_pod(
        "p", labels=WEB, spread=[{**SPREAD, "topologyKey": "rack", "minDomains": 2}]),
         nodes=three_nodes(**{"node-1": {"labels": {"rack": "r1"}}}),
         pods=[make_pod("w1", node="node-1", labels=WEB)],
         message="0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 node(s) didn't "
                 "match pod topology spread constraints (missing required label). preemption: 0/3 nodes are "
                 "available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
                 "scheduling."),
    Case("spread: ScheduleAnyway never filters", make_pod("p", labels=WEB, spread=[
        {**SPREAD, "whenUnsatisfiable": "ScheduleAnyway"}]),
         pods=[make_pod("w1", node="node-1", labels=WEB), make_pod("w2", node="node-1", labels=WEB)],
         fits={"node-1", "node-2", "node-3"}),
    Case("spread: node affinity policy Honor counts only eligible nodes", make_pod(
        "p", labels=WEB, spread=[SPREAD], affinity=required_node_affinity(term(ZONE, "zone-a", "zone-b"))),
         pods=[make_pod("w1", node="node-1", labels=WEB)], fits={"node-2"}),
]


@pytest.mark.parametrize("case", NODE_CASES + INTERPOD_CASES + SPREAD_CASES, ids=lambda c: c.name)
def test_node_and_pod_filters(case: Case) -> None:
    check(case)


WAIT = make_class("wait-sc")
IMMEDIATE = make_class("immediate-sc", mode="Immediate")
EBS = "ebs.csi.aws.com"
LIMITED = DriverMap.parse({"mappings": [{"backend": "block", "names": [EBS], "attach_limit": 2}]})

VOLUME_CASES = [
    # --- VolumeRestrictions
    Case("RWOP claim used by a scheduled pod", make_pod("p2", claims=["solo"]),
         pvcs=[make_pvc("solo", "standard", modes=[RWOP], bound_to="pv-solo")],
         pvs=[make_pv("pv-solo", "standard", modes=[RWOP], claim="solo", csi_driver="kstore.io.block")],
         pods=[make_pod("p1", node="node-1", claims=["solo"])],
         message="0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name and "
                 f"ReadWriteOncePod access mode. {NO_VICTIMS}"),
    Case("RWOP claim not used yet", make_pod("p1", claims=["solo"]),
         pvcs=[make_pvc("solo", "standard", modes=[RWOP], bound_to="pv-solo")],
         pvs=[make_pv("pv-solo", "standard", modes=[RWOP], claim="solo", csi_driver="kstore.io.block")],
         fits={"node-1", "node-2", "node-3"}),
    Case("RWOP claim used by a finished pod", make_pod("p2", claims=["solo"]),
         pvcs=[make_pvc("solo", "standard", modes=[RWOP], bound_to="pv-solo")],
         pvs=[make_pv("pv-solo", "standard", modes=[RWOP], claim="solo", csi_driver="kstore.io.block")],
         pods=[make_pod("p1", node="node-1", claims=["solo"], phase="Succeeded")],
         fits={"node-1", "node-2", "node-3"}),
    Case("RWO claims may be shared", make_pod("p2", claims=["data"]),
         pvcs=[make_pvc("data", "standard", bound_to="pv-data")],
         pvs=[make_pv("pv-data", "standard", claim="data", csi_driver="kstore.io.block")],
         pods=[make_pod("p1", node="node-1", claims=["data"])], fits={"node-1", "node-2", "node-3"}),
    Case("missing claim", make_pod("p", claims=["nope"]),
         message=f'0/3 nodes are available: persistentvolumeclaim "nope" not found. {TAIL}'),
    # --- NodeVolumeLimits
    Case("CSINode allocatable count reached", make_pod("p", claims=["new"]), classes=[WAIT],
         pvcs=[make_pvc("new"), *(make_pvc(f"c{i}", bound_to=f"pv{i}") for i in (1, 2))],
         pvs=[make_pv(f"pv{i}", claim=f"c{i}", csi_driver="kstore.io.block") for i in (1, 2)],
         pods=[make_pod("a", node="node-1", claims=["c1", "c2"])],
         csinodes=[make_csinode("node-1", {"kstore.io.block": 2})], fits={"node-2", "node-3"}),
    Case("a volume already attached does not count twice", make_pod("p", claims=["c1"]), classes=[WAIT],
         pvcs=[make_pvc(f"c{i}", bound_to=f"pv{i}") for i in (1, 2)],
         pvs=[make_pv(f"pv{i}", claim=f"c{i}", csi_driver="kstore.io.block") for i in (1, 2)],
         pods=[make_pod("a", node="node-1", claims=["c1", "c2"])],
         csinodes=[make_csinode("node-1", {"kstore.io.block": 2})], fits={"node-1", "node-2", "node-3"}),
    Case("driver mapping attach_limit", make_pod("p", claims=["new"]), classes=[make_class("ebs", EBS)],
         drivers=LIMITED, pvcs=[make_pvc("new", "ebs"), *(make_pvc(f"c{i}", "ebs", bound_to=f"pv{i}") for i in (1, 2))],
         pvs=[make_pv(f"pv{i}", "ebs", claim=f"c{i}", csi_driver=EBS) for i in (1, 2)],
         pods=[make_pod("a", node="node-2", claims=["c1", "c2"])], fits={"node-1", "node-3"}),
    Case("node config attach_limit, everywhere", make_pod("p", claims=["new"]), classes=[WAIT],
         node_limits={"node-1": 1, "node-2": 1, "node-3": 1},
         pvcs=[make_pvc("new"), *(make_pvc(f"c{i}", bound_to=f"pv{i}") for i in (1, 2, 3))],
         pvs=[make_pv(f"pv{i}", claim=f"c{i}", csi_driver="kstore.io.block") for i in (1, 2, 3)],
         pods=[make_pod(f"a{i}", node=f"node-{i}", claims=[f"c{i}"]) for i in (1, 2, 3)],
         message=f"0/3 nodes are available: 3 node(s) exceed max volume count. {NO_VICTIMS}"),
    Case("local and shared volumes never attach", make_pod("p", claims=["new"]),
         classes=[make_class("local", "kstore.io/local")], node_limits={"node-1": 0, "node-2": 0, "node-3": 0},
         pvcs=[make_pvc("new", "local")], fits={"node-1", "node-2", "node-3"}),
    # --- VolumeZone
    Case("zone-labelled PV", make_pod("p", claims=["z"]),
         pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
         pvs=[make_pv("pv-z", "standard", claim="z", labels={ZONE: "zone-b"}, csi_driver="kstore.io.block")],
         fits={"node-2"}),
    Case("zone-labelled PV with two zones", make_pod("p", claims=["z"]),
         pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
         pvs=[make_pv("pv-z", "standard", claim="z", labels={ZONE: "zone-a__zone-c"}, csi_driver="kstore.io.block")],
         fits={"node-1", "node-3"}),
    Case("zone-labelled PV in no node's zone", make_pod("p", claims=["z"]),
         pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
         pvs=[make_pv("pv-z", "standard", claim="z", labels={ZONE: "zone-x"}, csi_driver="kstore.io.block")],
         message=f"0/3 nodes are available: 3 node(s) had no available volume zone. {TAIL}"),
    Case("beta zone label on the PV matches the GA label on the node", make_pod("p", claims=["z"]),
         pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
         pvs=[make_pv("pv-z", "standard", claim="z", labels={"failure-domain.beta.kubernetes.io/zone": "zone-c"},
                      csi_driver="kstore.io.block")], fits={"node-3"}),
    Case("nodes without zone labels accept any zone", make_pod("p", claims=["z"]),
         nodes=[make_node("bare")], pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
         pvs=[make_pv("pv-z", "standard", claim="z", labels={ZONE: "zone-x"}, csi_driver="kstore.io.block")],
         fits={"bare"}),
]


@pytest.mark.parametrize("case", VOLUME_CASES, ids=lambda c: c.name)
def test_volume_filters(case: Case) -> None:
    check(case)


def test_filter_order_gives_the_first_failing_plugin_per_node() -> None:
    # node-1 is tainted and full, node-2 full, node-3 does not reach the PV's zone
    case = Case("order", make_pod("p", cpu="3", claims=["z"]),
                nodes=three_nodes(**{"node-1": {"taints": [taint("t")]}}),
                pods=[make_pod(f"h{i}", node=f"node-{i}", cpu="2") for i in (1, 2)],
                pvcs=[make_pvc("z", "standard", bound_to="pv-z")],
                pvs=[make_pv("pv-z", "standard", claim="z", labels={ZONE: "zone-a"}, csi_driver="kstore.io.block")])
    decision = run(case)
    assert {n: s.plugin for n, s in decision.statuses.items()} == {
        "node-1": "TaintToleration", "node-2": "NodeResourcesFit", "node-3": "VolumeZone"}
    assert decision.plugins == {"TaintToleration", "NodeResourcesFit", "VolumeZone"}
