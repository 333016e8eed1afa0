"""What the PV controller's pure sync functions read and what they decide.

Design (STYLE §2): `sync_claim` / `sync_volume` read a `ClusterView` (the informer caches, no
I/O) and return an ordered list of `Action`s. The worker applies them in order and stops at the
first failure: every action is idempotent and the sync is level-triggered, so the next sync
starts again from whatever was stored ("nothing was saved; we fall back into the same
condition in the next call", pv_controller.go). Long operations — provisioning, deleting or
recycling a backend volume, growing one — are actions too; the worker runs them on an executor
and records their outcome as object writes and events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kstore.volume.latency import LatencyProfile

Obj = dict[str, Any]

# Annotations and finalizers, with Kubernetes' names.
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_MIGRATED_TO = "pv.kubernetes.io/migrated-to"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


@dataclasses.dataclass(frozen=True)
class Driver:
    """How an emulated driver serves a provisioner / CSI driver / in-tree source name."""

    name: str
    backend: str  # "block" | "shared" | "local" ("hostpath" for hostPath sources); "" when external
    external: bool = False  # left to a real external provisioner (claim annotated, ExternalProvisioning event)
    attach_limit: int | None = None
    latency: LatencyProfile | None = None  # added delay per operation (kstore.volume.latency); None: none


class ClusterView(Protocol):
    """Read-only access to the controller's caches. Returned dicts must not be mutated."""

    def claim(self, key: str) -> Obj | None: ...  # "namespace/name"

    def volume(self, name: str) -> Obj | None: ...

    def volumes(self) -> Iterable[Obj]: ...

    def candidate_volumes(self, claim: Obj, node: Obj | None) -> Iterable[Obj]:
        """Volumes among which `find_best_match` finds the claim's best match: all of them, or
        a subset that is sure to contain it (index.py)."""
        ...

    def storage_class(self, name: str) -> Obj | None: ...

    def pods_using_claim(self, namespace: str, name: str) -> list[Obj]: ...

    def node(self, name: str) -> Obj | None:
        """The Node named by a claim's `volume.kubernetes.io/selected-node` (for the node
        affinity of volumes a WaitForFirstConsumer claim may bind); None when not cached."""
        ...

    def driver(self, provisioner: str) -> Driver | None:
        """The emulated driver for a provisioner name; None for `kubernetes.io/no-provisioner`."""
        ...


@dataclasses.dataclass(frozen=True)
class Update:
    """Write `obj` (spec and metadata), or only its status with `status=True`; carries the
    resourceVersion read from the cache, so a stale decision fails with a Conflict.

    One sync may write the same object more than once (the two-step bind writes a volume's
    spec, then its status). The worker chains them as Kubernetes' `bind()` does: a later
    Update of an object goes out with the resourceVersion the earlier write of that object in
    the same list returned, not the one in `obj`."""

    obj: Obj
    status: bool = False


@dataclasses.dataclass(frozen=True)
class Remove:
    """Delete an object (e.g. a provisioned PV whose backend volume is gone)."""

    kind: str
    namespace: str
    name: str
    uid: str


@dataclasses.dataclass(frozen=True)
class Event:
    obj: Obj
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Provision:
    """Create a backend volume for the claim and a PV pre-bound to it (`pvc-<claim uid>`)."""

    claim_key: str
    class_name: str


@dataclasses.dataclass(frozen=True)
class DeleteVolume:
    """Reclaim policy Delete: remove the backend volume, then the PV."""

    volume_name: str


@dataclasses.dataclass(frozen=True)
class RecycleVolume:
    """Reclaim policy Recycle: scrub the backend volume, then make the PV Available again."""

    volume_name: str


@dataclasses.dataclass(frozen=True)
class ExpandVolume:
    """Grow the backend volume of a bound claim to `size` bytes, then record it on the PV."""

    volume_name: str
    claim_key: str
    size: int


Action = Update | Remove | Event | Provision | DeleteVolume | RecycleVolume | ExpandVolume
