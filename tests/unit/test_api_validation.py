"""Tests for kstore.api.validation: create, update and status-update rules, message for message.

Every case is defaulted first (as the apiserver does) unless it says otherwise, and lists the
exact `<field>: <message>` lines kube-apiserver would print. Real manifests are in
test_api_manifests.py.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from kstore.api.defaults import apply_defaults
from kstore.api.errors import invalid
from kstore.api.kinds import KINDS
from kstore.api.validation import validate_create, validate_status_update, validate_update

DELETE = object()
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
MODES = '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'


# --- builders ----------------------------------------------------------------------------------


def edit(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `obj` with dotted paths (`spec.containers.0.image`) set, or removed by DELETE."""
    obj = copy.deepcopy(obj)
    for path, value in changes.items():
        *parents, last = path.split(".")
        cur: Any = obj
        for part in parents:
            cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
        if value is DELETE:
            del cur[int(last) if isinstance(cur, list) else last]
        elif isinstance(cur, list):
            cur[int(last)] = value
        else:
            cur[last] = value
    return obj


def pvc(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    return edit(base, changes or {})


def pv(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-1"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "10Gi"},
            "hostPath": {"path": "/mnt/data"},
        },
    }
    return edit(base, changes or {})


def sc(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "ebs.csi.aws.com",
    }
    return edit(base, changes or {})


def pod(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    return edit(base, changes or {})


def va(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "VolumeAttachment",
        "metadata": {"name": "csi-123"},
        "spec": {
            "attacher": "ebs.csi.aws.com",
            "nodeName": "node-1",
            "source": {"persistentVolumeName": "pv-1"},
        },
    }
    return edit(base, changes or {})


def deployment(changes: dict[str, Any] | None = None, kind: str = "Deployment") -> dict[str, Any]:
    base = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    return edit(base, changes or {})


def statefulset(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    base = edit(deployment(kind="StatefulSet"), {
        "spec.template.spec.containers.0.volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
        "spec.volumeClaimTemplates": [{"metadata": {"name": "www"},
                                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
    })  # fmt: skip
    return edit(base, changes or {})


def obj_of(kind: str, changes: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    info = KINDS[kind]
    meta = {"name": "x", **({"namespace": "default"} if info.namespaced else {})}
    return edit({"apiVersion": info.api_version, "kind": kind, "metadata": meta, **top}, changes or {})


def lines(kind: str, obj: dict[str, Any], *, defaults: bool = True) -> list[str]:
    if defaults:
        apply_defaults(KINDS[kind], obj)
    return [f"{c.field}: {c.message}" for c in validate_create(KINDS[kind], obj)]


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    obj: dict[str, Any]
    expected: list[str]
    defaults: bool = True


# --- create ------------------------------------------------------------------------------------

CREATE = [
    # metadata
    Case("valid claim", pvc(), []),
    Case("name required", pvc({"metadata.name": DELETE}), ["metadata.name: Required value: name or generateName is required"]),
    Case("generateName is enough", pvc({"metadata.name": DELETE, "metadata.generateName": "data-"}), []),
    Case("bad generateName", pvc({"metadata.name": DELETE, "metadata.generateName": "Data-"}),
         [f'metadata.generateName: Invalid value: "Data-": {SUBDOMAIN}']),
    Case("name is a subdomain", pvc({"metadata.name": "Data_1"}), [f'metadata.name: Invalid value: "Data_1": {SUBDOMAIN}']),
    Case("namespace required", pvc({"metadata.namespace": DELETE}), ["metadata.namespace: Required value"]),
    Case("namespace forbidden on cluster kinds", pv({"metadata.namespace": "default"}),
         ["metadata.namespace: Forbidden: not allowed on this type"]),
    Case("label key and value", pvc({"metadata.labels": {"a b": "ok", "ok": "v v"}}), [
        f'metadata.labels: Invalid value: "a b": {NAME_PART}',
        'metadata.labels: Invalid value: "v v": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    Case("annotation key", pvc({"metadata.annotations": {"Example.COM/Key": "ok", "bad key": "v"}}),
         [f'metadata.annotations: Invalid value: "bad key": {NAME_PART}']),
    Case("label value must be a string", pvc({"metadata.labels": {"tier": 1}}),
         ["metadata.labels[tier]: Invalid value: 1: must be of type string"]),
    Case("finalizer", pvc({"metadata.finalizers": ["kubernetes.io/pvc-protection", "custom"]}),
         ['metadata.finalizers[1]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified']),
    Case("owner reference", pvc({"metadata.ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"}]}),
         ['metadata.ownerReferences.uid: Invalid value: "": must not be empty']),
    # PersistentVolumeClaim
    Case("claim without access modes or storage", pvc({"spec": {}}), [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value"]),
    Case("unsupported access mode", pvc({"spec.accessModes": ["ReadWriteSometimes"]}),
         [f'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: {MODES}']),
    Case("ReadWriteOncePod alone", pvc({"spec.accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]}),
         ["spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]),
    Case("negative storage", pvc({"spec.resources.requests.storage": "-1Gi"}),
         ['spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero']),
    Case("zero storage", pvc({"spec.resources.requests.storage": "0"}),
         ['spec.resources[storage]: Invalid value: "0": must be greater than zero']),
    Case("storage is canonicalised", pvc({"spec.resources.requests.storage": "-1024Mi"}),
         ['spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero']),
    Case("storage that is not a quantity", pvc({"spec.resources.requests.storage": "lots"}), [
        'spec.resources[storage]: Invalid value: "lots": quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]),
    Case("volumeMode", pvc({"spec.volumeMode": "Raw"}),
         ['spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']),
    Case("storageClassName", pvc({"spec.storageClassName": "Fast"}),
         [f'spec.storageClassName: Invalid value: "Fast": {SUBDOMAIN}']),
    Case("selector", pvc({"spec.selector": {"matchExpressions": [{"key": "zone", "operator": "In"}]}}),
         ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]),
    Case("dataSource kind", pvc({"spec.dataSource": {"kind": "VolumeSnapshot", "name": "snap"}}),
         ["spec.dataSource: Invalid value: \"VolumeSnapshot\": must be 'PersistentVolumeClaim' when referencing the default apiGroup"]),
    Case("access modes of the wrong type", pvc({"spec.accessModes": "ReadWriteOnce"}), [
        'spec.accessModes: Invalid value: "ReadWriteOnce": must be of type array',
        "spec.accessModes: Required value: at least 1 access mode is required"]),
    # PersistentVolume
    Case("valid volume", pv(), []),
    Case("volume without type or capacity", pv({"spec": {"accessModes": ["ReadWriteOnce"]}}), [
        "spec.capacity: Required value", "spec: Required value: must specify a volume type"]),
    Case("two volume types", pv({"spec.nfs": {"server": "s", "path": "/e"}}),
         ["spec.nfs: Forbidden: may not specify more than 1 volume type"]),
    Case("negative capacity", pv({"spec.capacity.storage": "-1Gi"}), [
        "spec.capacity[storage]: Invalid value: -1073741824: must be a valid resource quantity",
        'spec.capacity[storage]: Invalid value: "-1Gi": must be greater than zero']),
    Case("capacity other than storage", pv({"spec.capacity.cpu": "1"}),
         ['spec.capacity: Unsupported value: map[string]string{"cpu":"1", "storage":"10Gi"}: supported values: "storage"']),
    Case("reclaim policy", pv({"spec.persistentVolumeReclaimPolicy": "Keep"}),
         ['spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"']),
    Case("no access modes", pv({"spec.accessModes": DELETE}), ["spec.accessModes: Required value"]),
    Case("hostPath path required", pv({"spec.hostPath.path": ""}), ["spec.hostPath.path: Required value"]),
    Case("hostPath backsteps", pv({"spec.hostPath.path": "/mnt/../etc"}),
         ["spec.hostPath.path: Invalid value: \"/mnt/../etc\": must not contain '..'"]),
    Case("hostPath type", pv({"spec.hostPath.type": "Dir"}), [
        'spec.hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", '
        '"DirectoryOrCreate", "File", "FileOrCreate", "Socket"']),
    Case("recycling /", pv({"spec.hostPath.path": "/", "spec.persistentVolumeReclaimPolicy": "Recycle"}),
         ["spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"]),
    Case("local needs nodeAffinity", pv({"spec.hostPath": DELETE, "spec.local": {"path": "/mnt/disks/ssd1"}}),
         ["spec.nodeAffinity: Required value: Local volume requires node affinity"]),
    Case("local path required", pv({"spec.hostPath": DELETE, "spec.local": {},
                                    "spec.nodeAffinity": {"required": {"nodeSelectorTerms": [
                                        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                               "values": ["node-1"]}]}]}}}),
         ["spec.local.path: Required value"]),
    Case("nodeAffinity shape", pv({"spec.nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "Exists", "values": ["a"]},
                              {"key": "gen", "operator": "Gt", "values": []},
                              {"key": "zone", "operator": "Near", "values": ["a"]}],
         "matchFields": [{"key": "metadata.uid", "operator": "In", "values": ["u"]}]}]}}}), [
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Forbidden: may not be specified "
        "when `operator` is 'Exists' or 'DoesNotExist'",
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be "
        "specified single value when `operator` is 'Lt' or 'Gt'",
        'spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[2].operator: Invalid value: "Near": not a '
        "valid selector operator",
        'spec.nodeAffinity.required.nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.uid": not a '
        "valid field selector key"]),
    Case("nodeAffinity needs required", pv({"spec.nodeAffinity": {}}),
         ["spec.nodeAffinity.required: Required value: must specify required node constraints"]),
    Case("no node selector terms", pv({"spec.nodeAffinity": {"required": {"nodeSelectorTerms": []}}}),
         ["spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term"]),
    Case("csi needs a volume handle", pv({"spec.hostPath": DELETE, "spec.csi": {"driver": "ebs.csi.aws.com"}}),
         ["spec.csi.volumeHandle: Required value"]),
    Case("csi secret reference", pv({"spec.hostPath": DELETE, "spec.csi": {
        "driver": "ebs.csi.aws.com", "volumeHandle": "vol-1", "nodeStageSecretRef": {"name": "s"}}}),
         ["spec.csi.nodeStageSecretRef.namespace: Required value"]),
    Case("nfs path", pv({"spec.hostPath": DELETE, "spec.nfs": {"server": "nfs", "path": "exports"}}),
         ['spec.nfs.path: Invalid value: "exports": must be an absolute path']),
    # StorageClass
    Case("valid class", sc(), []),
    Case("provisioner required", sc({"provisioner": DELETE}), ["provisioner: Required value"]),
    Case("provisioner is a qualified name", sc({"provisioner": "Bad Provisioner"}),
         [f'provisioner: Invalid value: "bad provisioner": {NAME_PART}']),
    Case("class reclaim policy", sc({"reclaimPolicy": "Recycle"}),
         ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']),
    Case("binding mode", sc({"volumeBindingMode": "Later"}),
         ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"']),
    Case("binding mode required without defaults", sc({"reclaimPolicy": "Delete"}), ["volumeBindingMode: Required value"],
         defaults=False),
    Case("allowed topologies", sc({"allowedTopologies": [
        {"matchLabelExpressions": [{"key": "zone", "values": ["a", "a"]}, {"key": "zone", "values": ["b"]}]},
        {"matchLabelExpressions": [{"key": "rack", "values": []}]}]}), [
        'allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value: "a"',
        'allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value: "zone"',
        "allowedTopologies[1].matchLabelExpressions[0].values: Required value"]),
    Case("null mountOptions", sc({"mountOptions": None}), []),
    # VolumeAttachment
    Case("valid attachment", va(), []),
    Case("attacher and source required", va({"spec.attacher": "", "spec.source": {}}), [
        "spec.attacher: Required value",
        f'spec.attacher: Invalid value: "": {SUBDOMAIN}',
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]),
    Case("exactly one source", va({"spec.source.inlineVolumeSpec": {"csi": {"driver": "d", "volumeHandle": "h"}}}),
         ["spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]),
    Case("empty pv name", va({"spec.source.persistentVolumeName": ""}), [
        "spec.source.persistentVolumeName: Required value: must specify non empty persistentVolumeName",
        f'spec.source.persistentVolumeName: Invalid value: "": {SUBDOMAIN}']),
    Case("inline spec", va({"spec.source": {"inlineVolumeSpec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}}), [
        "spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes",
        "spec.source.inlineVolumeSpec.csi: Required value: has to be specified in the context of inline volumes",
        "spec.source.inlineVolumeSpec: Required value: must specify a volume type"]),
    Case("node name", va({"spec.nodeName": "Node_1"}), [f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN}']),
    # CSINode and CSIDriver
    Case("csinode", obj_of("CSINode", spec={"drivers": [
        {"name": "ebs.csi.aws.com", "nodeID": "i-1", "topologyKeys": ["topology.ebs.csi.aws.com/zone"]},
        {"name": "ebs.csi.aws.com", "nodeID": "", "allocatable": {"count": -1}}]}), [
        "spec.drivers[1].nodeID: Required value",
        "spec.drivers[1].allocatable.count: Invalid value: -1: must be greater than or equal to 0",
        'spec.drivers[1].name: Duplicate value: "ebs.csi.aws.com"']),
    Case("csidriver", obj_of("CSIDriver", spec={"fsGroupPolicy": "Sometimes", "volumeLifecycleModes": ["Forever"]}), [
        'spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", "ReadWriteOnceWithFSType"',
        'spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"']),
    Case("csidriver needs its booleans", obj_of("CSIDriver", spec={}), [
        "spec.attachedRequired: Required value", "spec.podInfoOnMount: Required value",
        "spec.storageCapacity: Required value", "spec.seLinuxMount: Required value"], defaults=False),
    # Pod
    Case("valid pod", pod(), []),
    Case("mount names no volume", pod({"spec.volumes": DELETE}),
         ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    Case("containers required", pod({"spec.containers": []}), ["spec.containers: Required value"]),
    Case("container name and image", pod({"spec.containers.0.name": "App_1", "spec.containers.0.image": ""}), [
        f'spec.containers[0].name: Invalid value: "App_1": {LABEL}', "spec.containers[0].image: Required value"]),
    Case("duplicate container", pod({"spec.containers": [{"name": "a", "image": "i"}, {"name": "a", "image": "i"}]}),
         ['spec.containers[1].name: Duplicate value: "a"']),
    Case("claimName required", pod({"spec.volumes.0.persistentVolumeClaim.claimName": ""}), [
        "spec.volumes[0].persistentVolumeClaim.claimName: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    Case("volume with two sources", pod({"spec.volumes.0.hostPath": {"path": "/x"}}), [
        "spec.volumes[0].persistentVolumeClaim: Forbidden: may not specify more than 1 volume type",
        'spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    Case("volume without source, undefaulted", pod({"spec.volumes.0.persistentVolumeClaim": DELETE}), [
        "spec.volumes[0]: Required value: must specify a volume type",
        "spec.containers[0].terminationMessagePolicy: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        "spec.containers[0].imagePullPolicy: Required value",
        "spec.restartPolicy: Required value", "spec.dnsPolicy: Required value"], defaults=False),
    Case("duplicate volume name", pod({"spec.volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]}),
         ['spec.volumes[1].name: Duplicate value: "data"']),
    Case("volume name is a label", pod({"spec.volumes.0.name": "my.data"}), [
        'spec.volumes[0].name: Invalid value: "my.data": must not contain dots',
        'spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    Case("mount path unique", pod({"spec.containers.0.volumeMounts": [{"name": "data", "mountPath": "/d"},
                                                                      {"name": "data", "mountPath": "/d"}]}),
         ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique']),
    Case("mount and device clash", pod({"spec.containers.0.volumeDevices": [{"name": "data", "devicePath": "/data"}]}), [
        'spec.containers[0].volumeMounts[0].name: Invalid value: "data": must not already exist in volumeDevices',
        'spec.containers[0].volumeMounts[0].mountPath: Invalid value: "/data": must not already exist as a path in volumeDevices',
        'spec.containers[0].volumeDevices[0].name: Invalid value: "data": must not already exist in volumeMounts',
        'spec.containers[0].volumeDevices[0].devicePath: Invalid value: "/data": must not already exist as a path in volumeMounts']),
    Case("device needs a claim", pod({"spec.volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}},
                                                       {"name": "scratch", "emptyDir": {}}],
                                      "spec.containers.0.volumeDevices": [{"name": "scratch", "devicePath": "/dev/xvda"},
                                                                          {"name": "raw", "devicePath": "/dev/xvdb"}]}), [
        'spec.containers[0].volumeDevices[0].name: Invalid value: "scratch": can only use volume source type of '
        "PersistentVolumeClaim or Ephemeral for block mode",
        'spec.containers[0].volumeDevices[1].name: Not found: "raw"']),
    Case("port", pod({"spec.containers.0.ports": [{"containerPort": 0, "name": "http_1"}, {"containerPort": 70000, "protocol": "HTTP"}]}), [
        'spec.containers[0].ports[0].name: Invalid value: "http_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        "spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    Case("restart policy", pod({"spec.restartPolicy": "Sometimes"}),
         ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    Case("requests above limits", pod({"spec.containers.0.resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "1Gi"}}}),
         ['spec.containers[0].resources.requests[memory]: Invalid value: "1Gi": must be less than or equal to memory limit of 100Mi']),
    Case("ephemeral volume", pod({"spec.volumes.0": {"name": "data", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}}), [
        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes: Required value: at least 1 access mode is required",
        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    Case("node affinity on pods", pod({"spec.affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}}), [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]),
    # Deployment, ReplicaSet, StatefulSet
    Case("valid deployment", deployment(), []),
    Case("selector does not match", deployment({"spec.template.metadata.labels": {"app": "api", "tier": "be"}}), [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"api", "tier":"be"}: '
        "`selector` does not match template `labels`"]),
    Case("selector required", deployment({"spec.selector": DELETE}), ["spec.selector: Required value"]),
    Case("empty selector", deployment({"spec.selector": {}}),
         ["spec.selector: Invalid value: map[string]string{}: empty selector is invalid for deployment"]),
    Case("negative replicas", deployment({"spec.replicas": -1}),
         ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    Case("template restarts Always", deployment({"spec.template.spec.restartPolicy": "Never"}),
         ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    Case("template pod spec", deployment({"spec.template.spec.containers.0.volumeMounts": [{"name": "gone", "mountPath": "/x"}]}),
         ['spec.template.spec.containers[0].volumeMounts[0].name: Not found: "gone"']),
    Case("recreate with rollingUpdate", deployment({"spec.strategy": {"type": "Recreate", "rollingUpdate": {}}}),
         ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    Case("rolling update numbers", deployment({"spec.strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}}),
         ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
    Case("replicaset selector", deployment({"spec.template.metadata.labels": {}}, kind="ReplicaSet"), [
        "spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`"]),
    Case("valid statefulset", statefulset(), []),
    Case("statefulset mount names no volume or claim", statefulset({"spec.volumeClaimTemplates.0.metadata.name": "data"}),
         ['spec.template.spec.containers[0].volumeMounts[0].name: Not found: "www"']),
    Case("statefulset claim template", statefulset({"spec.volumeClaimTemplates.0.spec.accessModes": []}),
         ["spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"]),
    Case("statefulset policy", statefulset({"spec.podManagementPolicy": "Random"}),
         ["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]),
    # other core kinds
    Case("namespace name is a label", obj_of("Namespace", {"metadata.name": "team.a"}),
         ['metadata.name: Invalid value: "team.a": must not contain dots']),
    Case("node taint", obj_of("Node", spec={"taints": [{"key": "gpu", "effect": "Sometimes"}]}),
         ['spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"']),
    Case("event namespace", obj_of("Event", involvedObject={"kind": "Pod", "name": "p", "namespace": "other"}),
         ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']),
    Case("event for a cluster object lives in default", obj_of("Event", involvedObject={"kind": "Node", "name": "n"}), []),
    Case("lease", obj_of("Lease", spec={"leaseDurationSeconds": 0}),
         ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
    Case("configmap key", obj_of("ConfigMap", data={"ok.conf": "x", "bad/key": "y"}), [
        "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
    Case("tls secret", obj_of("Secret", type="kubernetes.io/tls", data={"tls.crt": "Zm9v"}), ["data[tls.key]: Required value"]),
    Case("secret data is base64", obj_of("Secret", data={"k": "not base64!"}),
         ['data[k]: Invalid value: "<secret contents redacted>": illegal base64 data']),
    Case("service", obj_of("Service", {"metadata.name": "1web"}, spec={"ports": [{"port": 80}, {"port": 0, "name": "b"}]}), [
        "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters "
        "or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        "spec.ports[0].name: Required value", "spec.ports[1].port: Required value"]),
    Case("headless service needs no ports", obj_of("Service", spec={"clusterIP": "None"}), []),
    Case("not an object", {"kind": "PersistentVolumeClaim", "metadata": "x"}, [
        'metadata: Invalid value: "x": must be of type object',
        "metadata.name: Required value: name or generateName is required", "metadata.namespace: Required value",
        "spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CREATE, ids=[c.name for c in CREATE])
def test_validate_create(case: Case) -> None:
    obj = copy.deepcopy(case.obj)
    kind = obj.get("kind", "PersistentVolumeClaim")
    assert lines(kind, obj, defaults=case.defaults) == case.expected


REASONS = [
    (pvc({"spec.accessModes": DELETE}), "FieldValueRequired"),
    (pvc({"spec.accessModes": ["X"]}), "FieldValueNotSupported"),
    (pvc({"spec.resources.requests.storage": "-1Gi"}), "FieldValueInvalid"),
    (pod({"spec.volumes": DELETE}), "FieldValueNotFound"),
    (pv({"spec.nfs": {"server": "s", "path": "/"}}), "FieldValueForbidden"),
    (
        pod({"spec.volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]}),
        "FieldValueDuplicate",
    ),
    (pvc({"spec.accessModes": "RWO"}), "FieldValueTypeInvalid"),
]


@pytest.mark.parametrize(("obj", "reason"), REASONS, ids=[r for _, r in REASONS])
def test_cause_reasons(obj: dict[str, Any], reason: str) -> None:
    apply_defaults(KINDS[obj["kind"]], obj)
    assert validate_create(KINDS[obj["kind"]], obj)[0].reason == reason


def test_causes_make_the_apiserver_message() -> None:
    obj = pvc({"spec": {}})
    apply_defaults(KINDS["PersistentVolumeClaim"], obj)
    error = invalid("PersistentVolumeClaim", "data", validate_create(KINDS["PersistentVolumeClaim"], obj))
    assert error.message == (
        'PersistentVolumeClaim "data" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, '
        "spec.resources[storage]: Required value]"
    )


# --- update ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UpdateCase:
    name: str
    old: dict[str, Any]
    changes: dict[str, Any]
    expected: list[str]


BOUND = {"spec.volumeName": "pv-1", "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}
PVC_IMMUTABLE = "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
POD_IMMUTABLE = (
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
    "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)

UPDATE = [
    UpdateCase("labels may change", pvc(), {"metadata.labels": {"a": "b"}}, []),
    UpdateCase("name never changes", pvc(), {"metadata.name": "other"}, ['metadata.name: Invalid value: "other": field is immutable']),
    UpdateCase("namespace never changes", pvc(), {"metadata.namespace": "other"},
               ['metadata.namespace: Invalid value: "other": field is immutable']),
    UpdateCase("uid never changes", pvc({"metadata.uid": "u1"}), {"metadata.uid": "u2"},
               ['metadata.uid: Invalid value: "u2": field is immutable']),
    UpdateCase("an omitted uid is fine", pvc({"metadata.uid": "u1"}), {"metadata.uid": DELETE}, []),
    UpdateCase("no new finalizers while deleting", pvc({"metadata.deletionTimestamp": "2024-01-01T00:00:00Z"}),
               {"metadata.finalizers": ["example.com/x"]},
               ['metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, '
                'found new finalizers []string{"example.com/x"}']),
    UpdateCase("pending claim spec is immutable", pvc(), {"spec.accessModes": ["ReadWriteMany"]}, [PVC_IMMUTABLE]),
    UpdateCase("pending claim cannot grow", pvc(), {"spec.resources.requests.storage": "2Gi"}, [PVC_IMMUTABLE]),
    UpdateCase("volumeName is set once", pvc(), {"spec.volumeName": "pv-1"}, []),
    UpdateCase("volumeName never changes after", pvc(BOUND), {"spec.volumeName": "pv-2"}, [PVC_IMMUTABLE]),
    UpdateCase("bound claim may grow", pvc(BOUND), {"spec.resources.requests.storage": "20Gi"}, []),
    UpdateCase("same size in other units", pvc(), {"spec.resources.requests.storage": "1024Mi"}, []),
    UpdateCase("bound claim cannot shrink below capacity", pvc({**BOUND, "spec.resources.requests.storage": "10Gi"}),
               {"spec.resources.requests.storage": "5Gi"},
               ["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]),
    UpdateCase("a failed expansion may be walked back", pvc({**BOUND, "spec.resources.requests.storage": "30Gi"}),
               {"spec.resources.requests.storage": "20Gi"}, []),
    UpdateCase("a default class may be set once", pvc(), {"spec.storageClassName": "fast"}, []),
    UpdateCase("class never changes", pvc({"spec.storageClassName": "fast"}), {"spec.storageClassName": "slow"}, [PVC_IMMUTABLE]),
    UpdateCase("claim volumeMode", pvc(), {"spec.volumeMode": "Block"},
               [PVC_IMMUTABLE, 'volumeMode: Invalid value: "Block": field is immutable']),
    UpdateCase("pv source is immutable", pv(), {"spec.hostPath.path": "/mnt/other"},
               ["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"]),
    UpdateCase("pv binding and resizing are fine", pv(),
               {"spec.claimRef": {"namespace": "default", "name": "data"}, "spec.capacity.storage": "20Gi",
                "spec.persistentVolumeReclaimPolicy": "Delete"}, []),
    UpdateCase("pv volumeMode", pv(), {"spec.volumeMode": "Block"}, ['volumeMode: Invalid value: "Block": field is immutable']),
    UpdateCase("class parameters", sc({"parameters": {"type": "gp3"}}), {"parameters": {"type": "io2"}},
               ["parameters: Forbidden: updates to parameters are forbidden."]),
    UpdateCase("class provisioner", sc(), {"provisioner": "other.csi.io"},
               ["provisioner: Forbidden: updates to provisioner are forbidden."]),
    UpdateCase("class reclaimPolicy", sc(), {"reclaimPolicy": "Retain"},
               ["reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]),
    UpdateCase("class binding mode", sc(), {"volumeBindingMode": "WaitForFirstConsumer"},
               ['volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable']),
    UpdateCase("class expansion may change", sc(), {"allowVolumeExpansion": True}, []),
    UpdateCase("attachment spec is immutable", va(), {"spec.nodeName": "node-2"}, [
        'spec: Invalid value: map[string]interface {}{"attacher":"ebs.csi.aws.com", "nodeName":"node-2", '
        '"source":map[string]string{"persistentVolumeName":"pv-1"}}: field is immutable']),
    UpdateCase("pod image may change", pod(), {"spec.containers.0.image": "nginx:1.27"}, []),
    UpdateCase("pod is bound once", pod(), {"spec.nodeName": "node-1"}, []),
    UpdateCase("pod is not moved", pod({"spec.nodeName": "node-1"}), {"spec.nodeName": "node-2"}, [POD_IMMUTABLE]),
    UpdateCase("pod volumes are immutable", pod(), {"spec.volumes.0.persistentVolumeClaim.claimName": "other"}, [POD_IMMUTABLE]),
    UpdateCase("tolerations may be added", pod({"spec.tolerations": [{"key": "a", "operator": "Exists"}]}),
               {"spec.tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}, []),
    UpdateCase("tolerations may not be removed", pod({"spec.tolerations": [{"key": "a", "operator": "Exists"}]}),
               {"spec.tolerations": []},
               ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
    UpdateCase("deadline only goes down", pod({"spec.activeDeadlineSeconds": 30}), {"spec.activeDeadlineSeconds": 60},
               ["spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"]),
    UpdateCase("deployment selector is immutable", deployment(), {"spec.selector.matchLabels": {"app": "api"},
                                                                  "spec.template.metadata.labels": {"app": "api"}},
               ['spec.selector: Invalid value: map[string]interface {}{"matchLabels":map[string]string{"app":"api"}}: '
                "field is immutable"]),
    UpdateCase("statefulset may scale", statefulset(), {"spec.replicas": 5}, []),
    UpdateCase("statefulset claim templates are fixed", statefulset(),
               {"spec.volumeClaimTemplates.0.spec.resources.requests.storage": "2Gi"}, [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"]),
    UpdateCase("immutable configmap", obj_of("ConfigMap", data={"a": "1"}, immutable=True), {"data.a": "2"},
               ["data: Forbidden: field is immutable when `immutable` is set"]),
    UpdateCase("csidriver attachRequired", obj_of("CSIDriver", spec={}), {"spec.attachRequired": False},
               ["spec.attachedRequired: Invalid value: false: field is immutable"]),
    UpdateCase("update is validated like a create too", pvc(BOUND), {"spec.resources.requests.storage": "-1Gi"}, [
        'spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero',
        "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]),
]  # fmt: skip


@pytest.mark.parametrize("case", UPDATE, ids=[c.name for c in UPDATE])
def test_validate_update(case: UpdateCase) -> None:
    info = KINDS[case.old["kind"]]
    old = copy.deepcopy(case.old)
    apply_defaults(info, old)
    new = edit(old, case.changes)
    apply_defaults(info, new)
    assert [f"{c.field}: {c.message}" for c in validate_update(info, new, old)] == case.expected


STATUS = [
    UpdateCase("claim bound", pvc(), {"status.phase": "Bound", "status.capacity": {"storage": "1Gi"}}, []),
    UpdateCase("claim phase", pvc(), {"status.phase": "Bond"},
               ['status.phase: Unsupported value: "Bond": supported values: "Pending", "Bound", "Lost"']),
    UpdateCase("volume phase", pv(), {"status.phase": "Released"}, []),
    UpdateCase("negative capacity", pvc(), {"status.capacity": {"storage": "-1Gi"}},
               ['status.capacity[storage]: Invalid value: "-1Gi": must be greater than or equal to 0']),
    UpdateCase("namespace terminating needs deletion", obj_of("Namespace"), {"status.phase": "Terminating"},
               ["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]),
    UpdateCase("attachment error code", va(), {"status.attachError": {"errorCode": -1}},
               ["status.attachError.errorCode: Invalid value: -1: must be between 0 and 2147483647, inclusive"]),
    UpdateCase("replica counts", deployment(), {"status.readyReplicas": -1},
               ["status.readyReplicas: Invalid value: -1: must be greater than or equal to 0"]),
    UpdateCase("status writes keep the name", pod(), {"metadata.name": "b", "status.phase": "Running"},
               ['metadata.name: Invalid value: "b": field is immutable']),
]  # fmt: skip


@pytest.mark.parametrize("case", STATUS, ids=[c.name for c in STATUS])
def test_validate_status_update(case: UpdateCase) -> None:
    info = KINDS[case.old["kind"]]
    old = copy.deepcopy(case.old)
    apply_defaults(info, old)
    new = edit(old, case.changes)
    assert [f"{c.field}: {c.message}" for c in validate_status_update(info, new, old)] == case.expected
