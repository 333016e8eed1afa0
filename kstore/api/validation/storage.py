"""The storage.k8s.io kinds: StorageClass, VolumeAttachment, CSINode, CSIDriver (`storage/validation`).

Design: one `validate_*` per kind for create and one `validate_*_update` for what may not
change: a class's provisioner, parameters, reclaim policy and binding mode; an attachment's
spec; a registered CSINode driver entry (except its allocatable count); a CSIDriver's
`attachRequired` and lifecycle modes.
"""

from __future__ import annotations

from typing import Any

from kstore.api.names import name_is_dns_subdomain
from kstore.api.validation.common import validate_qualified_name, validate_topology_terms
from kstore.api.validation.field import FieldErrors, child, dict_or_empty, index
from kstore.api.validation.volumes import validate_csi_driver_name, validate_pv_spec

SC_RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024
MAX_ATTACHMENT_METADATA_SIZE = 256 * 1024
# CSIDriver booleans that must be set (defaulting sets them); Kubernetes spells one path "attachedRequired".
_CSI_DRIVER_FLAGS = (
    ("attachRequired", "spec.attachedRequired"),
    ("podInfoOnMount", "spec.podInfoOnMount"),
    ("storageCapacity", "spec.storageCapacity"),
    ("seLinuxMount", "spec.seLinuxMount"),
)


# --- StorageClass ------------------------------------------------------------------------------


def validate_storage_class(errs: FieldErrors, obj: dict[str, Any]) -> None:
    provisioner = errs.as_str(obj.get("provisioner"), "provisioner")
    if not provisioner:
        errs.required("provisioner", "")
    else:
        validate_qualified_name(errs, provisioner.lower(), "provisioner")
    parameters = errs.as_str_map(obj.get("parameters"), "parameters")
    if len(parameters) > MAX_PARAMETERS:
        errs.too_long("parameters", MAX_PARAMETERS)
    for name in parameters:
        if not name:
            errs.invalid("parameters", name, "field can not be empty.")
    if sum(len(k) + len(v) for k, v in parameters.items()) > MAX_PARAMETERS_SIZE:
        errs.too_long("parameters", MAX_PARAMETERS_SIZE)
    policy = errs.as_str(obj.get("reclaimPolicy"), "reclaimPolicy")
    if policy and policy not in SC_RECLAIM_POLICIES:
        errs.not_supported("reclaimPolicy", policy, SC_RECLAIM_POLICIES)
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.required("volumeBindingMode", "")
    elif mode not in BINDING_MODES:
        errs.not_supported("volumeBindingMode", mode, BINDING_MODES)
    errs.as_bool(obj.get("allowVolumeExpansion"), "allowVolumeExpansion")
    for i, option in enumerate(errs.as_list(obj.get("mountOptions"), "mountOptions")):
        errs.as_str(option, index("mountOptions", i))
    validate_topology_terms(errs, obj.get("allowedTopologies"), "allowedTopologies")


def validate_storage_class_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.forbidden("parameters", "updates to parameters are forbidden.")
    if new.get("provisioner") != old.get("provisioner"):
        errs.forbidden("provisioner", "updates to provisioner are forbidden.")
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")
    errs.immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")


# --- VolumeAttachment, CSINode, CSIDriver ------------------------------------------------------


def validate_volume_attachment(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    validate_csi_driver_name(errs, errs.as_str(spec.get("attacher"), "spec.attacher"), "spec.attacher")
    source = errs.as_map(spec.get("source"), "spec.source")
    pv_name, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
    if pv_name is None and inline is None:
        errs.required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName")
    elif pv_name is not None and inline is not None:
        errs.forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName")
    elif pv_name is not None:
        pv_name = errs.as_str(pv_name, "spec.source.persistentVolumeName")
        if not pv_name:
            errs.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName")
        errs.invalid_each("spec.source.persistentVolumeName", pv_name, name_is_dns_subdomain(pv_name))
    else:
        validate_pv_spec(
            errs,
            errs.as_map(inline, "spec.source.inlineVolumeSpec"),
            "spec.source.inlineVolumeSpec",
            inline=True,
        )
    node_name = errs.as_str(spec.get("nodeName"), "spec.nodeName")
    errs.invalid_each("spec.nodeName", node_name, name_is_dns_subdomain(node_name))
    validate_volume_attachment_status(errs, obj)


def validate_volume_attachment_status(errs: FieldErrors, obj: dict[str, Any]) -> None:
    status = errs.as_map(obj.get("status"), "status")
    errs.as_bool(status.get("attached"), "status.attached")
    metadata = errs.as_str_map(status.get("attachmentMetadata"), "status.attachmentMetadata")
    if sum(len(k) + len(v) for k, v in metadata.items()) > MAX_ATTACHMENT_METADATA_SIZE:
        errs.too_long("status.attachmentMetadata", MAX_ATTACHMENT_METADATA_SIZE)
    for field in ("attachError", "detachError"):
        error = errs.as_map(status.get(field), child("status", field))
        if len(errs.as_str(error.get("message"), child("status", field, "message"))) > 1024:
            errs.too_long(
                child("status", field, "message"), MAX_ATTACHMENT_METADATA_SIZE
            )  # sic, as Kubernetes
        code = errs.as_int(error.get("errorCode"), child("status", field, "errorCode"))
        if code is not None and code < 0:
            errs.invalid(
                child("status", field, "errorCode"), code, "must be between 0 and 2147483647, inclusive"
            )


def validate_volume_attachment_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    if new.get("spec") != old.get("spec"):
        errs.invalid("spec", new.get("spec"), "field is immutable")


def validate_csi_node(errs: FieldErrors, obj: dict[str, Any]) -> None:
    drivers_path = "spec.drivers"
    seen: set[str] = set()
    spec = errs.as_map(obj.get("spec"), "spec")
    for i, driver in enumerate(errs.as_list(spec.get("drivers"), drivers_path)):
        path = index(drivers_path, i)
        driver = errs.as_map(driver, path)
        name = errs.as_str(driver.get("name"), child(path, "name"))
        validate_csi_driver_name(errs, name, child(path, "name"))
        node_id = errs.as_str(driver.get("nodeID"), child(path, "nodeID"))
        if not node_id:
            errs.required(child(path, "nodeID"), "")
        if len(node_id) > 192:
            errs.invalid(child(path, "nodeID"), node_id, "must be 192 characters or less")
        allocatable = errs.as_map(driver.get("allocatable"), child(path, "allocatable"))
        errs.nonnegative(allocatable.get("count"), child(path, "allocatable", "count"))
        if name in seen:
            errs.duplicate(child(path, "name"), name)
        seen.add(name)
        topology_keys: list[str] = []
        for j, topology_key in enumerate(
            errs.as_list(driver.get("topologyKeys"), child(path, "topologyKeys"))
        ):
            topology_key = errs.as_str(topology_key, index(child(path, "topologyKeys"), j))
            if not topology_key:
                errs.required(path, "")
            if topology_key in topology_keys:
                errs.duplicate(path, topology_key)
            topology_keys.append(topology_key)
            validate_qualified_name(errs, topology_key, path)


def validate_csi_node_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A registered driver's entry may not change, except its allocatable count."""

    def without_allocatable(driver: Any) -> Any:
        return {k: v for k, v in driver.items() if k != "allocatable"} if isinstance(driver, dict) else driver

    new_drivers = dict_or_empty(new.get("spec")).get("drivers") or []
    for old_driver in dict_or_empty(old.get("spec")).get("drivers") or []:
        for new_driver in new_drivers:
            if (
                isinstance(old_driver, dict)
                and isinstance(new_driver, dict)
                and old_driver.get("name") == new_driver.get("name")
            ):
                if without_allocatable(new_driver) != without_allocatable(old_driver):
                    errs.invalid("spec.drivers", new_driver, "field is immutable")


def validate_csi_driver(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    for field, path in _CSI_DRIVER_FLAGS:
        if errs.as_bool(spec.get(field), path) is None:
            errs.required(path, "")
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES)
    audiences: set[str] = set()
    for i, request in enumerate(errs.as_list(spec.get("tokenRequests"), "spec.tokenRequests")):
        path = index("spec.tokenRequests", i)
        request = errs.as_map(request, path)
        audience = errs.as_str(request.get("audience"), child(path, "audience"))
        if audience in audiences:
            errs.duplicate(child(path, "audience"), audience)
            continue
        audiences.add(audience)
        seconds = errs.as_int(request.get("expirationSeconds"), child(path, "expirationSeconds"))
        if seconds is not None and seconds < 600:
            errs.invalid(
                child(path, "expirationSeconds"), seconds, "may not specify a duration less than 10 minutes"
            )
        if seconds is not None and seconds > 1 << 32:
            errs.invalid(
                child(path, "expirationSeconds"),
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            )
    for mode in errs.as_list(spec.get("volumeLifecycleModes"), "spec.volumeLifecycleModes"):
        if mode not in ("Persistent", "Ephemeral"):
            errs.not_supported("spec.volumeLifecycleModes", mode, ("Persistent", "Ephemeral"))
    period = errs.as_int(
        spec.get("nodeAllocatableUpdatePeriodSeconds"), "spec.nodeAllocatableUpdatePeriodSeconds"
    )
    if period is not None and period < 10:
        errs.invalid(
            "spec.nodeAllocatableUpdatePeriodSeconds", period, "must be greater than or equal to 10 seconds"
        )


def validate_csi_driver_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec, old_spec = dict_or_empty(new.get("spec")), dict_or_empty(old.get("spec"))
    errs.immutable(new_spec.get("attachRequired"), old_spec.get("attachRequired"), "spec.attachedRequired")
    errs.immutable(
        new_spec.get("volumeLifecycleModes"),
        old_spec.get("volumeLifecycleModes"),
        "spec.volumeLifecycleModes",
    )
