"""A volume whose claim is gone: Released, then its reclaim policy; and volume phase writes.

Design (Kubernetes' `syncVolume` claim-missing branch, `reclaimVolume`, `unbindVolume`,
`isVolumeReleased`, and the outcome half of `deleteVolumeOperation` /
`recycleVolumeOperation`; our code):
- `release_volume` marks a volume Released (never over Failed: the user keeps seeing that
  something went wrong while the controller retries) and returns its policy's action:
  Retain → nothing (the data stays, the volume stays Released); Delete → `DeleteVolume`;
  Recycle → `RecycleVolume`; anything else → Failed with `VolumeUnknownReclaimPolicy`.
  Released and Failed volumes get their action again on every sync: the worker runs one
  operation per volume at a time with backoff, so repeats are cheap and failures are retried.
- Left alone, as in Kubernetes: volumes migrated to CSI (`pv.kubernetes.io/migrated-to`) and
  Delete-policy volumes whose deleter is an external provisioner (the driver named by
  `pv.kubernetes.io/provisioned-by`, or `spec.csi.driver`, is configured as external): those
  stay Released for the external deleter. A Recycle-policy volume still used by a pod of its
  old claim is not scrubbed (Normal `VolumeFailedRecycle`, "Volume is used by pods: ...").
- Outcomes the worker records after running an operation: `volume_failed` (phase Failed with
  the message, Warning `VolumeFailedDelete` / `VolumeFailedRecycle`, only when the phase
  changes) and `volume_recycled` (unbind, so the volume is Available again).
- `with_volume_phase` is the one place a volume phase changes: it clears or sets
  `status.message` and stamps `status.lastPhaseTransitionTime` (RFC 3339, from the injected
  `now`), as the Kubernetes 1.32 apiserver does on every phase change.
- Every function is pure: it reads the given dicts and returns deep-copied, modified ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from kstore.controllers.pv.model import (
    ANN_BOUND_BY_CONTROLLER,
    ANN_MIGRATED_TO,
    ANN_PROVISIONED_BY,
    Action,
    ClusterView,
    DeleteVolume,
    Event,
    Obj,
    RecycleVolume,
    Update,
)

# Phases, as the API spells them.
PENDING, AVAILABLE, BOUND, RELEASED, FAILED = "Pending", "Available", "Bound", "Released", "Failed"
RETAIN, DELETE, RECYCLE = "Retain", "Delete", "Recycle"

_FAILED_REASONS = {DELETE: "VolumeFailedDelete", RECYCLE: "VolumeFailedRecycle"}


def rfc3339(now: float) -> str:
    """`now` (epoch seconds) as the apiserver writes timestamps: `2024-05-01T10:00:00Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def phase_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def claim_ref_key(volume: Mapping[str, Any]) -> str | None:
    """`namespace/name` of the claim the volume points at, or None."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def reclaim_policy(volume: Mapping[str, Any]) -> str:
    """`spec.persistentVolumeReclaimPolicy`; Retain (the apiserver's default) when unset."""
    return str((volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or RETAIN)


def with_volume_phase(volume: Obj, phase: str, *, now: float, message: str = "") -> Obj | None:
    """A copy of the volume in `phase` with `message`, or None when it is in that phase already
    (then nothing is written, and its message is left as it is, as in Kubernetes)."""
    if phase_of(volume) == phase:
        return None
    new = copy.deepcopy(volume)
    status = new.setdefault("status", {})
    status["phase"] = phase
    if message:
        status["message"] = message
    else:
        status.pop("message", None)
    status["lastPhaseTransitionTime"] = rfc3339(now)
    return new


def volume_phase(volume: Obj, phase: str, *, now: float, message: str = "") -> list[Action]:
    """The status write that puts the volume in `phase`; [] when it is there already."""
    new = with_volume_phase(volume, phase, now=now, message=message)
    return [] if new is None else [Update(new, status=True)]


def unbind_volume(volume: Obj, *, now: float) -> list[Action]:
    """Undo a binding (Kubernetes' `unbindVolume`): a binding the controller made is removed with
    its annotation; one the user made keeps the claim's name and only loses the uid. Then the
    volume is Available."""
    new = copy.deepcopy(volume)
    meta = new.setdefault("metadata", {})
    spec = new.setdefault("spec", {})
    if ANN_BOUND_BY_CONTROLLER in (meta.get("annotations") or {}):
        spec.pop("claimRef", None)
        del meta["annotations"][ANN_BOUND_BY_CONTROLLER]
        if not meta["annotations"]:
            del meta["annotations"]  # no annotations reads better than an empty map
    elif spec.get("claimRef"):
        spec["claimRef"].pop("uid", None)
    actions: list[Action] = []
    if new != volume:
        actions.append(Update(new))
    return actions + volume_phase(new, AVAILABLE, now=now)


def is_volume_released(volume: Obj, view: ClusterView) -> bool:
    """Whether the volume needs its reclaim policy applied (Kubernetes' `isVolumeReleased`): it
    is bound (claimRef with a uid) and that claim is gone, or exists under a new uid, or is
    bound to another volume. The worker asks this again right before deleting or recycling."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref or not ref.get("uid"):
        return False
    claim = view.claim(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
    if claim is None or (claim.get("metadata") or {}).get("uid") != ref.get("uid"):
        return True
    bound_to = (claim.get("spec") or {}).get("volumeName") or ""
    return bool(bound_to) and bound_to != (volume.get("metadata") or {}).get("name")


def _deleted_externally(volume: Obj, view: ClusterView) -> bool:
    """An external provisioner, not us, deletes this volume's backing storage."""
    meta, spec = volume.get("metadata") or {}, volume.get("spec") or {}
    name = (meta.get("annotations") or {}).get(ANN_PROVISIONED_BY) or (spec.get("csi") or {}).get("driver")
    if not name:
        return False
    driver = view.driver(str(name))
    return driver is not None and driver.external


def _pods_in_use(volume: Obj, view: ClusterView) -> list[str]:
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    pods = view.pods_using_claim(str(ref.get("namespace", "")), str(ref.get("name", "")))
    names = {
        f"{(p.get('metadata') or {}).get('namespace', '')}/{(p.get('metadata') or {}).get('name', '')}"
        for p in pods
        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    }
    return sorted(names)


def reclaim_volume(volume: Obj, view: ClusterView, *, now: float, claim_cached: bool) -> list[Action]:
    """What the volume's reclaim policy asks for, for a volume already Released or Failed.
    `claim_cached`: a claim of that name exists (under another uid, or bound elsewhere)."""
    meta = volume.get("metadata") or {}
    if (meta.get("annotations") or {}).get(ANN_MIGRATED_TO):
        return []  # migrated to CSI: the external provisioner reclaims it
    policy = reclaim_policy(volume)
    if policy == RETAIN:
        return []  # the data stays; an administrator decides
    if policy == DELETE:
        return [] if _deleted_externally(volume, view) else [DeleteVolume(str(meta.get("name", "")))]
    if policy == RECYCLE:
        pods = _pods_in_use(volume, view)
        if pods and not claim_cached:
            # The old claim's pods still run: scrubbing would pull data from under them.
            return [Event(volume, "Normal", "VolumeFailedRecycle", f"Volume is used by pods: {','.join(pods)}")]
        return [RecycleVolume(str(meta.get("name", "")))]
    message = "Volume has unrecognized PersistentVolumeReclaimPolicy"
    new = with_volume_phase(volume, FAILED, now=now, message=message)
    if new is None:
        return []
    return [Update(new, status=True), Event(new, "Warning", "VolumeUnknownReclaimPolicy", message)]


def release_volume(volume: Obj, view: ClusterView, *, now: float, claim_cached: bool) -> list[Action]:
    """The claim is gone: mark the volume Released (unless Released or Failed already) and
    apply its reclaim policy."""
    actions: list[Action] = []
    current = volume
    if phase_of(volume) not in (RELEASED, FAILED):
        released = with_volume_phase(volume, RELEASED, now=now)
        if released is not None:
            actions.append(Update(released, status=True))
            current = released
    return actions + reclaim_volume(current, view, now=now, claim_cached=claim_cached)


def volume_failed(volume: Obj, message: str, *, now: float, reason: str | None = None) -> list[Action]:
    """Record a failed delete or recycle: phase Failed with `message` and a Warning event
    (`reason` defaults by reclaim policy: VolumeFailedDelete, VolumeFailedRecycle). Nothing
    when the volume is Failed already, so retries do not repeat the event."""
    new = with_volume_phase(volume, FAILED, now=now, message=message)
    if new is None:
        return []
    reason = reason or _FAILED_REASONS.get(reclaim_policy(volume), "VolumeFailed")
    return [Update(new, status=True), Event(new, "Warning", reason, message)]


def volume_recycled(volume: Obj, *, now: float) -> list[Action]:
    """Record a finished recycle: the volume is unbound and Available again. (The worker emits
    the Normal `VolumeRecycled` "Volume recycled" event itself.)"""
    return unbind_volume(volume, now=now)
