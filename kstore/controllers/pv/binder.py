"""The PV controller's decisions: bind claims to volumes, provision, release and reclaim.

Design (Kubernetes' `pv_controller.go` — `syncClaim`, `syncUnboundClaim`, `syncBoundClaim`,
`syncVolume`, `bind`, `provisionClaim`'s decision; read for behaviour, our code):
- `sync_claim(claim, view, now=...)` and `sync_volume(volume, view, now=...)` are pure: they read
  the object and the `ClusterView` (informer caches) and return the ordered `Action`s that
  move the pair one step closer to consistency. Level-triggered: an add, an update and a
  periodic resync are the same call, and a sync that repeats one already applied returns [].
  The worker applies the actions in order and stops at the first failed write; the next sync
  starts again from what was stored. One worker per queue: two concurrent claim syncs could
  bind one volume to two claims (the store's resourceVersion check would catch it, slowly).
- The binding is the bi-directional pointer `volume.spec.claimRef` ↔ `claim.spec.volumeName`,
  written in Kubernetes' order so a crash between any two writes is recovered by the next
  sync (binder_test 1-8, 1-9, 1-10):
    1. volume spec: claimRef (+ `pv.kubernetes.io/bound-by-controller: "yes"` when the
       controller, not the user, chose the pairing);
    2. volume status: phase Bound;
    3. claim spec: volumeName (+ bound-by-controller when the controller chose it) and
       `pv.kubernetes.io/bind-completed: "yes"`, which from now on makes it a *bound* claim;
    4. claim status: phase Bound, `status.accessModes` and `status.capacity` from the volume
       (capacity only when the claim becomes Bound: a later difference is a resize).
- Claims without bind-completed (`_sync_unbound_claim`): a claim naming a volume binds to it
  if the volume fits (else Warning `VolumeMismatch`) and is not someone else's; otherwise the
  best match (`matching.find_best_match`) is bound; with no match, a WaitForFirstConsumer class
  waits for the scheduler's `volume.kubernetes.io/selected-node` (event WaitForFirstConsumer /
  WaitForPodScheduled), a class provisions (`Provision`, or for an external provisioner the
  claim annotation and `ExternalProvisioning`), and no class gets Normal `FailedBinding`.
  A claim being deleted is never bound or provisioned anew.
- Claims with bind-completed (`_sync_bound_claim`): the volume gone → Lost (`ClaimLost`), the
  volume claimed by another claim → Lost (`ClaimMisbound`); otherwise the binding is
  re-asserted, which is a no-op when everything is already in place.
- Volumes (`sync_volume`): no claimRef, or a claimRef without uid (pre-bound by the user) →
  Available; the claim gone (or recreated under another uid) → Released and the reclaim
  policy (reclaim.py); the claim not yet pointing back → wait for the claim sync; the claim
  bound elsewhere → unbind (or release a dynamically provisioned Delete volume).
- Once the selected node is set on a WaitForFirstConsumer claim, an unbound Available volume
  whose node affinity admits that node is bound before anything is provisioned: the outcome
  Kubernetes reaches through its scheduler, which pre-binds such a volume instead of asking
  for provisioning (with our scheduler simpler, the controller finishes the job).
- Invariants: the view's dicts are never mutated; every `Update` carries its own deep copy,
  built on the previous write of the same object in the list (the worker chains their
  resourceVersions, see `model.Update`); every phase change of a volume stamps
  `status.lastPhaseTransitionTime` from `now`; event reasons and messages are Kubernetes'.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kstore.api.quantity import QuantityError, parse_quantity
from kstore.controllers.pv.matching import (
    annotations,
    check_volume_satisfies_claim,
    claim_class,
    claim_key,
    claim_problem,
    find_best_match,
    is_volume_bound_to_claim,
    volume_mode_mismatch,
)
from kstore.controllers.pv.model import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_PROVISIONED_BY,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    Action,
    ClusterView,
    Event,
    Obj,
    Provision,
    Update,
)
from kstore.controllers.pv.reclaim import (
    AVAILABLE,
    BOUND,
    DELETE,
    is_volume_released,
    phase_of,
    reclaim_policy,
    release_volume,
    unbind_volume,
    volume_failed,
    volume_phase,
    volume_recycled,
    with_volume_phase,
)

# Claim phases.
CLAIM_PENDING, CLAIM_BOUND, CLAIM_LOST = "Pending", "Bound", "Lost"

WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
ANN_PRE_RESIZE_CAPACITY = "volume.alpha.kubernetes.io/pre-resize-capacity"
HOSTNAME_LABEL = "kubernetes.io/hostname"

# Event texts, word for word from pv_controller.go.
MSG_NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
MSG_WAIT_FOR_FIRST_CONSUMER = "waiting for first consumer to be created before binding"
MSG_LOST_REFERENCE = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"
MSG_LOST_VOLUME = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
MSG_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"


def _q(value: object) -> str:
    """Go's %q for the plain names that appear in these messages."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name", ""))


def _set_annotation(obj: Obj, key: str, value: str) -> None:
    obj.setdefault("metadata", {}).setdefault("annotations", {})[key] = value


# ---------------------------------------------------------------------------------------------
# Claims


def sync_claim(claim: Obj, view: ClusterView, *, now: float) -> list[Action]:
    """Decide what to do with one claim. No I/O: reads `view`, returns actions."""
    if ANN_BIND_COMPLETED in annotations(claim):
        return _sync_bound_claim(claim, view, now=now)
    return _sync_unbound_claim(claim, view, now=now)


def _sync_unbound_claim(claim: Obj, view: ClusterView, *, now: float) -> list[Action]:
    # OBSERVATION: the claim is Pending (or should be).
    if _meta(claim).get("deletionTimestamp"):
        return []  # on its way out: neither bound nor provisioned anew
    wanted = str(_spec(claim).get("volumeName") or "")
    if wanted:
        return _sync_claim_naming_volume(claim, wanted, view, now=now)

    # [binder_test set 1] The user does not care which volume they get.
    problem = claim_problem(claim)
    if problem is not None:
        return [*_claim_status(claim, CLAIM_PENDING, None), Event(claim, "Warning", "FailedBinding",
                                                                     f"invalid claim: {problem}")]
    class_name = claim_class(claim)
    storage_class = view.storage_class(class_name) if class_name else None
    delay = storage_class is not None and storage_class.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER
    selected = annotations(claim).get(ANN_SELECTED_NODE)
    node = _selected_node(view, selected) if delay and selected else None

    volume = find_best_match(claim, view.candidate_volumes(claim, node), delay_binding=delay, node=node)
    if volume is not None:
        # OBSERVATION: claim Pending, volume Available (or pre-bound to this claim)
        return _bind(volume, claim, now=now)

    # No volume: wait for a consumer, provision, or say why nothing happens.
    if delay and not selected:
        events = [_unscheduled_consumer_event(claim, view)]
    elif class_name:
        return _provision(claim, class_name, storage_class, view)
    else:
        events = [Event(claim, "Normal", "FailedBinding", MSG_NO_CLASS)]
    return [*events, *_claim_status(claim, CLAIM_PENDING, None)]


def _sync_claim_naming_volume(claim: Obj, wanted: str, view: ClusterView, *, now: float) -> list[Action]:
    # [binder_test set 2] The user asked for a specific volume.
    volume = view.volume(wanted)
    if volume is None:
        return _claim_status(claim, CLAIM_PENDING, None)  # it may be created later
    if not _spec(volume).get("claimRef"):
        # OBSERVATION: claim Pending, volume Available
        reason = check_volume_satisfies_claim(volume, claim)
        if reason is not None:
            event = Event(claim, "Warning", "VolumeMismatch", f"Cannot bind to requested volume {_q(wanted)}: {reason}")
            return [event, *_claim_status(claim, CLAIM_PENDING, None)]
        return _bind(volume, claim, now=now)
    if is_volume_bound_to_claim(volume, claim):
        # OBSERVATION: claim Pending, volume Bound (to this claim): finish the binding.
        return _bind(volume, claim, now=now)
    # OBSERVATION: claim Pending, volume Bound to another claim.
    event = Event(claim, "Warning", "FailedBinding", f"volume {_q(wanted)} already bound to a different claim.")
    if ANN_BOUND_BY_CONTROLLER in annotations(claim):
        # Only reachable when someone removed bind-completed from a claim we bound. Kubernetes
        # returns an error (retry with backoff); the event is all we can add.
        return [event]
    return [event, *_claim_status(claim, CLAIM_PENDING, None)]


def _sync_bound_claim(claim: Obj, view: ClusterView, *, now: float) -> list[Action]:
    # [binder_test set 3] The claim was bound once (bind-completed).
    wanted = str(_spec(claim).get("volumeName") or "")
    if not wanted:
        return _claim_status_with_event(claim, CLAIM_LOST, "Warning", "ClaimLost", MSG_LOST_REFERENCE)
    volume = view.volume(wanted)
    if volume is None:
        return _claim_status_with_event(claim, CLAIM_LOST, "Warning", "ClaimLost", MSG_LOST_VOLUME)
    ref = _spec(volume).get("claimRef")
    if not ref:
        # The volume came unbound, or its bind write has not reached the cache yet: the two
        # cannot be told apart, so bind again (not for a claim being deleted).
        return [] if _meta(claim).get("deletionTimestamp") else _bind(volume, claim, now=now)
    if (ref.get("uid") or "") == _meta(claim).get("uid"):
        return _bind(volume, claim, now=now)  # all is well; re-assert phases
    return _claim_status_with_event(claim, CLAIM_LOST, "Warning", "ClaimMisbound", MSG_MISBOUND)


def _selected_node(view: ClusterView, name: str) -> Obj:
    """The Node the scheduler chose; while it is not cached, one that carries the hostname
    label every kstore node has, so hostname-pinned volumes still match it."""
    node = view.node(name)
    if node is not None:
        return node
    return {"metadata": {"name": name, "labels": {HOSTNAME_LABEL: name}}}


def _unscheduled_consumer_event(claim: Obj, view: ClusterView) -> Event:
    """WaitForFirstConsumer, or WaitForPodScheduled naming the pods waiting for a node."""
    meta = _meta(claim)
    waiting = sorted(
        str(_meta(p).get("name", ""))
        for p in view.pods_using_claim(str(meta.get("namespace", "")), str(meta.get("name", "")))
        if not _spec(p).get("nodeName") and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )
    if not waiting:
        return Event(claim, "Normal", "WaitForFirstConsumer", MSG_WAIT_FOR_FIRST_CONSUMER)
    if len(waiting) == 1:
        return Event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {waiting[0]} to be scheduled")
    return Event(claim, "Normal", "WaitForPodScheduled", f"waiting for pods {','.join(waiting)} to be scheduled")


def _provision(claim: Obj, class_name: str, storage_class: Obj | None, view: ClusterView) -> list[Action]:
    """Provisioning's decision half: which provisioner, and whether we or someone else runs it.
    (The claim phase is left alone, as Kubernetes does on this path.)"""
    if storage_class is None:
        return [Event(claim, "Warning", "ProvisioningFailed", f"storageclass.storage.k8s.io {_q(class_name)} not found")]
    provisioner = str(storage_class.get("provisioner") or "")
    driver = view.driver(provisioner)
    if driver is None:  # kubernetes.io/no-provisioner: volumes of this class are made by hand
        return [Event(claim, "Warning", "ProvisioningFailed", f"no volume plugin matched name: {provisioner}")]
    actions: list[Action] = []
    current = claim
    anns = annotations(claim)
    if anns.get(ANN_BETA_STORAGE_PROVISIONER) != provisioner or anns.get(ANN_STORAGE_PROVISIONER) != provisioner:
        # Who provisions: external provisioners start on this annotation.
        current = copy.deepcopy(claim)
        _set_annotation(current, ANN_BETA_STORAGE_PROVISIONER, provisioner)
        _set_annotation(current, ANN_STORAGE_PROVISIONER, provisioner)
        actions.append(Update(current))
    if driver.external:
        message = (
            f"Waiting for a volume to be created either by the external provisioner '{provisioner}' "
            "or manually by the system administrator. If volume creation is delayed, please verify that "
            "the provisioner is running and correctly registered."
        )
        return [*actions, Event(current, "Normal", "ExternalProvisioning", message)]
    return [*actions, Provision(claim_key(claim), class_name)]


# ---------------------------------------------------------------------------------------------
# The two-step bind


def _claim_ref(claim: Obj) -> dict[str, str]:
    meta = _meta(claim)
    ref = {
        "kind": "PersistentVolumeClaim",
        "namespace": str(meta.get("namespace", "")),
        "name": str(meta.get("name", "")),
        "uid": str(meta.get("uid", "")),
        "apiVersion": "v1",
    }
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = str(meta["resourceVersion"])
    return ref


def _bind(volume: Obj, claim: Obj, *, now: float) -> list[Action]:
    """Bind volume and claim together and mark both Bound: up to four writes, volume first.
    Writes already in place are skipped, so this also finishes a half-done bind."""
    actions: list[Action] = []

    # 1. volume.spec.claimRef
    new_volume: Obj | None = None
    ref = _spec(volume).get("claimRef") or {}
    meta = _meta(claim)
    if (ref.get("name"), ref.get("namespace"), ref.get("uid") or "") != (meta.get("name"), meta.get("namespace"),
                                                                      meta.get("uid") or ""):
        new_volume = copy.deepcopy(volume)
        new_volume.setdefault("spec", {})["claimRef"] = _claim_ref(claim)
    if not is_volume_bound_to_claim(volume, claim) and ANN_BOUND_BY_CONTROLLER not in annotations(volume):
        new_volume = new_volume or copy.deepcopy(volume)
        _set_annotation(new_volume, ANN_BOUND_BY_CONTROLLER, "yes")
    if new_volume is not None:
        actions.append(Update(new_volume))
        volume = new_volume

    # 2. volume.status.phase
    bound_volume = with_volume_phase(volume, BOUND, now=now)
    if bound_volume is not None:
        actions.append(Update(bound_volume, status=True))
        volume = bound_volume

    # 3. claim.spec.volumeName
    new_claim: Obj | None = None
    if _spec(claim).get("volumeName") != _name(volume):
        new_claim = copy.deepcopy(claim)
        new_claim.setdefault("spec", {})["volumeName"] = _name(volume)
        if ANN_BOUND_BY_CONTROLLER not in annotations(claim):
            _set_annotation(new_claim, ANN_BOUND_BY_CONTROLLER, "yes")
    if ANN_BIND_COMPLETED not in annotations(claim):
        new_claim = new_claim or copy.deepcopy(claim)
        _set_annotation(new_claim, ANN_BIND_COMPLETED, "yes")
    if new_claim is not None:
        actions.append(Update(new_claim))
        claim = new_claim

    # 4. claim.status
    return actions + _claim_status(claim, CLAIM_BOUND, volume)


def _same_quantity(a: object, b: object) -> bool:
    try:
        return parse_quantity(a) == parse_quantity(b)  # type: ignore[arg-type]
    except QuantityError:
        return a == b


def _claim_status(claim: Obj, phase: str, volume: Obj | None) -> list[Action]:
    """The claim status write for `phase` (Kubernetes' `updateClaimStatus`): without a volume,
    accessModes and capacity are cleared; with one they are copied from it, capacity only when
    the claim becomes Bound. [] when nothing changes."""
    old_status = claim.get("status") or {}
    new = copy.deepcopy(claim)
    status = new.setdefault("status", {})
    status["phase"] = phase
    if volume is None:
        for field in ("accessModes", "capacity", "currentVolumeAttributesClassName"):
            status.pop(field, None)
    else:
        vspec = _spec(volume)
        if vspec.get("accessModes") is not None:
            status["accessModes"] = copy.deepcopy(vspec["accessModes"])
        else:
            status.pop("accessModes", None)
        if old_status.get("phase") != phase:
            capacity = vspec.get("capacity") or {}
            pre_resize = annotations(volume).get(ANN_PRE_RESIZE_CAPACITY)
            have = (old_status.get("capacity") or {}).get("storage")
            if pre_resize is not None:
                # The filesystem is still the pre-resize size: report that until the kubelet grows it.
                status["capacity"] = {**(old_status.get("capacity") or {}), "storage": pre_resize}
            elif "storage" in capacity and (have is None or not _same_quantity(have, capacity["storage"])):
                status["capacity"] = copy.deepcopy(capacity)
            if old_status.get("phase") == CLAIM_PENDING and phase == CLAIM_BOUND:
                if vspec.get("volumeAttributesClassName"):
                    status["currentVolumeAttributesClassName"] = vspec["volumeAttributesClassName"]
                else:
                    status.pop("currentVolumeAttributesClassName", None)
    if status == old_status:
        return []
    return [Update(new, status=True)]


def _claim_status_with_event(claim: Obj, phase: str, type_: str, reason: str, message: str) -> list[Action]:
    """Set the phase and, only when it changes, say why (`updateClaimStatusWithEvent`)."""
    if (claim.get("status") or {}).get("phase") == phase:
        return []
    actions = _claim_status(claim, phase, None)
    written = actions[-1].obj if actions and isinstance(actions[-1], Update) else claim
    return [*actions, Event(written, type_, reason, message)]


# ---------------------------------------------------------------------------------------------
# Volumes


def sync_volume(volume: Obj, view: ClusterView, *, now: float) -> list[Action]:
    """Decide what to do with one volume. No I/O: reads `view`, returns actions."""
    # [binder_test set 4]
    ref = _spec(volume).get("claimRef")
    if not ref:
        return volume_phase(volume, AVAILABLE, now=now)  # unused
    if not ref.get("uid"):
        # Pre-bound by the user to a claim that has not bound yet: the claim sync does it.
        return volume_phase(volume, AVAILABLE, now=now)

    claim = view.claim(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
    claim_cached = claim is not None
    if claim is not None and _meta(claim).get("uid") != ref.get("uid"):
        claim = None  # the claim was deleted and another one created under the same name
    if claim is None:
        # OBSERVATION: the claim is gone (a claimRef to a missing namespace lands here too).
        return release_volume(volume, view, now=now, claim_cached=claim_cached)

    bound_to = str(_spec(claim).get("volumeName") or "")
    if not bound_to:
        # OBSERVATION: volume bound, claim Pending: the claim sync finishes the binding.
        if volume_mode_mismatch(claim, volume):
            # ... except that it never will: find_best_match rejects the volume.
            return [
                Event(volume, "Warning", "VolumeMismatch", "Cannot bind PersistentVolume to requested "
                      f"PersistentVolumeClaim {_q(_name(claim))} due to incompatible volumeMode."),
                Event(claim, "Warning", "VolumeMismatch", f"Cannot bind PersistentVolume {_q(_name(volume))} "
                      "to requested PersistentVolumeClaim due to incompatible volumeMode."),
            ]
        return []
    if bound_to == _name(volume):
        return volume_phase(volume, BOUND, now=now)  # properly bound; fix the phase if needed

    # OBSERVATION: the claim is bound to another volume.
    if ANN_PROVISIONED_BY in annotations(volume) and reclaim_policy(volume) == DELETE:
        # Provisioned for this claim, which got another volume: not needed any more.
        return release_volume(volume, view, now=now, claim_cached=True)
    # Bound by us: roll back. Bound by the user: forget the uid, keep the claim's name.
    return unbind_volume(volume, now=now)


__all__ = [
    "is_volume_released",
    "phase_of",
    "sync_claim",
    "sync_volume",
    "volume_failed",
    "volume_recycled",
]
