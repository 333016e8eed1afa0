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
