"""Test kit for the attach/detach controller (Kubernetes' `attachdetach/testing/`, our code).

- Builders: `node`, `pv`, `claim`, `pod` make objects in Kubernetes shape; `volume` makes an
  AttachableVolume directly, for cache and reconciler tables that need no plugin.
- `FakeAttacherDetacher` stands in for the operation executor: it records what the reconciler
  starts, answers "pending" / "backoff" as told, and `complete()` applies the outcome a
  successful operation would record in the actual state (run-until-settled tests).
- `FakeNodes` (the reconciler's NodeView), `FakeRecorder` (events).
- `FakeStore`: an in-memory store with the bus client's async verbs used by the operations and
  the status updater (`create`, `get`, `patch` merge incl. the status subresource, `delete`):
  checks existence, bumps a store-wide resourceVersion on every write, refuses a create of an
  existing name (409), and can fail the next call of a verb on a kind once (`fail_next`).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.patch import merge_patch
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachedVolume, VolumeToAttach
from kstore.controllers.attachdetach.operationexecutor import DETACH, StartResult
from kstore.controllers.attachdetach.volumes import (
    ANN_CONTROLLER_MANAGED,
    TAINT_OUT_OF_SERVICE,
    AttachableVolume,
    NodeName,
    VolumeName,
)
from kstore.volume.plugins import Spec

NS = "default"
RWO, ROX, RWX, RWOP = "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"
BLOCK_DRIVER = "kstore.io.block"
CSI = "kubernetes.io/csi"
_uids = itertools.count(1)


def uid(prefix: str = "uid") -> str:
    return f"{prefix}-{next(_uids):04d}"


# ---- builders


def node(name: str, *, ready: bool = True, managed: bool = True, in_use: Sequence[str] = (),
         taints: Sequence[str] = (), attached: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"node-uid-{name}", "resourceVersion": "1",
                     "annotations": {ANN_CONTROLLER_MANAGED: "true"} if managed else {}},
        "spec": {"taints": [{"key": t, "effect": "NoExecute"} for t in taints]} if taints else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
    }
    if in_use:
        obj["status"]["volumesInUse"] = list(in_use)
    if attached:
        obj["status"]["volumesAttached"] = [{"name": n, "devicePath": d} for n, d in attached]
    return obj


def out_of_service(obj: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    new.setdefault("spec", {}).setdefault("taints", []).append({"key": TAINT_OUT_OF_SERVICE, "effect": "NoExecute"})
    return new


def pv(name: str, *, modes: Sequence[str] = (RWO,), backend: str = "block", driver: str = BLOCK_DRIVER,
       claim: tuple[str, str] | None = None, volume_mode: str = "Filesystem",
       source: dict[str, Any] | None = None) -> dict[str, Any]:
    """A PV on the pool (`csi` source naming `<backend>/<name>`), or with the given source."""
    spec: dict[str, Any] = {"capacity": {"storage": "1Gi"}, "accessModes": list(modes), "volumeMode": volume_mode,
                            "persistentVolumeReclaimPolicy": "Delete"}
    if source is not None:
        spec.update(source)
    else:
        spec["csi"] = {"driver": driver, "volumeHandle": f"{backend}/{name}"}
    if claim is not None:
        spec["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "uid": uid("pv")},
            "spec": spec, "status": {"phase": "Bound" if claim else "Available"}}


def claim(name: str, *, volume: str | None, ns: str = NS, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": uid("pvc")}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                           "spec": {"accessModes": [RWO], "resources": {"requests": {"storage": "1Gi"}}},
                           "status": {"phase": "Pending"}}
    if volume is not None:
        obj["spec"]["volumeName"] = volume
        obj["status"]["phase"] = "Bound"
    return obj


def bound(claim_obj: dict[str, Any], pv_obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The claim bound to the PV both ways (claimRef with the claim's uid)."""
    c, v = copy.deepcopy(claim_obj), copy.deepcopy(pv_obj)
    c["spec"]["volumeName"] = v["metadata"]["name"]
    c["status"]["phase"] = "Bound"
    v["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": c["metadata"]["namespace"],
                             "name": c["metadata"]["name"], "uid": c["metadata"]["uid"]}
    v["status"]["phase"] = "Bound"
    return c, v


def pod(name: str, node_name: str = "", *, claims: Sequence[str] = (), volumes: Sequence[dict[str, Any]] = (),
        ns: str = NS, pod_uid: str | None = None, phase: str = "Pending", deleting: bool = False,
        running: bool = False) -> dict[str, Any]:
    vols = [{"name": f"vol-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims] + list(volumes)
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": pod_uid or uid("pod")},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "volumes": vols},
        "status": {"phase": phase},
    }
    if node_name:
        obj["spec"]["nodeName"] = node_name
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if running:
        obj["status"]["containerStatuses"] = [{"name": "c", "state": {"running": {}}}]
    return obj


def volume(pv_name: str, *, modes: Sequence[str] = (RWO,), inline: bool = False) -> AttachableVolume:
    """An AttachableVolume for a pool PV (`kubernetes.io/csi/kstore.io.block^block/<pv>`)."""
    pv_obj = pv(pv_name, modes=modes)
    spec = Spec.from_pv(pv_obj)
    multi = any(m in (RWX, ROX) for m in modes) or not modes
    plugin_volume = f"{BLOCK_DRIVER}^block/{pv_name}"
    return AttachableVolume(
        name=VolumeName(f"{CSI}/{plugin_volume}"), plugin_name=CSI, spec=spec, attacher=BLOCK_DRIVER,
        volume_handle=f"block/{pv_name}", pv_name=None if inline else pv_name, multi_attach_allowed=multi,
        metric_label=f"kubernetes.io/csi:{BLOCK_DRIVER}",
    )


# ---- fakes


@dataclasses.dataclass(frozen=True)
class Call:
    operation: str  # "attach" | "detach"
    volume: str
    node: str
    verify_safe: bool | None = None


class FakeAttacherDetacher:
    """Records operations; `pending` (volume, node) pairs and `backoff` (volume, node, op) are set by
    the test. Keys follow the real executor: node "" covers the volume on every node."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.pending: set[tuple[str, str]] = set()
        self.backoff: set[tuple[str, str, str]] = set()
        self._started_attach: list[VolumeToAttach] = []
        self._started_detach: list[AttachedVolume] = []

    def _key(self, volume: AttachableVolume, node: NodeName) -> tuple[str, str]:
        return (volume.name, node if volume.multi_attach_allowed else "")

    def is_operation_pending(self, volume: AttachableVolume, node: NodeName) -> bool:
        vol, n = self._key(volume, node)
        return any(v == vol and (not n or not pn or pn == n) for v, pn in self.pending)

    def is_safe_to_retry(self, volume: AttachableVolume, node: NodeName, operation: str) -> bool:
        return not self.is_operation_pending(volume, node) and (volume.name, node, operation) not in self.backoff

    def attach_volume(self, v: VolumeToAttach) -> StartResult:
        if self.is_operation_pending(v.volume, v.node):
            return StartResult.PENDING
        self.calls.append(Call("attach", v.name, v.node))
        self.pending.add(self._key(v.volume, v.node))
        self._started_attach.append(v)
        return StartResult.STARTED

    def detach_volume(self, av: AttachedVolume, *, verify_safe: bool) -> StartResult:
        if self.is_operation_pending(av.volume, av.node):
            return StartResult.PENDING
        if (av.name, av.node, DETACH) in self.backoff:
            return StartResult.BACKOFF
        self.calls.append(Call("detach", av.name, av.node, verify_safe))
        self.pending.add(self._key(av.volume, av.node))
        self._started_detach.append(av)
        return StartResult.STARTED

    def complete(self, asw: ActualStateOfWorld) -> None:
        """Every started operation succeeds: recorded in the actual state, no longer pending."""
        for v in self._started_attach:
            asw.mark_attached(v.volume, v.node, device_path=f"/dev/loop-sim-{len(asw.get_attached_volumes())}",
                              attachment=v.volume.attachment_name(v.node))
        for av in self._started_detach:
            asw.delete_volume_node(av.name, av.node)
        self._started_attach.clear()
        self._started_detach.clear()
        self.pending.clear()


class FakeNodes:
    def __init__(self, *, not_ready: Iterable[str] = (), out_of_service: Iterable[str] = ()) -> None:
        self.not_ready = set(not_ready)
        self.out_of_service = set(out_of_service)

    def is_healthy(self, node: NodeName) -> bool:
        return node not in self.not_ready

    def has_out_of_service_taint(self, node: NodeName) -> bool:
        return node in self.out_of_service


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []  # (object name, type, reason, message)

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], type, reason, message))


class FakeStore:
    """See the module docstring. Objects are keyed by (kind, namespace, name)."""

    def __init__(self, objects: Iterable[dict[str, Any]] = ()) -> None:
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._revision = itertools.count(100)
        self._fail: dict[tuple[str, str], ApiError] = {}
        self.writes: list[tuple[str, str, str]] = []  # (verb, kind, name)
        for obj in objects:
            self.put(obj)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {})["resourceVersion"] = str(next(self._revision))
        self._objects[self._key(stored)] = stored
        return copy.deepcopy(stored)

    def obj(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        found = self._objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (k, _, _), o in sorted(self._objects.items()) if k == kind]

    def fail_next(self, verb: str, kind: str, code: int = 500, message: str = "injected error") -> None:
        self._fail[(verb, kind)] = ApiError(code, "InternalError", message)

    @staticmethod
    def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return (obj["kind"], meta.get("namespace") or "", meta["name"])

    def _check(self, verb: str, kind: str) -> None:
        error = self._fail.pop((verb, kind), None)
        if error is not None:
            raise error

    def _not_found(self, kind: str, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{kind.lower()}s "{name}" not found')

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check("create", obj["kind"])
        if self._key(obj) in self._objects:
            raise ApiError(409, "AlreadyExists", f'{obj["kind"].lower()}s "{obj["metadata"]["name"]}" already exists')
        self.writes.append(("create", obj["kind"], obj["metadata"]["name"]))
        return self.put(obj)

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        self._check("get", kind)
        found = self.obj(kind, name, namespace or "")
        if found is None:
            raise self._not_found(kind, name)
        return found

    async def patch(self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
                    subresource: str | None = None) -> dict[str, Any]:
        self._check("patch", kind)
        current = self._objects.get((kind, namespace or "", name))
        if current is None:
            raise self._not_found(kind, name)
        new = merge_patch(copy.deepcopy(current), patch)
        if subresource == "status":  # only the status changes
            new = dict(current, status=new.get("status") or {})
        self.writes.append(("patch" + (f"/{subresource}" if subresource else ""), kind, name))
        return self.put(new)

    async def delete(self, kind: str, namespace: str | None, name: str, *, uid: str | None = None) -> dict[str, Any]:
        self._check("delete", kind)
        found = self._objects.pop((kind, namespace or "", name), None)
        if found is None:
            raise self._not_found(kind, name)
        self.writes.append(("delete", kind, name))
        return found
