"""The Deployment controller's decision (Kubernetes' `deployment_controller.go`, `sync.go`,
`rolling.go`, `recreate.go`; read for behaviour, our code).

`sync_deployment(d, view, now=...)` is pure and level-triggered; one call moves the rollout
one step, and the ReplicaSet events it causes bring the next call:
- Claim the namespace's ReplicaSets by controller reference and selector (adopt, release).
- The *new* ReplicaSet is the oldest one whose pod template equals the Deployment's, ignoring
  the `pod-template-hash` label; the others are *old*. A missing new ReplicaSet is created
  as `<deployment>-<hash>` (hashing.py), its template and selector carrying
  `pod-template-hash: <hash>`, annotated with the revision (the old ones' highest + 1) and
  the desired / max replicas; a name already taken by a different template bumps
  `status.collisionCount` and the next sync hashes again.
- Being deleted: status only. Paused, or a *scaling event* (an active ReplicaSet annotated
  with other desired replicas): `scale` only — proportionally over the active ReplicaSets
  while a rollout is under way (`GetProportion`).
- RollingUpdate: grow the new ReplicaSet up to replicas + maxSurge in total; else shrink the
  old ones, unhealthy replicas first, never below replicas − maxUnavailable available
  (`reconcileOldReplicaSets`). Recreate: old ones to 0, wait until none of their pods runs,
  then the new one to replicas.
- Then old ReplicaSets beyond `revisionHistoryLimit` that are scaled to 0 are deleted, and the
  status (deployment_util.rollout_status) is written when it changed.
Events on the Deployment: `ScalingReplicaSet` "Scaled up replica set web-7c5ddbdf54 from 0 to 3".
"""

from __future__ import annotations

import copy
import math
from typing import Any

from kstore.controllers.workloads import deployment_util as du
from kstore.controllers.workloads.hashing import template_hash
from kstore.controllers.workloads.meta import (
    adopt,
    claim_objects,
    is_controlled_by,
    is_deleting,
    new_controller_ref,
    parse_time,
    release,
)
from kstore.controllers.workloads.model import (
    ANN_DESIRED_REPLICAS,
    ANN_MAX_REPLICAS,
    ANN_REVISION,
    POD_TEMPLATE_HASH,
    Action,
    ClusterView,
    Create,
    Event,
    Obj,
    RequeueAfter,
    Update,
    delete_of,
)
from kstore.controllers.workloads.replicaset import replicas_of


def replica_sets_of(d: Obj, view: ClusterView) -> tuple[list[Obj], list[Action]]:
    meta = d["metadata"]
    candidates = view.controlled_by("ReplicaSet", meta["uid"]) + view.orphans("ReplicaSet", meta.get("namespace", ""))
    owned, to_adopt, to_release = claim_objects(d, candidates, (d.get("spec") or {}).get("selector"))
    actions: list[Action] = [Update(adopt(rs, d)) for rs in to_adopt]
    actions += [Update(release(rs, d)) for rs in to_release]
    return owned + to_adopt, actions


def split_new_old(d: Obj, rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
    template = (d.get("spec") or {}).get("template") or {}
    new = None
    for rs in du.creation_order(rss):
        if du.equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            new = rs
            break
    return new, [rs for rs in rss if rs is not new]


def is_scaling_event(d: Obj, rss: list[Obj]) -> bool:
    for rs in rss:
        if replicas_of(rs) <= 0:
            continue
        desired = du.annotation_int(rs, ANN_DESIRED_REPLICAS)
        if desired is not None and desired != replicas_of(d):
            return True
    return False


def sync_deployment(d: Obj, view: ClusterView, *, now: float) -> list[Action]:
    """Decide the next step for one Deployment; `now` is wall-clock seconds. No I/O."""
    rss, actions = replica_sets_of(d, view)
    new_rs, old_rss = split_new_old(d, rss)
    spec = d.get("spec") or {}
    if is_deleting(d):
        return actions + _status(d, du.calculate_status(d, rss, new_rs, now=now))
    if spec.get("paused") or is_scaling_event(d, rss):
        actions += scale(d, new_rs, old_rss)
        if spec.get("paused"):
            actions += cleanup(d, old_rss)
        return actions + _status(d, du.calculate_status(d, rss, new_rs, now=now))
    if new_rs is not None:
        meta_actions = sync_new_rs_metadata(d, new_rs, old_rss)
        if any(a.obj["kind"] == "ReplicaSet" for a in meta_actions if isinstance(a, Update)):
            return actions + meta_actions  # the ReplicaSet's update brings the next step
        actions += meta_actions
    if ((spec.get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
        return actions + rollout_recreate(d, new_rs, old_rss, view, now=now)
    return actions + rollout_rolling(d, new_rs, old_rss, view, now=now)


# ---- the new ReplicaSet


def new_replica_set(d: Obj, old_rss: list[Obj], replicas: int) -> Obj:
    meta, spec = d["metadata"], d.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    hash_ = template_hash(spec.get("template") or {}, (d.get("status") or {}).get("collisionCount"))
    template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = hash_
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = hash_
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in du.SKIP_COPY_ANNOTATIONS}
    annotations.update({
        ANN_REVISION: str(max((du.revision(rs) for rs in old_rss), default=0) + 1),
        ANN_DESIRED_REPLICAS: str(replicas_of(d)),
        ANN_MAX_REPLICAS: str(replicas_of(d) + du.max_surge(d)),
    })
    rs_spec: dict[str, Any] = {"replicas": replicas, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{meta['name']}-{hash_}", "namespace": meta.get("namespace", "default"),
                     "labels": dict(template["metadata"]["labels"]), "annotations": annotations,
                     "ownerReferences": [new_controller_ref(d)]},
        "spec": rs_spec,
    }


def create_new_rs(d: Obj, old_rss: list[Obj], view: ClusterView, *, now: float) -> list[Action]:
    """Create the new ReplicaSet, or bump collisionCount when its name is taken."""
    replicas = du.new_rs_new_replicas(d, old_rss, None)
    rs = new_replica_set(d, old_rss, replicas)
    existing = view.get("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"])
    if existing is not None:
        if is_controlled_by(existing, d) and du.equal_ignore_hash(existing["spec"].get("template") or {},
                                                                   (d.get("spec") or {}).get("template") or {}):
            return []  # ours, and the next sync finds it
        status = copy.deepcopy(d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        return _status(d, status)
    actions: list[Action] = [Create(rs, on_success=Event(
        d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {{name}} from 0 to {replicas}") if replicas else None)]
    status, _ = du.rollout_status(d, old_rss, rs, now=now, new_rs_created=True)
    return actions + _status(d, status)


def sync_new_rs_metadata(d: Obj, new_rs: Obj, old_rss: list[Obj]) -> list[Action]:
    """Keep the new ReplicaSet's revision above the old ones' and its minReadySeconds equal to
    the Deployment's; the Deployment's revision annotation follows its new ReplicaSet."""
    actions: list[Action] = []
    want = max((du.revision(rs) for rs in old_rss), default=0) + 1
    rs_spec = new_rs.get("spec") or {}
    min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
    if du.revision(new_rs) < want or int(rs_spec.get("minReadySeconds") or 0) != min_ready:
        rs = copy.deepcopy(new_rs)
        if du.revision(rs) < want:
            rs["metadata"].setdefault("annotations", {})[ANN_REVISION] = str(want)
        if min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
        else:
            rs["spec"].pop("minReadySeconds", None)
        actions.append(Update(rs))
    rev = str(max(du.revision(new_rs), want))
    if (d["metadata"].get("annotations") or {}).get(ANN_REVISION) != rev:
        new_d = copy.deepcopy(d)
        new_d["metadata"].setdefault("annotations", {})[ANN_REVISION] = rev
        new_d.pop("status", None)
        actions.append(Update(new_d))
    return actions


# ---- scaling


def scale_rs(rs: Obj, size: int, d: Obj) -> list[Action]:
    """Set a ReplicaSet's size and its desired/max replicas annotations (one write), with the
    ScalingReplicaSet event when the size changes."""
    annotations = (rs["metadata"].get("annotations") or {})
    want = {ANN_DESIRED_REPLICAS: str(replicas_of(d)), ANN_MAX_REPLICAS: str(replicas_of(d) + du.max_surge(d))}
    old = replicas_of(rs)
    if old == size and all(annotations.get(k) == v for k, v in want.items()):
        return []
    new = copy.deepcopy(rs)
    new["spec"]["replicas"] = size
    new["metadata"].setdefault("annotations", {}).update(want)
    event = None
    if old != size:
        direction = "up" if size > old else "down"
        event = Event(d, "Normal", "ScalingReplicaSet",
                      f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {size}")
    return [Update(new, on_success=event)]


def _fraction(rs: Obj, d: Obj) -> int:
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + du.max_surge(d)
    annotated = du.annotation_int(rs, ANN_MAX_REPLICAS)
    if annotated is None:
        annotated = int((d.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0
    return math.floor(replicas_of(rs) * deployment_replicas / annotated + 0.5) - replicas_of(rs)


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> list[Action]:
    """Bring the ReplicaSets to the Deployment's size (`DeploymentController.scale`)."""
    every = [rs for rs in [new_rs, *old_rss] if rs is not None]
    active = [rs for rs in every if replicas_of(rs) > 0]
    if len(active) <= 1:
        target = active[0] if active else (new_rs if new_rs is not None else
                                           (du.creation_order(old_rss)[-1] if old_rss else None))
        return scale_rs(target, replicas_of(d), d) if target is not None else []
    if du.is_saturated(d, new_rs):
        return [a for rs in old_rss if replicas_of(rs) > 0 for a in scale_rs(rs, 0, d)]
    if not du.is_rolling_update(d):
        return []
    allowed = replicas_of(d) + du.max_surge(d) if replicas_of(d) > 0 else 0
    to_add = allowed - du.total_replicas(active)
    if to_add == 0:
        return []

    def created(rs: Obj) -> float:
        return parse_time(rs["metadata"].get("creationTimestamp")) or 0.0

    if to_add > 0:  # bigger first, then newer first
        order = sorted(active, key=lambda rs: (-replicas_of(rs), -created(rs), rs["metadata"]["name"]))
    else:  # bigger first, then older first
        order = sorted(active, key=lambda rs: (-replicas_of(rs), created(rs), rs["metadata"]["name"]))
    sizes: list[int] = []
    added = 0
    for rs in order:
        prop = _proportion(rs, d, to_add, added)
        sizes.append(replicas_of(rs) + prop)
        added += prop
    sizes[0] = max(0, sizes[0] + to_add - added)  # the leftover goes to the first
    return [a for rs, size in zip(order, sizes, strict=True) for a in scale_rs(rs, size, d)]


# ---- rollouts


def reconcile_old_rss(d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj) -> dict[str, int]:
    """New sizes of old ReplicaSets for a rolling update (`reconcileOldReplicaSets`)."""
    if du.total_replicas(old_rss) == 0:
        return {}
    min_available = replicas_of(d) - du.max_unavailable(d)
    new_unavailable = replicas_of(new_rs) - int((new_rs.get("status") or {}).get("availableReplicas") or 0)
    max_scaled_down = du.total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    ordered = du.creation_order(old_rss)
    sizes = {rs["metadata"]["name"]: replicas_of(rs) for rs in ordered}
    cleaned = 0
    for rs in ordered:  # unhealthy replicas first: removing them costs no availability
        name = rs["metadata"]["name"]
        if cleaned >= max_scaled_down:
            break
        available = int((rs.get("status") or {}).get("availableReplicas") or 0)
        if sizes[name] == 0 or sizes[name] == available:
            continue
        n = min(max_scaled_down - cleaned, sizes[name] - available)
        sizes[name] -= n
        cleaned += n
    available_all = du.status_count(all_rss, "availableReplicas")
    if available_all > min_available:
        budget, done = available_all - min_available, 0
        for rs in ordered:
            name = rs["metadata"]["name"]
            if done >= budget:
                break
            if sizes[name] == 0:
                continue
            n = min(sizes[name], budget - done)
            sizes[name] -= n
            done += n
    return {name: size for name, size in sizes.items()
            if size != next(replicas_of(rs) for rs in ordered if rs["metadata"]["name"] == name)}


def rollout_rolling(d: Obj, new_rs: Obj | None, old_rss: list[Obj], view: ClusterView, *,
                    now: float) -> list[Action]:
    if new_rs is None:
        return create_new_rs(d, old_rss, view, now=now)
    all_rss = [*old_rss, new_rs]
    actions: list[Action] = []
    if replicas_of(new_rs) > replicas_of(d):
        actions += scale_rs(new_rs, replicas_of(d), d)
    elif replicas_of(new_rs) < replicas_of(d):
        actions += scale_rs(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)
    if not actions:  # not scaled up: scale down, if we can
        sizes = reconcile_old_rss(d, all_rss, [rs for rs in old_rss if replicas_of(rs) > 0], new_rs)
        for rs in old_rss:
            if rs["metadata"]["name"] in sizes:
                actions += scale_rs(rs, sizes[rs["metadata"]["name"]], d)
        if not actions:
            actions += cleanup(d, old_rss)
    return actions + _rollout_status(d, all_rss, new_rs, now=now)


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], view: ClusterView) -> bool:
    if du.status_count(old_rss, "replicas") > 0:
        return True
    for rs in old_rss:
        for pod in view.controlled_by("Pod", rs["metadata"]["uid"]):
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


def rollout_recreate(d: Obj, new_rs: Obj | None, old_rss: list[Obj], view: ClusterView, *,
                     now: float) -> list[Action]:
    all_rss = [rs for rs in [*old_rss, new_rs] if rs is not None]
    down = [a for rs in old_rss if replicas_of(rs) > 0 for a in scale_rs(rs, 0, d)]
    if down:
        return down + _rollout_status(d, all_rss, new_rs, now=now)
    if old_pods_running(new_rs, old_rss, view):
        return _rollout_status(d, all_rss, new_rs, now=now)
    if new_rs is None:
        return create_new_rs(d, old_rss, view, now=now)
    actions = scale_rs(new_rs, replicas_of(d), d)
    if not actions:
        actions = cleanup(d, old_rss)
    return actions + _rollout_status(d, all_rss, new_rs, now=now)


def cleanup(d: Obj, old_rss: list[Obj]) -> list[Action]:
    """Delete old ReplicaSets scaled to 0 beyond `revisionHistoryLimit`, oldest revision first."""
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None:
        return []
    cleanable = [rs for rs in old_rss if not is_deleting(rs)]
    diff = len(cleanable) - int(limit)
    if diff <= 0:
        return []
    cleanable.sort(key=lambda rs: (du.revision(rs), parse_time(rs["metadata"].get("creationTimestamp")) or 0.0))
    actions: list[Action] = []
    for rs in cleanable[:diff]:
        status = rs.get("status") or {}
        if replicas_of(rs) != 0 or int(status.get("replicas") or 0) != 0:
            continue
        if int(rs["metadata"].get("generation") or 0) > int(status.get("observedGeneration") or 0):
            continue
        actions.append(delete_of(rs))
    return actions


# ---- status


def _status(d: Obj, status: dict[str, Any]) -> list[Action]:
    if status == (d.get("status") or {}):
        return []
    new = copy.deepcopy(d)
    new["status"] = status
    return [Update(new, status=True)]


def _rollout_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, *, now: float) -> list[Action]:
    status, requeue = du.rollout_status(d, all_rss, new_rs, now=now)
    actions = _status(d, status)
    if requeue is not None:
        actions.append(RequeueAfter(requeue))
    return actions
