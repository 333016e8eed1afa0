"""The PV of a provisioned pool volume, and the way back from a PV to its pool volume.

Design:
- `pv_spec_for` builds the spec of a dynamically provisioned PV the way an external CSI
  provisioner does: capacity (canonical quantity), access modes and volume mode from the
  claim; reclaim policy (default Delete), class name and mount options from the class.
- Source shape, decided once for every backend that can be attached anywhere:
  `csi: {driver, volumeHandle: "<backend>/<name>", fsType, volumeAttributes}`. In-tree
  provisioner names (`kubernetes.io/aws-ebs`, ...) get the same CSI shape with the CSI driver
  that took them over (`ebs.csi.aws.com`, CSI migration's table): Kubernetes itself serves
  those classes through that driver, every later step (VolumeAttachment `spec.attacher`,
  CSINode limits) speaks CSI names, and an in-tree shape would have nowhere to carry the pool
  handle. `provisioning_annotations` gives the matching `pv.kubernetes.io/provisioned-by`
  (the class's name) and `pv.kubernetes.io/migrated-to`. A name that is not a valid CSI
  driver name (`k8s.io/minikube-hostpath`) is rewritten into one (`k8s.io.minikube-hostpath`);
  `kstore.io/provisioner` in the attributes keeps the original, so the PV resolves to the
  same driver (`DriverMap.for_volume_source`).
- `local` volumes get `local: {path}` and a required node affinity to their node
  (`kubernetes.io/hostname In [node]`), as local-path and TopoLVM PVs have.
- `fsType`: for block Filesystem volumes the class's `csi.storage.k8s.io/fstype` or `fsType`
  (any case), else ext4; for shared volumes only when the class names one; none for
  volumeMode Block. Class parameters are not copied into the attributes (they may name
  secrets; real drivers choose what to echo).
- `handle_from_pv` is the inverse: from the `kstore.io/` attributes; from a `<backend>/<name>`
  volumeHandle when the state dir is known; from a `local` / `hostPath` path laid out like the
  pool (also for PVs created by hand that point into it). A handle read from a PV is user
  input: the pool checks it before touching anything (pool.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kstore.api.names import is_dns1123_subdomain
from kstore.api.quantity import QuantityError, format_quantity, to_bytes
from kstore.config import HOSTNAME_LABEL
from kstore.controllers.pv.model import ANN_BETA_STORAGE_CLASS, ANN_MIGRATED_TO, ANN_PROVISIONED_BY, Driver
from kstore.volume.drivers import ATTR_PROVISIONER, MIGRATED_CSI_DRIVERS
from kstore.volume.handle import ATTR_BACKEND, BLOCK, LOCAL, SHARED, VolumeHandle
from kstore.volume.pool import Pool, PoolError

FSTYPE_PARAMETERS = ("csi.storage.k8s.io/fstype", "fstype")  # compared lower-case
DEFAULT_FSTYPE = "ext4"


def csi_driver_name(name: str) -> str:
    """The CSI driver name a provisioned PV carries for a provisioner name."""
    migrated = MIGRATED_CSI_DRIVERS.get(name)
    if migrated is not None:
        return migrated
    if name and len(name) <= 63 and not is_dns1123_subdomain(name.lower()):
        return name
    cleaned = re.sub(r"[^a-z0-9-]+", ".", name.lower())
    cleaned = ".".join(part.strip("-") for part in cleaned.split(".") if part.strip("-"))
    return cleaned[:63].rstrip(".-") or "kstore.io"


def provisioning_annotations(provisioner: str) -> dict[str, str]:
    """The annotations of a PV provisioned for a class with this provisioner."""
    annotations = {ANN_PROVISIONED_BY: provisioner}
    if provisioner in MIGRATED_CSI_DRIVERS:
        annotations[ANN_MIGRATED_TO] = MIGRATED_CSI_DRIVERS[provisioner]
    return annotations


def _fstype(parameters: Mapping[str, Any]) -> str | None:
    for key, value in parameters.items():
        if str(key).lower() in FSTYPE_PARAMETERS and value:
            return str(value)
    return None


def _claim_class(claim: Mapping[str, Any]) -> str:
    spec = claim.get("spec") or {}
    if spec.get("storageClassName") is not None:
        return str(spec["storageClassName"])
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANN_BETA_STORAGE_CLASS, ""))


def pv_spec_for(driver: Driver, handle: VolumeHandle, *, claim: Mapping[str, Any],
                storage_class: Mapping[str, Any] | None) -> dict[str, Any]:
    """The spec of the PV for `claim`, provisioned as `handle` by `driver` (no claimRef: the
    caller pre-binds it)."""
    claim_spec = claim.get("spec") or {}
    sc = storage_class or {}
    volume_mode = claim_spec.get("volumeMode") or "Filesystem"
    spec: dict[str, Any] = {
        "capacity": {"storage": format_quantity(handle.size)},
        "accessModes": list(claim_spec.get("accessModes") or []),
        "volumeMode": volume_mode,
        "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
    }
    class_name = (sc.get("metadata") or {}).get("name") if storage_class is not None else _claim_class(claim)
    if class_name:
        spec["storageClassName"] = class_name
    if sc.get("mountOptions"):
        spec["mountOptions"] = list(sc["mountOptions"])

    if handle.backend == LOCAL:
        spec["local"] = {"path": str(handle.path)}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [handle.node]},
        ]}]}}
        return spec

    csi: dict[str, Any] = {"driver": csi_driver_name(driver.name), "volumeHandle": handle.volume_id}
    if volume_mode == "Filesystem":
        fstype = _fstype(sc.get("parameters") or {})
        if fstype is None and handle.backend == BLOCK:
            fstype = DEFAULT_FSTYPE
        if fstype is not None:
            csi["fsType"] = fstype
    csi["volumeAttributes"] = {**handle.to_attributes(), ATTR_PROVISIONER: driver.name}
    spec["csi"] = csi
    return spec


def _size(spec: Mapping[str, Any]) -> int | None:
    try:
        size = to_bytes((spec.get("capacity") or {}).get("storage"))
    except (QuantityError, TypeError):
        return None
    return size if size >= 0 else None


def handle_from_pv(pv: Mapping[str, Any], *, state_dir: Path | None = None) -> VolumeHandle | None:
    """The pool volume behind a PV, or None when it has none (a volume kstore does not keep).

    The size is the PV's capacity (it grows on expansion; the attributes keep the size at
    provisioning), falling back to the attributes.
    """
    spec = pv.get("spec") or {}
    size = _size(spec)
    csi = spec.get("csi")
    if isinstance(csi, Mapping):
        attributes = csi.get("volumeAttributes") or {}
        if isinstance(attributes, Mapping) and ATTR_BACKEND in attributes:
            try:
                handle = VolumeHandle.from_attributes(attributes)
            except ValueError:
                return None
            return handle if size is None or size == handle.size else _resized(handle, size)
        backend, _, name = str(csi.get("volumeHandle") or "").partition("/")
        if state_dir is None or backend not in (BLOCK, SHARED):
            return None
        return _pool_handle(state_dir, backend, name, None, size)

    for key in ("local", "hostPath"):
        source = spec.get(key)
        if not isinstance(source, Mapping) or not isinstance(source.get("path"), str):
            continue
        path = PurePosixPath(source["path"])
        parts = path.parts
        if len(parts) >= 4 and parts[-3] == "pool" and parts[-2] in (BLOCK, SHARED):
            backend, name, node, root = parts[-2], parts[-1], None, PurePosixPath(*parts[:-3])
        elif len(parts) >= 5 and parts[-4] == "nodes" and parts[-2] == LOCAL:
            backend, name, node, root = LOCAL, parts[-1], parts[-3], PurePosixPath(*parts[:-4])
        else:
            return None
        if state_dir is not None and str(root) != str(PurePosixPath(Path(state_dir))):
            return None
        return _pool_handle(Path(root), backend, name, node, size)
    return None


def _resized(handle: VolumeHandle, size: int) -> VolumeHandle:
    return dataclasses.replace(handle, size=size)


def _pool_handle(state_dir: Path, backend: str, name: str, node: str | None, size: int | None) -> VolumeHandle | None:
    try:
        path = Pool(state_dir).path_for(backend, name, node)
    except PoolError:
        return None
    return VolumeHandle(backend, name, path, size or 0, node)
