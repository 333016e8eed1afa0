"""Pods and pod specs: volumes, containers, mounts and devices, scheduling fields; pod updates.

Design:
- `validate_pod_spec` serves Pods and every pod template (Deployment, ReplicaSet, StatefulSet).
  It follows `core/validation`'s `ValidatePodSpec` closely where storage is concerned: volume
  names are unique DNS labels with exactly one source each; a volume with errors is left out of
  the name map, so mounts naming it also report `Not found`; `volumeMounts` and
  `volumeDevices` may not share names or paths; devices need a PVC (or ephemeral) volume.
- StatefulSet templates pass `claim_templates`: mounts may name a volumeClaimTemplate, which
  the StatefulSet controller turns into a PVC volume. (Kubernetes skips the template's pod spec
  validation altogether; kstore checks it against volumes plus claim templates.)
- Pod updates may change only container images, `activeDeadlineSeconds` (downwards), added
  tolerations, a previously negative grace period set to 1, removed scheduling gates, and
  `spec.nodeName` once: kstore has no `binding` subresource, so the scheduler binds with it.
"""

from __future__ import annotations

import copy
from typing import Any

from kstore.api.names import (
    is_dns1123_label,
    is_env_var_name,
    is_valid_port_name,
    name_is_dns_subdomain,
)
from kstore.api.validation.common import (
    validate_annotations,
    validate_labels,
    validate_node_selector,
    validate_node_selector_term,
    validate_qualified_name,
)
from kstore.api.validation.field import FieldErrors, child, go_quote, index, key, prune
from kstore.api.validation.volumes import validate_pvc_spec, validate_source_fields

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)

# Pod volume sources in Kubernetes' checking order, with the fields each one requires.
POD_VOLUME_SOURCES: dict[str, tuple[str, ...]] = {
    "emptyDir": (), "hostPath": (), "gitRepo": ("repository",), "gcePersistentDisk": ("pdName",),
    "awsElasticBlockStore": ("volumeID",), "secret": ("secretName",), "nfs": (),
    "iscsi": ("targetPortal", "iqn"), "glusterfs": ("endpoints", "path"), "flocker": (),
    "persistentVolumeClaim": ("claimName",), "rbd": ("monitors", "image"), "cinder": ("volumeID",),
    "cephfs": ("monitors",), "quobyte": ("registry", "volume"), "downwardAPI": (), "fc": (),
    "flexVolume": ("driver",), "configMap": ("name",), "azureFile": ("secretName", "shareName"),
    "vsphereVolume": ("volumePath",), "photonPersistentDisk": ("pdID",), "portworxVolume": ("volumeID",),
    "azureDisk": ("diskName", "diskURI"), "storageos": ("volumeName",), "projected": (),
    "scaleIO": ("gateway", "system", "volumeName"), "csi": (), "ephemeral": (), "image": (),
}  # fmt: skip
_CLAIM_SOURCES = ("persistentVolumeClaim", "ephemeral")


def _validate_volume_source(errs: FieldErrors, volume: dict[str, Any], path: str, pod_name: str) -> None:
    count = 0
    for name, required in POD_VOLUME_SOURCES.items():
        if volume.get(name) is None:
            continue
        source_path = child(path, name)
        if count:
            errs.forbidden(source_path, "may not specify more than 1 volume type")
            continue
        count += 1
        source = errs.as_map(volume[name], source_path)
        validate_source_fields(errs, name, source, source_path, required)
        if name in ("secret", "configMap", "downwardAPI", "projected"):
            mode = errs.as_int(source.get("defaultMode"), child(source_path, "defaultMode"))
            if mode is not None and not 0 <= mode <= 0o777:
                errs.invalid(child(source_path, "defaultMode"), mode, FILE_MODE_ERROR)
        elif name == "emptyDir" and source.get("sizeLimit") is not None:
            parsed = errs.as_quantity(source["sizeLimit"], child(source_path, "sizeLimit"))
            if parsed is not None and parsed[0] < 0:
                errs.forbidden(
                    child(source_path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"
                )
        elif name == "ephemeral":
            _validate_ephemeral(
                errs, source, path, pod_name, errs.as_str(volume.get("name"), child(path, "name"))
            )
    if not count:
        errs.required(path, "must specify a volume type")


def _validate_ephemeral(
    errs: FieldErrors, source: dict[str, Any], path: str, pod_name: str, volume: str
) -> None:
    """An ephemeral volume's claim template; `path` is the volume's (`spec.volumes[0]`)."""
    template_path = child(path, "ephemeral", "volumeClaimTemplate")
    if source.get("volumeClaimTemplate") is None:
        errs.required(template_path, "")
        return
    template = errs.as_map(source["volumeClaimTemplate"], template_path)
    metadata = errs.as_map(template.get("metadata"), child(template_path, "metadata"))
    validate_annotations(errs, metadata.get("annotations"), child(template_path, "metadata", "annotations"))
    validate_labels(errs, metadata.get("labels"), child(template_path, "metadata", "labels"))
    for field in metadata:
        if field not in ("labels", "annotations"):
            errs.invalid(child(template_path, "metadata", field), metadata[field], "cannot be set")
    validate_pvc_spec(
        errs, errs.as_map(template.get("spec"), child(template_path, "spec")), child(template_path, "spec")
    )
    if pod_name and volume:
        claim = f"{pod_name}-{volume}"
        for msg in name_is_dns_subdomain(claim):
            errs.invalid(child(path, "name"), volume, f"PVC name {go_quote(claim)}: {msg}")


def validate_volumes(
    errs: FieldErrors, volumes: Any, path: str, pod_name: str = ""
) -> dict[str, dict[str, Any]]:
    """Validate `spec.volumes`; returns the volumes without errors, by name."""
    valid: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    items = errs.as_list(volumes, path)
    ephemeral_claims = {
        f"{pod_name}-{v.get('name')}" for v in items if isinstance(v, dict) and v.get("ephemeral")
    }
    for i, volume in enumerate(items):
        volume_path = index(path, i)
        before = len(errs)
        volume = errs.as_map(volume, volume_path)
        name = errs.as_str(volume.get("name"), child(volume_path, "name"))
        _validate_volume_source(errs, volume, volume_path, pod_name)
        if not name:
            errs.required(child(volume_path, "name"), "")
        else:
            errs.invalid_each(child(volume_path, "name"), name, is_dns1123_label(name))
        if name in names:
            errs.duplicate(child(volume_path, "name"), name)
        if len(errs) == before:
            names.add(name)
            valid[name] = volume
        claim = volume.get("persistentVolumeClaim")
        if pod_name and isinstance(claim, dict) and claim.get("claimName") in ephemeral_claims:
            errs.invalid(
                child(volume_path, "persistentVolumeClaim", "claimName"),
                claim["claimName"],
                "must not reference a PVC that gets created for an ephemeral volume",
            )
    return valid


def _validate_mounts(
    errs: FieldErrors, container: dict[str, Any], volumes: dict[str, Any], path: str
) -> None:
    mounts_path, devices_path = child(path, "volumeMounts"), child(path, "volumeDevices")
    mounts = [
        errs.as_map(m, index(mounts_path, i))
        for i, m in enumerate(errs.as_list(container.get("volumeMounts"), mounts_path))
    ]
    devices = [
        errs.as_map(d, index(devices_path, i))
        for i, d in enumerate(errs.as_list(container.get("volumeDevices"), devices_path))
    ]
    mount_paths = {m.get("name"): m.get("mountPath") for m in mounts}
    device_paths = {d.get("name"): d.get("devicePath") for d in devices}
    seen_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount_path = index(mounts_path, i)
        name = errs.as_str(mount.get("name"), child(mount_path, "name"))
        target = errs.as_str(mount.get("mountPath"), child(mount_path, "mountPath"))
        if not name:
            errs.required(child(mount_path, "name"), "")
        if name not in volumes:
            errs.not_found(child(mount_path, "name"), name)
        if not target:
            errs.required(child(mount_path, "mountPath"), "")
        if target in seen_paths:
            errs.invalid(child(mount_path, "mountPath"), target, "must be unique")
        seen_paths.add(target)
        if name in device_paths:
            errs.invalid(child(mount_path, "name"), name, "must not already exist in volumeDevices")
        if target in device_paths.values():
            errs.invalid(
                child(mount_path, "mountPath"), target, "must not already exist as a path in volumeDevices"
            )
        for field in ("subPath", "subPathExpr"):
            sub = errs.as_str(mount.get(field), child(mount_path, field))
            if sub.startswith("/"):
                errs.invalid(child(mounts_path, field), sub, "must be a relative path")
            if ".." in sub.split("/"):
                errs.invalid(child(mounts_path, field), sub, "must not contain '..'")
        if mount.get("subPath") and mount.get("subPathExpr"):
            errs.invalid(
                child(mount_path, "subPathExpr"),
                mount["subPathExpr"],
                "subPathExpr and subPath are mutually exclusive",
            )
        errs.as_bool(mount.get("readOnly"), child(mount_path, "readOnly"))
    seen_names: set[str] = set()
    seen_paths = set()
    for i, device in enumerate(devices):
        device_path = index(devices_path, i)
        name = errs.as_str(device.get("name"), child(device_path, "name"))
        target = errs.as_str(device.get("devicePath"), child(device_path, "devicePath"))
        if not name:
            errs.required(child(device_path, "name"), "")
        if name in seen_names:
            errs.invalid(child(device_path, "name"), name, "must be unique")
        if name in volumes and not any(volumes[name].get(s) is not None for s in _CLAIM_SOURCES):
            errs.invalid(
                child(device_path, "name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )
        if name not in volumes:
            errs.not_found(child(device_path, "name"), name)
        if not target:
            errs.required(child(device_path, "devicePath"), "")
        if target in seen_paths:
            errs.invalid(child(device_path, "devicePath"), target, "must be unique")
        if target and ".." in target.split("/"):
            errs.invalid(child(device_path, "devicePath"), target, "can not contain backsteps ('..')")
        else:
            seen_paths.add(target)
        if name in mount_paths:
            errs.invalid(child(device_path, "name"), name, "must not already exist in volumeMounts")
        if target in mount_paths.values():
            errs.invalid(
                child(device_path, "devicePath"), target, "must not already exist as a path in volumeMounts"
            )
        if name:
            seen_names.add(name)


def _validate_ports(errs: FieldErrors, ports: Any, path: str) -> None:
    names: set[str] = set()
    for i, port in enumerate(errs.as_list(ports, path)):
        port_path = index(path, i)
        port = errs.as_map(port, port_path)
        name = errs.as_str(port.get("name"), child(port_path, "name"))
        if name:
            if msgs := is_valid_port_name(name):
                errs.invalid_each(child(port_path, "name"), name, msgs)
            elif name in names:
                errs.duplicate(child(port_path, "name"), name)
            names.add(name)
        errs.port_number(port.get("containerPort"), child(port_path, "containerPort"), required=True)
        errs.port_number(port.get("hostPort"), child(port_path, "hostPort"), required=False)
        protocol = errs.as_str(port.get("protocol"), child(port_path, "protocol"))
        if not protocol:
            errs.required(child(port_path, "protocol"), "")
        elif protocol not in PROTOCOLS:
            errs.not_supported(child(port_path, "protocol"), protocol, PROTOCOLS)


def _validate_env(errs: FieldErrors, env: Any, path: str) -> None:
    for i, var in enumerate(errs.as_list(env, path)):
        var_path = index(path, i)
        var = errs.as_map(var, var_path)
        name = errs.as_str(var.get("name"), child(var_path, "name"))
        if not name:
            errs.required(child(var_path, "name"), "")
        else:
            errs.invalid_each(child(var_path, "name"), name, is_env_var_name(name))
        if var.get("valueFrom") is None:
            continue
        source_path = child(var_path, "valueFrom")
        source = errs.as_map(var["valueFrom"], source_path)
        kinds = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
            if source.get(k) is not None
        ]
        if not kinds:
            errs.invalid(
                source_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
        elif len(kinds) > 1:
            errs.invalid(source_path, "", "may not have more than one field specified at a time")
        if var.get("value") and kinds:
            errs.invalid(source_path, "", "may not be specified when `value` is not empty")
        for ref in ("configMapKeyRef", "secretKeyRef"):
            if source.get(ref) is not None:
                selector = errs.as_map(source[ref], child(source_path, ref))
                if not errs.as_str(selector.get("key"), child(source_path, ref, "key")):
                    errs.required(child(source_path, ref, "key"), "")


def _validate_resources(errs: FieldErrors, resources: Any, path: str) -> None:
    resources = errs.as_map(resources, path)
    limits: dict[str, Any] = {}
    for section in ("limits", "requests"):
        section_path = child(path, section)
        for name, value in errs.as_map(resources.get(section), section_path).items():
            parsed = errs.as_quantity(value, key(section_path, name))
            if parsed is None:
                continue
            if parsed[0] < 0:
                errs.invalid(key(section_path, name), parsed[1], "must be greater than or equal to 0")
            elif section == "limits":
                limits[name] = parsed
            elif name in limits and parsed[0] > limits[name][0]:
                errs.invalid(
                    key(section_path, name),
                    parsed[1],
                    f"must be less than or equal to {name} limit of {limits[name][1]}",
                )


def _validate_container(errs: FieldErrors, container: Any, path: str, volumes: dict[str, Any]) -> str:
    container = errs.as_map(container, path)
    name = errs.as_str(container.get("name"), child(path, "name"))
    if not name:
        errs.required(child(path, "name"), "")
    else:
        errs.invalid_each(child(path, "name"), name, is_dns1123_label(name))
    if not errs.as_str(container.get("image"), child(path, "image")):
        errs.required(child(path, "image"), "")
    policy = errs.as_str(container.get("terminationMessagePolicy"), child(path, "terminationMessagePolicy"))
    if not policy:
        errs.required(child(path, "terminationMessagePolicy"), "")
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.not_supported(child(path, "terminationMessagePolicy"), policy, ("File", "FallbackToLogsOnError"))
    _validate_ports(errs, container.get("ports"), child(path, "ports"))
    _validate_env(errs, container.get("env"), child(path, "env"))
    _validate_mounts(errs, container, volumes, path)
    pull = errs.as_str(container.get("imagePullPolicy"), child(path, "imagePullPolicy"))
    if not pull:
        errs.required(child(path, "imagePullPolicy"), "")
    elif pull not in PULL_POLICIES:
        errs.not_supported(child(path, "imagePullPolicy"), pull, PULL_POLICIES)
    _validate_resources(errs, container.get("resources"), child(path, "resources"))
    for field in ("command", "args"):
        for i, word in enumerate(errs.as_list(container.get(field), child(path, field))):
            errs.as_str(word, index(child(path, field), i))
    return name


def _validate_scheduling(errs: FieldErrors, spec: dict[str, Any], path: str) -> None:
    validate_labels(errs, spec.get("nodeSelector"), child(path, "nodeSelector"))
    node_name = errs.as_str(spec.get("nodeName"), child(path, "nodeName"))
    if node_name:
        errs.invalid_each(child(path, "nodeName"), node_name, name_is_dns_subdomain(node_name))
    affinity_path = child(path, "affinity", "nodeAffinity")
    affinity = errs.as_map(
        errs.as_map(spec.get("affinity"), child(path, "affinity")).get("nodeAffinity"), affinity_path
    )
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        validate_node_selector(
            errs, required, child(affinity_path, "requiredDuringSchedulingIgnoredDuringExecution")
        )
    preferred_path = child(affinity_path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(
        errs.as_list(affinity.get("preferredDuringSchedulingIgnoredDuringExecution"), preferred_path)
    ):
        term = errs.as_map(term, index(preferred_path, i))
        weight = errs.as_int(term.get("weight"), child(index(preferred_path, i), "weight"))
        if weight is not None and not 1 <= weight <= 100:
            errs.invalid(child(index(preferred_path, i), "weight"), weight, "must be in the range 1-100")
        validate_node_selector_term(
            errs, term.get("preference"), child(index(preferred_path, i), "preference")
        )
    tolerations_path = child(path, "tolerations")
    for i, toleration in enumerate(errs.as_list(spec.get("tolerations"), tolerations_path)):
        t_path = index(tolerations_path, i)
        toleration = errs.as_map(toleration, t_path)
        t_key = errs.as_str(toleration.get("key"), child(t_path, "key"))
        written = errs.as_str(toleration.get("operator"), child(t_path, "operator"))
        operator = written or "Equal"
        if t_key:
            validate_qualified_name(errs, t_key, child(t_path, "key"))
        elif operator != "Exists":
            errs.invalid(
                child(t_path, "operator"),
                written,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        if operator == "Exists" and toleration.get("value"):
            errs.invalid(
                child(t_path, "operator"),
                toleration.get("value"),
                "value must be empty when `operator` is 'Exists'",
            )
        elif operator not in ("Equal", "Exists"):
            errs.not_supported(child(t_path, "operator"), operator, ("Equal", "Exists"))
        effect = errs.as_str(toleration.get("effect"), child(t_path, "effect"))
        if effect and effect not in TOLERATION_EFFECTS:
            errs.not_supported(child(t_path, "effect"), effect, TOLERATION_EFFECTS)


def validate_pod_spec(
    errs: FieldErrors,
    spec: dict[str, Any],
    path: str,
    *,
    pod_name: str = "",
    claim_templates: tuple[str, ...] = (),
) -> None:
    """ValidatePodSpec. `pod_name` enables the ephemeral-PVC name checks (Pods only)."""
    volumes = validate_volumes(errs, spec.get("volumes"), child(path, "volumes"), pod_name)
    for claim in claim_templates:
        volumes.setdefault(claim, {"name": claim, "persistentVolumeClaim": {"claimName": claim}})
    containers_path = child(path, "containers")
    containers = errs.as_list(spec.get("containers"), containers_path)
    if not containers:
        errs.required(containers_path, "")
    names: set[str] = set()
    for i, container in enumerate(containers):
        name = _validate_container(errs, container, index(containers_path, i), volumes)
        if name in names:
            errs.duplicate(child(index(containers_path, i), "name"), name)
        names.add(name)
    init_path = child(path, "initContainers")
    for i, container in enumerate(errs.as_list(spec.get("initContainers"), init_path)):
        name = _validate_container(errs, container, index(init_path, i), volumes)
        if name in names:
            errs.duplicate(child(index(init_path, i), "name"), name)
        names.add(name)
    restart = errs.as_str(spec.get("restartPolicy"), child(path, "restartPolicy"))
    if not restart:
        errs.required(child(path, "restartPolicy"), "")
    elif restart not in RESTART_POLICIES:
        errs.not_supported(child(path, "restartPolicy"), restart, RESTART_POLICIES)
    dns = errs.as_str(spec.get("dnsPolicy"), child(path, "dnsPolicy"))
    if not dns:
        errs.required(child(path, "dnsPolicy"), "")
    elif dns not in DNS_POLICIES:
        errs.not_supported(child(path, "dnsPolicy"), dns, DNS_POLICIES)
    _validate_scheduling(errs, spec, path)
    account = errs.as_str(spec.get("serviceAccountName"), child(path, "serviceAccountName"))
    if account:
        errs.invalid_each(child(path, "serviceAccountName"), account, name_is_dns_subdomain(account))
    deadline = errs.as_int(spec.get("activeDeadlineSeconds"), child(path, "activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= 2**32 - 1:
        errs.invalid(
            child(path, "activeDeadlineSeconds"), deadline, "must be between 1 and 4294967295, inclusive"
        )
    errs.as_int(spec.get("terminationGracePeriodSeconds"), child(path, "terminationGracePeriodSeconds"))
    errs.as_int(spec.get("priority"), child(path, "priority"))
    errs.as_map(spec.get("securityContext"), child(path, "securityContext"))
    for field in ("hostNetwork", "hostPID", "hostIPC", "enableServiceLinks"):
        errs.as_bool(spec.get(field), child(path, field))


def validate_pod(errs: FieldErrors, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    spec = errs.as_map(obj.get("spec"), "spec")
    validate_pod_spec(errs, spec, "spec", pod_name=name if isinstance(name, str) else "")


def validate_pod_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec = copy.deepcopy(new.get("spec")) if isinstance(new.get("spec"), dict) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    for field in ("containers", "initContainers"):
        new_list, old_list = new_spec.get(field), old_spec.get(field)
        if isinstance(new_list, list) and isinstance(old_list, list) and len(new_list) == len(old_list):
            for new_c, old_c in zip(new_list, old_list, strict=True):
                if isinstance(new_c, dict) and isinstance(old_c, dict):
                    new_c["image"] = old_c.get("image")  # images may change
    old_deadline, new_deadline = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if isinstance(old_deadline, int) and new_deadline is None:
        errs.invalid(
            "spec.activeDeadlineSeconds", new_deadline, "must not update from a positive integer to nil value"
        )
    elif isinstance(old_deadline, int) and isinstance(new_deadline, int) and new_deadline > old_deadline:
        errs.invalid(
            "spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"
        )
    new_spec["activeDeadlineSeconds"] = old_deadline
    new_tolerations = [prune(t) for t in new_spec.get("tolerations") or ()]
    for toleration in old_spec.get("tolerations") or ():
        if prune(toleration) not in new_tolerations:
            errs.forbidden(
                "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
            )
    new_spec["tolerations"] = old_spec.get("tolerations")
    grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        new_spec["terminationGracePeriodSeconds"] = grace
    if all(g in (old_spec.get("schedulingGates") or ()) for g in new_spec.get("schedulingGates") or ()):
        new_spec["schedulingGates"] = old_spec.get("schedulingGates")
    if not old_spec.get("nodeName"):
        new_spec["nodeName"] = old_spec.get("nodeName")  # binding: kstore's stand-in for pods/binding
    if prune(new_spec) != prune(old_spec):
        errs.forbidden("spec", POD_UPDATE_FORBIDDEN)
