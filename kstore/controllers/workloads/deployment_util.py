"""Deployment arithmetic and status (Kubernetes' `deployment/util/deployment_util.go` and
`progress.go`; read for behaviour, our code).

- `resolve_fenceposts`: maxSurge rounds *up* and maxUnavailable rounds *down* from a
  percentage of the desired replicas; both zero makes maxUnavailable 1, so a rollout can
  always move.
- `new_rs_new_replicas`: RollingUpdate grows the new ReplicaSet until the total reaches
  replicas + maxSurge; Recreate sizes it to replicas at once.
- Status: replicas / updated / ready / available are sums over the ReplicaSets;
  condition Available is True when available ≥ replicas − maxUnavailable; Progressing
  follows `syncRolloutStatus`: NewReplicaSetCreated / FoundNewReplicaSet / ReplicaSetUpdated
  while it moves, NewReplicaSetAvailable when complete, ProgressDeadlineExceeded (False) when
  nothing moved for `progressDeadlineSeconds`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

from kstore.controllers.workloads.meta import format_time, parse_time
from kstore.controllers.workloads.model import (
    ANN_DESIRED_REPLICAS,
    ANN_MAX_REPLICAS,
    ANN_REVISION,
    POD_TEMPLATE_HASH,
    Obj,
)
from kstore.controllers.workloads.replicaset import replicas_of

# Progressing condition reasons (deployment_util.go).
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

# Deployment annotations not copied onto its ReplicaSets (skipCopyAnnotation).
SKIP_COPY_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", ANN_REVISION, "deployment.kubernetes.io/revision-history",
    ANN_DESIRED_REPLICAS, ANN_MAX_REPLICAS, "deprecated.deployment.rollback.to",
})


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString count or percentage of `total` (`GetScaledValueFromIntOrPercent`)."""
    if value is None:
        return 0
    if isinstance(value, str):
        if value.endswith("%"):
            pct = int(value[:-1] or 0)
            exact = pct * total / 100
            return math.ceil(exact) if round_up else math.floor(exact)
        return int(value)
    return int(value)


def is_rolling_update(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts for the Deployment's replicas."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas_of(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas_of(d))


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def status_count(rss: Iterable[Obj | None], field: str) -> int:
    return sum(int((rs.get("status") or {}).get(field) or 0) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> int:
    """How big the new ReplicaSet may be now."""
    current_new = replicas_of(new_rs) if new_rs is not None else 0
    if not is_rolling_update(d):
        return replicas_of(d)
    current = total_replicas(all_rss)
    allowed = replicas_of(d) + max_surge(d)
    if current >= allowed:
        return current_new  # cannot scale up
    scale_up = min(allowed - current, replicas_of(d) - current_new)
    return current_new + max(0, scale_up)


def annotation_int(rs: Obj, key: str) -> int | None:
    try:
        return int((rs["metadata"].get("annotations") or {})[key])
    except (KeyError, ValueError, TypeError):
        return None


def revision(rs: Obj) -> int:
    return annotation_int(rs, ANN_REVISION) or 0


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    return (replicas_of(rs) == replicas_of(d) and annotation_int(rs, ANN_DESIRED_REPLICAS) == replicas_of(d)
            and int((rs.get("status") or {}).get("availableReplicas") or 0) == replicas_of(d))


def template_without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    (t.get("metadata") or {}).get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return template_without_hash(a) == template_without_hash(b)


def creation_order(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first (ReplicaSetsByCreationTimestamp), name as the tie-break."""
    return sorted(rss, key=lambda rs: (parse_time(rs["metadata"].get("creationTimestamp")) or 0.0,
                                       rs["metadata"]["name"]))


# ---- status


def _condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    stamp = format_time(now)
    return {"type": ctype, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def get_condition(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """`SetDeploymentCondition`: same status and reason → unchanged; same status → keep the
    transition time."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime", cond["lastTransitionTime"])}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict[str, Any], ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if not status["conditions"]:
        del status["conditions"]


def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, *, now: float) -> dict[str, Any]:
    """The counts and the Available condition (`calculateStatus`)."""
    old = d.get("status") or {}
    available = status_count(all_rss, "availableReplicas")
    replicas = status_count(all_rss, "replicas")
    status: dict[str, Any] = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": replicas,
        "updatedReplicas": status_count([new_rs], "replicas"),
        "readyReplicas": status_count(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, replicas_of(d) - available),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, _condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.",
                                         now))
    else:
        set_condition(status, _condition("Available", "False", MIN_UNAVAILABLE,
                                         "Deployment does not have minimum availability.", now))
    # Kubernetes' counts are `omitempty`: zero is absent.
    return {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}


def deployment_complete(d: Obj, status: dict[str, Any]) -> bool:
    n = replicas_of(d)
    return (int(status.get("updatedReplicas") or 0) == n and int(status.get("replicas") or 0) == n
            and int(status.get("availableReplicas") or 0) == n
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: Obj, new: dict[str, Any]) -> bool:
    old = d.get("status") or {}

    def g(s: dict[str, Any], f: str) -> int:
        return int(s.get(f) or 0)

    return (g(new, "updatedReplicas") > g(old, "updatedReplicas") or g(new, "replicas") < g(old, "replicas")
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas"))


def progress_deadline(d: Obj) -> int | None:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return None if value is None else int(value)


def rollout_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, *, now: float,
                   new_rs_created: bool = False) -> tuple[dict[str, Any], float | None]:
    """The whole status with the Progressing condition (`syncRolloutStatus`), and when to
    look again for a deadline check (seconds; None: no need)."""
    status = calculate_status(d, all_rss, new_rs, now=now)
    deadline = progress_deadline(d)
    name = new_rs["metadata"]["name"] if new_rs is not None else None
    if deadline is None:
        if get_condition(status, "Progressing") is not None:
            remove_condition(status, "Progressing")
        return status, None
    current = get_condition(d.get("status") or {}, "Progressing")
    if new_rs_created and name:
        set_condition(status, _condition("Progressing", "True", NEW_RS_CREATED,
                                         f'Created new replica set "{name}"', now))
        return status, None
    if current is None and name:
        set_condition(status, _condition("Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{name}"', now))
        current = get_condition(status, "Progressing")
    complete_before = (current is not None and current.get("reason") == NEW_RS_AVAILABLE
                       and status.get("replicas") == status.get("updatedReplicas"))
    requeue = None
    if not complete_before:
        what = f'ReplicaSet "{name}"' if name else f'Deployment "{d["metadata"]["name"]}"'
        if deployment_complete(d, status):
            set_condition(status, _condition("Progressing", "True", NEW_RS_AVAILABLE,
                                             f"{what} has successfully progressed.", now))
        elif deployment_progressing(d, status):
            cond = _condition("Progressing", "True", RS_UPDATED, f"{what} is progressing.", now)
            if current is not None and current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
            status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Progressing"]
            status["conditions"].append(cond)
        elif current is not None and current.get("reason") != TIMED_OUT:
            since = parse_time(current.get("lastUpdateTime")) or now
            if since + deadline < now:
                set_condition(status, _condition("Progressing", "False", TIMED_OUT,
                                                 f"{what} has timed out progressing.", now))
            else:
                requeue = since + deadline - now + 1.0
    return status, requeue
