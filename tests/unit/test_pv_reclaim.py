"""reclaim.py: Kubernetes' recycle_test.go and delete_test.go situations, plus ours.

The operations themselves are the worker's; the reactor plays them with scripted outcomes
(`delete_results`, `recycle_results`: None for success, else the error message) and records
them through `volume_failed` / `volume_recycled`, as the worker does. The worker-side checks
before an operation (volume gone, or no longer released: 6-6, 6-7, 6-8, 8-6, 8-7) use
`is_volume_released`, so they are exercised here too.
"""

from __future__ import annotations

import pytest

from kstore.controllers.pv import binder
from kstore.controllers.pv.model import (
    ANN_BOUND_BY_CONTROLLER,
    ANN_MIGRATED_TO,
    ANN_PROVISIONED_BY,
    DeleteVolume,
    Event,
    RecycleVolume,
    Update,
)
from kstore.controllers.pv.reclaim import is_volume_released, volume_failed, volume_recycled

from .pvtesting import (
    MOCK_PROVISIONER,
    NOW,
    Case,
    Reactor,
    new_claim,
    new_pod,
    new_volume,
    run_case,
    with_annotation,
    with_message,
)

BBC = ANN_BOUND_BY_CONTROLLER
DYN = f"{ANN_PROVISIONED_BY}={MOCK_PROVISIONER}"
v, c = new_volume, new_claim
NONE: list = []


def _delete_volume(name: str):  # noqa: ANN202 - a before_operation hook
    def hook(reactor: Reactor, _op: object) -> None:
        reactor.objects["PersistentVolume"].pop(name, None)

    return hook


def _make_available(name: str, *, keep_claim_name: bool):  # noqa: ANN202
    def hook(reactor: Reactor, _op: object) -> None:
        volume = reactor.objects["PersistentVolume"][name]
        if keep_claim_name:
            volume["spec"]["claimRef"].pop("uid", None)
        else:
            volume["spec"].pop("claimRef", None)
            volume["metadata"].pop("annotations", None)
        volume["status"]["phase"] = "Available"

    return hook


def _bind_to_resurrected_claim(reactor: Reactor, _op: object) -> None:
    claim = c("claim8-7", "uid8-7", "10Gi", "volume8-7", "Bound")
    reactor._store(claim)
    reactor.objects["PersistentVolume"]["volume8-7"]["status"]["phase"] = "Bound"


# TestRecycleSync
SET_6 = [
    Case("6-1 - successful recycle",
         [v("volume6-1", "1Gi", "uid6-1", "claim6-1", "Bound", "Recycle", "", BBC)],
         [v("volume6-1", "1Gi", "", "", "Available", "Recycle")],
         NONE, NONE, ["Normal VolumeRecycled Volume recycled"], test="volume", recycle_results=[None],
         expected_ops=["RecycleVolume volume6-1"]),
    Case("6-2 - successful recycle with prebound volume",
         [v("volume6-2", "1Gi", "uid6-2", "claim6-2", "Bound", "Recycle")],
         [v("volume6-2", "1Gi", "", "claim6-2", "Available", "Recycle")],
         NONE, NONE, ["Normal VolumeRecycled"], test="volume", recycle_results=[None]),
    Case("6-3 - plugin not found",
         [v("volume6-3", "1Gi", "uid6-3", "claim6-3", "Bound", "Recycle")],
         [with_message(v("volume6-3", "1Gi", "uid6-3", "claim6-3", "Failed", "Recycle"),
                       "No recycler plugin found for the volume!")],
         NONE, NONE, ["Warning VolumeFailedRecycle No recycler plugin found for the volume!"], test="volume",
         recycle_results=["No recycler plugin found for the volume!"]),
    Case("6-4 - newRecycler returns error",
         [v("volume6-4", "1Gi", "uid6-4", "claim6-4", "Bound", "Recycle")],
         [with_message(v("volume6-4", "1Gi", "uid6-4", "claim6-4", "Failed", "Recycle"),
                       "Failed to create recycler: Mock plugin error: no recycleCalls configured")],
         NONE, NONE, ["Warning VolumeFailedRecycle"], test="volume",
         recycle_results=["Failed to create recycler: Mock plugin error: no recycleCalls configured"]),
    Case("6-5 - recycle returns error",
         [v("volume6-5", "1Gi", "uid6-5", "claim6-5", "Bound", "Recycle")],
         [with_message(v("volume6-5", "1Gi", "uid6-5", "claim6-5", "Failed", "Recycle"),
                       "Recycler failed: Mock recycle error")],
         NONE, NONE, ["Warning VolumeFailedRecycle Recycler failed: Mock recycle error"], test="volume",
         recycle_results=["Recycler failed: Mock recycle error"]),
    Case("6-6 - volume is deleted before recycling",
         [v("volume6-6", "1Gi", "uid6-6", "claim6-6", "Bound", "Recycle")],
         NONE, NONE, NONE, test="volume", recycle_results=[None], before_operation=_delete_volume("volume6-6")),
    Case("6-7 - volume is recycled before recycling",
         [v("volume6-7", "1Gi", "uid6-7", "claim6-7", "Bound", "Recycle", "", BBC)],
         [v("volume6-7", "1Gi", "", "", "Available", "Recycle")],
         NONE, NONE, test="volume", recycle_results=[None],
         before_operation=_make_available("volume6-7", keep_claim_name=False)),
    Case("6-8 - prebound volume is recycled before recycling",
         [v("volume6-8", "1Gi", "uid6-8", "claim6-8", "Bound", "Recycle")],
         [v("volume6-8", "1Gi", "", "claim6-8", "Available", "Recycle")],
         NONE, NONE, test="volume", recycle_results=[None],
         before_operation=_make_available("volume6-8", keep_claim_name=True)),
    Case("6-9 - prebound volume is recycled while the claim exists",
         [v("volume6-9", "1Gi", "uid6-9", "claim6-9", "Bound", "Recycle")],
         [v("volume6-9", "1Gi", "", "claim6-9", "Available", "Recycle")],
         [c("claim6-9", "uid6-9-x", "10Gi", "", "Pending")],
         [c("claim6-9", "uid6-9-x", "10Gi", "", "Pending")],
         ["Normal VolumeRecycled"], test="volume", recycle_results=[None]),
    Case("6-10 - unknown reclaim policy",
         [v("volume6-10", "1Gi", "uid6-10", "claim6-10", "Bound", "Unknown")],
         [with_message(v("volume6-10", "1Gi", "uid6-10", "claim6-10", "Failed", "Unknown"),
                       "Volume has unrecognized PersistentVolumeReclaimPolicy")],
         NONE, NONE, ["Warning VolumeUnknownReclaimPolicy Volume has unrecognized PersistentVolumeReclaimPolicy"],
         test="volume", expected_ops=[]),
]

# TestRecycleMultiSync
SET_7 = [
    Case("7-1 - recycle returns error",
         [v("volume7-1", "1Gi", "uid7-1", "claim7-1", "Bound", "Recycle")],
         [v("volume7-1", "1Gi", "", "claim7-1", "Available", "Recycle")],
         NONE, NONE, ["Warning VolumeFailedRecycle Mock recycle error", "Normal VolumeRecycled"],
         test="volume", settle=True, recycle_results=["Mock recycle error", None]),
]

# TestDeleteSync
SET_8 = [
    Case("8-1 - successful delete",
         [v("volume8-1", "1Gi", "uid8-1", "claim8-1", "Bound", "Delete", "", BBC)],
         NONE, NONE, NONE, test="volume", delete_results=[None], expected_ops=["DeleteVolume volume8-1"]),
    Case("8-2 - successful delete with prebound volume",
         [v("volume8-2", "1Gi", "uid8-2", "claim8-2", "Bound", "Delete")],
         NONE, NONE, NONE, test="volume", delete_results=[None]),
    Case("8-3 - plugin not found",
         [v("volume8-3", "1Gi", "uid8-3", "claim8-3", "Bound", "Delete")],
         [with_message(v("volume8-3", "1Gi", "uid8-3", "claim8-3", "Failed", "Delete"),
                       'error getting deleter volume plugin for volume "volume8-3": no volume plugin matched')],
         NONE, NONE, ["Warning VolumeFailedDelete"], test="volume",
         delete_results=['error getting deleter volume plugin for volume "volume8-3": no volume plugin matched']),
    Case("8-4 - newDeleter returns error",
         [v("volume8-4", "1Gi", "uid8-4", "claim8-4", "Bound", "Delete")],
         [with_message(v("volume8-4", "1Gi", "uid8-4", "claim8-4", "Failed", "Delete"),
                       'failed to create deleter for volume "volume8-4": Mock plugin error: no deleteCalls configured')],
         NONE, NONE, ["Warning VolumeFailedDelete"], test="volume",
         delete_results=['failed to create deleter for volume "volume8-4": Mock plugin error: no deleteCalls '
                         "configured"]),
    Case("8-5 - delete returns error",
         [v("volume8-5", "1Gi", "uid8-5", "claim8-5", "Bound", "Delete")],
         [with_message(v("volume8-5", "1Gi", "uid8-5", "claim8-5", "Failed", "Delete"), "Mock delete error")],
         NONE, NONE, ["Warning VolumeFailedDelete Mock delete error"], test="volume",
         delete_results=["Mock delete error"]),
    Case("8-6 - volume is deleted before deleting",
         [v("volume8-6", "1Gi", "uid8-6", "claim8-6", "Bound", "Delete")],
         NONE, NONE, NONE, test="volume", delete_results=[None], before_operation=_delete_volume("volume8-6")),
    Case("8-7 - volume is bound before deleting",
         [v("volume8-7", "1Gi", "uid8-7", "claim8-7", "Bound", "Delete", "", BBC)],
         [v("volume8-7", "1Gi", "uid8-7", "claim8-7", "Bound", "Delete", "", BBC)],
         NONE,
         [c("claim8-7", "uid8-7", "10Gi", "volume8-7", "Bound")],
         test="volume", delete_results=[None], before_operation=_bind_to_resurrected_claim),
    Case("8-9 - prebound volume is deleted while the claim exists",
         [v("volume8-9", "1Gi", "uid8-9", "claim8-9", "Bound", "Delete")],
         NONE,
         [c("claim8-9", "uid8-9-x", "10Gi", "", "Pending")],
         [c("claim8-9", "uid8-9-x", "10Gi", "", "Pending")],
         test="volume", delete_results=[None]),
    Case("8-10 - external deleter",
         [v("volume8-10", "1Gi", "uid10-1", "claim10-1", "Bound", "Delete", "", BBC,
            f"{ANN_PROVISIONED_BY}=vendor.com/my-volume")],
         [v("volume8-10", "1Gi", "uid10-1", "claim10-1", "Released", "Delete", "", BBC,
            f"{ANN_PROVISIONED_BY}=vendor.com/my-volume")],
         NONE, NONE, test="volume", delete_results=[None], expected_ops=[]),
    Case("8-11 - two PVs provisioned for a single claim",
         [v("volume8-11-1", "1Gi", "uid8-11", "claim8-11", "Bound", "Delete", "", DYN),
          v("volume8-11-2", "1Gi", "uid8-11", "claim8-11", "Bound", "Delete", "", DYN)],
         [v("volume8-11-2", "1Gi", "uid8-11", "claim8-11", "Bound", "Delete", "", DYN)],
         # the claim is bound to volume8-11-2 -> volume8-11-1 has lost the race and will be deleted
         [c("claim8-11", "uid8-11", "10Gi", "volume8-11-2", "Bound")],
         [c("claim8-11", "uid8-11", "10Gi", "volume8-11-2", "Bound")],
         test="volume", delete_results=[None]),
    Case("8-12 - two PVs externally provisioned for a single claim",
         [v("volume8-12-1", "1Gi", "uid8-12", "claim8-12", "Bound", "Delete", "",
            f"{ANN_PROVISIONED_BY}=vendor.com/my-volume"),
          v("volume8-12-2", "1Gi", "uid8-12", "claim8-12", "Bound", "Delete", "", DYN)],
         [v("volume8-12-1", "1Gi", "uid8-12", "claim8-12", "Released", "Delete", "",
            f"{ANN_PROVISIONED_BY}=vendor.com/my-volume"),
          v("volume8-12-2", "1Gi", "uid8-12", "claim8-12", "Bound", "Delete", "", DYN)],
         [c("claim8-12", "uid8-12", "10Gi", "volume8-12-2", "Bound")],
         [c("claim8-12", "uid8-12", "10Gi", "volume8-12-2", "Bound")],
         test="volume", expected_ops=[]),
]

# TestDeleteMultiSync
SET_9 = [
    Case("9-1 - delete returns error",
         [v("volume9-1", "1Gi", "uid9-1", "claim9-1", "Bound", "Delete")],
         NONE, NONE, NONE, ["Warning VolumeFailedDelete Mock delete error"],
         test="volume", settle=True, delete_results=["Mock delete error", None]),
]

# Ours.
OURS = [
    Case("ours-r1 - Retain stays Released, data kept",
         [v("volume-r1", "1Gi", "uid-r1", "claim-r1", "Bound", "Retain", "", BBC)],
         [v("volume-r1", "1Gi", "uid-r1", "claim-r1", "Released", "Retain", "", BBC)],
         NONE, NONE, test="volume", settle=True, expected_ops=[]),
    Case("ours-r2 - a Recycle volume still used by a pod of its old claim is not scrubbed",
         [v("volume-r2", "1Gi", "uid-r2", "claim-r2", "Bound", "Recycle")],
         [v("volume-r2", "1Gi", "uid-r2", "claim-r2", "Released", "Recycle")],
         NONE, NONE, ["Normal VolumeFailedRecycle Volume is used by pods: default/app"], test="volume",
         pods=[new_pod("app", "claim-r2", node="node1", phase="Running"),
               new_pod("old", "claim-r2", node="node1", phase="Succeeded")],
         recycle_results=[None], expected_ops=[]),
    Case("ours-r3 - a volume migrated to CSI is left to the external provisioner",
         [with_annotation(v("volume-r3", "1Gi", "uid-r3", "claim-r3", "Bound", "Delete"), ANN_MIGRATED_TO,
                          "ebs.csi.aws.com")],
         [with_annotation(v("volume-r3", "1Gi", "uid-r3", "claim-r3", "Released", "Delete"), ANN_MIGRATED_TO,
                          "ebs.csi.aws.com")],
         NONE, NONE, test="volume", expected_ops=[]),
    Case("ours-r4 - a Failed volume keeps its phase and message while the delete is retried",
         [with_message(v("volume-r4", "1Gi", "uid-r4", "claim-r4", "Failed", "Delete"), "disk full")],
         [with_message(v("volume-r4", "1Gi", "uid-r4", "claim-r4", "Failed", "Delete"), "disk full")],
         NONE, NONE, test="volume", settle=True, delete_results=["permission denied"],
         expected_ops=["DeleteVolume volume-r4"]),
    Case("ours-r5 - a pre-bound volume whose claim is missing stays Available",
         [v("volume-r5", "1Gi", "", "claim-r5", "Bound", "Delete")],
         [v("volume-r5", "1Gi", "", "claim-r5", "Available", "Delete")],
         NONE, NONE, test="volume", settle=True, expected_ops=[]),
]


@pytest.mark.parametrize("case", SET_6 + SET_7 + SET_8 + SET_9 + OURS, ids=str)
def test_reclaim(case: Case) -> None:
    run_case(case)


# ---- outcome helpers -----------------------------------------------------------------------------


def test_volume_failed_sets_phase_message_and_event_once() -> None:
    volume = v("volume-f", "1Gi", "uid-f", "claim-f", "Released", "Delete")
    actions = volume_failed(volume, "rm: permission denied", now=NOW)
    assert [type(a) for a in actions] == [Update, Event]
    update, event = actions
    assert update.status and update.obj["status"] == {
        "phase": "Failed", "message": "rm: permission denied", "lastPhaseTransitionTime": "2023-11-14T22:13:20Z"}
    assert (event.type, event.reason, event.message) == ("Warning", "VolumeFailedDelete", "rm: permission denied")
    assert volume["status"] == {"phase": "Released"}  # the input is untouched
    # Already Failed: no write, no repeated event.
    assert volume_failed(update.obj, "rm: permission denied again", now=NOW + 1) == []


def test_volume_failed_reason_follows_policy_or_caller() -> None:
    recycle = v("volume-f", "1Gi", "uid-f", "claim-f", "Released", "Recycle")
    assert volume_failed(recycle, "boom", now=NOW)[1].reason == "VolumeFailedRecycle"
    assert volume_failed(recycle, "boom", now=NOW, reason="VolumeFailedDelete")[1].reason == "VolumeFailedDelete"


@pytest.mark.parametrize(
    ("volume", "spec_after"),
    [
        (v("volume-u", "1Gi", "uid-u", "claim-u", "Released", "Recycle", "", BBC), None),
        (v("volume-u", "1Gi", "uid-u", "claim-u", "Released", "Recycle"),
         {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": "claim-u"}),
    ],
)
def test_volume_recycled_unbinds(volume: dict, spec_after: dict | None) -> None:
    actions = volume_recycled(volume, now=NOW)
    assert [(type(a), a.status) for a in actions] == [(Update, False), (Update, True)]
    assert actions[0].obj["spec"].get("claimRef") == spec_after
    assert "annotations" not in actions[0].obj["metadata"]
    assert actions[1].obj["status"]["phase"] == "Available"


@pytest.mark.parametrize(
    ("volume", "claims", "released"),
    [
        (v("vol", "1Gi", "", "", "Available"), [], False),
        (v("vol", "1Gi", "", "claim", "Available"), [], False),
        (v("vol", "1Gi", "uid", "claim", "Bound"), [], True),
        (v("vol", "1Gi", "uid", "claim", "Bound"), [c("claim", "uid-x", "1Gi")], True),
        (v("vol", "1Gi", "uid", "claim", "Bound"), [c("claim", "uid", "1Gi", "vol", "Bound")], False),
        (v("vol", "1Gi", "uid", "claim", "Bound"), [c("claim", "uid", "1Gi")], False),
        (v("vol", "1Gi", "uid", "claim", "Bound"), [c("claim", "uid", "1Gi", "other", "Bound")], True),
    ],
)
def test_is_volume_released(volume: dict, claims: list, released: bool) -> None:
    assert is_volume_released(volume, Reactor(volumes=[volume], claims=claims)) is released


def test_released_delete_volume_is_asked_again_each_sync() -> None:
    """The worker dedups running operations and backs off; the decision repeats every sync."""
    volume = v("volume-d", "1Gi", "uid-d", "claim-d", "Released", "Delete")
    reactor = Reactor(volumes=[volume])
    assert binder.sync_volume(reactor.volume("volume-d"), reactor, now=NOW) == [DeleteVolume("volume-d")]
    recycle = v("volume-e", "1Gi", "uid-e", "claim-e", "Failed", "Recycle")
    reactor = Reactor(volumes=[recycle])
    assert binder.sync_volume(reactor.volume("volume-e"), reactor, now=NOW) == [RecycleVolume("volume-e")]
