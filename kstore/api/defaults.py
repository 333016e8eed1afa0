"""Defaulting: the fields kube-apiserver fills in before validation (`SetDefaults_*`).

Design:
- `apply_defaults(info, obj)` mutates `obj` in place and is idempotent: it only fills fields
  that are absent (or, for Go string enums, empty), so running it on every create and update,
  as the apiserver does on every decode, never overwrites what a client or controller wrote.
- The rules follow `pkg/apis/*/v1/defaults.go` plus the few create-time fillers users see on
  every object: pod `status.phase: Pending`, `priority: 0` and `preemptionPolicy` (Priority
  admission), namespace `spec.finalizers: [kubernetes]` (the namespace strategy). The latter is
  only added when `spec.finalizers` is absent, so a namespace whose finalizers were emptied
  (`[]`) during termination is not re-armed by a later update.
- Objects of the wrong shape (a list where a map belongs) are left alone: defaulting writes
  into a detached scratch map instead, and validation reports the type error.
- Pod templates (Deployment, ReplicaSet, StatefulSet) get pod *spec* defaults only, as in
  Kubernetes: no status, no `enableServiceLinks`, no priority. StatefulSet
  `volumeClaimTemplates` get the PVC defaults, status included.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kstore.api.kinds import KindInfo

FILE_MODE_DEFAULT = 0o644  # 420, the defaultMode of secret, configMap, downwardAPI, projected volumes
TERMINATION_GRACE_DEFAULT = 30


def _map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key] as a dict, created when absent; a detached dict when it has the wrong type."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _maps(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The dict items of parent[key] when it is a list (nothing is created)."""
    value = parent.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _default(d: dict[str, Any], key: str, value: Any) -> None:
    """Fill a pointer-like field: only when absent or null."""
    if d.get(key) is None:
        d[key] = copy.deepcopy(value)


def _default_str(d: dict[str, Any], key: str, value: str) -> None:
    """Fill a Go string field: absent, null and "" all mean unset."""
    if d.get(key) in (None, ""):
        d[key] = value


# --- PersistentVolume, PersistentVolumeClaim, StorageClass -------------------------------------


def _volume_source_defaults(source: dict[str, Any]) -> None:
    """Defaults shared by pod volumes and PV sources (hostPath type "", iSCSI, RBD, ...)."""
    if isinstance(source.get("hostPath"), dict):
        _default(source["hostPath"], "type", "")
    if isinstance(source.get("iscsi"), dict):
        _default_str(source["iscsi"], "iscsiInterface", "default")
    if isinstance(source.get("rbd"), dict):
        rbd = source["rbd"]
        _default_str(rbd, "pool", "rbd")
        _default_str(rbd, "user", "admin")
        _default_str(rbd, "keyring", "/etc/ceph/keyring")
    if isinstance(source.get("azureDisk"), dict):
        disk = source["azureDisk"]
        _default(disk, "cachingMode", "ReadWrite")
        _default(disk, "fsType", "ext4")
        _default(disk, "readOnly", False)
        _default(disk, "kind", "Shared")
    if isinstance(source.get("scaleIO"), dict):
        _default_str(source["scaleIO"], "storageMode", "ThinProvisioned")
        _default_str(source["scaleIO"], "fsType", "xfs")


def _pvc_spec_defaults(spec: dict[str, Any]) -> None:
    _default(spec, "volumeMode", "Filesystem")


def persistent_volume_claim_defaults(obj: dict[str, Any]) -> None:
    _pvc_spec_defaults(_map(obj, "spec"))
    _default_str(_map(obj, "status"), "phase", "Pending")


def persistent_volume_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default_str(spec, "persistentVolumeReclaimPolicy", "Retain")
    _default(spec, "volumeMode", "Filesystem")
    _volume_source_defaults(spec)
    _default_str(_map(obj, "status"), "phase", "Pending")


def storage_class_defaults(obj: dict[str, Any]) -> None:
    _default(obj, "reclaimPolicy", "Delete")
    _default(obj, "volumeBindingMode", "Immediate")


def csi_driver_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default(spec, "attachRequired", True)
    _default(spec, "podInfoOnMount", False)
    _default(spec, "storageCapacity", False)
    _default(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    _default(spec, "requiresRepublish", False)
    _default(spec, "seLinuxMount", False)


def volume_attachment_defaults(obj: dict[str, Any]) -> None:
    # Not a SetDefaults_ rule: Go always serialises the non-omitempty `attached: false`.
    _default(_map(obj, "status"), "attached", False)


# --- Pods and pod templates --------------------------------------------------------------------


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or an untagged, undigested image; `IfNotPresent` otherwise."""
    name, digested = (image.split("@", 1)[0], True) if "@" in image else (image, False)
    colon = name.rfind(":")
    tag = name[colon + 1 :] if colon > name.rfind("/") else ""
    if not tag and not digested:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _field_ref_defaults(items: list[dict[str, Any]]) -> None:
    for item in items:
        if isinstance(item.get("fieldRef"), dict):
            _default_str(item["fieldRef"], "apiVersion", "v1")


def _probe_defaults(probe: dict[str, Any]) -> None:
    _default(probe, "timeoutSeconds", 1)
    _default(probe, "periodSeconds", 10)
    _default(probe, "successThreshold", 1)
    _default(probe, "failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        _default_str(probe["httpGet"], "path", "/")
        _default_str(probe["httpGet"], "scheme", "HTTP")


def _container_defaults(container: dict[str, Any]) -> None:
    if container.get("imagePullPolicy") in (None, ""):
        image = container.get("image")
        container["imagePullPolicy"] = image_pull_policy(image if isinstance(image, str) else "")
    _default_str(container, "terminationMessagePath", "/dev/termination-log")
    _default_str(container, "terminationMessagePolicy", "File")
    for port in _maps(container, "ports"):
        _default_str(port, "protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            _probe_defaults(container[probe])
    for env in _maps(container, "env"):
        if isinstance(env.get("valueFrom"), dict):
            _field_ref_defaults([env["valueFrom"]])


_POD_VOLUME_SOURCES = frozenset(
    {
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
        "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
        "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
        "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
        "image",
    }
)  # fmt: skip


def _pod_volume_defaults(volume: dict[str, Any]) -> None:
    if not any(volume.get(key) is not None for key in _POD_VOLUME_SOURCES):
        volume["emptyDir"] = {}  # a volume that names no source is an emptyDir
    _volume_source_defaults(volume)
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(key), dict):
            _default(volume[key], "defaultMode", FILE_MODE_DEFAULT)
    if isinstance(volume.get("downwardAPI"), dict):
        _field_ref_defaults(_maps(volume["downwardAPI"], "items"))
    if isinstance(volume.get("projected"), dict):
        for source in _maps(volume["projected"], "sources"):
            if isinstance(source.get("serviceAccountToken"), dict):
                _default(source["serviceAccountToken"], "expirationSeconds", 3600)
            if isinstance(source.get("downwardAPI"), dict):
                _field_ref_defaults(_maps(source["downwardAPI"], "items"))
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        _pvc_spec_defaults(_map(ephemeral["volumeClaimTemplate"], "spec"))


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and everything nested in a pod spec (containers, volumes)."""
    _default_str(spec, "dnsPolicy", "ClusterFirst")
    _default_str(spec, "restartPolicy", "Always")
    _default(spec, "securityContext", {})
    _default(spec, "terminationGracePeriodSeconds", TERMINATION_GRACE_DEFAULT)
    _default_str(spec, "schedulerName", "default-scheduler")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _maps(spec, key):
            _container_defaults(container)
    for volume in _maps(spec, "volumes"):
        _pod_volume_defaults(volume)


def pod_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    for key in ("initContainers", "containers"):
        for container in _maps(spec, key):
            resources = container.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = _map(resources, "requests")  # requests default to limits
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
            if spec.get("hostNetwork") is True:
                for port in _maps(container, "ports"):
                    _default(port, "hostPort", port.get("containerPort"))
    _default(spec, "enableServiceLinks", True)
    pod_spec_defaults(spec)
    _default(spec, "priority", 0)
    _default(spec, "preemptionPolicy", "PreemptLowerPriority")
    _default_str(_map(obj, "status"), "phase", "Pending")


def _template_defaults(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec_defaults(_map(template, "spec"))


# --- workloads ---------------------------------------------------------------------------------


def deployment_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default(spec, "replicas", 1)
    strategy = _map(spec, "strategy")
    _default_str(strategy, "type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _map(strategy, "rollingUpdate")
        _default(rolling, "maxUnavailable", "25%")
        _default(rolling, "maxSurge", "25%")
    _default(spec, "revisionHistoryLimit", 10)
    _default(spec, "progressDeadlineSeconds", 600)
    _template_defaults(spec)


def replica_set_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default(spec, "replicas", 1)
    _template_defaults(spec)


def stateful_set_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default_str(spec, "podManagementPolicy", "OrderedReady")
    strategy = _map(spec, "updateStrategy")
    if strategy.get("type") in (None, ""):
        strategy["type"] = "RollingUpdate"
        _map(strategy, "rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        _default(strategy["rollingUpdate"], "partition", 0)
    retention = _map(spec, "persistentVolumeClaimRetentionPolicy")
    _default_str(retention, "whenDeleted", "Retain")
    _default_str(retention, "whenScaled", "Retain")
    _default(spec, "replicas", 1)
    _default(spec, "revisionHistoryLimit", 10)
    _template_defaults(spec)
    for claim in _maps(spec, "volumeClaimTemplates"):
        persistent_volume_claim_defaults(claim)


# --- the rest of core/v1 ----------------------------------------------------------------------


def namespace_defaults(obj: dict[str, Any]) -> None:
    _default(_map(obj, "spec"), "finalizers", ["kubernetes"])
    _default_str(_map(obj, "status"), "phase", "Active")


def node_defaults(obj: dict[str, Any]) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and isinstance(status.get("capacity"), dict):
        _default(status, "allocatable", status["capacity"])


def service_defaults(obj: dict[str, Any]) -> None:
    spec = _map(obj, "spec")
    _default_str(spec, "sessionAffinity", "None")
    _default_str(spec, "type", "ClusterIP")
    if spec.get("sessionAffinity") == "ClientIP":
        client_ip = _map(_map(spec, "sessionAffinityConfig"), "clientIP")
        _default(client_ip, "timeoutSeconds", 10800)
    for port in _maps(spec, "ports"):
        _default_str(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if spec.get("type") != "ExternalName":
        _default(spec, "internalTrafficPolicy", "Cluster")
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        _default_str(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("type") == "LoadBalancer":
        _default(spec, "allocateLoadBalancerNodePorts", True)


def secret_defaults(obj: dict[str, Any]) -> None:
    _default_str(obj, "type", "Opaque")


_DEFAULTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "PersistentVolume": persistent_volume_defaults,
    "PersistentVolumeClaim": persistent_volume_claim_defaults,
    "StorageClass": storage_class_defaults,
    "VolumeAttachment": volume_attachment_defaults,
    "CSIDriver": csi_driver_defaults,
    "Pod": pod_defaults,
    "Deployment": deployment_defaults,
    "ReplicaSet": replica_set_defaults,
    "StatefulSet": stateful_set_defaults,
    "Namespace": namespace_defaults,
    "Node": node_defaults,
    "Service": service_defaults,
    "Secret": secret_defaults,
}  # Event, Lease, ConfigMap, ServiceAccount and CSINode have no defaults.


def apply_defaults(info: KindInfo, obj: dict[str, Any]) -> None:
    """Fill `obj`'s defaulted fields in place (see the module docstring). Never raises on bad shapes."""
    if not isinstance(obj, dict):
        return
    defaulter = _DEFAULTERS.get(info.kind)
    if defaulter is not None:
        defaulter(obj)
