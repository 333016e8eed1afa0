"""Pod status as the kubelet writes it (Kubernetes' `kubelet_pods.go` generateAPIPodStatus and
`pkg/kubelet/status`, read for behaviour). Pure: no I/O, times passed in.

- Pending while the volumes are being set up: app containers `waiting` with reason
  `ContainerCreating` (`PodInitializing` when the pod has init containers, which wait
  `PodInitializing` themselves), or `CreateContainerConfigError` with its message when a
  container cannot be created as specified (a bad subPath); conditions
  PodReadyToStartContainers / Initialized / ContainersReady / Ready say why.
- Running once every volume is mounted and the CRI step is done: every condition True, each
  container `running` since `startedAt`, ready and started, init containers `terminated`
  Completed; `podIP` (a fake, stable per pod), `hostIP`, `startTime`.
- Conditions the kubelet does not own (PodScheduled, set by the scheduler) are kept, and a
  condition's `lastTransitionTime` only moves when its status changes. `fingerprint()` is what
  the kubelet compares to decide whether to write at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from collections.abc import Mapping
from typing import Any

from kstore.kubelet.containers import container_id

Obj = Mapping[str, Any]

OWNED_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CONFIG_ERROR = "CreateContainerConfigError"


@dataclasses.dataclass(frozen=True)
class PodState:
    """What the kubelet knows of a pod's containers."""

    running: bool
    started_at: str | None = None  # rfc3339, when the containers started
    waiting_reason: str = CONTAINER_CREATING
    waiting_message: str | None = None


def pod_ip(node_index: int, uid: str) -> str:
    """A fake pod IP, stable for a pod: `10.244.<node>.<2..254>`."""
    return f"10.244.{node_index % 256}.{zlib.crc32(uid.encode()) % 253 + 2}"


def qos_class(pod: Obj) -> str:
    """Kubernetes' QoS class from the containers' cpu and memory requests and limits."""
    containers = [*((pod.get("spec") or {}).get("initContainers") or []),
                  *((pod.get("spec") or {}).get("containers") or [])]
    any_set = False
    guaranteed = True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for r in ("cpu", "memory"):
            if r in requests or r in limits:
                any_set = True
            limit = limits.get(r)
            if limit is None or str(requests.get(r, limit)) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _image_id(image: str) -> str:
    """`nginx:1.25` → `docker.io/library/nginx@sha256:<fake digest>`, as a runtime reports it."""
    repo = image.split("@")[0]
    slash = repo.rfind("/")
    if ":" in repo[slash + 1:]:
        repo = repo[:repo.rfind(":")]
    if "/" not in repo:
        repo = f"docker.io/library/{repo}"
    elif "." not in repo.split("/")[0] and ":" not in repo.split("/")[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _condition(old: Mapping[str, Mapping[str, Any]], ctype: str, status: str, now: str, reason: str | None = None,
               message: str | None = None) -> dict[str, Any]:
    previous = old.get(ctype)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastTransitionTime": since or now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def build_status(pod: Obj, state: PodState, *, now: str, host_ip: str, pod_ip: str) -> dict[str, Any]:
    """The pod's new status: its current one with what the kubelet owns replaced."""
    spec = pod.get("spec") or {}
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    # a shallow copy: every field the kubelet owns is replaced by a new value below, and what
    # is kept (foreign conditions, nominatedNodeName, ...) is never changed in place
    status: dict[str, Any] = dict(pod.get("status") or {})
    old_conditions = {str(c.get("type")): c for c in status.get("conditions") or []}
    containers = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    names = [str(c.get("name")) for c in containers]

    status["phase"] = "Running" if state.running else "Pending"
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    status["startTime"] = status.get("startTime") or now
    status["qosClass"] = status.get("qosClass") or qos_class(pod)
    if state.running:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    else:
        status.pop("podIP", None)
        status.pop("podIPs", None)

    unready = f"containers with unready status: [{' '.join(names)}]"
    if state.running:
        owned = [
            _condition(old_conditions, "PodReadyToStartContainers", "True", now),
            _condition(old_conditions, "Initialized", "True", now),
            _condition(old_conditions, "Ready", "True", now),
            _condition(old_conditions, "ContainersReady", "True", now),
        ]
    else:
        initialized = _condition(old_conditions, "Initialized", "True", now) if not inits else _condition(
            old_conditions, "Initialized", "False", now, "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(str(c.get('name')) for c in inits)}]")
        owned = [
            _condition(old_conditions, "PodReadyToStartContainers", "False", now),
            initialized,
            _condition(old_conditions, "Ready", "False", now, "ContainersNotReady", unready),
            _condition(old_conditions, "ContainersReady", "False", now, "ContainersNotReady", unready),
        ]
    foreign = [c for t, c in old_conditions.items() if t not in OWNED_CONDITIONS]
    status["conditions"] = owned + foreign

    def container_status(c: Obj, st: dict[str, Any], *, ready: bool, started: bool, running: bool) -> dict[str, Any]:
        image = str(c.get("image") or "")
        out: dict[str, Any] = {"name": c.get("name"), "state": st, "lastState": {}, "ready": ready,
                               "restartCount": 0, "image": image, "imageID": _image_id(image) if running else "",
                               "started": started}
        if running:
            out["containerID"] = container_id(uid, str(c.get("name")))
        return out

    if state.running:
        started_at = state.started_at or now
        status["containerStatuses"] = [
            container_status(c, {"running": {"startedAt": started_at}}, ready=True, started=True, running=True)
            for c in containers]
        if inits:
            status["initContainerStatuses"] = [
                container_status(c, {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started_at,
                                                    "finishedAt": started_at,
                                                    "containerID": container_id(uid, str(c.get("name")))}},
                                 ready=True, started=False, running=True)
                for c in inits]
    else:
        reason = state.waiting_reason
        if reason == CONTAINER_CREATING and inits:
            reason = POD_INITIALIZING
        waiting: dict[str, Any] = {"reason": reason}
        if state.waiting_message:
            waiting["message"] = state.waiting_message
        status["containerStatuses"] = [
            container_status(c, {"waiting": dict(waiting)}, ready=False, started=False, running=False)
            for c in containers]
        if inits:
            status["initContainerStatuses"] = [
                container_status(c, {"waiting": {"reason": POD_INITIALIZING}}, ready=False, started=False,
                                 running=False)
                for c in inits]
    return status


def fingerprint(status: Obj | None) -> tuple[Any, ...]:
    """What decides whether a status write is needed: phase, pod IP, container states (without
    timestamps)."""
    status = status or {}

    def states(key: str) -> tuple[tuple[str, str, str, str], ...]:
        out = []
        for cs in status.get(key) or []:
            state = cs.get("state") or {}
            kind = next(iter(state), "")
            detail = state.get(kind) or {}
            out.append((str(cs.get("name")), kind, str(detail.get("reason") or ""), str(detail.get("message") or "")))
        return tuple(out)

    return (status.get("phase"), status.get("podIP"), status.get("hostIP"), states("containerStatuses"),
            states("initContainerStatuses"))
