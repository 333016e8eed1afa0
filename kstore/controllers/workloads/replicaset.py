"""The ReplicaSet controller's decision (Kubernetes' `replica_set.go`: `syncReplicaSet`,
`manageReplicas`, `calculateStatus`; read for behaviour, our code).

`sync_replica_set(rs, view, now=...)` is pure and level-triggered:
- Claim: pods of the namespace that the ReplicaSet controls and its selector still matches
  are its own; matching orphans are adopted (a controller reference added), controlled pods
  that no longer match are released (`ControllerRefManager`). A ReplicaSet being deleted
  neither adopts nor creates.
- Status first (from what is observed now): replicas (active pods), fullyLabeledReplicas,
  readyReplicas, availableReplicas (ready for `minReadySeconds`), observedGeneration. It is
  written before pods are created or deleted so that a template the store refuses does not
  keep the status stale.
- Then too few active pods → create the difference (at most `BURST` per sync, in slow-start
  batches) named `<rs>-<5 random chars>` by the store's generateName; too many → delete the
  surplus in `podutil.deletion_order` (unscheduled, pending, not ready, newest first).
- Events as Kubernetes': `SuccessfulCreate` "Created pod: <name>", `FailedCreate` "Error
  creating: <message>", `SuccessfulDelete` "Deleted pod: <name>".
- A ready pod that becomes available later (minReadySeconds) asks for a `RequeueAfter`.

Our deletes and creates are visible in the view at once (applier.py assumes them), so the
next sync never creates or deletes the same pods twice: Kubernetes' expectations.
"""

from __future__ import annotations

import copy
from typing import Any

from kstore.controllers.workloads.meta import adopt, claim_objects, is_deleting, new_controller_ref, release
from kstore.controllers.workloads.model import (
    Action,
    ClusterView,
    Create,
    CreateBatch,
    Event,
    Obj,
    RequeueAfter,
    Update,
    delete_of,
)
from kstore.controllers.workloads.podutil import (
    becomes_available_in,
    deletion_order,
    is_active,
    is_available,
    is_ready,
    pod_from_template,
)

BURST = 500  # Kubernetes' burstReplicas: the most pods created or deleted by one sync


def replicas_of(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def pods_of(rs: Obj, view: ClusterView) -> tuple[list[Obj], list[Action]]:
    """The ReplicaSet's pods after adoption and release, and the writes that claim them."""
    meta = rs["metadata"]
    ns = meta.get("namespace") or ""
    candidates = view.controlled_by("Pod", meta["uid"]) + view.orphans("Pod", ns)
    owned, to_adopt, to_release = claim_objects(rs, candidates, (rs.get("spec") or {}).get("selector"))
    actions: list[Action] = [Update(adopt(p, rs)) for p in to_adopt]
    actions += [Update(release(p, rs)) for p in to_release]
    return owned + to_adopt, actions


def replica_set_status(rs: Obj, pods: list[Obj], *, now: float) -> dict[str, Any]:
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    active = [p for p in pods if is_active(p)]
    status = copy.deepcopy(rs.get("status") or {})
    status.update(
        replicas=len(active),
        fullyLabeledReplicas=sum(
            1 for p in active if template_labels.items() <= (p["metadata"].get("labels") or {}).items()),
        readyReplicas=sum(1 for p in active if is_ready(p)),
        availableReplicas=sum(1 for p in active if is_available(p, min_ready, now)),
        observedGeneration=int(rs["metadata"].get("generation") or 0),
    )
    # `replicas` is always shown; the other counts are `omitempty`, as in Kubernetes.
    return {k: v for k, v in status.items() if v != 0 or k in ("replicas", "observedGeneration")}


def sync_replica_set(rs: Obj, view: ClusterView, *, now: float, burst: int = BURST) -> list[Action]:
    """Decide what to do for one ReplicaSet; `now` is wall-clock seconds. No I/O."""
    pods, actions = pods_of(rs, view)
    status = replica_set_status(rs, pods, now=now)
    if status != (rs.get("status") or {}):
        new = copy.deepcopy(rs)
        new["status"] = status
        actions.append(Update(new, status=True))
    if is_deleting(rs):
        return actions
    active = [p for p in pods if is_active(p)]
    diff = len(active) - replicas_of(rs)
    if diff < 0:
        template = (rs.get("spec") or {}).get("template") or {}
        ref = new_controller_ref(rs)
        creates = tuple(
            Create(pod_from_template(template, rs, ref),
                   on_success=Event(rs, "Normal", "SuccessfulCreate", "Created pod: {name}"),
                   on_failure=Event(rs, "Warning", "FailedCreate", "Error creating: {error}"))
            for _ in range(min(-diff, burst)))
        actions.append(CreateBatch(creates))
    elif diff > 0:
        for pod in deletion_order(active)[:min(diff, burst)]:
            actions.append(delete_of(
                pod,
                on_success=Event(rs, "Normal", "SuccessfulDelete", "Deleted pod: {name}"),
                on_failure=Event(rs, "Warning", "FailedDelete", "Error deleting: {error}")))
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    waits = [w for w in (becomes_available_in(p, min_ready, now) for p in active) if w is not None]
    if waits:
        actions.append(RequeueAfter(min(waits) + 0.1))
    return actions
