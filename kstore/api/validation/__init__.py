"""Validation: what kube-apiserver's registry strategies check before an object is stored.

Design:
- Three entry points, each returning the causes (empty when valid); the apistore turns a
  non-empty list into `errors.invalid(kind, name, causes)` (422) and stores nothing:
  * `validate_create(info, obj)`: metadata plus the kind's rules;
  * `validate_update(info, new, old)`: metadata update rules, the create rules on `new`, then
    the kind's update rules (immutable fields, one-shot fields);
  * `validate_status_update(info, new, old)`: metadata update rules plus status sanity.
- Objects are expected to be defaulted first (`defaults.apply_defaults`), as in the apiserver:
  several rules (restartPolicy, imagePullPolicy, volumeBindingMode ...) report a missing value
  as `Required value`.
- One module per family: `meta` (metadata), `common` (labels, selectors), `volumes` (PV, PVC,
  volume sources), `storage` (StorageClass, VolumeAttachment, CSI kinds), `pod`, `workloads`,
  `core` (the rest); `field` renders messages exactly as apimachinery's `field.Error`.
- Unknown fields are not reported (that is field validation, a separate concern); values of
  the wrong JSON type are, as `FieldValueTypeInvalid`.
- Status sanity is a kstore addition: phases must be ones Kubernetes defines, so a controller
  bug cannot store `status.phase: Bond`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from kstore.api.errors import Cause
from kstore.api.kinds import KindInfo
from kstore.api.names import name_is_dns1035_label, name_is_dns_label, name_is_dns_subdomain
from kstore.api.validation import core, pod, storage, volumes, workloads
from kstore.api.validation.field import FieldErrors, child, key
from kstore.api.validation.meta import NameCheck, validate_object_meta, validate_object_meta_update

__all__ = ["validate_create", "validate_update", "validate_status_update"]

Create = Callable[[FieldErrors, dict[str, Any]], None]
Update = Callable[[FieldErrors, dict[str, Any], dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class _Rules:
    name_check: NameCheck | None = name_is_dns_subdomain
    create: Create | None = None
    update: Update | None = None
    status: Update | None = None
    phases: tuple[str, ...] = ()


_RULES: dict[str, _Rules] = {
    "PersistentVolume": _Rules(
        create=volumes.validate_persistent_volume,
        update=volumes.validate_persistent_volume_update,
        phases=("Pending", "Available", "Bound", "Released", "Failed"),
    ),
    "PersistentVolumeClaim": _Rules(
        create=volumes.validate_persistent_volume_claim,
        update=volumes.validate_persistent_volume_claim_update,
        phases=("Pending", "Bound", "Lost"),
    ),
    "StorageClass": _Rules(
        create=storage.validate_storage_class, update=storage.validate_storage_class_update
    ),
    "VolumeAttachment": _Rules(
        create=storage.validate_volume_attachment,
        update=storage.validate_volume_attachment_update,
        status=lambda errs, new, old: storage.validate_volume_attachment_status(errs, new),
    ),
    "CSINode": _Rules(create=storage.validate_csi_node, update=storage.validate_csi_node_update),
    "CSIDriver": _Rules(create=storage.validate_csi_driver, update=storage.validate_csi_driver_update),
    "Pod": _Rules(
        create=pod.validate_pod,
        update=pod.validate_pod_update,
        phases=("Pending", "Running", "Succeeded", "Failed", "Unknown"),
    ),
    "Deployment": _Rules(create=workloads.validate_deployment, update=workloads.validate_selector_update),
    "ReplicaSet": _Rules(create=workloads.validate_replica_set, update=workloads.validate_selector_update),
    "StatefulSet": _Rules(
        create=workloads.validate_stateful_set, update=workloads.validate_stateful_set_update
    ),
    "Namespace": _Rules(
        name_check=name_is_dns_label, create=core.validate_namespace, status=core.validate_namespace_status
    ),
    "Node": _Rules(
        create=core.validate_node, update=core.validate_node_update, status=core.validate_node_status
    ),
    "Event": _Rules(name_check=None, create=core.validate_event),
    "Lease": _Rules(create=core.validate_lease),
    "ConfigMap": _Rules(create=core.validate_config_map, update=core.validate_immutable_data),
    "Secret": _Rules(create=core.validate_secret, update=core.validate_immutable_data),
    "Service": _Rules(name_check=name_is_dns1035_label, create=core.validate_service),
    "ServiceAccount": _Rules(create=core.validate_service_account),
}
_COUNTS = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "currentReplicas",
           "unavailableReplicas", "fullyLabeledReplicas", "observedGeneration")  # fmt: skip


def _rules(info: KindInfo) -> _Rules:
    return _RULES.get(info.kind, _Rules())


def validate_create(info: KindInfo, obj: dict[str, Any]) -> list[Cause]:
    """Causes that make `obj` invalid as a new object of `info.kind` (empty when valid)."""
    errs = FieldErrors()
    if not isinstance(obj, dict):
        errs.type_invalid("", obj, "object")
        return errs.causes
    rules = _rules(info)
    validate_object_meta(errs, obj, namespaced=info.namespaced, name_check=rules.name_check)
    if rules.create is not None:
        rules.create(errs, obj)
    return errs.causes


def validate_update(info: KindInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Causes that make replacing `old` by `new` invalid: `new`'s own problems and forbidden changes."""
    errs = FieldErrors()
    if not isinstance(new, dict):
        errs.type_invalid("", new, "object")
        return errs.causes
    old = old if isinstance(old, dict) else {}
    rules = _rules(info)
    validate_object_meta_update(errs, new, old)
    validate_object_meta(errs, new, namespaced=info.namespaced, name_check=rules.name_check)
    if rules.create is not None:
        rules.create(errs, new)
    if rules.update is not None:
        rules.update(errs, new, old)
    return errs.causes


def validate_status_update(info: KindInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Causes that make a status write invalid (the spec is the store's business: it keeps the old one)."""
    errs = FieldErrors()
    if not isinstance(new, dict):
        errs.type_invalid("", new, "object")
        return errs.causes
    old = old if isinstance(old, dict) else {}
    rules = _rules(info)
    validate_object_meta_update(errs, new, old)
    status = errs.as_map(new.get("status"), "status")
    phase = status.get("phase")
    if rules.phases and phase is not None and phase not in rules.phases:
        errs.not_supported("status.phase", phase, rules.phases)
    for name in _COUNTS:
        errs.nonnegative(status.get(name), child("status", name))
    for name, value in errs.as_map(status.get("capacity"), "status.capacity").items():
        parsed = errs.as_quantity(value, key("status.capacity", name))
        if parsed is not None and parsed[0] < 0:
            errs.invalid(key("status.capacity", name), parsed[1], "must be greater than or equal to 0")
    if rules.status is not None:
        rules.status(errs, new, old)
    return errs.causes
