"""The scheduler's view of the cluster, maintained incrementally from informer events.

Design (Kubernetes' scheduler cache + snapshot, `internal/cache/`, our code):
- One `Snapshot` per scheduler, fed by the informer handlers (`set_*` / `remove_*`) and read by
  the pure scheduling algorithm. The algorithm runs synchronously, without awaiting, so it
  always sees one consistent state: there is no need to copy a snapshot per cycle.
- Nodes are `NodeInfo`s (nodeinfo.py) in a stable order (`node_list`, for the rotating start
  of each cycle). Pods count on a node once assigned (`spec.nodeName`) or *assumed* (chosen by
  this scheduler, binding in flight); a pod that reached Succeeded/Failed frees its resources.
  An assumed pod stays assumed through informer updates that do not carry its node yet, and
  becomes an ordinary assigned pod when the bound version arrives (same uid: no double count).
- Derived indexes, kept on every pod change: users of each claim (ReadWriteOncePod), pods per
  controller owner per node (default spreading), pods with required anti-affinity (the
  "existing pods' anti-affinity" check), assigned pods per namespace (affinity and spread).
- Volumes: PVs and PVCs live in `AssumeCache`s (assume.py); an index of the unbound Available
  PVs per class and of the PVs whose claimRef names a claim keeps static matching from
  scanning every PV. A PV or claim change ages the attached-volume cache of the nodes whose pods
  use it (`NodeInfo.volumes_version`); a StorageClass change ages them all (`volume_epoch`).
- Attach limits: per (node, driver) from the node's CSINode `allocatable.count`, else the
  driver mapping's `attach_limit` (configs/drivers.yaml), else the node config's
  `attach_limit`; None means no limit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kstore.controllers.pv.model import NO_PROVISIONER
from kstore.scheduler.assume import AssumeCache
from kstore.scheduler.nodeinfo import NodeInfo
from kstore.scheduler.podinfo import PodInfo, pod_info
from kstore.volume.drivers import DriverMap
from kstore.volume.handle import BLOCK
from kstore.volume.pv_source import csi_driver_name

Obj = dict[str, Any]
AttachVolume = tuple[str, str, "int | None"]  # (driver as CSINode names it, volume id, mapping's limit)

ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def claim_class(claim: Mapping[str, Any]) -> str:
    ann = (claim.get("metadata") or {}).get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return str(ann[ANN_BETA_STORAGE_CLASS])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def _pv_class(pv: Mapping[str, Any]) -> str:
    return claim_class(pv)  # same precedence for volumes


def _unbound_available(pv: Mapping[str, Any]) -> bool:
    return (not (pv.get("spec") or {}).get("claimRef") and not (pv.get("metadata") or {}).get("deletionTimestamp")
            and (pv.get("status") or {}).get("phase") == "Available")


def _claim_ref(pv: Mapping[str, Any]) -> str | None:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


@functools.lru_cache(maxsize=1)
def _default_drivers() -> DriverMap:
    """configs/drivers.yaml on its own (tests; the process passes the cluster's map)."""
    return DriverMap.from_config({})


class Snapshot:
    def __init__(self, *, drivers: DriverMap | None = None, node_attach_limits: Mapping[str, int] | None = None,
                 ) -> None:
        self.drivers = drivers if drivers is not None else _default_drivers()
        self.node_attach_limits = dict(node_attach_limits or {})
        self.nodes: dict[str, NodeInfo] = {}
        self.node_list: list[NodeInfo] = []
        self.pods: dict[str, PodInfo] = {}  # uid → assigned or assumed pod
        self.pod_node: dict[str, str] = {}  # uid → node name
        self.assumed: set[str] = set()
        self._orphans: dict[str, set[str]] = {}  # node not (yet) known → uids of pods placed there
        self.claim_users: dict[str, set[str]] = {}  # "ns/claim" → uids
        self.owner_nodes: dict[str, dict[str, int]] = {}  # owner → node → pods
        self.anti_affinity_pods: dict[str, PodInfo] = {}
        self.pods_by_namespace: dict[str, set[str]] = {}
        self.pvs = AssumeCache("PersistentVolume", lambda o: str(o["metadata"]["name"]))
        self.pvcs = AssumeCache("PersistentVolumeClaim", object_key)
        self.classes: dict[str, Obj] = {}
        self.csinode_limits: dict[str, dict[str, int]] = {}  # node → driver → allocatable count
        self._available: dict[str, dict[str, Obj]] = {}  # class → name → unbound Available PV
        self._by_claim_ref: dict[str, set[str]] = {}  # "ns/claim" → PV names
        self.volume_epoch = 0
        self.prefer_taint_nodes = 0

    @classmethod
    def from_objects(cls, *, nodes: Iterable[Obj] = (), pods: Iterable[Obj] = (), pvs: Iterable[Obj] = (),
                     pvcs: Iterable[Obj] = (), classes: Iterable[Obj] = (), csinodes: Iterable[Obj] = (),
                     drivers: DriverMap | None = None, node_attach_limits: Mapping[str, int] | None = None,
                     ) -> Snapshot:
        """A snapshot loaded from plain objects (tests, start-up)."""
        snap = cls(drivers=drivers, node_attach_limits=node_attach_limits)
        for obj in nodes:
            snap.set_node(obj)
        for obj in classes:
            snap.set_class(obj)
        for obj in csinodes:
            snap.set_csinode(obj)
        for obj in pvs:
            snap.set_pv(obj)
        for obj in pvcs:
            snap.set_pvc(obj)
        for obj in pods:
            snap.set_pod(obj)
        return snap

    # ---- nodes

    def set_node(self, obj: Obj) -> bool:
        """Add or update a Node; True when the change can make pods fit (new node, or a change
        of labels, taints, schedulability, readiness or allocatable)."""
        name = str(obj["metadata"]["name"])
        info = self.nodes.get(name)
        if info is None:
            info = NodeInfo(obj)
            self.nodes[name] = info
            self.node_list.append(info)
            for uid in self._orphans.pop(name, ()):
                info.add_pod(self.pods[uid])
            self.prefer_taint_nodes += bool(info.prefer_taints)
            return True
        had_prefer = bool(info.prefer_taints)
        changed = info.set_node(obj)
        self.prefer_taint_nodes += bool(info.prefer_taints) - had_prefer
        return changed

    def remove_node(self, name: str) -> None:
        info = self.nodes.pop(name, None)
        if info is not None:
            self.node_list.remove(info)
            self.prefer_taint_nodes -= bool(info.prefer_taints)
            if info.pods:  # they still count (as in Kubernetes), should the node come back
                self._orphans[name] = set(info.pods)

    # ---- pods

    def set_pod(self, obj: Obj) -> PodInfo:
        """Account for an informer version of a pod; returns its PodInfo."""
        pi = pod_info(obj)
        if pi.terminal:
            self.remove_pod(pi.uid)
        elif pi.node_name:
            self.assumed.discard(pi.uid)
            self._place(pi, pi.node_name)
        elif pi.uid in self.assumed:
            pass  # binding in flight: keep the assumption until the bound version arrives
        elif pi.uid in self.pods:
            self.remove_pod(pi.uid)
        return pi

    def assume_pod(self, pi: PodInfo, node: str) -> None:
        """Count a pod on the node this scheduler chose for it, before the binding is written."""
        self.assumed.add(pi.uid)
        self._place(pi, node)

    def forget_pod(self, uid: str) -> None:
        """Undo `assume_pod` (the binding failed); no-op for a pod that is not assumed."""
        if uid in self.assumed:
            self.remove_pod(uid)

    def remove_pod(self, uid: str) -> PodInfo | None:
        self.assumed.discard(uid)
        pi = self.pods.pop(uid, None)
        if pi is None:
            return None
        node = self.pod_node.pop(uid)
        info = self.nodes.get(node)
        if info is not None:
            info.remove_pod(uid)
        else:
            self._orphan(node, uid, present=False)
        self._index(pi, node, -1)
        return pi

    def _orphan(self, node: str, uid: str, *, present: bool) -> None:
        """Pods placed on a node the snapshot does not know (yet): added when it comes."""
        if present:
            self._orphans.setdefault(node, set()).add(uid)
            return
        orphans = self._orphans.get(node)
        if orphans is not None:
            orphans.discard(uid)
            if not orphans:
                del self._orphans[node]

    def _place(self, pi: PodInfo, node: str) -> None:
        old = self.pods.get(pi.uid)
        if old is not None:
            old_node = self.pod_node[pi.uid]
            self._index(old, old_node, -1)
            if old_node != node:
                if old_node in self.nodes:
                    self.nodes[old_node].remove_pod(pi.uid)
                else:
                    self._orphan(old_node, pi.uid, present=False)
        self.pods[pi.uid] = pi
        self.pod_node[pi.uid] = node
        info = self.nodes.get(node)
        if info is not None:
            info.add_pod(pi)
        else:
            self._orphan(node, pi.uid, present=True)
        self._index(pi, node, 1)

    def _index(self, pi: PodInfo, node: str, sign: int) -> None:
        uid = pi.uid
        for key in pi.claim_keys:
            users = self.claim_users.setdefault(key, set())
            if sign > 0:
                users.add(uid)
            else:
                users.discard(uid)
                if not users:
                    del self.claim_users[key]
        if pi.owner is not None:
            per_node = self.owner_nodes.setdefault(pi.owner, {})
            count = per_node.get(node, 0) + sign
            if count > 0:
                per_node[node] = count
            else:
                per_node.pop(node, None)
                if not per_node:
                    del self.owner_nodes[pi.owner]
        if pi.anti_affinity:
            if sign > 0:
                self.anti_affinity_pods[uid] = pi
            else:
                self.anti_affinity_pods.pop(uid, None)
        in_ns = self.pods_by_namespace.setdefault(pi.namespace, set())
        if sign > 0:
            in_ns.add(uid)
        else:
            in_ns.discard(uid)
            if not in_ns:
                del self.pods_by_namespace[pi.namespace]

    def node_of(self, uid: str) -> NodeInfo | None:
        name = self.pod_node.get(uid)
        return self.nodes.get(name) if name is not None else None

    def assigned_pods(self, namespace: str | None = None) -> Iterator[PodInfo]:
        """Assigned and assumed pods (of one namespace, or all)."""
        if namespace is None:
            yield from self.pods.values()
            return
        for uid in self.pods_by_namespace.get(namespace, ()):
            yield self.pods[uid]

    # ---- volumes

    def set_pv(self, obj: Obj) -> None:
        old = self.pvs.put(obj)
        if old is not None:
            self._unindex_pv(old)
            self._touch_claim(_claim_ref(old))
        self._index_pv(obj)
        self._touch_claim(_claim_ref(obj))

    def remove_pv(self, name: str) -> None:
        old = self.pvs.remove(name)
        if old is not None:
            self._unindex_pv(old)
            self._touch_claim(_claim_ref(old))

    def _touch_claim(self, key: str | None) -> None:
        """A claim (or its PV) changed: age the attached-volume caches of the nodes using it."""
        if key is None:
            return
        for uid in self.claim_users.get(key, ()):
            info = self.node_of(uid)
            if info is not None:
                info.volumes_version += 1

    def _index_pv(self, pv: Obj) -> None:
        name = str(pv["metadata"]["name"])
        if _unbound_available(pv):
            self._available.setdefault(_pv_class(pv), {})[name] = pv
        ref = _claim_ref(pv)
        if ref is not None:
            self._by_claim_ref.setdefault(ref, set()).add(name)

    def _unindex_pv(self, pv: Obj) -> None:
        name = str(pv["metadata"]["name"])
        cls = _pv_class(pv)
        available = self._available.get(cls)
        if available is not None:
            available.pop(name, None)
            if not available:
                del self._available[cls]
        ref = _claim_ref(pv)
        if ref is not None:
            names = self._by_claim_ref.get(ref)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_claim_ref[ref]

    def set_pvc(self, obj: Obj) -> None:
        self.pvcs.put(obj)
        self._touch_claim(object_key(obj))

    def remove_pvc(self, key: str) -> None:
        self.pvcs.remove(key)
        self._touch_claim(key)

    def claim(self, namespace: str, name: str) -> Obj | None:
        return self.pvcs.get(f"{namespace}/{name}")

    def pv(self, name: str) -> Obj | None:
        return self.pvs.get(name)

    def candidate_volumes(self, claim: Obj) -> list[Obj]:
        """The PVs a claim could bind to: those pre-bound to it and the unbound Available ones of
        its class, as currently assumed (a PV assumed for another claim is left out)."""
        key = object_key(claim)
        names = set(self._by_claim_ref.get(key, ()))
        names.update(self._available.get(claim_class(claim), ()))
        out = []
        for name in names:
            pv = self.pvs.get(name)
            if pv is None:
                continue
            ref = _claim_ref(pv)
            if ref is not None and ref != key:
                continue
            out.append(pv)
        return out

    def has_candidate_volumes(self, claim: Obj) -> bool:
        return bool(self._available.get(claim_class(claim))) or object_key(claim) in self._by_claim_ref

    # ---- classes and CSINodes

    def set_class(self, obj: Obj) -> None:
        self.classes[str(obj["metadata"]["name"])] = obj
        self.volume_epoch += 1  # unbound claims resolve their driver through their class

    def remove_class(self, name: str) -> None:
        self.classes.pop(name, None)
        self.volume_epoch += 1

    def storage_class(self, name: str) -> Obj | None:
        return self.classes.get(name)

    def set_csinode(self, obj: Obj) -> None:
        limits = {}
        for d in (obj.get("spec") or {}).get("drivers") or ():
            count = (d.get("allocatable") or {}).get("count")
            if isinstance(count, int) and not isinstance(count, bool):
                limits[str(d.get("name") or "")] = count
        self.csinode_limits[str(obj["metadata"]["name"])] = limits

    def remove_csinode(self, name: str) -> None:
        self.csinode_limits.pop(name, None)

    # ---- attachable volumes

    def attach_limit(self, node: str, driver: str, mapping_limit: int | None) -> int | None:
        csinode = self.csinode_limits.get(node)
        if csinode is not None and driver in csinode:
            return csinode[driver]
        if mapping_limit is not None:
            return mapping_limit
        return self.node_attach_limits.get(node)

    def has_attach_limits(self) -> bool:
        """Whether any limit could apply at all (else NodeVolumeLimits has nothing to check)."""
        return (any(self.csinode_limits.values()) or bool(self.node_attach_limits)
                or any(e.attach_limit is not None for e in self.drivers.mappings))

    def attachable_volumes(self, pi: PodInfo) -> list[AttachVolume]:
        """The pod's volumes that attach to a node (block backends and external CSI drivers),
        each as (driver, volume id, the driver mapping's limit)."""
        out: list[AttachVolume] = []
        for name in pi.claims:
            claim = self.claim(pi.namespace, name)
            if claim is None:
                continue
            spec = claim.get("spec") or {}
            volume_name = spec.get("volumeName")
            pv = self.pv(volume_name) if volume_name else None
            if pv is not None:
                driver = self.drivers.for_volume_source(pv.get("spec") or {})
                if driver is None or not (driver.external or driver.backend == BLOCK):
                    continue
                out.append((driver.name, str(volume_name), driver.attach_limit))
                continue
            sc = self.classes.get(claim_class(claim))
            provisioner = str((sc or {}).get("provisioner") or "")
            if not provisioner or provisioner == NO_PROVISIONER:
                continue
            resolved = self.drivers.resolve(provisioner)
            if resolved is None:
                continue
            backend = self.drivers.backend_for(resolved, spec.get("accessModes") or (), spec.get("volumeMode"))
            if resolved.external or backend == BLOCK:
                uid = (claim.get("metadata") or {}).get("uid") or object_key(claim)
                out.append((csi_driver_name(provisioner), f"pvc-{uid}", resolved.attach_limit))
        return out

    def node_attached(self, info: NodeInfo) -> dict[str, set[str]]:
        """Attachable volumes of the node's pods, per driver (cached per pods and volumes version)."""
        stamp = (info.pods_version, info.volumes_version, self.volume_epoch)
        cached = info.attach_cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        counts: dict[str, set[str]] = {}
        for pi in info.pods.values():
            for driver, vid, _ in self.attachable_volumes(pi):
                counts.setdefault(driver, set()).add(vid)
        info.attach_cache = (stamp, counts)
        return counts


__all__ = ["Snapshot", "claim_class", "object_key"]
