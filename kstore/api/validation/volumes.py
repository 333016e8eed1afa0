"""PersistentVolume and PersistentVolumeClaim, and the volume sources pods share (`core/validation`).

Design:
- One `validate_*` per kind for create and one `validate_*_update` for the rules that compare
  with the stored object: a volume's source and mode never change; a claim's spec never
  changes except `volumeName` (set once by the binder), a retroactive default class (set once),
  and, for bound claims, `resources.requests.storage` and `volumeAttributesClassName`.
- Requests may not go below `status.capacity` (`validate_pvc_shrink`, shared with the resize
  admission check): Kubernetes lets a user walk back a failed expansion, never shrink.
- Volume sources are checked from a table of the fields each requires, plus dedicated checks
  for the sources kstore emulates (hostPath, local, csi, nfs); pod volumes reuse
  `validate_source_fields`.
- Quantities compare by value (`1Gi` == `1024Mi`), as Kubernetes' semantic equality does.
"""

from __future__ import annotations

import copy
import math
import posixpath
from fractions import Fraction
from typing import Any

from kstore.api.names import is_dns1123_label, is_dns1123_subdomain, name_is_dns_subdomain
from kstore.api.quantity import QuantityError, parse_quantity
from kstore.api.validation.common import validate_label_selector, validate_node_selector
from kstore.api.validation.field import FieldErrors, child, dict_or_empty, key, prune

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
MORE_THAN_ONE = "may not specify more than 1 volume type"
PVC_IMMUTABLE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)

# The PV volume sources, in Kubernetes' checking order, with the fields each one requires.
PV_SOURCES: dict[str, tuple[str, ...]] = {
    "hostPath": (), "gcePersistentDisk": ("pdName",), "awsElasticBlockStore": ("volumeID",),
    "glusterfs": ("endpoints", "path"), "flocker": (), "nfs": (), "rbd": ("monitors", "image"),
    "quobyte": ("registry", "volume"), "cephfs": ("monitors",), "iscsi": ("targetPortal", "iqn"),
    "cinder": ("volumeID",), "fc": (), "flexVolume": ("driver",), "azureFile": ("secretName", "shareName"),
    "vsphereVolume": ("volumePath",), "photonPersistentDisk": ("pdID",), "portworxVolume": ("volumeID",),
    "azureDisk": ("diskName", "diskURI"), "scaleIO": ("gateway", "system", "volumeName"), "local": (),
    "storageos": ("volumeName",), "csi": (),
}  # fmt: skip


# --- volume sources ----------------------------------------------------------------------------


def _no_backsteps(errs: FieldErrors, target: str, path: str) -> bool:
    if ".." in target.replace("\\", "/").split("/"):
        errs.invalid(path, target, "must not contain '..'")
        return False
    return True


def validate_csi_driver_name(errs: FieldErrors, name: str, path: str) -> None:
    if not name:
        errs.required(path, "")
    if len(name) > 63:
        errs.too_long(path, 63)
    errs.invalid_each(path, name, is_dns1123_subdomain(name.lower()))


def validate_source_fields(
    errs: FieldErrors, name: str, source: dict[str, Any], path: str, required: tuple[str, ...]
) -> None:
    """The per-source checks shared by PV sources and pod volumes."""
    for field in required:
        if not source.get(field):
            errs.required(child(path, field), "")
    if name == "hostPath":
        host_path = errs.as_str(source.get("path"), child(path, "path"))
        if not host_path:
            errs.required(child(path, "path"), "")
            return
        _no_backsteps(errs, host_path, child(path, "path"))
        host_type = source.get("type")
        if host_type is not None and host_type not in HOST_PATH_TYPES:
            errs.not_supported(child(path, "type"), host_type, HOST_PATH_TYPES)
    elif name == "local":
        local_path = errs.as_str(source.get("path"), child(path, "path"))
        if not local_path:
            errs.required(child(path, "path"), "")
        else:
            _no_backsteps(errs, local_path, child(path, "path"))
    elif name == "nfs":
        nfs_path = errs.as_str(source.get("path"), child(path, "path"))
        if not errs.as_str(source.get("server"), child(path, "server")):
            errs.required(child(path, "server"), "")
        if not nfs_path:
            errs.required(child(path, "path"), "")
        if not nfs_path.startswith("/"):
            errs.invalid(child(path, "path"), nfs_path, "must be an absolute path")
    elif name == "csi":
        validate_csi_driver_name(
            errs, errs.as_str(source.get("driver"), child(path, "driver")), child(path, "driver")
        )
    elif name == "flocker":
        if not source.get("datasetName") and not source.get("datasetUUID"):
            errs.required(path, "one of datasetName and datasetUUID is required")
    elif name == "fc":
        if not source.get("targetWWNs") and not source.get("wwids"):
            errs.required(child(path, "targetWWNs"), "must specify either targetWWNs or wwids, but not both")


def _validate_pv_csi(errs: FieldErrors, csi: dict[str, Any], path: str) -> None:
    if not errs.as_str(csi.get("volumeHandle"), child(path, "volumeHandle")):
        errs.required(child(path, "volumeHandle"), "")
    for ref_name in ("controllerPublishSecretRef", "controllerExpandSecretRef", "nodePublishSecretRef",
                     "nodeStageSecretRef", "nodeExpandSecretRef"):  # fmt: skip
        if csi.get(ref_name) is None:
            continue
        ref_path = child(path, ref_name)
        ref = errs.as_map(csi.get(ref_name), ref_path)
        name = errs.as_str(ref.get("name"), child(ref_path, "name"))
        namespace = errs.as_str(ref.get("namespace"), child(ref_path, "namespace"))
        if not name:
            errs.required(child(ref_path, "name"), "")
        else:
            errs.invalid_each(child(ref_path, "name"), name, is_dns1123_subdomain(name))
        if not namespace:
            errs.required(child(ref_path, "namespace"), "")
        else:
            errs.invalid_each(child(ref_path, "namespace"), namespace, is_dns1123_label(namespace))


# --- PersistentVolume --------------------------------------------------------------------------


def _validate_access_modes(errs: FieldErrors, modes: Any, path: str, required_detail: str) -> None:
    modes = errs.as_list(modes, path)
    if not modes:
        errs.required(path, required_detail)
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.not_supported(path, mode, ACCESS_MODES)
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _positive_quantity(errs: FieldErrors, value: Any, path: str) -> Fraction | None:
    parsed = errs.as_quantity(value, path)
    if parsed is None:
        return None
    amount, text = parsed
    if amount <= 0:
        errs.invalid(path, text, "must be greater than zero")
    return amount


def validate_pv_spec(errs: FieldErrors, spec: dict[str, Any], path: str, *, inline: bool = False) -> None:
    """ValidatePersistentVolumeSpec; `inline` is a VolumeAttachment's inlineVolumeSpec."""
    if inline:
        if spec.get("claimRef") is not None:
            errs.forbidden(child(path, "claimRef"), "may not be specified in the context of inline volumes")
        if spec.get("capacity"):
            errs.forbidden(child(path, "capacity"), "may not be specified in the context of inline volumes")
        if spec.get("csi") is None:
            errs.required(child(path, "csi"), "has to be specified in the context of inline volumes")
    _validate_access_modes(errs, spec.get("accessModes"), child(path, "accessModes"), "")
    if not inline:
        capacity_path = child(path, "capacity")
        capacity = errs.as_map(spec.get("capacity"), capacity_path)
        if not capacity:
            errs.required(capacity_path, "")
        elif "storage" not in capacity or len(capacity) > 1:
            errs.not_supported(capacity_path, capacity, ("storage",))
        for resource, value in capacity.items():
            parsed = errs.as_quantity(value, key(capacity_path, resource))
            if parsed is not None and parsed[0] < 0:
                magnitude = math.ceil(-parsed[0])  # Quantity.Value() rounds away from zero
                errs.invalid(key(capacity_path, resource), -magnitude, "must be a valid resource quantity")
            if parsed is not None and parsed[0] <= 0:
                errs.invalid(key(capacity_path, resource), parsed[1], "must be greater than zero")
    policy = errs.as_str(
        spec.get("persistentVolumeReclaimPolicy"), child(path, "persistentVolumeReclaimPolicy")
    )
    if policy and inline and policy != "Retain":
        errs.forbidden(
            child(path, "persistentVolumeReclaimPolicy"),
            "may only be Retain in the context of inline volumes",
        )
    elif policy and not inline and policy not in PV_RECLAIM_POLICIES:
        errs.not_supported(child(path, "persistentVolumeReclaimPolicy"), policy, PV_RECLAIM_POLICIES)
    node_affinity = spec.get("nodeAffinity")
    if node_affinity is not None:
        affinity_path = child(path, "nodeAffinity")
        if inline:
            errs.forbidden(affinity_path, "may not be specified in the context of inline volumes")
        else:
            affinity = errs.as_map(node_affinity, affinity_path)
            if affinity.get("required") is None:
                errs.required(child(affinity_path, "required"), "must specify required node constraints")
            else:
                validate_node_selector(errs, affinity["required"], child(affinity_path, "required"))
    count = 0
    for name, required in PV_SOURCES.items():
        if spec.get(name) is None:
            continue
        if count and name != "flexVolume":
            errs.forbidden(child(path, name), MORE_THAN_ONE)
            continue
        count += 1
        source = errs.as_map(spec[name], child(path, name))
        validate_source_fields(errs, name, source, child(path, name), required)
        if name == "csi":
            _validate_pv_csi(errs, source, child(path, name))
        if name == "local" and node_affinity is None:
            errs.required(child(path, "nodeAffinity"), "Local volume requires node affinity")
    if not count:
        errs.required(path, "must specify a volume type")
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict) and isinstance(host_path.get("path"), str) and policy == "Recycle":
        if posixpath.normpath(host_path["path"]) == "/":
            errs.forbidden(
                child(path, "persistentVolumeReclaimPolicy"),
                "may not be 'recycle' for a hostPath mount of '/'",
            )
    class_name = errs.as_str(spec.get("storageClassName"), child(path, "storageClassName"))
    if class_name:
        if inline:
            errs.forbidden(
                child(path, "storageClassName"), "may not be specified in the context of inline volumes"
            )
        else:
            errs.invalid_each(child(path, "storageClassName"), class_name, name_is_dns_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None:
        if inline and mode != "Filesystem":
            errs.forbidden(
                child(path, "volumeMode"),
                "may not specify volumeMode other than Filesystem in the context of inline volumes",
            )
        elif not inline and mode not in VOLUME_MODES:
            errs.not_supported(child(path, "volumeMode"), mode, VOLUME_MODES)
    _validate_claim_ref(errs, spec.get("claimRef"), child(path, "claimRef"))


def _validate_claim_ref(errs: FieldErrors, ref: Any, path: str) -> None:
    # Kubernetes checks no more than the types here; kstore adds the name formats the binder needs.
    ref = errs.as_map(ref, path)
    for field, check in (("name", is_dns1123_subdomain), ("namespace", is_dns1123_label)):
        value = errs.as_str(ref.get(field), child(path, field))
        if value:
            errs.invalid_each(child(path, field), value, check(value))


def validate_persistent_volume(errs: FieldErrors, obj: dict[str, Any]) -> None:
    validate_pv_spec(errs, errs.as_map(obj.get("spec"), "spec"), "spec")


def validate_persistent_volume_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec, old_spec = dict_or_empty(new.get("spec")), dict_or_empty(old.get("spec"))
    new_sources = {name: new_spec.get(name) for name in PV_SOURCES if new_spec.get(name) is not None}
    old_sources = {name: old_spec.get(name) for name in PV_SOURCES if old_spec.get(name) is not None}
    old_csi, new_csi = old_sources.get("csi"), new_sources.get("csi")
    if (
        isinstance(old_csi, dict)
        and isinstance(new_csi, dict)
        and old_csi.get("controllerExpandSecretRef") is None
    ):
        new_sources["csi"] = {k: v for k, v in new_csi.items() if k != "controllerExpandSecretRef"}
    if new_sources != old_sources:
        errs.forbidden(
            "spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"
        )
    errs.immutable(new_spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode")
    if old_spec.get("nodeAffinity") is not None and new_spec.get("nodeAffinity") != old_spec.get(
        "nodeAffinity"
    ):
        errs.invalid(
            "nodeAffinity",
            new_spec.get("nodeAffinity"),
            "field is immutable, except for updating from beta label to GA",
        )
    if (
        old_spec.get("volumeAttributesClassName") is not None
        and new_spec.get("volumeAttributesClassName") is None
    ):
        errs.forbidden("spec.volumeAttributesClassName", "update from non-nil value to nil is forbidden")


# --- PersistentVolumeClaim ---------------------------------------------------------------------


def storage_request(claim: dict[str, Any]) -> Fraction | None:
    """A claim's `spec.resources.requests.storage` as a number (None when absent or malformed)."""
    value = dict_or_empty(
        dict_or_empty(dict_or_empty(claim.get("spec")).get("resources")).get("requests")
    ).get("storage")
    return _amount(value)


def storage_capacity(claim: dict[str, Any]) -> Fraction | None:
    """A claim's `status.capacity.storage` as a number (None when absent or malformed)."""
    return _amount(dict_or_empty(dict_or_empty(claim.get("status")).get("capacity")).get("storage"))


def _amount(value: Any) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


def _validate_data_source(errs: FieldErrors, ref: Any, path: str, *, with_namespace: bool) -> None:
    ref = errs.as_map(ref, path)
    kind = errs.as_str(ref.get("kind"), child(path, "kind"))
    group = errs.as_str(ref.get("apiGroup"), child(path, "apiGroup"))
    if not errs.as_str(ref.get("name"), child(path, "name")):
        errs.required(child(path, "name"), "")
    if not kind:
        errs.required(child(path, "kind"), "")
    if not group and kind != "PersistentVolumeClaim":
        errs.invalid(path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup")
    if group:
        errs.invalid_each(child(path, "apiGroup"), group, is_dns1123_subdomain(group))
    namespace = errs.as_str(ref.get("namespace"), child(path, "namespace")) if with_namespace else ""
    if namespace:
        errs.invalid_each(child(path, "namespace"), namespace, is_dns1123_label(namespace))


def validate_pvc_spec(errs: FieldErrors, spec: dict[str, Any], path: str) -> None:
    """ValidatePersistentVolumeClaimSpec: also used for ephemeral volumes and claim templates."""
    _validate_access_modes(
        errs, spec.get("accessModes"), child(path, "accessModes"), "at least 1 access mode is required"
    )
    if spec.get("selector") is not None:
        validate_label_selector(errs, spec["selector"], child(path, "selector"))
    resources = errs.as_map(spec.get("resources"), child(path, "resources"))
    requests = errs.as_map(resources.get("requests"), child(path, "resources", "requests"))
    if "storage" not in requests:
        errs.required(key(child(path, "resources"), "storage"), "")
    else:
        _positive_quantity(errs, requests["storage"], key(child(path, "resources"), "storage"))
    for field in ("storageClassName", "volumeAttributesClassName"):
        name = errs.as_str(spec.get(field), child(path, field))
        if name:
            errs.invalid_each(child(path, field), name, name_is_dns_subdomain(name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.not_supported(child(path, "volumeMode"), mode, VOLUME_MODES)
    if spec.get("dataSource") is not None:
        _validate_data_source(errs, spec["dataSource"], child(path, "dataSource"), with_namespace=False)
    if spec.get("dataSourceRef") is not None:
        _validate_data_source(errs, spec["dataSourceRef"], child(path, "dataSourceRef"), with_namespace=True)
        source, ref = dict_or_empty(spec.get("dataSource")), dict_or_empty(spec["dataSourceRef"])
        if ref.get("namespace"):
            if spec.get("dataSource") is not None:
                errs.invalid(
                    path,
                    child(path, "dataSource"),
                    "may not be specified when dataSourceRef.namespace is specified",
                )
        elif spec.get("dataSource") is not None and any(
            source.get(f) != ref.get(f) for f in ("apiGroup", "kind", "name")
        ):
            errs.invalid(path, child(path, "dataSource"), "must match dataSourceRef")


def validate_persistent_volume_claim(errs: FieldErrors, obj: dict[str, Any]) -> None:
    validate_pvc_spec(errs, errs.as_map(obj.get("spec"), "spec"), "spec")


def _value_or_text(value: Any) -> Any:
    amount = _amount(value)
    return value if amount is None else amount


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a claim spec for Kubernetes' semantic equality: quantities by value, no nulls."""
    spec = copy.deepcopy(spec)
    resources = spec.get("resources")
    if isinstance(resources, dict):
        for section in ("requests", "limits"):
            if isinstance(resources.get(section), dict):
                resources[section] = {k: _value_or_text(v) for k, v in resources[section].items()}
    return prune(spec)


def validate_pvc_shrink(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A request may only go below its previous value while it stays above `status.capacity`
    (recovery from a failed expansion); Kubernetes cannot shrink volumes."""
    new_size, old_size = storage_request(new) or Fraction(0), storage_request(old) or Fraction(0)
    if new_size < old_size and new_size <= (storage_capacity(old) or Fraction(0)):
        errs.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")


def _allow_class_upgrade(
    errs: FieldErrors,
    new: dict[str, Any],
    old: dict[str, Any],
    new_spec: dict[str, Any],
    old_spec: dict[str, Any],
) -> None:
    """A class may be written once into `spec.storageClassName`: moved from the beta annotation,
    or set on a claim that had none (a retroactive default class). Otherwise the annotation is fixed."""
    new_annotations = dict_or_empty(dict_or_empty(new.get("metadata")).get("annotations"))
    old_annotations = dict_or_empty(dict_or_empty(old.get("metadata")).get("annotations"))
    old_class, new_class = old_spec.get("storageClassName"), new_spec.get("storageClassName")
    old_beta = old_annotations.get(BETA_CLASS_ANNOTATION)
    from_annotation = old_beta is not None and old_class is None and new_class == old_beta
    if from_annotation and new_annotations.get(BETA_CLASS_ANNOTATION, old_beta) == old_beta:
        new_spec.pop("storageClassName", None)
        return
    errs.immutable(
        new_annotations.get(BETA_CLASS_ANNOTATION, ""),
        old_annotations.get(BETA_CLASS_ANNOTATION, ""),
        child("metadata", "annotations", BETA_CLASS_ANNOTATION),
    )
    if old_class is None and new_class is not None and old_beta in (None, new_class):
        new_spec.pop("storageClassName")


def validate_persistent_volume_claim_update(
    errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]
) -> None:
    new_spec, old_spec = (
        _comparable(dict_or_empty(new.get("spec"))),
        _comparable(dict_or_empty(old.get("spec"))),
    )
    # What may change is made equal on both sides; any other difference is forbidden.
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")  # the binder sets volumeName once
    _allow_class_upgrade(errs, new, old, new_spec, old_spec)
    if dict_or_empty(old.get("status")).get("phase") == "Bound":  # bound claims may be expanded
        requests = dict_or_empty(new_spec.get("resources")).get("requests")
        if isinstance(requests, dict):
            requests.pop("storage", None)
            old_storage = dict_or_empty(dict_or_empty(old_spec.get("resources")).get("requests")).get(
                "storage"
            )
            if old_storage is not None:
                requests["storage"] = old_storage
    for spec in (new_spec, old_spec):
        spec.pop("volumeAttributesClassName", None)
    if prune(new_spec) != prune(old_spec):
        errs.forbidden("spec", PVC_IMMUTABLE)
    validate_pvc_shrink(errs, new, old)
    new_raw, old_raw = dict_or_empty(new.get("spec")), dict_or_empty(old.get("spec"))
    errs.immutable(new_raw.get("volumeMode"), old_raw.get("volumeMode"), "volumeMode")
    old_vac, new_vac = old_raw.get("volumeAttributesClassName"), new_raw.get("volumeAttributesClassName")
    if old_vac is not None and new_vac is None:
        errs.forbidden("spec.volumeAttributesClassName", "update from non-nil value to nil is forbidden")
    elif old_vac is not None and new_vac == "":
        errs.forbidden(
            "spec.volumeAttributesClassName", "update from non-nil value to an empty string is forbidden"
        )
