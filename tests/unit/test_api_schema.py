"""The structural schema (`kstore.api.schema`): unknown-field detection as kube-apiserver's strict
decoding reports it, its messages, and the schema's own consistency.

The manifest corpus lives outside the repository; those cases skip cleanly when it is missing.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
import yaml

from kstore.api.kinds import KINDS, lookup
from kstore.api.schema import (
    TYPES,
    Array,
    Leaf,
    Map,
    Ref,
    Scalar,
    strict_decoding_message,
    strict_decoding_warnings,
    unknown_fields,
)
from tests.seed import MANIFESTS, SEED_POD

# The same tutorial's rbd pod: `imageformat` and `imagefeatures` are StorageClass parameters of
# the CSI driver, not fields of the in-tree rbd volume source.
SEED_RBD_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: rbd
spec:
  containers:
    - image: kubernetes/pause
      name: rbd-rw
      volumeMounts:
      - name: rbdpd
        mountPath: /mnt/rbd
  volumes:
    - name: rbdpd
      rbd:
        monitors:
        - '10.16.154.78:6789'
        pool: kube
        image: foo
        fsType: ext4
        readOnly: true
        user: admin
        keyring: /etc/ceph/keyring
        imageformat: "2"
        imagefeatures: "layering"
"""


# ---- builders ----------------------------------------------------------------------------


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def pvc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec},
    }


def pv(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], **spec},
    }


def with_(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `obj` with `value` set at a dotted path (list indices as numbers)."""
    out = copy.deepcopy(obj)
    cur: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


# ---- unknown fields ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    obj: dict[str, Any]
    expected: list[str]


CASES = [
    Case("clean pod", pod(), []),
    Case("seed pod: volumes inside the container", yaml.safe_load(SEED_POD), ["spec.containers[0].volumes"]),
    Case(
        "seed rbd pod: CSI parameters in the in-tree source",
        yaml.safe_load(SEED_RBD_POD),
        ["spec.volumes[0].rbd.imageformat", "spec.volumes[0].rbd.imagefeatures"],
    ),
    Case("unknown top-level field", {**pod(), "spec2": {}}, ["spec2"]),
    Case("unknown metadata field", with_(pod(), "metadata.label", {"a": "b"}), ["metadata.label"]),
    Case("matching is case-sensitive", with_(pod(), "spec.NodeName", "n1"), ["spec.NodeName"]),
    Case(
        "free-key maps never report",
        with_(
            with_(pod(nodeSelector={"any/key": "v"}), "metadata.labels", {"x.io/y": "z"}),
            "metadata.annotations",
            {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        ),
        [],
    ),
    Case(
        "document order across levels",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "d"},
            "spec": {"foo": 1, "resources": {"requests": {"storage": "1Gi"}, "bar": 2}, "accessModes": []},
            "status": {"baz": 3, "phase": "Pending"},
        },
        ["spec.foo", "spec.resources.bar", "status.baz"],
    ),
    Case(
        "list indices in paths",
        pod(
            volumes=[
                {"name": "a", "emptyDir": {}},
                {"name": "b", "hostPath": {"path": "/x", "typ": "Directory"}},
            ],
            containers=[
                {"name": "c", "image": "i", "ports": [{"containerPort": 80}, {"containerport": 81}]},
            ],
        ),
        # pod() puts containers first: document order, not argument order.
        ["spec.containers[0].ports[1].containerport", "spec.volumes[1].hostPath.typ"],
    ),
    Case(
        "volume source fields are inlined into Volume",
        pod(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "data"}, "claimName": "data"}]),
        ["spec.volumes[0].claimName"],
    ),
    Case(
        "PV source fields are inlined into the spec; nodeAffinity is typed",
        pv(
            csi={"driver": "hostpath.csi.k8s.io", "volumeHandle": "h", "volumeAttributes": {"any": "thing"}},
            nodeAffinity={
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "k", "operator": "In", "value": ["a"]}]}
                    ]
                }
            },
        ),
        ["spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].value"],
    ),
    Case(
        "every PersistentVolumeSource is known",
        pv(
            hostPath={"path": "/d", "type": "DirectoryOrCreate"},
            local={"path": "/mnt/disk", "fsType": "ext4"},
            nfs={"server": "s", "path": "/e", "readOnly": True},
            rbd={
                "monitors": ["m"],
                "image": "i",
                "pool": "p",
                "user": "u",
                "keyring": "k",
                "secretRef": {"name": "s", "namespace": "n"},
            },
            cephfs={
                "monitors": ["m"],
                "path": "/",
                "user": "u",
                "secretFile": "f",
                "secretRef": {"name": "s"},
            },
            awsElasticBlockStore={"volumeID": "v", "fsType": "ext4", "partition": 1},
            gcePersistentDisk={"pdName": "pd", "partition": 0},
            azureDisk={"diskName": "d", "diskURI": "u", "cachingMode": "None", "kind": "Managed"},
            azureFile={"secretName": "s", "shareName": "sh", "secretNamespace": "n"},
            iscsi={"targetPortal": "t", "iqn": "q", "lun": 0, "portals": ["p"], "chapAuthSession": True},
            fc={"targetWWNs": ["w"], "lun": 0, "wwids": ["id"]},
            flexVolume={"driver": "d", "options": {"any": "x"}, "secretRef": {"name": "s"}},
            glusterfs={"endpoints": "e", "path": "p", "endpointsNamespace": "n"},
            cinder={"volumeID": "v", "secretRef": {"name": "s"}},
            scaleIO={"gateway": "g", "system": "s", "secretRef": {"name": "x"}, "volumeName": "v"},
            storageos={"volumeName": "v", "secretRef": {"kind": "Secret", "name": "s"}},
            csi={
                "driver": "d",
                "volumeHandle": "h",
                "controllerPublishSecretRef": {"name": "s"},
                "nodeStageSecretRef": {"name": "s"},
                "nodeExpandSecretRef": {"name": "s"},
            },
            claimRef={"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data", "uid": "u"},
            persistentVolumeReclaimPolicy="Retain",
            storageClassName="manual",
            mountOptions=["ro"],
            volumeMode="Block",
            volumeAttributesClassName="gold",
        ),
        [],
    ),
    Case(
        "StatefulSet claim templates and retention policy",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod()["spec"]},
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "www"},
                        "spec": {"storageClass": "fast", "accessModes": ["ReadWriteOnce"]},
                    }
                ],
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                "ordinals": {"start": 1},
            },
        },
        ["spec.volumeClaimTemplates[0].spec.storageClass"],
    ),
    Case(
        "Deployment pod template",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
                },
                "template": {
                    "spec": {"containers": [{"name": "c", "imagePullPolicy": "Always", "volumeMount": []}]}
                },
            },
        },
        ["spec.template.spec.containers[0].volumeMount"],
    ),
    Case(
        "leaves are opaque: Quantity, IntOrString, Time, FieldsV1",
        with_(
            pod(
                containers=[
                    {
                        "name": "c",
                        "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                    }
                ]
            ),
            "metadata.managedFields",
            [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "time": "2025-01-01T00:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:anything": {}}},
                }
            ],
        ),
        [],
    ),
    Case(
        "a value of the wrong JSON type is not an unknown field", with_(pod(), "spec.containers", "oops"), []
    ),
    Case("null values are fine", pvc(selector=None, dataSource=None), []),
    Case(
        "StorageClass parameters are free; the rest is typed",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "p",
            "parameters": {"csi.storage.k8s.io/fstype": "ext4", "imageFormat": "2"},
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}],
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
            "allowVolumeExpansion": True,
            "mountOptions": ["discard"],
            "fsType": "ext4",
        },
        ["fsType"],
    ),
    Case(
        "VolumeAttachment inline spec",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "VolumeAttachment",
            "metadata": {"name": "va"},
            "spec": {
                "attacher": "a",
                "nodeName": "n",
                "source": {
                    "inlineVolumeSpec": {"csi": {"driver": "d", "volumeHandle": "h", "driverName": "x"}}
                },
            },
            "status": {
                "attached": True,
                "attachmentMetadata": {"dev": "/dev/x"},
                "attachError": {"message": "m"},
            },
        },
        ["spec.source.inlineVolumeSpec.csi.driverName"],
    ),
    Case(
        "CSINode and CSIDriver",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSINode",
            "metadata": {"name": "n"},
            "spec": {
                "drivers": [
                    {"name": "d", "nodeID": "n", "topologyKeys": ["k"], "allocatable": {"count": 3, "max": 4}}
                ]
            },
        },
        ["spec.drivers[0].allocatable.max"],
    ),
    Case(
        "Event",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {
                "kind": "PersistentVolumeClaim",
                "name": "data",
                "uid": "u",
                "namespaces": "x",
            },
            "reason": "ProvisioningSucceeded",
            "source": {"component": "provisioner"},
            "firstTimestamp": "2025-01-01T00:00:00Z",
            "count": 1,
            "type": "Normal",
        },
        ["involvedObject.namespaces"],
    ),
    Case(
        "Lease",
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {
                "holderIdentity": "n1",
                "leaseDurationSeconds": 40,
                "renewTime": "2025-01-01T00:00:00.000000Z",
                "holder": "x",
            },
        },
        ["spec.holder"],
    ),
    Case(
        "Secret and ConfigMap data are free",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"a": "YQ=="},
            "stringData": {"b": "c"},
            "type": "Opaque",
        },
        [],
    ),
    Case(
        "Node status",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
            "status": {
                "capacity": {"cpu": "2", "pods": "110"},
                "conditions": [
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": "2025-01-01T00:00:00Z"}
                ],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "volumesAttached": [{"name": "kubernetes.io/csi/d^h", "devicePath": ""}],
                "nodeInfo": {"kubeletVersion": "v1.32.0", "kernel": "6"},
            },
        },
        ["status.nodeInfo.kernel"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_unknown_fields(case: Case) -> None:
    assert unknown_fields(case.obj["kind"], case.obj) == case.expected


def test_unknown_fields_of_an_unserved_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="CephBlockPool"):
        unknown_fields("CephBlockPool", {})
    with pytest.raises(ValueError, match="PodSpec"):
        unknown_fields("PodSpec", {})  # a type, not a kind


def test_unknown_fields_does_not_mutate() -> None:
    obj = yaml.safe_load(SEED_POD)
    before = copy.deepcopy(obj)
    unknown_fields("Pod", obj)
    assert obj == before


# ---- messages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "api_version", "fields", "duplicates", "expected"),
    [
        (
            "Pod",
            "v1",
            ["spec.containers[0].volumes"],
            [],
            'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
            'unknown field "spec.containers[0].volumes"',
        ),
        (
            "PersistentVolume",
            "v1",
            ["spec.rbd.imageformat", "spec.rbd.imagefeatures"],
            [],
            'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: strict decoding error: '
            'unknown field "spec.rbd.imageformat", unknown field "spec.rbd.imagefeatures"',
        ),
        (
            "StatefulSet",
            "apps/v1",
            ["spec.foo"],
            ["metadata.name"],
            'StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding error: '
            'unknown field "spec.foo", duplicate field "metadata.name"',
        ),
        (
            "ConfigMap",
            "v1",
            ['we"ird\\key'],
            [],
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
            'unknown field "we\\"ird\\\\key"',
        ),
    ],
)
def test_strict_decoding_message(
    kind: str, api_version: str, fields: list[str], duplicates: list[str], expected: str
) -> None:
    assert strict_decoding_message(kind, api_version, fields, duplicates=duplicates) == expected


def test_strict_decoding_warnings() -> None:
    assert strict_decoding_warnings(["spec.a", "b"], duplicates=["c"]) == [
        'unknown field "spec.a"',
        'unknown field "b"',
        'duplicate field "c"',
    ]


def test_seed_pod_message_end_to_end() -> None:
    doc = yaml.safe_load(SEED_POD)
    assert strict_decoding_message(doc["kind"], doc["apiVersion"], unknown_fields(doc["kind"], doc)) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].volumes"'
    )


# ---- the manifest corpus -----------------------------------------------------------------


def manifest_documents() -> list[Any]:
    if not MANIFESTS.is_dir():
        return [
            pytest.param(None, id="no-manifests", marks=pytest.mark.skip(reason=f"{MANIFESTS} is missing"))
        ]
    params = []
    for path in sorted(MANIFESTS.glob("*/*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            # Kinds not served (CephBlockPool) are skipped, as the apistore would reject them.
            if isinstance(doc, dict) and lookup(doc.get("apiVersion", ""), doc.get("kind", "")) is not None:
                params.append(pytest.param(doc, id=f"{path.name}#{i}:{doc['kind']}"))
    return params


@pytest.mark.parametrize("doc", manifest_documents())
def test_manifest_has_no_unknown_fields(doc: dict[str, Any]) -> None:
    assert unknown_fields(doc["kind"], doc) == []


# ---- the schema itself ---------------------------------------------------------------------


def _types_in(typ: Any) -> list[Any]:
    if isinstance(typ, Array):
        return [typ, *_types_in(typ.items)]
    if isinstance(typ, Map):
        return [typ, *_types_in(typ.values)]
    return [typ]


def test_every_reference_resolves() -> None:
    for typ in TYPES.values():
        for field in typ.fields.values():
            for inner in _types_in(field.type):
                assert isinstance(inner, Scalar | Leaf | Ref | Array | Map), (typ.name, field.name)
                if isinstance(inner, Ref):
                    assert inner.name in TYPES, f"{typ.name}.{field.name} -> {inner.name}"


def test_every_served_kind_has_a_schema() -> None:
    for info in KINDS.values():
        typ = TYPES[info.kind]
        assert typ.gvk == (info.group, info.version, info.kind)
        assert list(typ.fields)[:3] == ["apiVersion", "kind", "metadata"]
        if info.has_status:
            assert "status" in typ.fields, info.kind


def test_every_field_is_described() -> None:
    for typ in TYPES.values():
        assert typ.doc.strip(), typ.name
        for name, field in typ.fields.items():
            assert field.name == name
            assert field.doc.strip() and "\n" not in field.doc, f"{typ.name}.{name}"


def test_list_keys_name_fields_of_the_items() -> None:
    for typ in TYPES.values():
        for field in typ.fields.values():
            if not isinstance(field.type, Array) or not isinstance(field.type.items, Ref):
                continue
            item_fields = TYPES[field.type.items.name].fields
            for key in (field.type.merge_key, *field.type.map_keys):
                if key:
                    assert key in item_fields, f"{typ.name}.{field.name}: {key}"


@pytest.mark.parametrize(
    ("type_name", "field", "merge_key", "strategy"),
    [
        ("PodSpec", "containers", "name", "merge"),
        ("PodSpec", "initContainers", "name", "merge"),
        ("PodSpec", "volumes", "name", "merge,retainKeys"),
        ("PodSpec", "imagePullSecrets", "name", "merge"),
        ("Container", "volumeMounts", "mountPath", "merge"),
        ("Container", "volumeDevices", "devicePath", "merge"),
        ("Container", "env", "name", "merge"),
        ("Container", "ports", "containerPort", "merge"),
        ("ObjectMeta", "ownerReferences", "uid", "merge"),
        ("ObjectMeta", "finalizers", "", "merge"),
        ("PersistentVolumeClaimStatus", "conditions", "type", "merge"),
        ("NodeStatus", "addresses", "type", "merge"),
        ("CSINodeSpec", "drivers", "name", "merge"),
        ("ServiceSpec", "ports", "port", "merge"),
        ("StatefulSetSpec", "volumeClaimTemplates", "", ""),
        ("PodSpec", "tolerations", "", ""),
    ],
)
def test_patch_merge_keys(type_name: str, field: str, merge_key: str, strategy: str) -> None:
    typ = TYPES[type_name].fields[field].type
    assert isinstance(typ, Array)
    assert (typ.merge_key, typ.strategy) == (merge_key, strategy)
