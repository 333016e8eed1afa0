"""The other core kinds: Namespace, Node, Event, Lease, ConfigMap, Secret, Service, ServiceAccount.

Kinds with behaviour (Namespace, Node, Event, Lease) get the rules their controllers rely on;
kinds stored without behaviour (Service, ConfigMap, Secret, ServiceAccount) get the checks a
user would hit first with a wrong manifest (key names, port numbers, enum values), no more.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any

from kstore.api.names import is_dns1123_label, is_dns1123_subdomain, is_valid_label_value, is_valid_port_name
from kstore.api.validation.common import validate_data_keys, validate_labels, validate_qualified_name
from kstore.api.validation.field import FieldErrors, child, dict_or_empty, index, key, prune
from kstore.api.validation.meta import validate_finalizers

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
MAX_DATA_SIZE = 1024 * 1024
IMMUTABLE_SET = "field is immutable when `immutable` is set"
_REDACTED = "<secret contents redacted>"


# --- Namespace ---------------------------------------------------------------------------------


def validate_namespace(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    validate_finalizers(errs, spec.get("finalizers"), "spec.finalizers")


def validate_namespace_status(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    phase = errs.as_map(new.get("status"), "status").get("phase")
    if not dict_or_empty(new.get("metadata")).get("deletionTimestamp"):
        if phase != "Active":
            errs.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")
    elif phase != "Terminating":
        errs.invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")


# --- Node --------------------------------------------------------------------------------------


def validate_node(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    for i, taint in enumerate(errs.as_list(spec.get("taints"), "spec.taints")):
        path = index("spec.taints", i)
        taint = errs.as_map(taint, path)
        validate_qualified_name(errs, errs.as_str(taint.get("key"), child(path, "key")), child(path, "key"))
        value = errs.as_str(taint.get("value"), child(path, "value"))
        if msgs := is_valid_label_value(value):
            errs.invalid(child(path, "value"), value, ";".join(msgs))
        effect = errs.as_str(taint.get("effect"), child(path, "effect"))
        if not effect:
            errs.required(child(path, "effect"), "")
        elif effect not in TAINT_EFFECTS:
            errs.not_supported(child(path, "effect"), effect, TAINT_EFFECTS)
    cidrs = errs.as_list(spec.get("podCIDRs"), "spec.podCIDRs")
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.ip_network(errs.as_str(cidr, index("spec.podCIDRs", i)), strict=False)
        except ValueError:
            errs.invalid(
                index("spec.podCIDRs", i),
                cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            )
    errs.as_bool(spec.get("unschedulable"), "spec.unschedulable")
    validate_node_status(errs, obj, {})


def validate_node_status(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    status = errs.as_map(new.get("status"), "status")
    for section in ("capacity", "allocatable"):
        for name, value in errs.as_map(status.get(section), child("status", section)).items():
            parsed = errs.as_quantity(value, key(child("status", section), name))
            if parsed is not None and parsed[0] < 0:
                errs.invalid(
                    key(child("status", section), name), parsed[1], "must be greater than or equal to 0"
                )


def validate_node_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec, old_spec = dict_or_empty(new.get("spec")), dict_or_empty(old.get("spec"))
    if old_spec.get("podCIDRs") and new_spec.get("podCIDRs") != old_spec.get("podCIDRs"):
        errs.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
    if old_spec.get("providerID") and new_spec.get("providerID") != old_spec.get("providerID"):
        errs.forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')


# --- Event and Lease ---------------------------------------------------------------------------


def validate_event(errs: FieldErrors, obj: dict[str, Any]) -> None:
    """core/v1 Events: the legacy rules (namespace agreement; new-style events name their reporter)."""
    namespace = dict_or_empty(obj.get("metadata")).get("namespace") or ""
    involved = errs.as_map(obj.get("involvedObject"), "involvedObject")
    involved_ns = errs.as_str(involved.get("namespace"), "involvedObject.namespace")
    if not obj.get("eventTime"):
        if (involved_ns and namespace != involved_ns) or (
            not involved_ns and namespace not in ("", "default")
        ):
            errs.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
        return
    if not involved_ns and namespace not in ("default", "kube-system"):
        errs.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    controller = errs.as_str(obj.get("reportingComponent"), "reportingComponent")
    if not controller:
        errs.required("reportingComponent", "")
    validate_qualified_name(errs, controller, "reportingComponent")
    for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = errs.as_str(obj.get(field), field)
        if not value:
            errs.required(field, "")
        if len(value) > limit:
            errs.invalid(field, "", f"can have at most {limit} characters")
    if len(errs.as_str(obj.get("note"), "note")) > 1024:
        errs.invalid("note", "", "can have at most 1024 characters")


def validate_lease(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    duration = errs.as_int(spec.get("leaseDurationSeconds"), "spec.leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = errs.as_int(spec.get("leaseTransitions"), "spec.leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
    for field in ("holderIdentity", "acquireTime", "renewTime"):
        errs.as_str(spec.get(field), child("spec", field))


# --- ConfigMap, Secret, ServiceAccount ---------------------------------------------------------


def validate_config_map(errs: FieldErrors, obj: dict[str, Any]) -> None:
    data = validate_data_keys(errs, obj.get("data"), "data")
    binary = validate_data_keys(errs, obj.get("binaryData"), "binaryData")
    for name in data:
        if name in binary:
            errs.invalid(f"data[{name}]", name, "duplicate of key present in binaryData")
    size = sum(len(v) for v in data.values() if isinstance(v, str)) + sum(
        len(v) for v in binary.values() if isinstance(v, str)
    )
    if size > MAX_DATA_SIZE:
        errs.too_long("", MAX_DATA_SIZE)


def validate_secret(errs: FieldErrors, obj: dict[str, Any]) -> None:
    data = validate_data_keys(errs, obj.get("data"), "data")
    string_data = validate_data_keys(errs, obj.get("stringData"), "stringData")
    size = 0
    for name, value in data.items():
        try:
            size += len(base64.b64decode(errs.as_str(value, key("data", name)), validate=True))
        except (binascii.Error, ValueError):
            errs.invalid(key("data", name), _REDACTED, "illegal base64 data")
    size += sum(len(v.encode()) for v in string_data.values() if isinstance(v, str))
    if size > MAX_DATA_SIZE:
        errs.too_long("data", MAX_DATA_SIZE)
    keys = set(data) | set(string_data)
    kind = obj.get("type")
    required = {
        "kubernetes.io/tls": ("tls.crt", "tls.key"),
        "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
        "kubernetes.io/dockercfg": (".dockercfg",),
        "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    }.get(kind if isinstance(kind, str) else "", ())
    for name in required:
        if name not in keys:
            errs.required(key("data", name), "")
    if kind == "kubernetes.io/service-account-token":
        annotations = dict_or_empty(dict_or_empty(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.required("metadata.annotations[kubernetes.io/service-account.name]", "")


def validate_immutable_data(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    """ConfigMaps and Secrets marked `immutable: true` keep their data (and the mark) for good."""
    if old.get("type") is not None or new.get("type") is not None:
        errs.immutable(new.get("type"), old.get("type"), "type")
    if old.get("immutable") is not True:
        return
    if new.get("immutable") is not True:
        errs.forbidden("immutable", IMMUTABLE_SET)
    for field in ("data", "binaryData", "stringData"):
        if prune(new.get(field) or {}) != prune(old.get(field) or {}):
            errs.forbidden(field, IMMUTABLE_SET)


def validate_service_account(errs: FieldErrors, obj: dict[str, Any]) -> None:
    for field in ("secrets", "imagePullSecrets"):
        for i, ref in enumerate(errs.as_list(obj.get(field), field)):
            name = errs.as_str(errs.as_map(ref, index(field, i)).get("name"), child(index(field, i), "name"))
            if name:
                errs.invalid_each(child(index(field, i), "name"), name, is_dns1123_subdomain(name))


# --- Service -----------------------------------------------------------------------------------


def validate_service(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    kind = errs.as_str(spec.get("type"), "spec.type")
    if kind not in SERVICE_TYPES:
        errs.not_supported("spec.type", kind, SERVICE_TYPES)
    ports = errs.as_list(spec.get("ports"), "spec.ports")
    headless = spec.get("clusterIP") == "None"
    if kind == "ExternalName":
        if not errs.as_str(spec.get("externalName"), "spec.externalName"):
            errs.required("spec.externalName", "")
    elif not ports and not headless:
        errs.required("spec.ports", "")
    names: set[str] = set()
    for i, port in enumerate(ports):
        path = index("spec.ports", i)
        port = errs.as_map(port, path)
        name = errs.as_str(port.get("name"), child(path, "name"))
        if not name and len(ports) > 1:
            errs.required(child(path, "name"), "")
        elif name:
            errs.invalid_each(child(path, "name"), name, is_dns1123_label(name))
            if name in names:
                errs.duplicate(child(path, "name"), name)
            names.add(name)
        errs.port_number(port.get("port"), child(path, "port"), required=True)
        protocol = errs.as_str(port.get("protocol"), child(path, "protocol"))
        if protocol not in ("SCTP", "TCP", "UDP"):
            errs.not_supported(child(path, "protocol"), protocol, ("SCTP", "TCP", "UDP"))
        target = port.get("targetPort")
        if isinstance(target, str):
            errs.invalid_each(child(path, "targetPort"), target, is_valid_port_name(target))
        else:
            errs.port_number(target, child(path, "targetPort"), required=False)
        errs.port_number(port.get("nodePort"), child(path, "nodePort"), required=False)
    affinity = errs.as_str(spec.get("sessionAffinity"), "spec.sessionAffinity")
    if affinity not in ("ClientIP", "None"):
        errs.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))
    validate_labels(errs, spec.get("selector"), "spec.selector")
