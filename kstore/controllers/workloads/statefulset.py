"""The StatefulSet controller's decision (Kubernetes' `stateful_set_control.go`:
`updateStatefulSet`, `completeRollingUpdate`; read for behaviour, our code).

`sync_stateful_set(sts, view, now=...)` is pure and level-triggered:
- Pods: those the set controls, plus orphans named `<set>-<n>` that its selector matches
  (adopted). Ordinals in [start, start+replicas) are *replicas*, the rest *condemned*.
- Status from what is observed: replicas (pods), readyReplicas (Running and Ready),
  availableReplicas (ready for minReadySeconds), currentReplicas / updatedReplicas (by the
  `controller-revision-hash` label), current/updateRevision, observedGeneration; a rolling
  update that reached every replica makes the update revision current.
- A set being deleted: status only.
- Replicas, lowest ordinal first: a Failed pod is deleted (event RecreatingFailedPod) to be
  made again; a missing pod gets its claims first (`<template>-<set>-<n>`, kept if they
  exist; a claim still being deleted makes it wait), then the pod. With `OrderedReady`
  (monotonic) the pass stops after a creation, at a terminating pod and at a pod that is not
  Running and Ready — so pod n+1 exists only once 0..n are Running and Ready. `Parallel`
  creates them all at once.
- Claims of existing pods get the ownerReferences the retention policy asks for
  (statefulset_identity.claim_refs) — a condemned pod's claims before the pod is deleted.
- Condemned pods, highest ordinal first: with OrderedReady one at a time, waiting for a
  terminating one, and only while the others are healthy (the first unhealthy pod may go).
- RollingUpdate: from the highest ordinal down to the partition, delete the first pod not at
  the update revision; wait while one is unhealthy. OnDelete: nothing.
Events as Kubernetes': "create Claim www-web-0 Pod web-0 in StatefulSet web success",
"create Pod web-0 in StatefulSet web successful", FailedCreate with the store's message, ...

Without ControllerRevision objects, a pod (re)created below a partition gets the current
template, not the one of its older revision (see `update_revision`).
"""

from __future__ import annotations

import copy
from typing import Any

from kstore.controllers.workloads.meta import adopt, claim_objects, is_deleting, with_owner_refs
from kstore.controllers.workloads.model import (
    Action,
    ClusterView,
    Create,
    Event,
    Obj,
    RequeueAfter,
    Update,
    delete_of,
)
from kstore.controllers.workloads.podutil import (
    becomes_available_in,
    is_available,
    is_running_and_ready,
    is_terminating,
    phase,
)
from kstore.controllers.workloads.replicaset import replicas_of
from kstore.controllers.workloads.statefulset_identity import (
    claim_refs,
    claims_for,
    new_pod,
    ordinal_of,
    pod_revision,
    start_ordinal,
    update_revision,
)

WAIT_FOR_CLAIM = 2.0  # seconds before looking again at a claim that is still being deleted


def pods_of(sts: Obj, view: ClusterView) -> tuple[list[Obj], list[Action]]:
    meta = sts["metadata"]
    candidates = view.controlled_by("Pod", meta["uid"]) + [
        p for p in view.orphans("Pod", meta.get("namespace", "")) if ordinal_of(sts, p) is not None]
    owned, to_adopt, _ = claim_objects(sts, candidates, (sts.get("spec") or {}).get("selector"))
    return owned + to_adopt, [Update(adopt(p, sts)) for p in to_adopt]


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def stateful_set_status(sts: Obj, pods: list[Obj], *, now: float) -> dict[str, Any]:
    spec = sts.get("spec") or {}
    old = sts.get("status") or {}
    update_rev = update_revision(sts)
    current_rev = old.get("currentRevision") or update_rev
    min_ready = int(spec.get("minReadySeconds") or 0)
    live = [p for p in pods if not is_terminating(p)]
    status: dict[str, Any] = {
        "observedGeneration": int(sts["metadata"].get("generation") or 0),
        "replicas": len(pods),
        "readyReplicas": sum(1 for p in pods if is_running_and_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_running_and_ready(p) and is_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in live if pod_revision(p) == current_rev),
        "updatedReplicas": sum(1 for p in live if pod_revision(p) == update_rev),
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": int(old.get("collisionCount") or 0),
    }
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
    if (strategy == "RollingUpdate" and status["updatedReplicas"] == status["replicas"]
            and status["readyReplicas"] == status["replicas"]):
        status["currentRevision"] = update_rev
        status["currentReplicas"] = status["updatedReplicas"]
    # `replicas` and `availableReplicas` are always shown, the other counts are omitempty.
    return {k: v for k, v in status.items()
            if v != 0 or k in ("replicas", "availableReplicas", "observedGeneration", "collisionCount")}


class _Pass:
    """One sync's writes, and whether the ordered pass must stop here."""

    def __init__(self, sts: Obj, view: ClusterView) -> None:
        self.sts = sts
        self.view = view
        self.actions: list[Action] = []
        self.name = sts["metadata"]["name"]
        self.ns = sts["metadata"].get("namespace", "default")

    def create_claims(self, ordinal: int, pod_name: str) -> bool:
        """Create the pod's missing claims; False when one is still being deleted (wait)."""
        for claim in claims_for(self.sts, ordinal).values():
            cname = claim["metadata"]["name"]
            existing = self.view.get("PersistentVolumeClaim", self.ns, cname)
            if existing is not None:
                if is_deleting(existing):
                    self.actions.append(RequeueAfter(WAIT_FOR_CLAIM))
                    return False
                continue
            refs = claim_refs(claim, self.sts, None, condemned=False)
            if refs:
                claim = with_owner_refs(claim, refs)
            self.actions.append(Create(
                claim,
                on_success=Event(self.sts, "Normal", "SuccessfulCreate",
                                 f"create Claim {cname} Pod {pod_name} in StatefulSet {self.name} success"),
                on_failure=Event(self.sts, "Warning", "FailedCreate",
                                 f"create Claim {cname} for Pod {pod_name} in StatefulSet {self.name} failed "
                                 "error: {error}")))
        return True

    def create_pod(self, ordinal: int, revision: str) -> bool:
        pod = new_pod(self.sts, ordinal, revision)
        pname = pod["metadata"]["name"]
        if not self.create_claims(ordinal, pname):
            return False
        self.actions.append(Create(
            pod,
            on_success=Event(self.sts, "Normal", "SuccessfulCreate",
                             f"create Pod {pname} in StatefulSet {self.name} successful"),
            on_failure=Event(self.sts, "Warning", "FailedCreate",
                             f"create Pod {pname} in StatefulSet {self.name} failed error: {{error}}")))
        return True

    def delete_pod(self, pod: Obj) -> None:
        pname = pod["metadata"]["name"]
        self.actions.append(delete_of(
            pod,
            on_success=Event(self.sts, "Normal", "SuccessfulDelete",
                             f"delete Pod {pname} in StatefulSet {self.name} successful"),
            on_failure=Event(self.sts, "Warning", "FailedDelete",
                             f"delete Pod {pname} in StatefulSet {self.name} failed error: {{error}}")))

    def retain_claims(self, ordinal: int, pod: Obj, *, condemned: bool) -> None:
        """Owner references of the pod's existing claims per the retention policy."""
        for claim in claims_for(self.sts, ordinal).values():
            existing = self.view.get("PersistentVolumeClaim", self.ns, claim["metadata"]["name"])
            if existing is None or is_deleting(existing):
                continue
            refs = claim_refs(existing, self.sts, pod, condemned=condemned)
            if refs is not None:
                self.actions.append(Update(with_owner_refs(existing, refs)))


def sync_stateful_set(sts: Obj, view: ClusterView, *, now: float) -> list[Action]:
    """Decide the next step for one StatefulSet; `now` is wall-clock seconds. No I/O."""
    pods, actions = pods_of(sts, view)
    status = stateful_set_status(sts, pods, now=now)
    if status != (sts.get("status") or {}):
        new = copy.deepcopy(sts)
        new["status"] = status
        actions.append(Update(new, status=True))
    if is_deleting(sts):
        return actions
    spec = sts.get("spec") or {}
    start, count = start_ordinal(sts), replicas_of(sts)
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    revision = update_revision(sts)
    replicas: dict[int, Obj] = {}
    condemned: list[tuple[int, Obj]] = []
    for pod in pods:
        ordinal = ordinal_of(sts, pod)
        if ordinal is None:
            continue
        if start <= ordinal < start + count:
            replicas[ordinal] = pod
        else:
            condemned.append((ordinal, pod))
    condemned.sort(key=lambda item: item[0])
    unhealthy = sorted([o for o, p in replicas.items() if not is_healthy(p)] +
                       [o for o, p in condemned if not is_healthy(p)])
    first_unhealthy = unhealthy[0] if unhealthy else None
    run = _Pass(sts, view)
    done = _replicas(run, replicas, range(start, start + count), revision, monotonic)
    if done:
        done = _condemned(run, condemned, first_unhealthy, monotonic)
    if done and ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate":
        partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition") or 0)
        for ordinal in range(start + count - 1, start + partition - 1, -1):
            pod = replicas.get(ordinal)
            if pod is None:
                break
            if pod_revision(pod) != revision and not is_terminating(pod):
                run.delete_pod(pod)
                break
            if not is_healthy(pod):
                break
    min_ready = int(spec.get("minReadySeconds") or 0)
    waits = [w for w in (becomes_available_in(p, min_ready, now) for p in pods) if w is not None]
    if waits:
        run.actions.append(RequeueAfter(min(waits) + 0.1))
    return actions + run.actions


def _replicas(run: _Pass, replicas: dict[int, Obj], ordinals: range, revision: str, monotonic: bool) -> bool:
    """Walk the replicas in order; False when an OrderedReady set must wait."""
    for ordinal in ordinals:
        pod = replicas.get(ordinal)
        if pod is not None and phase(pod) == "Failed" and not is_terminating(pod):
            run.actions.append(Event(run.sts, "Warning", "RecreatingFailedPod",
                                     f"StatefulSet {run.ns}/{run.name} is recreating failed Pod "
                                     f"{pod['metadata']['name']}"))
            run.delete_pod(pod)
            if monotonic:
                return False
            continue
        if pod is None:
            created = run.create_pod(ordinal, revision)
            if monotonic or not created:
                return False
            continue
        if phase(pod) == "Pending" and not is_terminating(pod) and not run.create_claims(ordinal, pod["metadata"]["name"]):
            return False
        if is_terminating(pod) and monotonic:
            return False  # waiting for it to terminate
        if not is_running_and_ready(pod) and monotonic:
            run.retain_claims(ordinal, pod, condemned=False)
            return False  # waiting for it to be Running and Ready
        run.retain_claims(ordinal, pod, condemned=False)
    return True


def _condemned(run: _Pass, condemned: list[tuple[int, Obj]], first_unhealthy: int | None,
               monotonic: bool) -> bool:
    """Scale down from the highest ordinal; False when an OrderedReady set must wait."""
    for ordinal, pod in reversed(condemned):
        if is_terminating(pod):
            if monotonic:
                return False
            continue
        if not is_running_and_ready(pod) and monotonic and ordinal != first_unhealthy:
            return False  # waiting for the others to be healthy before going down
        run.retain_claims(ordinal, pod, condemned=True)
        run.delete_pod(pod)
        if monotonic:
            return False
    return True
