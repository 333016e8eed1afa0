"""Node lifecycle: node health and the node condition taints (Kubernetes'
`nodelifecycle/node_lifecycle_controller.go`: `tryUpdateNodeHealth`, `doNoScheduleTaintingPass`,
`doNoExecuteTaintingPass`, `MarkPodsNotReady`; read for behaviour, our code).

Design:
- `HealthTracker` (a state cache, no I/O) remembers per node the last Lease `renewTime` and
  Ready `lastHeartbeatTime` it saw, and the *probe time*: when, on the controller's own
  monotonic clock, either of them last changed. A node seen for the first time (or after a
  controller restart) gets a fresh probe time: a full grace period before it can be judged,
  as Kubernetes does. Judging by our clock, not by the timestamps, makes a skewed kubelet
  clock harmless.
- `sync_node_health(node, pods, probe_time=..., now=..., wall=..., grace=...)` is pure: past
  the grace period every node condition (Ready, MemoryPressure, DiskPressure, PIDPressure)
  becomes `Unknown`, reason `NodeStatusUnknown`, "Kubelet stopped posting node status."
  (`NodeStatusNeverUpdated` / "Kubelet never posted node status." for a missing one), with an
  event NodeNotReady on the node, and the pods on it lose Ready (`MarkPodsNotReady`, event
  NodeNotReady "Node is not ready").
- Taints follow the conditions, level-triggered: Ready False → `node.kubernetes.io/not-ready`,
  Ready Unknown → `node.kubernetes.io/unreachable`, each NoSchedule and NoExecute (the latter
  with `timeAdded`); memory/disk/PID pressure and network-unavailable → NoSchedule;
  `spec.unschedulable` → `node.kubernetes.io/unschedulable` NoSchedule. When the kubelet posts
  Ready True again, they go. Other taints (the user's, out-of-service) are never touched.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from kstore.controllers.workloads.meta import condition, format_time
from kstore.controllers.workloads.model import (
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    Action,
    Event,
    Obj,
    Update,
)
from kstore.controllers.workloads.podutil import is_ready, phase

NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# Taint keys this controller owns: set and removed only here.
NO_SCHEDULE_BY_CONDITION = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): TAINT_MEMORY_PRESSURE,
    ("DiskPressure", "True"): TAINT_DISK_PRESSURE,
    ("PIDPressure", "True"): TAINT_PID_PRESSURE,
    ("NetworkUnavailable", "True"): TAINT_NETWORK_UNAVAILABLE,
}
NO_EXECUTE_BY_READY = {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE}
MANAGED_NO_SCHEDULE = frozenset([*NO_SCHEDULE_BY_CONDITION.values(), TAINT_UNSCHEDULABLE])
MANAGED_NO_EXECUTE = frozenset(NO_EXECUTE_BY_READY.values())


@dataclasses.dataclass
class _Health:
    probe_time: float
    heartbeat: str
    renew: str


class HealthTracker:
    """What the controller last saw of each node's heartbeats, and when it changed."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Health] = {}

    def observe(self, node: Obj, lease: Obj | None, now: float) -> float:
        """Record the node's heartbeat and its Lease's renewTime as seen at monotonic `now`;
        returns the probe time. A node not seen before starts a grace period now."""
        name = node["metadata"]["name"]
        ready = condition(node, "Ready") or {}
        heartbeat = str(ready.get("lastHeartbeatTime") or "")
        renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
        seen = self._nodes.get(name)
        if seen is None:
            self._nodes[name] = _Health(now, heartbeat, renew)
            return now
        if heartbeat != seen.heartbeat or (renew and renew != seen.renew):
            seen.probe_time = now
        seen.heartbeat = heartbeat
        seen.renew = renew or seen.renew
        return seen.probe_time

    def probe_time(self, name: str) -> float | None:
        seen = self._nodes.get(name)
        return seen.probe_time if seen is not None else None

    def forget(self, name: str) -> None:
        """Drop a deleted node. No-op for a node never seen."""
        self._nodes.pop(name, None)


def _unknown_conditions(node: Obj, wall: float) -> list[dict[str, Any]] | None:
    """The node's conditions with every one of NODE_CONDITIONS Unknown, or None when they
    are already."""
    stamp = format_time(wall)
    conds = copy.deepcopy((node.get("status") or {}).get("conditions") or [])
    changed = False
    for ctype in NODE_CONDITIONS:
        current = next((c for c in conds if c.get("type") == ctype), None)
        if current is None:
            created = node["metadata"].get("creationTimestamp") or stamp
            conds.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.", "lastHeartbeatTime": created,
                          "lastTransitionTime": stamp})
            changed = True
        elif current.get("status") != "Unknown":
            current.update(status="Unknown", reason="NodeStatusUnknown",
                           message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
            changed = True
    return conds if changed else None


def wanted_taints(node: Obj, conditions: list[dict[str, Any]], wall: float) -> list[dict[str, Any]]:
    """The node's taints with the controller-managed ones made to match `conditions`."""
    status_of = {c.get("type"): c.get("status") for c in conditions}
    no_schedule = {key for (ctype, st), key in NO_SCHEDULE_BY_CONDITION.items() if status_of.get(ctype) == st}
    if (node.get("spec") or {}).get("unschedulable"):
        no_schedule.add(TAINT_UNSCHEDULABLE)
    no_execute = {NO_EXECUTE_BY_READY[status_of["Ready"]]} if status_of.get("Ready") in NO_EXECUTE_BY_READY else set()
    current = list((node.get("spec") or {}).get("taints") or [])
    kept = [t for t in current
            if not (t.get("effect") == "NoSchedule" and t.get("key") in MANAGED_NO_SCHEDULE and t["key"] not in no_schedule)
            and not (t.get("effect") == "NoExecute" and t.get("key") in MANAGED_NO_EXECUTE and t["key"] not in no_execute)]
    have = {(t.get("key"), t.get("effect")) for t in kept}
    for key in sorted(no_schedule):
        if (key, "NoSchedule") not in have:
            kept.append({"key": key, "effect": "NoSchedule"})
    for key in sorted(no_execute):
        if (key, "NoExecute") not in have:
            kept.append({"key": key, "effect": "NoExecute", "timeAdded": format_time(wall)})
    return kept


def sync_node_health(node: Obj, pods: list[Obj], *, probe_time: float, now: float, wall: float,
                     grace: float) -> list[Action]:
    """Decide one node's conditions, taints and pod readiness. `now` is the monotonic clock
    (compared with `probe_time`), `wall` stamps what is written. No I/O."""
    actions: list[Action] = []
    name = node["metadata"]["name"]
    conditions = list((node.get("status") or {}).get("conditions") or [])
    if now - probe_time > grace:
        unknown = _unknown_conditions(node, wall)
        if unknown is not None:
            new = copy.deepcopy(node)
            new.setdefault("status", {})["conditions"] = unknown
            actions.append(Update(new, status=True,
                                  on_success=Event(node, "Normal", "NodeNotReady",
                                                   f"Node {name} status is now: NodeNotReady")))
            conditions = unknown
    taints = wanted_taints(node, conditions, wall)
    if taints != list((node.get("spec") or {}).get("taints") or []):
        new = copy.deepcopy(node)
        if taints:
            new.setdefault("spec", {})["taints"] = taints
        else:
            new.setdefault("spec", {}).pop("taints", None)
        actions.append(Update(new))
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)
    if ready != "True":
        for pod in pods:
            if phase(pod) in ("Succeeded", "Failed") or not is_ready(pod):
                continue
            new_pod = copy.deepcopy(pod)
            for c in new_pod["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=format_time(wall))
            actions.append(Update(new_pod, status=True,
                                  on_success=Event(pod, "Warning", "NodeNotReady", "Node is not ready")))
    return actions
