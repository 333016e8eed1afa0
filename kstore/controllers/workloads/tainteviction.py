"""Taint-based eviction and the non-graceful node shutdown (Kubernetes'
`pkg/controller/tainteviction/taint_eviction.go`, the DefaultTolerationSeconds admission plugin
and `podgc`'s out-of-service step; read for behaviour, our code).

- A pod on a node with NoExecute taints is evicted (deleted, graceful) when a taint is not
  tolerated, at once; when all are tolerated, after the shortest `tolerationSeconds` among
  the tolerations used, counted from when this controller first saw the pod under those
  taints (`EvictionTracker`); a toleration without tolerationSeconds tolerates forever.
  Before deleting: condition `DisruptionTarget` (reason DeletionByTaintManager) and the event
  `TaintManagerEviction` "Marking for deletion Pod <ns>/<name>"; when the taints go before
  that, "Cancelling deletion of Pod <ns>/<name>".
- Kubernetes' DefaultTolerationSeconds admission gives every pod that does not tolerate them
  already `node.kubernetes.io/not-ready:NoExecute` and `node.kubernetes.io/unreachable:NoExecute`
  for 300 s; our store does not add them, so `effective_tolerations` adds them here, for the
  configured `pod_eviction_timeout`.
- A node tainted `node.kubernetes.io/out-of-service` (an admin's word that it is shut down)
  has its pods deleted at once with grace period 0 — those already terminating too — so their
  volumes can be detached and the pods made elsewhere. A pod tolerating that taint forever
  stays.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kstore.controllers.workloads.meta import format_time
from kstore.controllers.workloads.model import (
    TAINT_NOT_READY,
    TAINT_OUT_OF_SERVICE,
    TAINT_UNREACHABLE,
    Action,
    Event,
    Obj,
    Update,
    delete_of,
)
from kstore.controllers.workloads.podutil import is_terminating, phase

FOREVER = float("inf")


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """`Toleration.ToleratesTaint`: effects match (an empty one matches all), keys match (an
    empty key with Exists matches every taint), then Exists, or Equal with the same value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def effective_tolerations(pod: Obj, default_seconds: float) -> list[dict[str, Any]]:
    """The pod's tolerations plus the DefaultTolerationSeconds ones it lacks."""
    own = list((pod.get("spec") or {}).get("tolerations") or [])
    out = list(own)
    for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
        probe = {"key": key, "effect": "NoExecute"}
        if not any(tolerates(t, probe) for t in own):
            out.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": default_seconds})
    return out


def toleration_time(taints: Iterable[dict[str, Any]], tolerations: list[dict[str, Any]]) -> float | None:
    """Seconds the pod may stay under `taints`: None if one is not tolerated (evict now),
    FOREVER if none of the tolerations used has tolerationSeconds."""
    shortest = FOREVER
    for taint in taints:
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return None
        for t in used:
            seconds = t.get("tolerationSeconds")
            if seconds is not None:
                shortest = min(shortest, max(0.0, float(seconds)))
    return shortest


class EvictionTracker:
    """When each pod was first seen under NoExecute taints (controller's monotonic clock)."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def mark(self, uid: str, now: float) -> float:
        """Start the pod's clock if it is not running; returns when it started."""
        return self._since.setdefault(uid, now)

    def since(self, uid: str) -> float | None:
        return self._since.get(uid)

    def forget(self, uid: str) -> bool:
        """Stop the pod's clock; True if it was running (an eviction is cancelled)."""
        return self._since.pop(uid, None) is not None

    def tracked(self) -> set[str]:
        return set(self._since)


def no_execute_taints(node: Obj) -> list[dict[str, Any]]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


def out_of_service(node: Obj) -> dict[str, Any] | None:
    for t in (node.get("spec") or {}).get("taints") or []:
        if t.get("key") == TAINT_OUT_OF_SERVICE:
            return t
    return None


def _evict(pod: Obj, wall: float, *, grace: int | None = None) -> list[Action]:
    meta = pod["metadata"]
    key = f"{meta.get('namespace')}/{meta['name']}"
    actions: list[Action] = []
    conds = (pod.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "DisruptionTarget" for c in conds):
        new = copy.deepcopy(pod)
        new.setdefault("status", {}).setdefault("conditions", []).append({
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": format_time(wall)})
        actions.append(Update(new, status=True))
    actions.append(Event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}"))
    actions.append(delete_of(pod, grace_period=grace))
    return actions


def sync_taint_eviction(node: Obj, pods: list[Obj], since: dict[str, float], *, now: float, wall: float,
                        default_seconds: float) -> tuple[list[Action], float | None]:
    """Decide the evictions on one node. `since[uid]` is when each pod's clock started (the
    caller marks every pod under NoExecute taints first). Returns the actions and the
    monotonic time of the next eviction due (None: none). No I/O."""
    actions: list[Action] = []
    oos = out_of_service(node)
    if oos is not None:
        for pod in pods:
            if phase(pod) in ("Succeeded", "Failed"):
                continue
            if is_terminating(pod):
                actions.append(delete_of(pod, grace_period=0))  # podgc: force what its kubelet cannot finish
                continue
            if toleration_time([oos], effective_tolerations(pod, default_seconds)) == FOREVER:
                continue
            actions += _evict(pod, wall, grace=0)
        return actions, None
    taints = no_execute_taints(node)
    next_due: float | None = None
    if not taints:
        return actions, None
    for pod in pods:
        if is_terminating(pod) or phase(pod) in ("Succeeded", "Failed"):
            continue
        uid = pod["metadata"].get("uid", "")
        seconds = toleration_time(taints, effective_tolerations(pod, default_seconds))
        if seconds == FOREVER:
            continue
        due = since.get(uid, now) + (seconds or 0.0)
        if due <= now:
            actions += _evict(pod, wall)
        else:
            next_due = due if next_due is None else min(next_due, due)
    return actions, next_due
