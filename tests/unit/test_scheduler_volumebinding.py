"""volumebinding.py: the situations of Kubernetes' `volume_binding_test.go` (TestVolumeBinding) and
`binder_test.go` (FindPodVolumes, ...WithProvisioning, AssumePodVolumes, CheckBindings), by
name, plus ours (stale selected node, two pods and one PV)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from kstore.controllers.pv.model import ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE
from kstore.scheduler import framework as fw
from kstore.scheduler.algorithm import SCHEDULED, UNSCHEDULABLE, schedule_one
from kstore.scheduler.assume import AssumeError
from kstore.scheduler.podinfo import pod_info
from kstore.scheduler.snapshot import Snapshot
from kstore.scheduler.testing import (
    HOSTNAME,
    ZONE,
    make_class,
    make_node,
    make_pod,
    make_pv,
    make_pvc,
)
from kstore.scheduler.volumebinding import (
    BindingError,
    PodVolumeBinding,
    PodVolumes,
    assume,
    check_bindings,
    revert,
)

Obj = dict[str, Any]
NO_PROVISIONER = "kubernetes.io/no-provisioner"
# volume_binding_test.go's classes: no provisioner (static local volumes).
WAIT_SC = make_class("wait-sc", NO_PROVISIONER)
WAIT_HDD_SC = make_class("wait-hdd-sc", NO_PROVISIONER)
IMMEDIATE_SC = make_class("immediate-sc", NO_PROVISIONER, mode="Immediate")
# binder_test.go's provisioning classes.
PROVISION_SC = make_class("provision-sc", "kstore.io/block")
TOPO_SC = make_class("topo-sc", "kstore.io/block", allowed_topologies={ZONE: ["zone-z"]})
CLASSES = [WAIT_SC, WAIT_HDD_SC, IMMEDIATE_SC, PROVISION_SC, TOPO_SC]


def snapshot(*, nodes: list[Obj] | None = None, pvcs: list[Obj] = (), pvs: list[Obj] = (), pods: list[Obj] = (),
             ) -> Snapshot:
    return Snapshot.from_objects(nodes=nodes if nodes is not None else [make_node("node1", zone="zone-a")],
                                 pvcs=pvcs, pvs=pvs, pods=pods, classes=CLASSES)


def binding_for(pod: Obj, snap: Snapshot) -> PodVolumeBinding | None:
    return PodVolumeBinding.prefilter(pod_info(pod), snap)


def pod_with(*claims: str) -> Obj:
    return make_pod("test-pod", claims=claims)


# ---- TestVolumeBinding (volume_binding_test.go)


@dataclasses.dataclass
class PluginCase:
    name: str
    pod: Obj
    nodes: list[Obj]
    pvcs: list[Obj] = dataclasses.field(default_factory=list)
    pvs: list[Obj] = dataclasses.field(default_factory=list)
    prefilter: str | None = None  # the PreFilter rejection
    filter: list[tuple[str, ...] | None] = dataclasses.field(default_factory=list)  # reasons per node


NODE_A = [make_node("node-a")]
PLUGIN_CASES = [
    PluginCase("pod has not pvcs", make_pod("pod-a"), NODE_A, filter=[None]),
    PluginCase("all bound", pod_with("pvc-a"), NODE_A, pvcs=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
               pvs=[make_pv("pv-a", claim="pvc-a")], filter=[None]),
    PluginCase("PVC does not exist", pod_with("pvc-a"), NODE_A, prefilter='persistentvolumeclaim "pvc-a" not found'),
    PluginCase("Part of PVCs do not exist", pod_with("pvc-a", "pvc-b"), NODE_A,
               pvcs=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
               prefilter='persistentvolumeclaim "pvc-b" not found'),
    PluginCase("immediate claims not bound", pod_with("pvc-a"), NODE_A, pvcs=[make_pvc("pvc-a", "immediate-sc")],
               prefilter="pod has unbound immediate PersistentVolumeClaims"),
    PluginCase("unbound claims no matches", pod_with("pvc-a"), NODE_A, pvcs=[make_pvc("pvc-a", "wait-sc")],
               filter=[(fw.ERR_VOLUME_BIND_CONFLICT,)]),
    PluginCase("bound and unbound unsatisfied", pod_with("pvc-a", "pvc-b"),
               [make_node("node-a", labels={"foo": "barbar"})],
               pvcs=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a"), make_pvc("pvc-b", "wait-sc")],
               pvs=[make_pv("pv-a", claim="pvc-a", node_affinity={"foo": ["bar"]})],
               filter=[(fw.ERR_VOLUME_NODE_CONFLICT, fw.ERR_VOLUME_BIND_CONFLICT)]),
    PluginCase("pvc not found", pod_with("pvc-a"), NODE_A, prefilter='persistentvolumeclaim "pvc-a" not found'),
    PluginCase("pv not found", pod_with("pvc-a"), NODE_A, pvcs=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a")],
               filter=[(fw.ERR_VOLUME_PV_NOT_EXIST,)]),
    PluginCase("pv not found claim lost", pod_with("pvc-a"), NODE_A,
               pvcs=[make_pvc("pvc-a", "wait-sc", bound_to="pv-a", phase="Lost")],
               prefilter='persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "pv-a"'),
    PluginCase("local volumes with close capacity are preferred", pod_with("pvc-a"),
               [make_node("node-a"), make_node("node-b"), make_node("node-c")],
               pvcs=[make_pvc("pvc-a", "wait-sc", request="50Gi")],
               pvs=[make_pv("pv-a-0", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-a-1", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-b-0", capacity="100Gi", hostnames=["node-b"]),
                    make_pv("pv-b-1", capacity="100Gi", hostnames=["node-b"])],
               filter=[None, None, (fw.ERR_VOLUME_BIND_CONFLICT,)]),
    PluginCase("local volumes with close capacity are preferred (multiple pvcs)", pod_with("pvc-0", "pvc-1"),
               [make_node("node-a"), make_node("node-b"), make_node("node-c")],
               pvcs=[make_pvc("pvc-0", "wait-sc", request="50Gi"), make_pvc("pvc-1", "wait-hdd-sc", request="100Gi")],
               pvs=[make_pv("pv-a-0", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-a-1", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-a-2", "wait-hdd-sc", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-a-3", "wait-hdd-sc", capacity="200Gi", hostnames=["node-a"]),
                    make_pv("pv-b-0", capacity="100Gi", hostnames=["node-b"]),
                    make_pv("pv-b-1", capacity="100Gi", hostnames=["node-b"]),
                    make_pv("pv-b-2", "wait-hdd-sc", capacity="100Gi", hostnames=["node-b"]),
                    make_pv("pv-b-3", "wait-hdd-sc", capacity="100Gi", hostnames=["node-b"])],
               filter=[None, None, (fw.ERR_VOLUME_BIND_CONFLICT,)]),
    PluginCase("zonal volumes with close capacity are preferred", pod_with("pvc-a"),
               [make_node(f"zone-{z}-node-{n}", zone=f"zone-{z}") for z in "abc" for n in "ab"],
               pvcs=[make_pvc("pvc-a", "wait-sc", request="50Gi")],
               pvs=[make_pv("pv-a-0", capacity="200Gi", node_affinity={ZONE: ["zone-a"]}),
                    make_pv("pv-a-1", capacity="200Gi", node_affinity={ZONE: ["zone-a"]}),
                    make_pv("pv-b-0", capacity="100Gi", node_affinity={ZONE: ["zone-b"]}),
                    make_pv("pv-b-1", capacity="100Gi", node_affinity={ZONE: ["zone-b"]})],
               filter=[None, None, None, None, (fw.ERR_VOLUME_BIND_CONFLICT,), (fw.ERR_VOLUME_BIND_CONFLICT,)]),
]


@pytest.mark.parametrize("case", PLUGIN_CASES, ids=lambda c: c.name)
def test_volume_binding_plugin(case: PluginCase) -> None:
    snap = snapshot(nodes=case.nodes, pvcs=case.pvcs, pvs=case.pvs)
    state = binding_for(case.pod, snap)
    if case.prefilter is not None:
        # (VolumeRestrictions' PreFilter says the same for a missing claim; it runs first.)
        decision = schedule_one(pod_info(case.pod), snap)
        assert decision.result == UNSCHEDULABLE
        assert decision.message.startswith(f"0/{len(case.nodes)} nodes are available: {case.prefilter}. preemption:")
        if state is not None:
            assert state.prefilter_status is not None and state.prefilter_status.message == case.prefilter
        return
    if state is None:
        assert case.filter == [None] * len(case.nodes)
        return
    assert state.prefilter_status is None
    got = []
    for node in snap.node_list:
        status = state.filter(node)
        got.append(None if status is None else status.reasons)
        if status is not None:
            assert status.code == fw.Code.UNRESOLVABLE
    assert got == case.filter


# ---- FindPodVolumes (binder_test.go)

NODE1 = make_node("node1", zone="zone-a")
PV_NODE1A = make_pv("pv-node1a", capacity="5Gi", hostnames=["node1"])
PV_NODE1B = make_pv("pv-node1b", capacity="10Gi", hostnames=["node1"])
PV_NODE1C = make_pv("pv-node1c", capacity="5Gi", hostnames=["node1"])
PV_NODE2 = make_pv("pv-node2", capacity="1Gi", hostnames=["node2"])
UNBOUND = make_pvc("unbound-pvc", "wait-sc", request="1Gi")
UNBOUND2 = make_pvc("unbound-pvc2", "wait-sc", request="5Gi")
PV_BOUND = make_pv("pv-bound", claim="bound-pvc", hostnames=["node1"])
BOUND = make_pvc("bound-pvc", "wait-sc", bound_to="pv-bound")
PREBOUND = make_pvc("prebound-pvc", "wait-sc", volume_name="pv-node1a")
IMMEDIATE_BOUND = make_pvc("immediate-bound-pvc", "immediate-sc", bound_to="pv-bound-immediate")
IMMEDIATE_UNBOUND = make_pvc("immediate-unbound-pvc", "immediate-sc")
PV_BOUND_IMMEDIATE = make_pv("pv-bound-immediate", "immediate-sc", claim="immediate-bound-pvc", hostnames=["node1"])
PV_BOUND_IMMEDIATE_NODE2 = make_pv("pv-bound-immediate", "immediate-sc", claim="immediate-bound-pvc",
                                   hostnames=["node2"])
PROVISIONED = make_pvc("provisioned-pvc", "provision-sc")
SELECTED_NODE = make_pvc("selected-node-pvc", "provision-sc", selected_node="node1")
NO_PROVISIONER_PVC = make_pvc("no-provisioner-pvc", "wait-sc")
TOPO_MISMATCH = make_pvc("topo-mismatch-pvc", "topo-sc")


@dataclasses.dataclass
class FindCase:
    name: str
    pvcs: list[Obj]
    pvs: list[Obj] = dataclasses.field(default_factory=list)
    bindings: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (claim, pv)
    provisions: list[str] = dataclasses.field(default_factory=list)
    reasons: tuple[str, ...] = ()
    prefilter_fails: bool = False
    pod: Obj | None = None


FIND_CASES = [
    FindCase("no-volumes", [], pod=make_pod("test-pod")),
    FindCase("pvc-not-found", [], pod=pod_with("xxx"), prefilter_fails=True),
    FindCase("bound-pvc", [BOUND], [PV_BOUND]),
    FindCase("bound-pvc,pv-not-exists", [BOUND], reasons=(fw.ERR_VOLUME_PV_NOT_EXIST,)),
    FindCase("prebound-pvc", [PREBOUND], [PV_NODE1A], prefilter_fails=True),
    FindCase("unbound-pvc,pv-same-node", [UNBOUND], [PV_NODE2, PV_NODE1A, PV_NODE1B],
             bindings=[("unbound-pvc", "pv-node1a")]),
    FindCase("unbound-pvc,pv-different-node", [UNBOUND], [PV_NODE2], reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("two-unbound-pvcs", [UNBOUND, UNBOUND2], [PV_NODE1A, PV_NODE1B],
             bindings=[("unbound-pvc", "pv-node1a"), ("unbound-pvc2", "pv-node1b")]),
    FindCase("two-unbound-pvcs,order-by-size", [UNBOUND2, UNBOUND], [PV_NODE1A, PV_NODE1B],
             bindings=[("unbound-pvc", "pv-node1a"), ("unbound-pvc2", "pv-node1b")]),
    FindCase("two-unbound-pvcs,partial-match", [UNBOUND, UNBOUND2], [PV_NODE1A],
             bindings=[("unbound-pvc", "pv-node1a")], reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("one-bound,one-unbound", [UNBOUND, BOUND], [PV_BOUND, PV_NODE1A],
             bindings=[("unbound-pvc", "pv-node1a")]),
    FindCase("one-bound,one-unbound,no-match", [UNBOUND, BOUND], [PV_BOUND, PV_NODE2],
             reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("one-prebound,one-unbound", [UNBOUND, PREBOUND], [PV_NODE1A, PV_NODE1B], prefilter_fails=True),
    FindCase("immediate-bound-pvc", [IMMEDIATE_BOUND], [PV_BOUND_IMMEDIATE]),
    FindCase("immediate-bound-pvc-wrong-node", [IMMEDIATE_BOUND], [PV_BOUND_IMMEDIATE_NODE2],
             reasons=(fw.ERR_VOLUME_NODE_CONFLICT,)),
    FindCase("immediate-unbound-pvc", [IMMEDIATE_UNBOUND], prefilter_fails=True),
    FindCase("immediate-unbound-pvc,delayed-mode-bound", [IMMEDIATE_UNBOUND, BOUND], [PV_BOUND],
             prefilter_fails=True),
    FindCase("immediate-unbound-pvc,delayed-mode-unbound", [IMMEDIATE_UNBOUND, UNBOUND], prefilter_fails=True),
    FindCase("a pre-bound PV (claimRef without uid) wins", [UNBOUND],
             [PV_NODE1A, make_pv("pv-user", capacity="50Gi", claim="unbound-pvc", claim_uid="", phase="Available",
                                 hostnames=["node1"])], bindings=[("unbound-pvc", "pv-user")]),
    FindCase("a PV of another class does not match", [UNBOUND], [make_pv("pv-hdd", "wait-hdd-sc", hostnames=["node1"])],
             reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    # TestFindPodVolumesWithProvisioning
    FindCase("one-provisioned", [PROVISIONED], provisions=["provisioned-pvc"]),
    FindCase("two-unbound-pvcs,one-matched,one-provisioned", [UNBOUND, PROVISIONED], [PV_NODE1A],
             bindings=[("unbound-pvc", "pv-node1a")], provisions=["provisioned-pvc"]),
    FindCase("one-bound,one-provisioned", [BOUND, PROVISIONED], [PV_BOUND], provisions=["provisioned-pvc"]),
    FindCase("one-binding,one-selected-node", [BOUND, SELECTED_NODE], [PV_BOUND], provisions=["selected-node-pvc"]),
    FindCase("immediate-unbound-pvc (provisioning)", [IMMEDIATE_UNBOUND], prefilter_fails=True),
    FindCase("one-immediate-bound,one-provisioned", [IMMEDIATE_BOUND, PROVISIONED], [PV_BOUND_IMMEDIATE],
             provisions=["provisioned-pvc"]),
    FindCase("invalid-provisioner", [NO_PROVISIONER_PVC], reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("volume-topology-unsatisfied", [TOPO_MISMATCH], reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("selected node is another node", [make_pvc("elsewhere", "provision-sc", selected_node="node2")],
             reasons=(fw.ERR_VOLUME_BIND_CONFLICT,)),
    FindCase("a matching PV is preferred to provisioning", [make_pvc("both", "provision-sc", request="1Gi")],
             [make_pv("pv-provision-class", "provision-sc", capacity="2Gi", hostnames=["node1"])],
             bindings=[("both", "pv-provision-class")]),
]


@pytest.mark.parametrize("case", FIND_CASES, ids=lambda c: c.name)
def test_find_pod_volumes(case: FindCase) -> None:
    extra_nodes = [make_node("node2", zone="zone-b")]  # so that selected-node=node2 is not stale
    snap = snapshot(nodes=[NODE1, *extra_nodes], pvcs=case.pvcs, pvs=case.pvs)
    pod = case.pod or pod_with(*(c["metadata"]["name"] for c in case.pvcs))
    state = binding_for(pod, snap)
    if case.prefilter_fails:
        assert state is not None and state.prefilter_status is not None
        return
    if state is None:
        assert not case.pvcs
        return
    assert state.prefilter_status is None
    status, volumes = state.find(snap.nodes["node1"])
    assert (status.reasons if status is not None else ()) == case.reasons
    assert [(c["metadata"]["name"], pv["metadata"]["name"]) for c, pv in volumes.bindings] == case.bindings
    assert [c["metadata"]["name"] for c in volumes.provisions] == case.provisions


def test_a_claim_with_no_class_on_the_provisioning_path_is_an_error() -> None:
    snap = snapshot(pvcs=[make_pvc("classless", None, selected_node="node1")])
    state = binding_for(pod_with("classless"), snap)
    assert state is not None
    # A class-less claim is immediate (never delayed): the PreFilter says so before any error.
    assert state.prefilter_status is not None and state.prefilter_status.message == fw.ERR_UNBOUND_IMMEDIATE


def test_a_class_that_does_not_exist_makes_the_claim_immediate() -> None:
    snap = snapshot(pvcs=[make_pvc("ghost", "no-such-class")])
    decision = schedule_one(pod_info(pod_with("ghost")), snap)
    assert decision.message == ("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


@pytest.mark.parametrize(("name", "claim", "message"), [
    ("being deleted", make_pvc("pvc-a", "wait-sc", deleting=True), 'persistentvolumeclaim "pvc-a" is being deleted'),
    ("ephemeral not created yet", None,
     'waiting for ephemeral volume controller to create the persistentvolumeclaim "test-pod-scratch"'),
    ("ephemeral owned by another pod", make_pvc("test-pod-scratch", "provision-sc", owner_pod="other"),
     "PVC testns/test-pod-scratch was not created for pod testns/test-pod (pod is not owner)"),
])
def test_prefilter_rejects_unusable_claims(name: str, claim: Obj | None, message: str) -> None:
    pod = make_pod("test-pod", claims=[] if name.startswith("ephemeral") else ["pvc-a"],
                   ephemeral=["scratch"] if name.startswith("ephemeral") else [])
    state = binding_for(pod, snapshot(pvcs=[claim] if claim else []))
    assert state is not None and state.prefilter_status is not None
    assert state.prefilter_status.message == message


def test_ephemeral_claim_owned_by_the_pod_is_provisioned() -> None:
    claim = make_pvc("test-pod-scratch", "provision-sc", owner_pod="test-pod")
    decision = schedule_one(pod_info(make_pod("test-pod", ephemeral=["scratch"])), snapshot(pvcs=[claim]))
    assert decision.result == SCHEDULED
    assert [c["metadata"]["name"] for c in decision.volumes.provisions] == ["test-pod-scratch"]


# ---- Reserve: AssumePodVolumes and revert


def test_assume_prebinds_the_pv_so_a_second_pod_cannot_take_it() -> None:
    snap = snapshot(pvcs=[UNBOUND, make_pvc("other-pvc", "wait-sc")], pvs=[PV_NODE1A])
    first = schedule_one(pod_info(pod_with("unbound-pvc")), snap)
    assert first.result == SCHEDULED and first.volumes.bindings
    assumed = assume(first.volumes, first.node, snap)
    pv = snap.pv("pv-node1a")
    assert pv["spec"]["claimRef"]["name"] == "unbound-pvc" and pv["spec"]["claimRef"]["uid"] == "uid-unbound-pvc"
    assert pv["metadata"]["annotations"][ANN_BOUND_BY_CONTROLLER] == "yes"
    assert snap.pvs.get_api("pv-node1a") is PV_NODE1A  # the informer's object is untouched
    assert assumed.bindings[0][1] is pv

    second = schedule_one(pod_info(make_pod("second", claims=["other-pvc"])), snap)
    assert second.result == UNSCHEDULABLE
    assert "1 node(s) didn't find available persistent volumes to bind" in second.message

    revert(assumed, snap)  # Unreserve: the PV is free again
    assert schedule_one(pod_info(make_pod("second", claims=["other-pvc"])), snap).result == SCHEDULED


def test_assume_sets_the_selected_node_on_claims_to_provision() -> None:
    snap = snapshot(pvcs=[PROVISIONED])
    decision = schedule_one(pod_info(pod_with("provisioned-pvc")), snap)
    assumed = assume(decision.volumes, "node1", snap)
    assert snap.claim("testns", "provisioned-pvc")["metadata"]["annotations"][ANN_SELECTED_NODE] == "node1"
    assert assumed.provisions[0]["metadata"]["annotations"][ANN_SELECTED_NODE] == "node1"
    # a newer informer version replaces the assumption (the store has the truth now)
    newer = make_pvc("provisioned-pvc", "provision-sc", selected_node="node1", rv="5")
    snap.set_pvc(newer)
    assert not snap.pvcs.is_assumed("testns/provisioned-pvc")
    assert snap.claim("testns", "provisioned-pvc") is newer


def test_assume_fails_on_an_out_of_sync_object_and_reverts_what_it_did() -> None:
    # "tmpupdate-failed": the decision was made on a PV older than the cache's
    snap = snapshot(pvcs=[UNBOUND, UNBOUND2], pvs=[PV_NODE1A, make_pv("pv-node1b", capacity="10Gi",
                                                                     hostnames=["node1"], rv="7")])
    volumes = PodVolumes(bindings=[(UNBOUND, PV_NODE1A), (UNBOUND2, PV_NODE1B)])
    with pytest.raises(AssumeError, match="out of sync"):
        assume(volumes, "node1", snap)
    assert not snap.pvs.is_assumed("pv-node1a")


# ---- PreBind: checkBindings

NODE = "node1"


def _binding_snapshot(pv: Obj | None, claim: Obj | None) -> Snapshot:
    return snapshot(pvs=[pv] if pv else [], pvcs=[claim] if claim else [])


BOUND_PV = make_pv("pv-a", claim="pvc-a", hostnames=[NODE])
FULLY_BOUND = make_pvc("pvc-a", "wait-sc", bound_to="pv-a")
NOT_YET = make_pvc("pvc-a", "wait-sc")
PROVISIONED_BOUND = make_pvc("pvc-a", "provision-sc", bound_to="pv-a", selected_node=NODE)
PROVISIONING = make_pvc("pvc-a", "provision-sc", selected_node=NODE)


@pytest.mark.parametrize(("name", "pv", "claim", "volumes", "written", "expected"), [
    ("binding-bound", BOUND_PV, FULLY_BOUND, PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), {}, True),
    ("binding-prebound (claim not bound yet)", BOUND_PV, NOT_YET, PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), {},
     False),
    ("binding-pv-not-exists", None, FULLY_BOUND, PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), {},
     'failed to check binding: persistentvolume "pv-a" not found'),
    ("binding-claimref-nil", make_pv("pv-a", hostnames=[NODE]), NOT_YET, PodVolumes(bindings=[(NOT_YET, BOUND_PV)]),
     {}, 'ClaimRef got reset for pv "pv-a"'),
    ("binding-claimref-uid-empty", make_pv("pv-a", claim="pvc-a", claim_uid="", hostnames=[NODE]), NOT_YET,
     PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), {}, 'ClaimRef got reset for pv "pv-a"'),
    ("binding-pv-older-than-our-write", BOUND_PV, FULLY_BOUND, PodVolumes(bindings=[(NOT_YET, BOUND_PV)]),
     {"PersistentVolume/pv-a": 9}, False),
    ("binding-node-affinity-changed", make_pv("pv-a", claim="pvc-a", hostnames=["node2"]), FULLY_BOUND,
     PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), {},
     'pv "pv-a" node affinity doesn\'t match node "node1": no matching NodeSelectorTerms'),
    ("provision-pvc-bound", make_pv("pv-a", claim="pvc-a"), PROVISIONED_BOUND,
     PodVolumes(provisions=[PROVISIONING]), {}, True),
    ("provision-pvc-not-bound", None, PROVISIONING, PodVolumes(provisions=[PROVISIONING]), {}, False),
    ("provision-pvc-bound-pv-not-seen-yet", None, PROVISIONED_BOUND, PodVolumes(provisions=[PROVISIONING]), {},
     False),
    ("provision-pvc-not-exists", None, None, PodVolumes(provisions=[PROVISIONING]), {},
     'failed to check provisioning pvc: persistentvolumeclaim "testns/pvc-a" not found'),
    ("provision-selected-node-dropped", None, make_pvc("pvc-a", "provision-sc"),
     PodVolumes(provisions=[PROVISIONING]), {}, 'provisioning failed for PVC "pvc-a"'),
    ("provision-pvc-older-than-our-write", None, make_pvc("pvc-a", "provision-sc"),
     PodVolumes(provisions=[PROVISIONING]), {"PersistentVolumeClaim/testns/pvc-a": 3}, False),
])
def test_check_bindings(name: str, pv: Obj | None, claim: Obj | None, volumes: PodVolumes, written: dict[str, int],
                        expected: bool | str) -> None:
    snap = _binding_snapshot(pv, claim)
    if isinstance(expected, str):
        with pytest.raises(BindingError) as err:
            check_bindings(volumes, NODE, snap, written)
        assert str(err.value) == expected
    else:
        assert check_bindings(volumes, NODE, snap, written) is expected


def test_check_bindings_node_gone() -> None:
    snap = _binding_snapshot(BOUND_PV, FULLY_BOUND)
    with pytest.raises(BindingError, match='failed to get node "node9"'):
        check_bindings(PodVolumes(bindings=[(NOT_YET, BOUND_PV)]), "node9", snap, {})


# ---- stale selected node (ours)


@pytest.mark.parametrize("selected_node_state", ["gone", "not ready"])
def test_stale_selected_node_is_dropped_and_the_pod_goes_elsewhere(selected_node_state: str) -> None:
    nodes = [make_node("node-1"), make_node("node-2")]
    if selected_node_state == "not ready":
        nodes.append(make_node("node-3", ready="False"))
    claim = make_pvc("data", "provision-sc", selected_node="node-3")
    snap = snapshot(nodes=nodes, pvcs=[claim])
    decision = schedule_one(pod_info(pod_with("data")), snap, rng=random.Random(0))
    assert decision.result == SCHEDULED and decision.node in ("node-1", "node-2")
    assert [c["metadata"]["name"] for c in decision.stale_claims] == ["data"]
    assert [c["metadata"]["name"] for c in decision.volumes.provisions] == ["data"]
    assumed = assume(decision.volumes, decision.node, snap)
    assert assumed.provisions[0]["metadata"]["annotations"][ANN_SELECTED_NODE] == decision.node
    assert claim["metadata"]["annotations"][ANN_SELECTED_NODE] == "node-3"  # the cache's object is untouched


def test_a_ready_selected_node_is_kept() -> None:
    snap = snapshot(nodes=[make_node("node-1"), make_node("node-2")],
                    pvcs=[make_pvc("data", "provision-sc", selected_node="node-2")])
    decision = schedule_one(pod_info(pod_with("data")), snap)
    assert decision.result == SCHEDULED and decision.node == "node-2" and not decision.stale_claims


def test_local_pv_with_node_affinity_sends_the_pod_to_its_node() -> None:
    nodes = [make_node(f"node-{i}", zone=f"zone-{'abc'[i - 1]}") for i in (1, 2, 3)]
    local = make_class("local-storage", NO_PROVISIONER)
    snap = Snapshot.from_objects(nodes=nodes, classes=[local], pvcs=[make_pvc("data", "local-storage")],
                                 pvs=[make_pv("local-pv", "local-storage", hostnames=["node-2"])])
    decision = schedule_one(pod_info(pod_with("data")), snap)
    assert decision.node == "node-2"
    assert [(c["metadata"]["name"], pv["metadata"]["name"]) for c, pv in decision.volumes.bindings] == [
        ("data", "local-pv")]
    assert {n: s.reasons for n, s in decision.statuses.items()} == {
        "node-1": (fw.ERR_VOLUME_BIND_CONFLICT,), "node-3": (fw.ERR_VOLUME_BIND_CONFLICT,)}
    # when the local PV is bound already, a node conflict is reported for the other nodes
    snap = Snapshot.from_objects(nodes=nodes, classes=[local], pvcs=[make_pvc("data", "local-storage", bound_to="lp")],
                                 pvs=[make_pv("lp", "local-storage", claim="data", hostnames=["node-2"])],
                                 pods=[make_pod("elsewhere", node="node-2", cpu="4")])
    decision = schedule_one(pod_info(make_pod("p", claims=["data"], cpu="1")), snap)
    assert decision.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had volume node affinity conflict. preemption: "
        "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
        "scheduling.")


def test_bound_claims_only_is_all_bound() -> None:
    snap = snapshot(pvcs=[BOUND], pvs=[PV_BOUND])
    decision = schedule_one(pod_info(pod_with("bound-pvc")), snap)
    assert decision.result == SCHEDULED and not decision.volumes
    assert ANN_BIND_COMPLETED in BOUND["metadata"]["annotations"]


def test_hostname_and_zone_labels_are_what_pv_affinity_reads() -> None:
    snap = snapshot(nodes=[make_node("node-x", zone="zone-q")], pvcs=[UNBOUND],
                    pvs=[make_pv("pv-q", node_affinity={ZONE: ["zone-q"], HOSTNAME: ["node-x"]})])
    assert schedule_one(pod_info(pod_with("unbound-pvc")), snap).result == SCHEDULED
