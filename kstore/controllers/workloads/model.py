"""What the controller-manager's pure sync functions read and what they decide.

Design (STYLE §2): every controller of this process — replicaset, deployment, statefulset,
ephemeral volume, garbage collector, namespace, node lifecycle, taint eviction — has a
`sync_*` function that reads a `ClusterView` (the informer caches, no I/O, dicts never
mutated) and returns an ordered list of `Action`s. The worker applies them in order
(applier.py) and stops at the first failed write: every action is idempotent and the syncs
are level-triggered, so the next sync starts again from what was stored.

Actions carry their own events: `Create.on_success` / `on_failure` are recorded after the
write, with `{name}` replaced by the stored name (generateName) and `{error}` by the store's
message, so a decision and the events that explain it travel together.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

Obj = dict[str, Any]

# Labels and annotations with Kubernetes' names.
POD_TEMPLATE_HASH = "pod-template-hash"
STS_POD_NAME = "statefulset.kubernetes.io/pod-name"
STS_POD_INDEX = "apps.kubernetes.io/pod-index"
STS_REVISION = "controller-revision-hash"
ANN_REVISION = "deployment.kubernetes.io/revision"
ANN_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
ANN_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"

# Finalizers the garbage collector and the namespace controller act on.
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
NAMESPACE_FINALIZER = "kubernetes"

# Node taints (Kubernetes' well-known keys).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
NODE_LEASE_NAMESPACE = "kube-node-lease"


class ClusterView(Protocol):
    """Read-only access to the controller-manager's caches. Returned dicts must not be mutated.

    Kinds are Kubernetes kind names (`Pod`, `ReplicaSet`, ...); cluster-scoped objects have
    namespace "".
    """

    def get(self, kind: str, namespace: str, name: str) -> Obj | None: ...

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Every cached object of `kind`, or those of one namespace."""
        ...

    def controlled_by(self, kind: str, uid: str) -> list[Obj]:
        """Objects of `kind` whose controller ownerReference names `uid`."""
        ...

    def orphans(self, kind: str, namespace: str) -> list[Obj]:
        """Objects of `kind` in `namespace` with no controller ownerReference (adoptable)."""
        ...

    def pods_on_node(self, node: str) -> list[Obj]: ...


@dataclasses.dataclass(frozen=True)
class Event:
    """An event on `obj`. In a Create's or Delete's `on_success` / `on_failure`, `{name}`
    becomes the stored object's name and `{error}` the store's message."""

    obj: Obj
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Create:
    obj: Obj
    on_success: Event | None = None
    on_failure: Event | None = None


@dataclasses.dataclass(frozen=True)
class CreateBatch:
    """Create many objects (a ReplicaSet's pods) in slow-start batches of 1, 2, 4, ...: a
    batch with a failure ends the action, so a template the store refuses costs one call,
    not hundreds (Kubernetes' `slowStartBatch`)."""

    creates: tuple[Create, ...]


@dataclasses.dataclass(frozen=True)
class Update:
    """Write `obj` (spec and metadata), or only its status with `status=True`, with the
    resourceVersion read from the cache: a decision made on a stale view fails with a
    Conflict. A later Update of the same object in one list is chained onto the
    resourceVersion the earlier one returned."""

    obj: Obj
    status: bool = False
    on_success: Event | None = None


@dataclasses.dataclass(frozen=True)
class Delete:
    """Delete one object, with a uid precondition (never a namesake created meanwhile)."""

    kind: str
    namespace: str
    name: str
    uid: str
    propagation: str | None = None  # Background | Foreground | Orphan; None: the store's default
    grace_period: int | None = None  # pods: 0 forces the deletion
    on_success: Event | None = None
    on_failure: Event | None = None


@dataclasses.dataclass(frozen=True)
class RequeueAfter:
    """Look at this key again in `seconds` (e.g. when a pod becomes available after
    minReadySeconds, or a node's grace period runs out). Not a write."""

    seconds: float


Action = Create | CreateBatch | Update | Delete | Event | RequeueAfter


def delete_of(obj: Obj, **kwargs: Any) -> Delete:
    meta = obj["metadata"]
    return Delete(obj["kind"], meta.get("namespace") or "", meta["name"], meta.get("uid") or "", **kwargs)


def key_of(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (the informers' keys)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name
