"""binder.py and matching.py: Kubernetes' binder_test.go situations, by name and number, plus ours.

Where Kubernetes' table says `noevents` but its controller does emit an event (its framework
only checks the first len(expected) events), the table here lists what is really emitted:
1-16 (VolumeMismatch), 1-17 (FailedBinding), 2-6 (FailedBinding).
"""

from __future__ import annotations

import pytest

from kstore.controllers.pv import binder
from kstore.controllers.pv.matching import (
    check_volume_satisfies_claim,
    claim_class,
    claim_problem,
    find_best_match,
)
from kstore.controllers.pv.model import (
    ANN_BETA_STORAGE_CLASS,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_SELECTED_NODE,
    Update,
)
from kstore.controllers.pv.reclaim import rfc3339

from .pvtesting import (
    CLASS_EMPTY,
    CLASS_GOLD,
    CLASS_NO_PROVISIONER,
    CLASS_SILVER,
    CLASS_WAIT,
    NOW,
    ROX,
    RWO,
    RWOP,
    RWX,
    Case,
    Reactor,
    ReactorError,
    new_claim,
    new_node,
    new_pod,
    new_volume,
    run_case,
    sync,
    with_access_modes,
    with_annotation,
    with_claim_ref_namespace,
    with_deletion_timestamp,
    with_expected_capacity,
    with_label_selector,
    with_labels,
    with_node_affinity,
    with_request,
    with_status_access_modes,
    with_volume_mode,
)

BBC, BC = ANN_BOUND_BY_CONTROLLER, ANN_BIND_COMPLETED
LABELS = {"foo": "true", "bar": "false"}
v, c = new_volume, new_claim
NONE: list = []

# [Unit test set 1] The user did not care which PV they get.
SET_1 = [
    Case("1-1 - successful bind",
         [v("volume1-1", "1Gi", "", "", "Available", "Retain", CLASS_EMPTY)],
         [v("volume1-1", "1Gi", "uid1-1", "claim1-1", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim1-1", "uid1-1", "1Gi", "", "Pending")],
         [c("claim1-1", "uid1-1", "1Gi", "volume1-1", "Bound", None, BBC, BC)]),
    Case("1-2 - noop",
         [v("volume1-2", "1Gi", "", "", "Available")],
         [v("volume1-2", "1Gi", "", "", "Available")],
         [c("claim1-2", "uid1-2", "10Gi", "", "Pending")],
         [c("claim1-2", "uid1-2", "10Gi", "", "Pending")],
         ["Normal FailedBinding no persistent volumes available for this claim and no storage class is set"]),
    Case("1-3 - reset to Pending",
         [v("volume1-3", "1Gi", "", "", "Available")],
         [v("volume1-3", "1Gi", "", "", "Available")],
         [c("claim1-3", "uid1-3", "10Gi", "", "Bound")],
         [c("claim1-3", "uid1-3", "10Gi", "", "Pending")],
         ["Normal FailedBinding"]),
    Case("1-4 - smallest volume",
         [v("volume1-4_1", "10Gi", "", "", "Available"), v("volume1-4_2", "1Gi", "", "", "Available")],
         [v("volume1-4_1", "10Gi", "", "", "Available"),
          v("volume1-4_2", "1Gi", "uid1-4", "claim1-4", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim1-4", "uid1-4", "1Gi", "", "Pending")],
         [c("claim1-4", "uid1-4", "1Gi", "volume1-4_2", "Bound", None, BBC, BC)]),
    Case("1-5 - prebound volume by name - success",
         [v("volume1-5_1", "10Gi", "", "claim1-5", "Available"), v("volume1-5_2", "1Gi", "", "", "Available")],
         [v("volume1-5_1", "10Gi", "uid1-5", "claim1-5", "Bound"), v("volume1-5_2", "1Gi", "", "", "Available")],
         [c("claim1-5", "uid1-5", "1Gi", "", "Pending")],
         [with_expected_capacity(c("claim1-5", "uid1-5", "1Gi", "volume1-5_1", "Bound", None, BBC, BC), "10Gi")]),
    Case("1-6 - prebound volume by UID - success",
         [v("volume1-6_1", "10Gi", "uid1-6", "claim1-6", "Available"), v("volume1-6_2", "1Gi", "", "", "Available")],
         [v("volume1-6_1", "10Gi", "uid1-6", "claim1-6", "Bound"), v("volume1-6_2", "1Gi", "", "", "Available")],
         [c("claim1-6", "uid1-6", "1Gi", "", "Pending")],
         [with_expected_capacity(c("claim1-6", "uid1-6", "1Gi", "volume1-6_1", "Bound", None, BBC, BC), "10Gi")]),
    Case("1-7 - prebound volume to different claim",
         [v("volume1-7", "10Gi", "uid1-777", "claim1-7", "Available")],
         [v("volume1-7", "10Gi", "uid1-777", "claim1-7", "Available")],
         [c("claim1-7", "uid1-7", "1Gi", "", "Pending")],
         [c("claim1-7", "uid1-7", "1Gi", "", "Pending")],
         ["Normal FailedBinding"]),
    Case("1-8 - complete bind after crash - PV bound",
         [v("volume1-8", "1Gi", "uid1-8", "claim1-8", "Available", "Retain", CLASS_EMPTY, BBC)],
         [v("volume1-8", "1Gi", "uid1-8", "claim1-8", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim1-8", "uid1-8", "1Gi", "", "Pending")],
         [c("claim1-8", "uid1-8", "1Gi", "volume1-8", "Bound", None, BBC, BC)]),
    Case("1-9 - complete bind after crash - PV status saved",
         [v("volume1-9", "1Gi", "uid1-9", "claim1-9", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [v("volume1-9", "1Gi", "uid1-9", "claim1-9", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim1-9", "uid1-9", "1Gi", "", "Pending")],
         [c("claim1-9", "uid1-9", "1Gi", "volume1-9", "Bound", None, BBC, BC)]),
    Case("1-10 - complete bind after crash - PVC bound",
         [v("volume1-10", "1Gi", "uid1-10", "claim1-10", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [v("volume1-10", "1Gi", "uid1-10", "claim1-10", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim1-10", "uid1-10", "1Gi", "volume1-10", "Pending", None, BBC, BC)],
         [c("claim1-10", "uid1-10", "1Gi", "volume1-10", "Bound", None, BBC, BC)]),
    Case("1-11 - bind when selector matches",
         [with_labels(v("volume1-1", "1Gi", "", "", "Available"), LABELS)],
         [with_labels(v("volume1-1", "1Gi", "uid1-1", "claim1-1", "Bound", "Retain", CLASS_EMPTY, BBC), LABELS)],
         [with_label_selector(c("claim1-1", "uid1-1", "1Gi", "", "Pending"), LABELS)],
         [with_label_selector(c("claim1-1", "uid1-1", "1Gi", "volume1-1", "Bound", None, BBC, BC), LABELS)]),
    Case("1-12 - do not bind when selector does not match",
         [v("volume1-1", "1Gi", "", "", "Available")],
         [v("volume1-1", "1Gi", "", "", "Available")],
         [with_label_selector(c("claim1-1", "uid1-1", "1Gi", "", "Pending"), LABELS)],
         [with_label_selector(c("claim1-1", "uid1-1", "1Gi", "", "Pending"), LABELS)],
         ["Normal FailedBinding"]),
    Case("1-13 - delayed binding",
         [v("volume1-1", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)],
         [v("volume1-1", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)],
         [c("claim1-1", "uid1-1", "1Gi", "", "Pending", CLASS_WAIT)],
         [c("claim1-1", "uid1-1", "1Gi", "", "Pending", CLASS_WAIT)],
         ["Normal WaitForFirstConsumer waiting for first consumer to be created before binding"]),
    Case("1-14 - successful prebound PV",
         [v("volume1-1", "1Gi", "", "claim1-1", "Available", "Retain", CLASS_WAIT)],
         [v("volume1-1", "1Gi", "uid1-1", "claim1-1", "Bound", "Retain", CLASS_WAIT)],
         [c("claim1-1", "uid1-1", "1Gi", "", "Pending", CLASS_WAIT)],
         [c("claim1-1", "uid1-1", "1Gi", "volume1-1", "Bound", CLASS_WAIT, BBC, BC)]),
    Case("1-15 - successful prebound PVC",
         [v("volume1-15_1", "10Gi", "", "", "Available"), v("volume1-15_2", "1Gi", "", "", "Available")],
         [v("volume1-15_1", "10Gi", "uid1-15", "claim1-15", "Bound", "Retain", CLASS_EMPTY, BBC),
          v("volume1-15_2", "1Gi", "", "", "Available")],
         [c("claim1-15", "uid1-15", "1Gi", "volume1-15_1", "Pending")],
         [with_expected_capacity(c("claim1-15", "uid1-15", "1Gi", "volume1-15_1", "Bound", None, BC), "10Gi")]),
    Case("1-16 - prebound PVC to PV with different AccessMode",
         [v("volume1-16", "1Gi", "", "", "Available")],
         [v("volume1-16", "1Gi", "", "", "Available")],
         [with_access_modes(c("claim1-16", "uid1-16", "1Gi", "volume1-16", "Pending"), RWX)],
         [with_access_modes(c("claim1-16", "uid1-16", "1Gi", "volume1-16", "Pending"), RWX)],
         ['Warning VolumeMismatch Cannot bind to requested volume "volume1-16": incompatible accessMode']),
    Case("1-17 - skip non-available PV if it's not pre-bind",
         [v("volume1-17-pending", "1Gi", "", "", "Pending"), v("volume1-17-failed", "1Gi", "", "", "Failed"),
          v("volume1-17-released", "1Gi", "", "", "Released"), v("volume1-17-empty", "1Gi", "", "", "")],
         [v("volume1-17-pending", "1Gi", "", "", "Pending"), v("volume1-17-failed", "1Gi", "", "", "Failed"),
          v("volume1-17-released", "1Gi", "", "", "Released"), v("volume1-17-empty", "1Gi", "", "", "")],
         [c("claim1-17", "uid1-17", "1Gi", "", "Pending")],
         [c("claim1-17", "uid1-17", "1Gi", "", "Pending")],
         ["Normal FailedBinding"]),
    Case("1-18 - successful pre-bound PV to PVC provisioning",
         [v("volume1-18", "1Gi", "uid1-18", "claim1-18", "Available", "Retain", CLASS_WAIT)],
         [v("volume1-18", "1Gi", "uid1-18", "claim1-18", "Bound", "Retain", CLASS_WAIT)],
         [with_annotation(c("claim1-18", "uid1-18", "1Gi", "", "Pending", CLASS_WAIT), ANN_SELECTED_NODE, "node1")],
         [with_annotation(c("claim1-18", "uid1-18", "1Gi", "volume1-18", "Bound", CLASS_WAIT, BBC, BC),
                          ANN_SELECTED_NODE, "node1")]),
]

# [Unit test set 2] The user asked for a specific PV.
SET_2 = [
    Case("2-1 - claim prebound to non-existing volume - noop",
         NONE, NONE,
         [c("claim2-1", "uid2-1", "10Gi", "volume2-1", "Pending")],
         [c("claim2-1", "uid2-1", "10Gi", "volume2-1", "Pending")]),
    Case("2-2 - claim prebound to non-existing volume - reset status",
         NONE, NONE,
         [c("claim2-2", "uid2-2", "10Gi", "volume2-2", "Bound")],
         [c("claim2-2", "uid2-2", "10Gi", "volume2-2", "Pending")]),
    Case("2-3 - claim prebound to unbound volume",
         [v("volume2-3", "1Gi", "", "", "Available")],
         [v("volume2-3", "1Gi", "uid2-3", "claim2-3", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim2-3", "uid2-3", "1Gi", "volume2-3", "Pending")],
         [c("claim2-3", "uid2-3", "1Gi", "volume2-3", "Bound", None, BC)]),
    Case("2-4 - claim prebound to prebound volume by name",
         [v("volume2-4", "1Gi", "", "claim2-4", "Available")],
         [v("volume2-4", "1Gi", "uid2-4", "claim2-4", "Bound")],
         [c("claim2-4", "uid2-4", "1Gi", "volume2-4", "Pending")],
         [c("claim2-4", "uid2-4", "1Gi", "volume2-4", "Bound", None, BC)]),
    Case("2-5 - claim prebound to prebound volume by UID",
         [v("volume2-5", "1Gi", "uid2-5", "claim2-5", "Available")],
         [v("volume2-5", "1Gi", "uid2-5", "claim2-5", "Bound")],
         [c("claim2-5", "uid2-5", "1Gi", "volume2-5", "Pending")],
         [c("claim2-5", "uid2-5", "1Gi", "volume2-5", "Bound", None, BC)]),
    Case("2-6 - claim prebound to already bound volume",
         [v("volume2-6", "1Gi", "uid2-6_1", "claim2-6_1", "Bound")],
         [v("volume2-6", "1Gi", "uid2-6_1", "claim2-6_1", "Bound")],
         [c("claim2-6", "uid2-6", "1Gi", "volume2-6", "Bound")],
         [c("claim2-6", "uid2-6", "1Gi", "volume2-6", "Pending")],
         ['Warning FailedBinding volume "volume2-6" already bound to a different claim.']),
    Case("2-7 - claim bound by controller to already bound volume",
         [v("volume2-7", "1Gi", "uid2-7_1", "claim2-7_1", "Bound")],
         [v("volume2-7", "1Gi", "uid2-7_1", "claim2-7_1", "Bound")],
         [c("claim2-7", "uid2-7", "1Gi", "volume2-7", "Bound", None, BBC)],
         [c("claim2-7", "uid2-7", "1Gi", "volume2-7", "Bound", None, BBC)],
         ["Warning FailedBinding"]),
    Case("2-8 - claim prebound to unbound volume that does not match the selector",
         [v("volume2-8", "1Gi", "", "", "Available")],
         [v("volume2-8", "1Gi", "uid2-8", "claim2-8", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [with_label_selector(c("claim2-8", "uid2-8", "1Gi", "volume2-8", "Pending"), LABELS)],
         [with_label_selector(c("claim2-8", "uid2-8", "1Gi", "volume2-8", "Bound", None, BC), LABELS)]),
    Case("2-9 - claim prebound to unbound volume that size is smaller than requested",
         [v("volume2-9", "1Gi", "", "", "Available")],
         [v("volume2-9", "1Gi", "", "", "Available")],
         [c("claim2-9", "uid2-9", "2Gi", "volume2-9", "Bound")],
         [c("claim2-9", "uid2-9", "2Gi", "volume2-9", "Pending")],
         ['Warning VolumeMismatch Cannot bind to requested volume "volume2-9": requested PV is too small']),
    Case("2-10 - claim prebound to unbound volume that class is different",
         [v("volume2-10", "1Gi", "1", "", "Available", "Retain", CLASS_GOLD)],
         [v("volume2-10", "1Gi", "", "", "Available", "Retain", CLASS_GOLD)],
         [c("claim2-10", "uid2-10", "1Gi", "volume2-10", "Bound")],
         [c("claim2-10", "uid2-10", "1Gi", "volume2-10", "Pending")],
         ['Warning VolumeMismatch Cannot bind to requested volume "volume2-10": storageClassName does not match']),
]

# [Unit test set 3] Syncing a bound claim.
SET_3 = [
    Case("3-1 - bound claim with missing VolumeName",
         NONE, NONE,
         [c("claim3-1", "uid3-1", "10Gi", "", "Bound", None, BBC, BC)],
         [c("claim3-1", "uid3-1", "10Gi", "", "Lost", None, BBC, BC)],
         ["Warning ClaimLost Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"]),
    Case("3-2 - bound claim with missing volume",
         NONE, NONE,
         [c("claim3-2", "uid3-2", "10Gi", "volume3-2", "Bound", None, BBC, BC)],
         [c("claim3-2", "uid3-2", "10Gi", "volume3-2", "Lost", None, BBC, BC)],
         ["Warning ClaimLost Bound claim has lost its PersistentVolume. Data on the volume is lost!"]),
    Case("3-3 - bound claim with unbound volume",
         [v("volume3-3", "10Gi", "", "", "Available")],
         [v("volume3-3", "10Gi", "uid3-3", "claim3-3", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim3-3", "uid3-3", "10Gi", "volume3-3", "Pending", None, BBC, BC)],
         [c("claim3-3", "uid3-3", "10Gi", "volume3-3", "Bound", None, BBC, BC)]),
    Case("3-4 - bound claim with prebound volume",
         [v("volume3-4", "10Gi", "claim3-4-x", "claim3-4", "Available")],
         [v("volume3-4", "10Gi", "claim3-4-x", "claim3-4", "Available")],
         [c("claim3-4", "uid3-4", "10Gi", "volume3-4", "Pending", None, BBC, BC)],
         [c("claim3-4", "uid3-4", "10Gi", "volume3-4", "Lost", None, BBC, BC)],
         ["Warning ClaimMisbound Two claims are bound to the same volume, this one is bound incorrectly"]),
    Case("3-5 - bound claim with bound volume",
         [v("volume3-5", "10Gi", "uid3-5", "claim3-5", "Available")],
         [v("volume3-5", "10Gi", "uid3-5", "claim3-5", "Bound")],
         [c("claim3-5", "uid3-5", "10Gi", "volume3-5", "Pending", None, BC)],
         [c("claim3-5", "uid3-5", "10Gi", "volume3-5", "Bound", None, BC)]),
    Case("3-6 - bound claim with bound volume",
         [v("volume3-6", "10Gi", "uid3-6-x", "claim3-6-x", "Available")],
         [v("volume3-6", "10Gi", "uid3-6-x", "claim3-6-x", "Available")],
         [c("claim3-6", "uid3-6", "10Gi", "volume3-6", "Pending", None, BC)],
         [c("claim3-6", "uid3-6", "10Gi", "volume3-6", "Lost", None, BC)],
         ["Warning ClaimMisbound"]),
    Case("3-7 - bound claim with unbound volume where selector doesn't match",
         [v("volume3-3", "10Gi", "", "", "Available")],
         [v("volume3-3", "10Gi", "uid3-3", "claim3-3", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [with_label_selector(c("claim3-3", "uid3-3", "10Gi", "volume3-3", "Pending", None, BBC, BC), LABELS)],
         [with_label_selector(c("claim3-3", "uid3-3", "10Gi", "volume3-3", "Bound", None, BBC, BC), LABELS)]),
]

# [Unit test set 4] syncVolume.
SET_4 = [
    Case("4-1 - pending volume",
         [v("volume4-1", "10Gi", "", "", "Pending")],
         [v("volume4-1", "10Gi", "", "", "Available")],
         NONE, NONE, test="volume"),
    Case("4-2 - pending prebound volume",
         [v("volume4-2", "10Gi", "", "claim4-2", "Pending")],
         [v("volume4-2", "10Gi", "", "claim4-2", "Available")],
         NONE, NONE, test="volume"),
    Case("4-3 - bound volume with missing claim",
         [v("volume4-3", "10Gi", "uid4-3", "claim4-3", "Bound")],
         [v("volume4-3", "10Gi", "uid4-3", "claim4-3", "Released")],
         NONE, NONE, test="volume", expected_ops=[]),
    Case("4-4 - volume bound to claim with different UID",
         [v("volume4-4", "10Gi", "uid4-4", "claim4-4", "Bound")],
         [v("volume4-4", "10Gi", "uid4-4", "claim4-4", "Released")],
         [c("claim4-4", "uid4-4-x", "10Gi", "volume4-4", "Bound", None, BC)],
         [c("claim4-4", "uid4-4-x", "10Gi", "volume4-4", "Bound", None, BC)], test="volume"),
    Case("4-5 - volume bound by controller to unbound claim",
         [v("volume4-5", "10Gi", "uid4-5", "claim4-5", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [v("volume4-5", "10Gi", "uid4-5", "claim4-5", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim4-5", "uid4-5", "10Gi", "", "Pending")],
         [c("claim4-5", "uid4-5", "10Gi", "", "Pending")], test="volume"),
    Case("4-5 - volume bound by user to unbound claim",
         [v("volume4-5", "10Gi", "uid4-5", "claim4-5", "Bound")],
         [v("volume4-5", "10Gi", "uid4-5", "claim4-5", "Bound")],
         [c("claim4-5", "uid4-5", "10Gi", "", "Pending")],
         [c("claim4-5", "uid4-5", "10Gi", "", "Pending")], test="volume"),
    Case("4-6 - volume bound by to bound claim",
         [v("volume4-6", "10Gi", "uid4-6", "claim4-6", "Available")],
         [v("volume4-6", "10Gi", "uid4-6", "claim4-6", "Bound")],
         [c("claim4-6", "uid4-6", "10Gi", "volume4-6", "Bound")],
         [c("claim4-6", "uid4-6", "10Gi", "volume4-6", "Bound")], test="volume"),
    Case("4-7 - volume bound by controller to claim bound somewhere else",
         [v("volume4-7", "10Gi", "uid4-7", "claim4-7", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [v("volume4-7", "10Gi", "", "", "Available")],
         [c("claim4-7", "uid4-7", "10Gi", "volume4-7-x", "Bound")],
         [c("claim4-7", "uid4-7", "10Gi", "volume4-7-x", "Bound")], test="volume"),
    Case("4-8 - volume bound by user to claim bound somewhere else",
         [v("volume4-8", "10Gi", "uid4-8", "claim4-8", "Bound")],
         [v("volume4-8", "10Gi", "", "claim4-8", "Available")],
         [c("claim4-8", "uid4-8", "10Gi", "volume4-8-x", "Bound")],
         [c("claim4-8", "uid4-8", "10Gi", "volume4-8-x", "Bound")], test="volume"),
    Case("4-9 - volume bound to bound claim, with PersistentVolumeReclaimDelete",
         [v("volume4-9", "10Gi", "uid4-9", "claim4-9", "Available", "Delete")],
         [v("volume4-9", "10Gi", "uid4-9", "claim4-9", "Bound", "Delete")],
         [c("claim4-9", "uid4-9", "10Gi", "volume4-9", "Bound")],
         [c("claim4-9", "uid4-9", "10Gi", "volume4-9", "Bound")], test="volume", expected_ops=[]),
    Case("4-10 - volume bound to missing claim",
         [v("volume4-10", "10Gi", "uid4-10", "claim4-10", "Available", "Delete")],
         [{**v("volume4-10", "10Gi", "uid4-10", "claim4-10", "Failed", "Delete"),
           "status": {"phase": "Failed", "message": 'error getting deleter volume plugin for volume "volume4-10": '
                                                    "no volume plugin matched"}}],
         NONE, NONE,
         ['Warning VolumeFailedDelete error getting deleter volume plugin for volume "volume4-10"'],
         test="volume", expected_ops=["DeleteVolume volume4-10"],
         delete_results=['error getting deleter volume plugin for volume "volume4-10": no volume plugin matched']),
]

# PVC with class.
SET_13 = [
    Case("13-1 - binding to class",
         [v("volume13-1-1", "1Gi", "", "", "Available"), v("volume13-1-2", "10Gi", "", "", "Available", "Retain",
                                                            CLASS_GOLD)],
         [v("volume13-1-1", "1Gi", "", "", "Available"),
          v("volume13-1-2", "10Gi", "uid13-1", "claim13-1", "Bound", "Retain", CLASS_GOLD, BBC)],
         [c("claim13-1", "uid13-1", "1Gi", "", "Pending", CLASS_GOLD)],
         [with_expected_capacity(c("claim13-1", "uid13-1", "1Gi", "volume13-1-2", "Bound", CLASS_GOLD, BBC, BC),
                                 "10Gi")]),
    Case("13-2 - binding without a class",
         [v("volume13-2-1", "1Gi", "", "", "Available", "Retain", CLASS_GOLD),
          v("volume13-2-2", "10Gi", "", "", "Available")],
         [v("volume13-2-1", "1Gi", "", "", "Available", "Retain", CLASS_GOLD),
          v("volume13-2-2", "10Gi", "uid13-2", "claim13-2", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim13-2", "uid13-2", "1Gi", "", "Pending")],
         [with_expected_capacity(c("claim13-2", "uid13-2", "1Gi", "volume13-2-2", "Bound", None, BBC, BC), "10Gi")]),
    Case("13-3 - binding to specific a class",
         [v("volume13-3-1", "1Gi", "", "", "Available", "Retain", CLASS_SILVER),
          v("volume13-3-2", "10Gi", "", "", "Available", "Retain", CLASS_GOLD)],
         [v("volume13-3-1", "1Gi", "", "", "Available", "Retain", CLASS_SILVER),
          v("volume13-3-2", "10Gi", "uid13-3", "claim13-3", "Bound", "Retain", CLASS_GOLD, BBC)],
         [c("claim13-3", "uid13-3", "1Gi", "", "Pending", CLASS_GOLD)],
         [with_expected_capacity(c("claim13-3", "uid13-3", "1Gi", "volume13-3-2", "Bound", CLASS_GOLD, BBC, BC),
                                 "10Gi")]),
    Case("13-4 - empty class",
         [v("volume13-4", "1Gi", "", "", "Available")],
         [v("volume13-4", "1Gi", "uid13-4", "claim13-4", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim13-4", "uid13-4", "1Gi", "", "Pending", CLASS_EMPTY)],
         [c("claim13-4", "uid13-4", "1Gi", "volume13-4", "Bound", CLASS_EMPTY, BBC, BC)]),
    Case("13-5 - nil class",
         [v("volume13-5", "1Gi", "", "", "Available")],
         [v("volume13-5", "1Gi", "uid13-5", "claim13-5", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim13-5", "uid13-5", "1Gi", "", "Pending")],
         [c("claim13-5", "uid13-5", "1Gi", "volume13-5", "Bound", None, BBC, BC)]),
]


def _vb(volume: dict) -> dict:
    return with_volume_mode(volume, "Block")


def _vf(volume: dict) -> dict:
    return with_volume_mode(volume, "Filesystem")


# TestSyncBlockVolume: volumeMode.
SET_14 = [
    Case("14-1 - binding to volumeMode block",
         [_vb(v("volume14-1", "10Gi", "", "", "Available"))],
         [_vb(v("volume14-1", "10Gi", "uid14-1", "claim14-1", "Bound", "Retain", CLASS_EMPTY, BBC))],
         [_vb(c("claim14-1", "uid14-1", "10Gi", "", "Pending"))],
         [_vb(c("claim14-1", "uid14-1", "10Gi", "volume14-1", "Bound", None, BBC, BC))]),
    Case("14-2 - binding to volumeMode filesystem",
         [_vf(v("volume14-2", "10Gi", "", "", "Available"))],
         [_vf(v("volume14-2", "10Gi", "uid14-2", "claim14-2", "Bound", "Retain", CLASS_EMPTY, BBC))],
         [_vf(c("claim14-2", "uid14-2", "10Gi", "", "Pending"))],
         [_vf(c("claim14-2", "uid14-2", "10Gi", "volume14-2", "Bound", None, BBC, BC))]),
    Case("14-3 - do not bind pv volumeMode filesystem and pvc volumeMode block",
         [_vf(v("volume14-3", "10Gi", "", "", "Available"))],
         [_vf(v("volume14-3", "10Gi", "", "", "Available"))],
         [_vb(c("claim14-3", "uid14-3", "10Gi", "", "Pending"))],
         [_vb(c("claim14-3", "uid14-3", "10Gi", "", "Pending"))],
         ["Normal FailedBinding"]),
    Case("14-4 - do not bind pv volumeMode block and pvc volumeMode filesystem",
         [_vb(v("volume14-4", "10Gi", "", "", "Available"))],
         [_vb(v("volume14-4", "10Gi", "", "", "Available"))],
         [_vf(c("claim14-4", "uid14-4", "10Gi", "", "Pending"))],
         [_vf(c("claim14-4", "uid14-4", "10Gi", "", "Pending"))],
         ["Normal FailedBinding"]),
    Case("14-5 - do not bind when matching class but not volumeMode",
         [_vf(v("volume14-5", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vf(v("volume14-5", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vb(c("claim14-5", "uid14-5", "10Gi", "", "Pending", CLASS_GOLD))],
         [_vb(c("claim14-5", "uid14-5", "10Gi", "", "Pending", CLASS_GOLD))],
         ['Warning ProvisioningFailed storageclass.storage.k8s.io "gold" not found'], classes=[]),
    Case("14-5-1 - do not bind when matching volumeModes but class does not match",
         [_vf(v("volume14-5-1", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vf(v("volume14-5-1", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vf(c("claim14-5-1", "uid14-5-1", "10Gi", "", "Pending", CLASS_SILVER))],
         [_vf(c("claim14-5-1", "uid14-5-1", "10Gi", "", "Pending", CLASS_SILVER))],
         ["Warning ProvisioningFailed"], classes=[]),
    Case("14-5-2 - do not bind when pvc is prebound to pv with matching volumeModes but class does not match",
         [_vf(v("volume14-5-2", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vf(v("volume14-5-2", "10Gi", "", "", "Available", "Retain", CLASS_GOLD))],
         [_vf(c("claim14-5-2", "uid14-5-2", "10Gi", "volume14-5-2", "Pending", CLASS_SILVER))],
         [_vf(c("claim14-5-2", "uid14-5-2", "10Gi", "volume14-5-2", "Pending", CLASS_SILVER))],
         ["Warning VolumeMismatch"], classes=[]),
    Case("14-7 - bind when pv volume is prebound and volumeModes match",
         [_vb(v("volume14-7", "10Gi", "", "claim14-7", "Available"))],
         [_vb(v("volume14-7", "10Gi", "uid14-7", "claim14-7", "Bound"))],
         [_vb(c("claim14-7", "uid14-7", "10Gi", "", "Pending"))],
         [_vb(c("claim14-7", "uid14-7", "10Gi", "volume14-7", "Bound", None, BBC, BC))]),
    Case("14-8 - do not bind when pvc is prebound to pv with mismatching volumeModes",
         [_vb(v("volume14-8", "10Gi", "", "", "Available"))],
         [_vb(v("volume14-8", "10Gi", "", "", "Available"))],
         [_vf(c("claim14-8", "uid14-8", "10Gi", "volume14-8", "Pending"))],
         [_vf(c("claim14-8", "uid14-8", "10Gi", "volume14-8", "Pending"))],
         ['Warning VolumeMismatch Cannot bind to requested volume "volume14-8": incompatible volumeMode']),
    Case("14-8-1 - do not bind when pvc is prebound to pv with mismatching volumeModes",
         [_vb(v("volume14-8-1", "10Gi", "", "claim14-8-1", "Available"))],
         [_vb(v("volume14-8-1", "10Gi", "", "claim14-8-1", "Available"))],
         [_vf(c("claim14-8-1", "uid14-8-1", "10Gi", "", "Pending"))],
         [_vf(c("claim14-8-1", "uid14-8-1", "10Gi", "", "Pending"))],
         ["Normal FailedBinding"]),
    Case("14-9 - bind when pvc is prebound to pv with matching volumeModes block",
         [_vb(v("volume14-9", "10Gi", "", "", "Available"))],
         [_vb(v("volume14-9", "10Gi", "uid14-9", "claim14-9", "Bound", "Retain", CLASS_EMPTY, BBC))],
         [_vb(c("claim14-9", "uid14-9", "10Gi", "volume14-9", "Pending"))],
         [_vb(c("claim14-9", "uid14-9", "10Gi", "volume14-9", "Bound", None, BC))]),
    Case("14-10 - bind when pv is prebound to pvc with matching volumeModes block",
         [_vb(v("volume14-10", "10Gi", "", "claim14-10", "Available"))],
         [_vb(v("volume14-10", "10Gi", "uid14-10", "claim14-10", "Bound"))],
         [_vb(c("claim14-10", "uid14-10", "10Gi", "", "Pending"))],
         [_vb(c("claim14-10", "uid14-10", "10Gi", "volume14-10", "Bound", None, BBC, BC))]),
    Case("14-11 - bind when pvc is prebound to pv with matching volumeModes filesystem",
         [_vf(v("volume14-11", "10Gi", "", "", "Available"))],
         [_vf(v("volume14-11", "10Gi", "uid14-11", "claim14-11", "Bound", "Retain", CLASS_EMPTY, BBC))],
         [_vf(c("claim14-11", "uid14-11", "10Gi", "volume14-11", "Pending"))],
         [_vf(c("claim14-11", "uid14-11", "10Gi", "volume14-11", "Bound", None, BC))]),
    Case("14-12 - bind when pv is prebound to pvc with matching volumeModes filesystem",
         [_vf(v("volume14-12", "10Gi", "", "claim14-12", "Available"))],
         [_vf(v("volume14-12", "10Gi", "uid14-12", "claim14-12", "Bound"))],
         [_vf(c("claim14-12", "uid14-12", "10Gi", "", "Pending"))],
         [_vf(c("claim14-12", "uid14-12", "10Gi", "volume14-12", "Bound", None, BBC, BC))]),
    Case("14-13 - output warning when pv is prebound to pvc with different volumeModes",
         [_vf(v("volume14-13", "10Gi", "uid14-13", "claim14-13", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vf(v("volume14-13", "10Gi", "uid14-13", "claim14-13", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vb(c("claim14-13", "uid14-13", "10Gi", "", "Pending"))],
         [_vb(c("claim14-13", "uid14-13", "10Gi", "", "Pending"))],
         ['Warning VolumeMismatch Cannot bind PersistentVolume to requested PersistentVolumeClaim "claim14-13" '
          "due to incompatible volumeMode.",
          'Warning VolumeMismatch Cannot bind PersistentVolume "volume14-13" to requested PersistentVolumeClaim '
          "due to incompatible volumeMode."],
         test="volume"),
    Case("14-13-1 - output warning when pv is prebound to pvc with different volumeModes",
         [_vb(v("volume14-13-1", "10Gi", "uid14-13-1", "claim14-13-1", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vb(v("volume14-13-1", "10Gi", "uid14-13-1", "claim14-13-1", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vf(c("claim14-13-1", "uid14-13-1", "10Gi", "", "Pending"))],
         [_vf(c("claim14-13-1", "uid14-13-1", "10Gi", "", "Pending"))],
         ["Warning VolumeMismatch", "Warning VolumeMismatch"], test="volume"),
    Case("14-14 - wait for synClaim without warning when pv is prebound to pvc with matching volumeModes block",
         [_vb(v("volume14-14", "10Gi", "uid14-14", "claim14-14", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vb(v("volume14-14", "10Gi", "uid14-14", "claim14-14", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vb(c("claim14-14", "uid14-14", "10Gi", "", "Pending"))],
         [_vb(c("claim14-14", "uid14-14", "10Gi", "", "Pending"))], test="volume"),
    Case("14-14-1 - wait for synClaim without warning when pv is prebound to pvc with matching volumeModes file",
         [_vf(v("volume14-14-1", "10Gi", "uid14-14-1", "claim14-14-1", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vf(v("volume14-14-1", "10Gi", "uid14-14-1", "claim14-14-1", "Available", "Retain", CLASS_EMPTY, BBC))],
         [_vf(c("claim14-14-1", "uid14-14-1", "10Gi", "", "Pending"))],
         [_vf(c("claim14-14-1", "uid14-14-1", "10Gi", "", "Pending"))], test="volume"),
]

# TestMultiSync: run until nothing changes.
SET_10 = [
    Case("10-1 - successful bind",
         [v("volume10-1", "1Gi", "", "", "Pending")],
         [v("volume10-1", "1Gi", "uid10-1", "claim10-1", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim10-1", "uid10-1", "1Gi", "", "Pending")],
         [c("claim10-1", "uid10-1", "1Gi", "volume10-1", "Bound", None, BBC, BC)],
         ["Normal FailedBinding"], settle=True),  # the first sync sees the volume still Pending
    Case("10-2 - bind PV race",
         [v("volume10-2-1", "1Gi", "uid10-2", "claim10-2", "Bound", "Retain", CLASS_EMPTY, BBC),
          v("volume10-2-2", "1Gi", "uid10-2", "claim10-2", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [v("volume10-2-1", "1Gi", "uid10-2", "claim10-2", "Bound", "Retain", CLASS_EMPTY, BBC),
          v("volume10-2-2", "1Gi", "", "", "Available")],
         [c("claim10-2", "uid10-2", "1Gi", "volume10-2-1", "Bound", None, BBC, BC)],
         [c("claim10-2", "uid10-2", "1Gi", "volume10-2-1", "Bound", None, BBC, BC)], settle=True),
]

# Ours: bad input, access-mode preference, topology, crash and conflict recovery.
OURS = [
    Case("bad-1 - claim asking -1Gi never matches",
         [v("volume-b1", "1Gi", "", "", "Available")],
         [v("volume-b1", "1Gi", "", "", "Available")],
         [with_request(c("claim-b1", "uid-b1", "1Gi", "", "Pending"), "-1Gi")],
         [with_request(c("claim-b1", "uid-b1", "1Gi", "", "Pending"), "-1Gi")],
         ['Warning FailedBinding invalid claim: spec.resources.requests[storage]: Invalid value: "-1Gi": '
          "must be greater than zero"]),
    Case("bad-2 - claim asking -1Gi of a class is not provisioned",
         NONE, NONE,
         [with_request(c("claim-b2", "uid-b2", "1Gi", "", "Pending", CLASS_GOLD), "-1Gi")],
         [with_request(c("claim-b2", "uid-b2", "1Gi", "", "Pending", CLASS_GOLD), "-1Gi")],
         ["Warning FailedBinding invalid claim"], expected_ops=[]),
    Case("bad-3 - unparsable request",
         [v("volume-b3", "1Gi", "", "", "Available")],
         [v("volume-b3", "1Gi", "", "", "Available")],
         [with_request(c("claim-b3", "uid-b3", "1Gi", "", "Pending"), "lots")],
         [with_request(c("claim-b3", "uid-b3", "1Gi", "", "Pending"), "lots")],
         ['Warning FailedBinding invalid claim: spec.resources.requests[storage]: Invalid value: "lots"']),
    Case("bad-4 - access mode that no PV offers",
         [v("volume-b4", "10Gi", "", "", "Available")],
         [v("volume-b4", "10Gi", "", "", "Available")],
         [with_access_modes(c("claim-b4", "uid-b4", "1Gi", "", "Pending"), RWOP)],
         [with_access_modes(c("claim-b4", "uid-b4", "1Gi", "", "Pending"), RWOP)],
         ["Normal FailedBinding no persistent volumes available"]),
    Case("bad-5 - access mode that does not exist is neither bound nor provisioned",
         [v("volume-b5", "10Gi", "", "", "Available", "Retain", CLASS_GOLD)],
         [v("volume-b5", "10Gi", "", "", "Available", "Retain", CLASS_GOLD)],
         [with_access_modes(c("claim-b5", "uid-b5", "1Gi", "", "Pending", CLASS_GOLD), "ReadWriteSometimes")],
         [with_access_modes(c("claim-b5", "uid-b5", "1Gi", "", "Pending", CLASS_GOLD), "ReadWriteSometimes")],
         ['Warning FailedBinding invalid claim: spec.accessModes: Unsupported value: "ReadWriteSometimes"'],
         expected_ops=[]),
    Case("bad-6 - claimRef naming a missing namespace is Released",
         [with_claim_ref_namespace(v("volume-b6", "1Gi", "uid-b6", "claim-b6", "Bound"), "no-such-namespace")],
         [with_claim_ref_namespace(v("volume-b6", "1Gi", "uid-b6", "claim-b6", "Released"), "no-such-namespace")],
         [c("claim-b6", "uid-b6-other", "1Gi", "", "Pending")],
         [c("claim-b6", "uid-b6-other", "1Gi", "", "Pending")], test="volume"),
    Case("bad-7 - a claim being deleted is not bound anew",
         [v("volume-b7", "1Gi", "", "", "Available")],
         [v("volume-b7", "1Gi", "", "", "Available")],
         [with_deletion_timestamp(c("claim-b7", "uid-b7", "1Gi", "", "Pending"))],
         [with_deletion_timestamp(c("claim-b7", "uid-b7", "1Gi", "", "Pending"))], settle=True),
    Case("ours-1 - fewest access modes first, then smallest",
         [with_access_modes(v("volume-o1-rwo", "10Gi", "", "", "Available"), RWO),
          with_access_modes(v("volume-o1-rwx", "1Gi", "", "", "Available"), RWO, RWX)],
         [with_access_modes(v("volume-o1-rwo", "10Gi", "uid-o1", "claim-o1", "Bound", "Retain", CLASS_EMPTY, BBC),
                            RWO),
          with_access_modes(v("volume-o1-rwx", "1Gi", "", "", "Available"), RWO, RWX)],
         [with_access_modes(c("claim-o1", "uid-o1", "1Gi", "", "Pending"), RWO)],
         [with_expected_capacity(with_access_modes(c("claim-o1", "uid-o1", "1Gi", "volume-o1-rwo", "Bound", None, BBC,
                                                     BC), RWO), "10Gi")]),
    Case("ours-2 - a volume pre-bound to the claim wins over a smaller one in a smaller access-mode group",
         [with_access_modes(v("volume-o2-small", "1Gi", "", "", "Available"), RWO),
          v("volume-o2-mine", "5Gi", "", "claim-o2", "Available")],
         [with_access_modes(v("volume-o2-small", "1Gi", "", "", "Available"), RWO),
          v("volume-o2-mine", "5Gi", "uid-o2", "claim-o2", "Bound")],
         [with_access_modes(c("claim-o2", "uid-o2", "1Gi", "", "Pending"), RWO)],
         [with_status_access_modes(with_expected_capacity(with_access_modes(
             c("claim-o2", "uid-o2", "1Gi", "volume-o2-mine", "Bound", None, BBC, BC), RWO), "5Gi"), RWO, ROX)]),
    Case("ours-3 - WaitForFirstConsumer binds a volume whose node affinity admits the selected node",
         [with_node_affinity(v("volume-o3-n2", "1Gi", "", "", "Available", "Retain", CLASS_WAIT), "node2"),
          with_node_affinity(v("volume-o3-n1", "5Gi", "", "", "Available", "Retain", CLASS_WAIT), "node1")],
         [with_node_affinity(v("volume-o3-n2", "1Gi", "", "", "Available", "Retain", CLASS_WAIT), "node2"),
          with_node_affinity(v("volume-o3-n1", "5Gi", "uid-o3", "claim-o3", "Bound", "Retain", CLASS_WAIT, BBC),
                             "node1")],
         [with_annotation(c("claim-o3", "uid-o3", "1Gi", "", "Pending", CLASS_WAIT), ANN_SELECTED_NODE, "node1")],
         [with_expected_capacity(with_annotation(c("claim-o3", "uid-o3", "1Gi", "volume-o3-n1", "Bound", CLASS_WAIT,
                                                   BBC, BC), ANN_SELECTED_NODE, "node1"), "5Gi")],
         nodes=[new_node("node1"), new_node("node2")]),
    Case("ours-4 - WaitForFirstConsumer: no volume on the selected node and no provisioner",
         [with_node_affinity(v("volume-o4", "1Gi", "", "", "Available", "Retain", CLASS_WAIT), "node2")],
         [with_node_affinity(v("volume-o4", "1Gi", "", "", "Available", "Retain", CLASS_WAIT), "node2")],
         [with_annotation(c("claim-o4", "uid-o4", "1Gi", "", "Pending", CLASS_WAIT), ANN_SELECTED_NODE, "node1")],
         [with_annotation(c("claim-o4", "uid-o4", "1Gi", "", "Pending", CLASS_WAIT), ANN_SELECTED_NODE, "node1")],
         ["Warning ProvisioningFailed no volume plugin matched name: kubernetes.io/no-provisioner"]),
    Case("ours-5 - WaitForFirstConsumer names the pod waiting for a node",
         [v("volume-o5", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)],
         [v("volume-o5", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)],
         [c("claim-o5", "uid-o5", "1Gi", "", "Pending", CLASS_WAIT)],
         [c("claim-o5", "uid-o5", "1Gi", "", "Pending", CLASS_WAIT)],
         ["Normal WaitForPodScheduled waiting for pod web-0 to be scheduled"],
         pods=[new_pod("web-0", "claim-o5"), new_pod("done", "claim-o5", phase="Succeeded"),
               new_pod("running", "claim-o5", node="node1", phase="Running")]),
    Case("ours-6 - the beta class annotation wins over storageClassName",
         [v("volume-o6-gold", "1Gi", "", "", "Available", "Retain", CLASS_GOLD),
          v("volume-o6-silver", "1Gi", "", "", "Available", "Retain", CLASS_SILVER)],
         [v("volume-o6-gold", "1Gi", "", "", "Available", "Retain", CLASS_GOLD),
          v("volume-o6-silver", "1Gi", "uid-o6", "claim-o6", "Bound", "Retain", CLASS_SILVER, BBC)],
         [with_annotation(c("claim-o6", "uid-o6", "1Gi", "", "Pending", CLASS_GOLD), ANN_BETA_STORAGE_CLASS,
                          CLASS_SILVER)],
         [with_annotation(c("claim-o6", "uid-o6", "1Gi", "volume-o6-silver", "Bound", CLASS_GOLD, BBC, BC),
                          ANN_BETA_STORAGE_CLASS, CLASS_SILVER)]),
    Case("ours-7 - a no-provisioner class with no volume says so",
         NONE, NONE,
         [c("claim-o7", "uid-o7", "1Gi", "", "Pending", CLASS_NO_PROVISIONER)],
         [c("claim-o7", "uid-o7", "1Gi", "", "Pending", CLASS_NO_PROVISIONER)],
         ["Warning ProvisioningFailed no volume plugin matched name: kubernetes.io/no-provisioner"], expected_ops=[]),
    Case("ours-8 - bind from scratch settles with both Bound",
         [v("volume-o8", "2Gi", "", "", "Pending")],
         [v("volume-o8", "2Gi", "uid-o8", "claim-o8", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim-o8", "uid-o8", "1500Mi", "", "")],
         [with_expected_capacity(c("claim-o8", "uid-o8", "1500Mi", "volume-o8", "Bound", None, BBC, BC), "2Gi")],
         ["Normal FailedBinding"], settle=True),
    Case("ours-9 - a conflict half-way through the bind is finished by the next syncs",
         [v("volume-o9", "1Gi", "", "", "Available")],
         [v("volume-o9", "1Gi", "uid-o9", "claim-o9", "Bound", "Retain", CLASS_EMPTY, BBC)],
         [c("claim-o9", "uid-o9", "1Gi", "", "Pending")],
         [c("claim-o9", "uid-o9", "1Gi", "volume-o9", "Bound", None, BBC, BC)],
         settle=True, errors=[ReactorError("update", "PersistentVolumeClaim", "Conflict")]),
    Case("ours-10 - a deleted bound claim whose volume lost its claimRef is not bound again",
         [v("volume-o10", "1Gi", "", "", "Available")],
         [v("volume-o10", "1Gi", "", "", "Available")],
         [with_deletion_timestamp(c("claim-o10", "uid-o10", "1Gi", "volume-o10", "Bound", None, BBC, BC))],
         [with_deletion_timestamp(c("claim-o10", "uid-o10", "1Gi", "volume-o10", "Bound", None, BBC, BC))]),
]


@pytest.mark.parametrize("case", SET_1 + SET_2 + SET_3 + SET_4 + SET_13 + SET_14 + SET_10 + OURS, ids=str)
def test_sync(case: Case) -> None:
    run_case(case)


# ---- properties of the writes ---------------------------------------------------------------------


def test_bind_writes_volume_first_in_four_steps_on_private_copies() -> None:
    volume = v("volume-w", "1Gi", "", "", "Available")
    claim = c("claim-w", "uid-w", "1Gi", "", "Pending")
    reactor = Reactor(volumes=[volume], claims=[claim])
    actions = binder.sync_claim(reactor.claim("default/claim-w"), reactor, now=NOW)
    assert [(type(a).__name__, a.obj["kind"], a.status) for a in actions if isinstance(a, Update)] == [
        ("Update", "PersistentVolume", False),
        ("Update", "PersistentVolume", True),
        ("Update", "PersistentVolumeClaim", False),
        ("Update", "PersistentVolumeClaim", True),
    ]
    objs = [a.obj for a in actions if isinstance(a, Update)]
    assert len({id(o) for o in objs}) == 4
    assert objs[0] is not reactor.volume("volume-w") and objs[2] is not reactor.claim("default/claim-w")
    # Each write builds on the previous one of the same object.
    assert objs[1]["spec"]["claimRef"]["uid"] == "uid-w"
    assert objs[3]["spec"]["volumeName"] == "volume-w"
    assert objs[0]["spec"]["claimRef"]["resourceVersion"] == reactor.claim("default/claim-w")["metadata"][
        "resourceVersion"]


def test_phase_change_stamps_last_phase_transition_time() -> None:
    reactor = Reactor(volumes=[v("volume-t", "1Gi", "", "", "Pending")])
    sync(reactor, "PersistentVolume", "volume-t")
    status = reactor.volume("volume-t")["status"]
    assert status == {"phase": "Available", "lastPhaseTransitionTime": rfc3339(NOW)} == {
        "phase": "Available", "lastPhaseTransitionTime": "2023-11-14T22:13:20Z"}
    # No phase change, no write: the timestamp stays.
    revision = reactor.revision
    reactor.now = NOW + 60
    assert not sync(reactor, "PersistentVolume", "volume-t")
    assert reactor.revision == revision


def test_settled_pair_syncs_to_nothing() -> None:
    case = SET_1[0]
    reactor = run_case(case)
    assert binder.sync_claim(reactor.claim("default/claim1-1"), reactor, now=NOW) == []
    assert binder.sync_volume(reactor.volume("volume1-1"), reactor, now=NOW) == []


def test_claim_status_gets_volume_capacity_and_access_modes() -> None:
    volume = with_access_modes(v("volume-s", "3Gi", "", "", "Available"), RWO, ROX, RWX)
    reactor = Reactor(volumes=[volume], claims=[with_access_modes(c("claim-s", "uid-s", "1Gi"), RWO)])
    sync(reactor, "PersistentVolumeClaim", "default/claim-s")
    status = reactor.claim("default/claim-s")["status"]
    assert status == {"phase": "Bound", "accessModes": [RWO, ROX, RWX], "capacity": {"storage": "3Gi"}}


def test_bound_claim_capacity_is_not_clobbered() -> None:
    """A Bound claim whose capacity differs from the volume's (a resize under way) keeps it."""
    volume = v("volume-r", "2Gi", "uid-r", "claim-r", "Bound")
    claim = c("claim-r", "uid-r", "1Gi", "volume-r", "Bound", None, BC)
    reactor = Reactor(volumes=[volume], claims=[claim])
    assert binder.sync_claim(reactor.claim("default/claim-r"), reactor, now=NOW) == []


# ---- matching ------------------------------------------------------------------------------------


def test_find_best_match_delay_binding_only_pre_bound() -> None:
    claim = c("claim-m", "uid-m", "1Gi", "", "Pending", CLASS_WAIT)
    free = v("a-free", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)
    mine = v("b-mine", "5Gi", "", "claim-m", "Available", "Retain", CLASS_WAIT)
    assert find_best_match(claim, [free], delay_binding=True) is None
    assert find_best_match(claim, [free, mine], delay_binding=True) is mine
    assert find_best_match(claim, [free], delay_binding=False) is free


def test_find_best_match_scheduler_path_checks_node_affinity_of_pre_bound() -> None:
    claim = c("claim-m", "uid-m", "1Gi", "", "Pending", CLASS_WAIT)
    mine = with_node_affinity(v("mine", "1Gi", "", "claim-m", "Available", "Retain", CLASS_WAIT), "node2")
    free = v("free", "1Gi", "", "", "Available", "Retain", CLASS_WAIT)
    # The user's pairing does not fit the node: no match at all, not the free volume.
    assert find_best_match(claim, [mine, free], delay_binding=True, node=new_node("node1")) is None
    assert find_best_match(claim, [mine, free], delay_binding=True, node=new_node("node2")) is mine
    assert find_best_match(claim, [free], delay_binding=True, node=new_node("node1"),
                           excluded=frozenset({"free"})) is None


def test_find_best_match_ties_break_by_name() -> None:
    claim = c("claim-m", "uid-m", "1Gi")
    volumes = [v(name, "1Gi", "", "", "Available") for name in ("vol-c", "vol-a", "vol-b")]
    assert find_best_match(claim, volumes, delay_binding=False)["metadata"]["name"] == "vol-a"


@pytest.mark.parametrize(
    ("request_", "modes", "problem"),
    [
        ("1Gi", [RWO], None),
        ("0", [RWO], 'spec.resources.requests[storage]: Invalid value: "0": must be greater than zero'),
        ("1Gi", [], "spec.accessModes: Required value"),
        ("1Gi", ["ReadWriteSometimes"], 'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported '
                                        'values: "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", '
                                        '"ReadWriteOncePod"'),
    ],
)
def test_claim_problem(request_: str, modes: list[str], problem: str | None) -> None:
    claim = with_access_modes(with_request(c("claim-p", "uid-p", "1Gi"), request_), *modes)
    assert claim_problem(claim) == problem


def test_claim_problem_bad_selector_and_missing_request() -> None:
    claim = c("claim-p", "uid-p", "1Gi")
    claim["spec"]["selector"] = {"matchExpressions": [{"key": "a", "operator": "Sometimes"}]}
    assert claim_problem(claim).startswith("spec.selector: Invalid value:")
    assert find_best_match(claim, [v("x", "1Gi", "", "", "Available")], delay_binding=False) is None
    del claim["spec"]["resources"]
    assert claim_problem(claim) == "spec.resources[storage]: Required value"


@pytest.mark.parametrize(
    ("volume", "reason"),
    [
        (v("x", "1Gi", "", "", "Available"), None),
        (v("x", "500Mi", "", "", "Available"), "requested PV is too small"),
        (v("x", "1Gi", "", "", "Available", "Retain", CLASS_GOLD), "storageClassName does not match"),
        (with_volume_mode(v("x", "1Gi", "", "", "Available"), "Block"), "incompatible volumeMode"),
        (with_access_modes(v("x", "1Gi", "", "", "Available"), ROX), "incompatible accessMode"),
        (with_deletion_timestamp(v("x", "1Gi", "", "", "Available")), 'the volume is marked for deletion "x"'),
    ],
)
def test_check_volume_satisfies_claim(volume: dict, reason: str | None) -> None:
    claim = with_access_modes(c("claim-x", "uid-x", "1Gi", "x"), RWO)
    assert check_volume_satisfies_claim(volume, claim) == reason


def test_claim_class_precedence() -> None:
    claim = c("claim-k", "uid-k", "1Gi", "", "Pending", "gold")
    assert claim_class(claim) == "gold"
    assert claim_class(with_annotation(claim, ANN_BETA_STORAGE_CLASS, "")) == ""
    assert claim_class(c("claim-k", "uid-k", "1Gi")) == ""
