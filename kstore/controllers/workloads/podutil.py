"""Pod predicates and pod construction shared by the workload controllers (Kubernetes'
`podutil` and `controller_utils.go`).

- *active*: not Succeeded, not Failed, not being deleted — what a ReplicaSet counts.
- *ready*: condition Ready is True; *available*: ready for at least `minReadySeconds`.
- *running and ready*: what a StatefulSet waits for before the next ordinal.
- `deletion_order` ranks the pods a ReplicaSet scales down, first to go first, in
  `ActivePodsWithRanks`' order: unscheduled, then pending, then not ready, then lower
  `controller.kubernetes.io/pod-deletion-cost`, then doubled-up on a node, then ready for
  the shortest time, then most restarts, then newest.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from typing import Any

from kstore.controllers.workloads.meta import condition, parse_time
from kstore.controllers.workloads.model import Obj

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "": 0, "Unknown": 1, "Running": 2}


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    return phase(pod) not in ("Succeeded", "Failed") and not is_terminating(pod)


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def ready_since(pod: Obj) -> float | None:
    """When the pod's Ready condition last became True (epoch seconds), None if not ready."""
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least `min_ready_seconds` at wall time `now`."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def becomes_available_in(pod: Obj, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready but not yet available pod becomes available; None otherwise."""
    if min_ready_seconds <= 0 or not is_ready(pod):
        return None
    since = ready_since(pod)
    if since is None or since + min_ready_seconds <= now:
        return None
    return since + min_ready_seconds - now


def is_running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def pod_from_template(template: Obj, owner: Obj, controller_ref: dict[str, Any]) -> Obj:
    """A new pod for `owner` from its pod template (`controller.GetPodFromTemplate`): the
    template's labels, annotations and finalizers, `generateName: <owner>-`, the owner's
    namespace and a controller reference."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "generateName": f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"].get("namespace") or "default",
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [controller_ref],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def _deletion_cost(pod: Obj) -> int:
    try:
        return int(((pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST)) or 0)
    except ValueError:
        return 0


def _restarts(pod: Obj) -> int:
    return max((int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def deletion_order(pods: Iterable[Obj], related: Iterable[Obj] = ()) -> list[Obj]:
    """`pods` sorted so that the first ones are the best to delete. `related` are the active
    pods of the same workload (its other ReplicaSets too): a pod sharing its node with more
    of them goes first, spreading what remains."""
    pods = list(pods)
    per_node = Counter(node_name(p) for p in [*pods, *related] if node_name(p))

    def key(pod: Obj) -> tuple[Any, ...]:
        node = node_name(pod)
        since = ready_since(pod)
        created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
        return (
            bool(node),                                  # unscheduled first
            _PHASE_RANK.get(phase(pod), 2),              # pending, unknown, then running
            is_ready(pod),                               # not ready first
            _deletion_cost(pod),                         # lower cost first
            -(per_node[node] if node else 0),            # doubled-up first
            -(since or 0.0),                             # ready for the shortest time first
            -_restarts(pod),                             # most restarts first
            -created,                                    # newest first
            pod["metadata"].get("name", ""),
        )

    return sorted(pods, key=key)
