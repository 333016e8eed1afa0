"""The kinds the store serves, and how each one is named on the wire.

One `KindInfo` per kind: its API group and version, its REST plural, whether it is namespaced,
kubectl short names, whether it has a status subresource, and — for kinds that are watched
per node — the field path naming the node (the bus publishes those on a node-scoped topic too,
so a kubelet only receives its own pods and VolumeAttachments).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = True
    node_field: tuple[str, ...] = ()  # path to the node name, for node-scoped watch topics
    behaviour: bool = True  # False: stored so whole manifests apply, no controller acts on it
    singular: str = ""
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """The qualified resource name used in messages: `storageclasses.storage.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def node_of(self, obj: dict[str, Any]) -> str:
        """The node an object is scoped to ("" if none or not node-scoped)."""
        cur: Any = obj
        for part in self.node_field:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(part)
        return cur if isinstance(cur, str) else ""


_KINDS = (
    KindInfo("Namespace", "", "v1", "namespaces", False, ("ns",)),
    KindInfo("Node", "", "v1", "nodes", False, ("no",)),
    KindInfo("Pod", "", "v1", "pods", True, ("po",), node_field=("spec", "nodeName"), categories=("all",)),
    KindInfo("Event", "", "v1", "events", True, ("ev",), has_status=False),
    KindInfo("PersistentVolume", "", "v1", "persistentvolumes", False, ("pv",)),
    KindInfo("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", True, ("pvc",)),
    KindInfo("Service", "", "v1", "services", True, ("svc",), behaviour=False, categories=("all",)),
    KindInfo("ConfigMap", "", "v1", "configmaps", True, ("cm",), has_status=False, behaviour=False),
    KindInfo("Secret", "", "v1", "secrets", True, (), has_status=False, behaviour=False),
    KindInfo("ServiceAccount", "", "v1", "serviceaccounts", True, ("sa",), has_status=False, behaviour=False),
    KindInfo("StorageClass", "storage.k8s.io", "v1", "storageclasses", False, ("sc",), has_status=False),
    KindInfo(
        "VolumeAttachment", "storage.k8s.io", "v1", "volumeattachments", False, (), node_field=("spec", "nodeName")
    ),
    KindInfo("CSINode", "storage.k8s.io", "v1", "csinodes", False, (), has_status=False),
    KindInfo("CSIDriver", "storage.k8s.io", "v1", "csidrivers", False, (), has_status=False),
    KindInfo("Lease", "coordination.k8s.io", "v1", "leases", True, (), has_status=False),
    KindInfo("Deployment", "apps", "v1", "deployments", True, ("deploy",), categories=("all",)),
    KindInfo("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",), categories=("all",)),
    KindInfo("StatefulSet", "apps", "v1", "statefulsets", True, ("sts",), categories=("all",)),
)

KINDS: dict[str, KindInfo] = {k.kind: k for k in _KINDS}
BY_PLURAL: dict[tuple[str, str], KindInfo] = {(k.group, k.plural): k for k in _KINDS}


def kind_info(kind: str) -> KindInfo | None:
    return KINDS.get(kind)


def lookup(api_version: str, kind: str) -> KindInfo | None:
    """The KindInfo for an object's apiVersion and kind, or None if the store does not serve it."""
    info = KINDS.get(kind)
    if info is None or info.api_version != api_version:
        return None
    return info
