"""Provisioning decisions of binder.py: Kubernetes' provision_test.go situations, plus ours.

Provisioning itself (backend volume, PV creation, its failures: 11-3, 11-4, 11-8 ... 11-12,
11-19, 11-20) is the worker's; here the reactor plays it (`Case.provision`) by creating the PV
Kubernetes' provisioner would, so the decision half can be followed to a bound claim.

Two deliberate differences from Kubernetes:
- 11-18: every provisioner name is emulated (issue 4: unknown names go to a fallback backend),
  so `kubernetes.io/unknown` provisions instead of failing; only `kubernetes.io/no-provisioner`
  has no plugin.
- 11-23, 11-24: once a WaitForFirstConsumer claim has its selected node, an Available volume
  whose node affinity admits that node is bound rather than provisioned around (Kubernetes'
  scheduler would have pre-bound it instead of selecting the node). The cases keep their
  intent with a volume pinned to another node.
"""

from __future__ import annotations

import pytest

from kstore.controllers.pv import binder
from kstore.controllers.pv.model import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_PROVISIONED_BY,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    Event,
    Provision,
    Update,
)

from .pvtesting import (
    CLASS_COPPER,
    CLASS_EMPTY,
    CLASS_EXTERNAL,
    CLASS_EXTERNAL_WAIT,
    CLASS_GOLD,
    CLASS_NO_PROVISIONER,
    CLASS_NON_EXISTING,
    CLASS_SILVER,
    CLASSES,
    EXTERNAL_PROVISIONER,
    EXTERNAL_WAIT_PROVISIONER,
    MOCK_PROVISIONER,
    NOW,
    Case,
    Reactor,
    new_claim,
    new_class,
    new_node,
    new_volume,
    run_case,
    sync,
    with_annotation,
    with_deletion_timestamp,
    with_node_affinity,
)

BBC, BC = ANN_BOUND_BY_CONTROLLER, ANN_BIND_COMPLETED
v, c = new_volume, new_claim
NONE: list = []
EXTERNAL_MESSAGE = (
    "Normal ExternalProvisioning Waiting for a volume to be created either by the external provisioner "
    "'vendor.com/my-volume' or manually by the system administrator. If volume creation is delayed, please "
    "verify that the provisioner is running and correctly registered."
)


def provisioned_by(provisioner: str) -> tuple[str, str]:
    """Both storage-provisioner annotations, as `new_claim` annotation arguments."""
    return f"{ANN_BETA_STORAGE_PROVISIONER}={provisioner}", f"{ANN_STORAGE_PROVISIONER}={provisioner}"


def provisioned_volume(uid: str, claim: str, class_: str, provisioner: str = MOCK_PROVISIONER) -> dict:
    return v(f"pvc-{uid}", "1Gi", uid, claim, "Bound", "Delete", class_, BBC, f"{ANN_PROVISIONED_BY}={provisioner}")


MOCK = provisioned_by(MOCK_PROVISIONER)
EXTERNAL = provisioned_by(EXTERNAL_PROVISIONER)

# TestProvisionSync
SET_11 = [
    Case("11-1 - successful provision with storage class 1",
         NONE,
         [provisioned_volume("uid11-1", "claim11-1", CLASS_GOLD)],
         [c("claim11-1", "uid11-1", "1Gi", "", "Pending", CLASS_GOLD)],
         # Binding is completed by the next syncClaim.
         [c("claim11-1", "uid11-1", "1Gi", "", "Pending", CLASS_GOLD, *MOCK)],
         ["Normal ProvisioningSucceeded"], provision=True, expected_ops=["Provision default/claim11-1 gold"]),
    Case("11-2 - plugin not found (kubernetes.io/no-provisioner)",
         NONE, NONE,
         [c("claim11-2", "uid11-2", "1Gi", "", "Pending", CLASS_NO_PROVISIONER)],
         [c("claim11-2", "uid11-2", "1Gi", "", "Pending", CLASS_NO_PROVISIONER)],
         ["Warning ProvisioningFailed no volume plugin matched name: kubernetes.io/no-provisioner"],
         expected_ops=[]),
    Case("11-6 - provisioning when there is a volume available",
         [v("volume11-6", "1Gi", "", "", "Available", "Retain", CLASS_GOLD)],
         [v("volume11-6", "1Gi", "uid11-6", "claim11-6", "Bound", "Retain", CLASS_GOLD, BBC)],
         [c("claim11-6", "uid11-6", "1Gi", "", "Pending", CLASS_GOLD)],
         [c("claim11-6", "uid11-6", "1Gi", "volume11-6", "Bound", CLASS_GOLD, BBC, BC)],
         provision=True, expected_ops=[]),
    Case("11-7 - claim is bound before provisioning",
         NONE,
         [provisioned_volume("uid11-7", "claim11-7", CLASS_GOLD)],
         [c("claim11-7", "uid11-7", "1Gi", "", "Pending", CLASS_GOLD)],
         [c("claim11-7", "uid11-7", "1Gi", "", "Pending", CLASS_GOLD, *MOCK)],
         provision=True,
         # A parallel provisioner creates the volume before our operation starts.
         before_operation=lambda reactor, _op: reactor._store(provisioned_volume("uid11-7", "claim11-7",
                                                                                CLASS_GOLD))),
    Case("11-13 - successful provision with storage class 2",
         NONE,
         [provisioned_volume("uid11-13", "claim11-13", CLASS_SILVER)],
         [c("claim11-13", "uid11-13", "1Gi", "", "Pending", CLASS_SILVER)],
         [c("claim11-13", "uid11-13", "1Gi", "", "Pending", CLASS_SILVER, *MOCK)],
         ["Normal ProvisioningSucceeded"], provision=True, expected_ops=["Provision default/claim11-13 silver"]),
    Case("11-14 - fail due to non-existing class",
         NONE, NONE,
         [c("claim11-14", "uid11-14", "1Gi", "", "Pending", CLASS_NON_EXISTING)],
         [c("claim11-14", "uid11-14", "1Gi", "", "Pending", CLASS_NON_EXISTING)],
         ['Warning ProvisioningFailed storageclass.storage.k8s.io "non-existing" not found'], expected_ops=[]),
    Case("11-15 - no provisioning with class=''",
         NONE, NONE,
         [c("claim11-15", "uid11-15", "1Gi", "", "Pending", CLASS_EMPTY)],
         [c("claim11-15", "uid11-15", "1Gi", "", "Pending", CLASS_EMPTY)],
         ["Normal FailedBinding no persistent volumes available for this claim and no storage class is set"],
         expected_ops=[]),
    Case("11-16 - no provisioning with class=nil",
         NONE, NONE,
         [c("claim11-15", "uid11-15", "1Gi", "", "Pending", None)],
         [c("claim11-15", "uid11-15", "1Gi", "", "Pending", None)],
         ["Normal FailedBinding"], expected_ops=[]),
    Case("11-17 - external provisioner",
         NONE, NONE,
         [c("claim11-17", "uid11-17", "1Gi", "", "Pending", CLASS_EXTERNAL)],
         [c("claim11-17", "uid11-17", "1Gi", "", "Pending", CLASS_EXTERNAL, *EXTERNAL)],
         [EXTERNAL_MESSAGE], expected_ops=[]),
    Case("11-18 - unknown provisioner name is served by the fallback backend",
         NONE,
         [provisioned_volume("uid11-18", "claim11-18", "unknown-internal", "kubernetes.io/unknown")],
         [c("claim11-18", "uid11-18", "1Gi", "", "Pending", "unknown-internal")],
         [c("claim11-18", "uid11-18", "1Gi", "", "Pending", "unknown-internal", *provisioned_by("kubernetes.io/unknown"))],
         ["Normal ProvisioningSucceeded"], provision=True,
         classes=[*CLASSES, new_class("unknown-internal", "kubernetes.io/unknown")]),
    Case("11-22 - external provisioner with volume available",
         [v("volume11-22", "1Gi", "", "", "Available", "Retain", CLASS_EXTERNAL)],
         [v("volume11-22", "1Gi", "uid11-22", "claim11-22", "Bound", "Retain", CLASS_EXTERNAL, BBC)],
         [c("claim11-22", "uid11-22", "1Gi", "", "Pending", CLASS_EXTERNAL)],
         [c("claim11-22", "uid11-22", "1Gi", "volume11-22", "Bound", CLASS_EXTERNAL, BBC, BC)]),
    Case("11-23 - provision for PVC annotated with AnnSelectedNode when no volume fits the node",
         [with_node_affinity(v("volume11-23", "1Gi", "", "", "Available", "Delete", CLASS_COPPER), "node2")],
         [with_node_affinity(v("volume11-23", "1Gi", "", "", "Available", "Delete", CLASS_COPPER), "node2"),
          provisioned_volume("uid11-23", "claim11-23", CLASS_COPPER)],
         [with_annotation(c("claim11-23", "uid11-23", "1Gi", "", "Pending", CLASS_COPPER), ANN_SELECTED_NODE,
                          "node1")],
         [with_annotation(c("claim11-23", "uid11-23", "1Gi", "", "Pending", CLASS_COPPER, *MOCK), ANN_SELECTED_NODE,
                          "node1")],
         ["Normal ProvisioningSucceeded"], provision=True, nodes=[new_node("node1"), new_node("node2")]),
    Case("11-24 - wait external provisioner for PVC annotated with AnnSelectedNode",
         [with_node_affinity(v("volume11-24", "1Gi", "", "", "Available", "Delete", CLASS_EXTERNAL_WAIT), "node2")],
         [with_node_affinity(v("volume11-24", "1Gi", "", "", "Available", "Delete", CLASS_EXTERNAL_WAIT), "node2")],
         [with_annotation(c("claim11-24", "uid11-24", "1Gi", "", "Pending", CLASS_EXTERNAL_WAIT), ANN_SELECTED_NODE,
                          "node1")],
         [with_annotation(c("claim11-24", "uid11-24", "1Gi", "", "Pending", CLASS_EXTERNAL_WAIT,
                            *provisioned_by(EXTERNAL_WAIT_PROVISIONER)), ANN_SELECTED_NODE, "node1")],
         ["Normal ExternalProvisioning Waiting for a volume to be created either by the external provisioner "
          "'vendor.com/my-volume-wait'"], expected_ops=[]),
]

# TestProvisionMultiSync
SET_12 = [
    Case("12-1 - successful provision",
         NONE,
         [provisioned_volume("uid12-1", "claim12-1", CLASS_GOLD)],
         [c("claim12-1", "uid12-1", "1Gi", "", "Pending", CLASS_GOLD)],
         [c("claim12-1", "uid12-1", "1Gi", "pvc-uid12-1", "Bound", CLASS_GOLD, BBC, BC, *MOCK)],
         ["Normal ProvisioningSucceeded"], settle=True, provision=True),
    Case("12-3 - external provisioner with volume to be provisioned",
         NONE, NONE,
         [c("claim12-3", "uid12-3", "1Gi", "", "Pending", CLASS_EXTERNAL)],
         [c("claim12-3", "uid12-3", "1Gi", "", "Pending", CLASS_EXTERNAL, *EXTERNAL)],
         [EXTERNAL_MESSAGE], settle=True, provision=True, expected_ops=[]),
]

# Ours.
OURS = [
    Case("ours-p1 - WaitForFirstConsumer waits for the selected node before provisioning",
         NONE, NONE,
         [c("claim-p1", "uid-p1", "1Gi", "", "Pending", CLASS_COPPER)],
         [c("claim-p1", "uid-p1", "1Gi", "", "Pending", CLASS_COPPER)],
         ["Normal WaitForFirstConsumer"], settle=True, provision=True, expected_ops=[]),
    Case("ours-p2 - WaitForFirstConsumer provisions once the node is selected",
         NONE,
         [provisioned_volume("uid-p2", "claim-p2", CLASS_COPPER)],
         [with_annotation(c("claim-p2", "uid-p2", "1Gi", "", "Pending", CLASS_COPPER), ANN_SELECTED_NODE, "node1")],
         [with_annotation(c("claim-p2", "uid-p2", "1Gi", "pvc-uid-p2", "Bound", CLASS_COPPER, BBC, BC, *MOCK),
                          ANN_SELECTED_NODE, "node1")],
         ["Normal ProvisioningSucceeded"], settle=True, provision=True,
         expected_ops=["Provision default/claim-p2 copper"]),
    Case("ours-p3 - a deleted claim is not provisioned",
         NONE, NONE,
         [with_deletion_timestamp(c("claim-p3", "uid-p3", "1Gi", "", "Pending", CLASS_GOLD))],
         [with_deletion_timestamp(c("claim-p3", "uid-p3", "1Gi", "", "Pending", CLASS_GOLD))],
         settle=True, provision=True, expected_ops=[]),
    Case("ours-p4 - a volume provisioned for a claim bound elsewhere is released and deleted",
         [provisioned_volume("uid-p4", "claim-p4", CLASS_GOLD), v("volume-p4", "1Gi", "uid-p4", "claim-p4", "Bound",
                                                                  "Retain", CLASS_GOLD, BBC)],
         [v("volume-p4", "1Gi", "uid-p4", "claim-p4", "Bound", "Retain", CLASS_GOLD, BBC)],
         [c("claim-p4", "uid-p4", "1Gi", "volume-p4", "Bound", CLASS_GOLD, BBC, BC)],
         [c("claim-p4", "uid-p4", "1Gi", "volume-p4", "Bound", CLASS_GOLD, BBC, BC)],
         test="volume", delete_results=[None], expected_ops=["DeleteVolume pvc-uid-p4"]),
]


@pytest.mark.parametrize("case", SET_11 + SET_12 + OURS, ids=str)
def test_provision(case: Case) -> None:
    run_case(case)


@pytest.mark.parametrize("volume_state", ["Available", "Bound"])
def test_12_2_and_12_4_external_provisioner_then_volume_appears(volume_state: str) -> None:
    """12-2 / 12-4: the external provisioner creates the volume (unbound, or pre-bound and Bound)
    after the claim was annotated; the next syncs bind it."""
    reactor = Reactor(claims=[c("claim12-2", "uid12-2", "1Gi", "", "Pending", CLASS_EXTERNAL)], classes=CLASSES)
    sync(reactor, "PersistentVolumeClaim", "default/claim12-2")
    assert [e.reason for e in reactor.events] == ["ExternalProvisioning"]
    if volume_state == "Available":
        reactor._store(v("pvc-uid12-2", "1Gi", "", "", "Available", "Retain", CLASS_EXTERNAL))
    else:
        reactor._store(v("pvc-uid12-2", "1Gi", "uid12-2", "claim12-2", "Bound", "Retain", CLASS_EXTERNAL, BBC))
    sync(reactor, "PersistentVolumeClaim", "default/claim12-2")
    claim = reactor.claim("default/claim12-2")
    assert claim["spec"]["volumeName"] == "pvc-uid12-2"
    assert claim["status"]["phase"] == "Bound"
    assert claim["metadata"]["annotations"] == {
        BBC: "yes", BC: "yes",
        ANN_BETA_STORAGE_PROVISIONER: EXTERNAL_PROVISIONER, ANN_STORAGE_PROVISIONER: EXTERNAL_PROVISIONER,
    }
    volume = reactor.volume("pvc-uid12-2")
    assert volume["status"]["phase"] == "Bound" and volume["spec"]["claimRef"]["uid"] == "uid12-2"
    assert volume["metadata"]["annotations"] == {BBC: "yes"}


def test_provision_annotates_once_then_only_asks_again() -> None:
    reactor = Reactor(claims=[c("claim-a", "uid-a", "1Gi", "", "Pending", CLASS_GOLD)], classes=CLASSES)
    first = binder.sync_claim(reactor.claim("default/claim-a"), reactor, now=NOW)
    assert [type(a) for a in first] == [Update, Provision]
    assert first[0].obj["metadata"]["annotations"] == {ANN_BETA_STORAGE_PROVISIONER: MOCK_PROVISIONER,
                                                       ANN_STORAGE_PROVISIONER: MOCK_PROVISIONER}
    assert first[1] == Provision("default/claim-a", CLASS_GOLD)
    reactor.apply(first)
    # Level-triggered: the next sync writes nothing and asks for the (deduplicated) operation again.
    assert binder.sync_claim(reactor.claim("default/claim-a"), reactor, now=NOW) == [
        Provision("default/claim-a", CLASS_GOLD)]


def test_external_provisioning_event_on_every_sync() -> None:
    """As Kubernetes: `ExternalProvisioning (x42 over 13m)` — each sync says who is awaited."""
    claim = c("claim-e", "uid-e", "1Gi", "", "Pending", CLASS_EXTERNAL, *EXTERNAL)
    reactor = Reactor(claims=[claim], classes=CLASSES)
    actions = binder.sync_claim(reactor.claim("default/claim-e"), reactor, now=NOW)
    assert len(actions) == 1 and isinstance(actions[0], Event)
    assert f"{actions[0].type} {actions[0].reason} {actions[0].message}" == EXTERNAL_MESSAGE
