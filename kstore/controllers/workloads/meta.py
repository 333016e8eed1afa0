"""Object metadata helpers the controllers share: ownerReferences, selectors, timestamps.

- Owner references follow apimachinery: at most one has `controller: true` (the *controller
  reference*); a controller creates its dependents with `controller` and
  `blockOwnerDeletion` set (`metav1.NewControllerRef`), so foreground deletion waits for them.
- Timestamps written into objects are RFC 3339 seconds (`metav1.Time`); Lease renewTimes
  are MicroTime. `parse_time` reads both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.selectors import label_selector_from_dict
from kstore.controllers.workloads.model import Obj


def owner_refs(obj: Obj) -> list[dict[str, Any]]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in owner_refs(obj):
        if ref.get("controller"):
            return ref
    return None


def controller_uid(obj: Obj) -> str:
    ref = controller_ref(obj)
    return str(ref.get("uid") or "") if ref else ""


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    return controller_uid(obj) == (owner.get("metadata") or {}).get("uid")


def new_controller_ref(owner: Obj) -> dict[str, Any]:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def with_owner_refs(obj: Obj, refs: list[dict[str, Any]]) -> Obj:
    """A deep copy of `obj` with `refs` as its ownerReferences (the key dropped when empty)."""
    new = copy.deepcopy(obj)
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    return new


def adopt(obj: Obj, owner: Obj) -> Obj:
    """A copy of an orphan `obj` with a controller reference to `owner` added."""
    return with_owner_refs(obj, [*owner_refs(obj), new_controller_ref(owner)])


def release(obj: Obj, owner: Obj) -> Obj:
    """A copy of `obj` without its references to `owner`."""
    uid = owner["metadata"].get("uid")
    return with_owner_refs(obj, [r for r in owner_refs(obj) if r.get("uid") != uid])


def is_deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def finalizers(obj: Obj) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def selector_matches(selector: Mapping[str, Any] | None, obj_labels: Mapping[str, str] | None) -> bool:
    """Does a `metav1.LabelSelector` select these labels? An invalid selector selects nothing;
    an empty one (which validation refuses for workloads) everything."""
    try:
        return label_selector_from_dict(selector).matches(obj_labels or {})
    except ApiError:
        return False


def claim_objects(owner: Obj, candidates: Iterable[Obj], selector: Mapping[str, Any] | None,
                  ) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """Kubernetes' `ControllerRefManager.Claim*`: split `candidates` (same namespace) into
    (owned and matching, orphans to adopt, owned but no longer matching: to release).
    Nothing is adopted by an owner that is being deleted, and nothing being deleted is adopted."""
    uid = owner["metadata"]["uid"]
    owned, adopt_, release_ = [], [], []
    for obj in candidates:
        ctl = controller_uid(obj)
        matches = selector_matches(selector, labels(obj))
        if ctl == uid:
            if matches:
                owned.append(obj)
            elif not is_deleting(owner):
                release_.append(obj)
        elif not ctl and matches and not is_deleting(owner) and not is_deleting(obj):
            adopt_.append(obj)
    return owned, adopt_, release_


# ---- time


def format_time(wall: float) -> str:
    """Epoch seconds as `metav1.Time`: `2026-01-02T03:04:05Z`."""
    return datetime.fromtimestamp(int(wall), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    """RFC 3339 (`...Z`, with or without fractional seconds) → epoch seconds; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def condition(obj: Obj, ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(status: dict[str, Any], new: dict[str, Any]) -> None:
    """Put `new` into `status.conditions`, keeping lastTransitionTime when the status did not
    change (Kubernetes' `SetCondition` helpers)."""
    conds = list(status.get("conditions") or [])
    for i, c in enumerate(conds):
        if c.get("type") == new["type"]:
            if c.get("status") == new.get("status") and c.get("lastTransitionTime"):
                new = {**new, "lastTransitionTime": c["lastTransitionTime"]}
            conds[i] = new
            break
    else:
        conds.append(new)
    status["conditions"] = conds
