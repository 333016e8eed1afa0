"""The objects the benchmarks write: realistic PersistentVolumeClaims of one StorageClass."""

from __future__ import annotations

from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient

STORAGE_CLASS = "standard"


def pvc(name: str, *, namespace: str = "default") -> dict[str, Any]:
    """A claim as a Helm chart would write it: 1Gi RWO of the `standard` class, two labels."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "bench", "app.kubernetes.io/component": "data"},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": STORAGE_CLASS,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


async def ensure_storage_class(client: BusClient) -> None:
    """Create the claims' StorageClass; one that exists already is fine."""
    try:
        await client.create(storage_class())
    except ApiError as e:
        if e.code != 409:
            raise


# ---- the PV controller benchmarks (bench/pv.py)

STATIC_CLASS = "bench-static"  # pre-created PVs, never provisioned
BLOCK_CLASS = "bench-block"  # provisioned on the block backend: sparse image files in <state>/pool/block/
BLOCK_PROVISIONER = "kstore.io/block"  # configs/drivers.yaml maps it to `block`


def bench_class(name: str) -> dict[str, Any]:
    """`bench-static` (kubernetes.io/no-provisioner) or `bench-block` (kstore.io/block), both Immediate."""
    static = name == STATIC_CLASS
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "kubernetes.io/no-provisioner" if static else BLOCK_PROVISIONER,
        "reclaimPolicy": "Retain" if static else "Delete",
        "volumeBindingMode": "Immediate",
    }


def static_pv(name: str) -> dict[str, Any]:
    """A pre-created 1Gi RWO hostPath volume of `bench-static`, as an admin would write it."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "bench"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STATIC_CLASS,
            "hostPath": {"path": f"/mnt/bench/{name}"},
        },
    }


def class_pvc(name: str, storage_class: str, *, namespace: str = "default") -> dict[str, Any]:
    """The benchmark claim (1Gi RWO, two labels) of the given class."""
    claim = pvc(name, namespace=namespace)
    claim["spec"]["storageClassName"] = storage_class
    return claim


async def ensure(client: BusClient, obj: dict[str, Any]) -> None:
    """Create `obj`; one that exists already is fine."""
    try:
        await client.create(obj)
    except ApiError as e:
        if e.code != 409:
            raise
