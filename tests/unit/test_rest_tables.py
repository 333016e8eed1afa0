"""Tests for kstore.apistore.rest.tables: Table columns and cells as kube-apiserver 1.32 prints them.

Each case is one object and the exact cells of its row (wide columns included, as the apiserver
sends them), computed against a fixed `NOW`. Expected values follow
pkg/printers/internalversion/printers.go and apimachinery's duration.HumanDuration.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kstore.api.errors import ApiError
from kstore.apistore.rest.describe_helpers import access_modes, human_duration, since
from kstore.apistore.rest.tables import PRINTERS, table_for

NOW_DT = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW = NOW_DT.timestamp()


def ago(seconds: float = 0, **delta: float) -> str:
    """An RFC 3339 timestamp `seconds` (plus a timedelta) before NOW."""
    return (NOW_DT - timedelta(seconds=seconds, **delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj(
    kind: str, name: str, *, created: str | None = None, namespace: str = "", **fields: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "resourceVersion": "7"}
    if namespace:
        metadata["namespace"] = namespace
    if created is not None:
        metadata["creationTimestamp"] = created
    metadata.update(fields.pop("metadata", {}))
    return {"kind": kind, "apiVersion": "v1", "metadata": metadata, **fields}


def container_status(
    name: str = "app", *, ready: bool = False, restarts: int = 0, **state: Any
) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "state": state or {}}
    return status


def pod(
    name: str, *, phase: str = "Running", statuses: list[dict[str, Any]] | None = None, **extra: Any
) -> dict:
    spec = {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1", **extra.pop("spec", {})}
    status = {"phase": phase, "containerStatuses": statuses or [], **extra.pop("status", {})}
    return obj("Pod", name, created=ago(190), namespace="default", spec=spec, status=status, **extra)


# --- columns -----------------------------------------------------------------------------------------

COLUMNS = {
    "PersistentVolumeClaim": (
        "Name Status Volume Capacity |Access Modes| StorageClass VolumeAttributesClass Age",
        "VolumeMode",
    ),
    "PersistentVolume": (
        "Name Capacity |Access Modes| |Reclaim Policy| Status Claim StorageClass VolumeAttributesClass Reason Age",
        "VolumeMode",
    ),
    "Pod": ("Name Ready Status Restarts Age", "IP Node |Nominated Node| |Readiness Gates|"),
    "StorageClass": ("Name Provisioner ReclaimPolicy VolumeBindingMode AllowVolumeExpansion Age", ""),
    "VolumeAttachment": ("Name Attacher PV Node Attached Age", ""),
    "CSINode": ("Name Drivers Age", ""),
    "CSIDriver": (
        "Name AttachRequired PodInfoOnMount StorageCapacity TokenRequests RequiresRepublish Modes Age",
        "",
    ),
    "Node": (
        "Name Status Roles Age Version",
        "Internal-IP External-IP OS-Image Kernel-Version Container-Runtime",
    ),
    "Namespace": ("Name Status Age", ""),
    "Deployment": ("Name Ready Up-to-date Available Age", "Containers Images Selector"),
    "ReplicaSet": ("Name Desired Current Ready Age", "Containers Images Selector"),
    "StatefulSet": ("Name Ready Age", "Containers Images"),
    "Service": ("Name Type Cluster-IP External-IP Port(s) Age", "Selector"),
    "ConfigMap": ("Name Data Age", ""),
    "Secret": ("Name Type Data Age", ""),
    "ServiceAccount": ("Name Secrets Age", ""),
    "Lease": ("Name Holder Age", ""),
    "Widget": ("Name Age", ""),
}


def _names(spec: str) -> list[str]:
    """`a |b c| d` -> ["a", "b c", "d"]."""
    parts = spec.split("|")
    out: list[str] = []
    for i, part in enumerate(parts):
        out.extend([part.strip()] if i % 2 else part.split())
    return [p for p in out if p]


@pytest.mark.parametrize("kind", COLUMNS)
def test_columns_and_priorities(kind: str) -> None:
    normal, wide = COLUMNS[kind]
    table = table_for(kind, [], now=NOW, resource_version="1")
    got = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert got == [(n, 0) for n in _names(normal)] + [(n, 1) for n in _names(wide)]
    for column in table["columnDefinitions"]:
        assert set(column) == {"name", "type", "format", "description", "priority"}
        assert column["description"]
        assert column["format"] == ("name" if column["name"] in ("Name", "Attacher") else "")


def test_event_columns_keep_the_apiserver_order() -> None:
    # The wide Subobject and Source sit between Object and Message, so cells line up with them.
    table = table_for("Event", [], now=NOW, resource_version="1")
    got = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert got == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]


def test_column_types() -> None:
    types = {
        (kind, c["name"]): c["type"]
        for kind in PRINTERS
        for c in table_for(kind, [], now=NOW, resource_version="1")["columnDefinitions"]
    }
    assert types[("Pod", "Restarts")] == "string"  # "3 (5m ago)" since 1.27
    assert types[("ReplicaSet", "Desired")] == "integer"
    assert types[("CSINode", "Drivers")] == "integer"
    assert types[("VolumeAttachment", "Attached")] == "boolean"
    assert types[("CSIDriver", "AttachRequired")] == "boolean"
    assert types[("StorageClass", "AllowVolumeExpansion")] == "string"
    assert types[("Deployment", "Up-to-date")] == "string"


# --- cells -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    kind: str
    given: dict[str, Any]
    cells: list[Any]


def pvc(name: str, *, spec: dict[str, Any], status: dict[str, Any], created: str, **extra: Any) -> dict:
    return obj(
        "PersistentVolumeClaim", name, created=created, namespace="default", spec=spec, status=status, **extra
    )


CASES = [
    # --- PersistentVolumeClaim
    Case(
        "pvc bound",
        "PersistentVolumeClaim",
        pvc(
            "data",
            created=ago(5),
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "fast",
                "volumeName": "pvc-1f2e",
                "volumeMode": "Filesystem",
            },
            status={"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}},
        ),
        ["data", "Bound", "pvc-1f2e", "1Gi", "RWO", "fast", "<unset>", "5s", "Filesystem"],
    ),
    Case(
        "pvc pending without class: capacity and modes stay blank until bound, class is empty",
        "PersistentVolumeClaim",
        pvc(
            "scratch",
            created=ago(125),
            spec={"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "2Gi"}}},
            status={"phase": "Pending"},
        ),
        ["scratch", "Pending", "", "", "", "", "<unset>", "2m5s", "<unset>"],
    ),
    Case(
        "pvc terminating, class from the beta annotation, attributes class set",
        "PersistentVolumeClaim",
        pvc(
            "old",
            created=ago(hours=3),
            metadata={
                "deletionTimestamp": ago(1),
                "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"},
            },
            spec={"storageClassName": "fast", "volumeName": "pv-9", "volumeAttributesClassName": "gold"},
            status={"phase": "Bound", "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]},
        ),
        ["old", "Terminating", "pv-9", "0", "RWO,RWOP", "legacy", "gold", "3h", "<unset>"],
    ),
    # --- PersistentVolume
    Case(
        "pv released with claimRef",
        "PersistentVolume",
        obj(
            "PersistentVolume",
            "pv-1",
            created=ago(minutes=10),
            spec={
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadOnlyMany", "ReadWriteOnce", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": "default", "name": "data", "uid": "u"},
                "storageClassName": "fast",
                "volumeMode": "Filesystem",
            },
            status={"phase": "Released"},
        ),
        [
            "pv-1",
            "5Gi",
            "RWO,ROX",
            "Retain",
            "Released",
            "default/data",
            "fast",
            "<unset>",
            "",
            "10m",
            "Filesystem",
        ],
    ),
    Case(
        "pv failed with reason, no class, no claim",
        "PersistentVolume",
        obj(
            "PersistentVolume",
            "pv-2",
            created=ago(days=2, hours=5),
            spec={"capacity": {"storage": "100Mi"}, "accessModes": ["ReadWriteMany"]},
            status={"phase": "Failed", "reason": "VolumeFailedRecycle"},
        ),
        ["pv-2", "100Mi", "RWX", "", "Failed", "", "", "<unset>", "VolumeFailedRecycle", "2d5h", "<unset>"],
    ),
    # --- Pod
    Case(
        "pod running 1/1",
        "Pod",
        pod(
            "web-0",
            statuses=[container_status(ready=True, running={"startedAt": ago(100)})],
            status={"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}]},
        ),
        ["web-0", "1/1", "Running", "0", "3m10s", "10.0.0.5", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod container creating",
        "Pod",
        pod("web-1", phase="Pending", statuses=[container_status(waiting={"reason": "ContainerCreating"})]),
        ["web-1", "0/1", "ContainerCreating", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod pending, not scheduled yet",
        "Pod",
        pod("web-2", phase="Pending", spec={"nodeName": ""}, status={"nominatedNodeName": "node-2"}),
        ["web-2", "0/1", "Pending", "0", "3m10s", "<none>", "<none>", "node-2", "<none>"],
    ),
    Case(
        "pod terminating",
        "Pod",
        pod(
            "web-3",
            metadata={"deletionTimestamp": ago(2)},
            statuses=[container_status(ready=True, running={})],
            status={"podIP": "10.0.0.6"},
        ),
        ["web-3", "1/1", "Terminating", "0", "3m10s", "10.0.0.6", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod deleted on a lost node reads Unknown",
        "Pod",
        pod("web-4", metadata={"deletionTimestamp": ago(2)}, status={"reason": "NodeLost"}),
        ["web-4", "0/1", "Unknown", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod crash looping shows when it last restarted",
        "Pod",
        pod(
            "crash",
            statuses=[
                {
                    **container_status(restarts=5, waiting={"reason": "CrashLoopBackOff"}),
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}},
                }
            ],
        ),
        ["crash", "0/1", "CrashLoopBackOff", "5 (5m ago)", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod completed",
        "Pod",
        pod(
            "job-1",
            phase="Succeeded",
            statuses=[container_status(terminated={"exitCode": 0, "reason": "Completed"})],
        ),
        ["job-1", "0/1", "Completed", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod terminated by a signal without reason",
        "Pod",
        pod("killed", phase="Failed", statuses=[container_status(terminated={"exitCode": 137, "signal": 9})]),
        ["killed", "0/1", "Signal:9", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod with a completed and a running container, not ready",
        "Pod",
        pod(
            "mixed",
            spec={"containers": [{"name": "a"}, {"name": "b"}]},
            statuses=[
                container_status("a", terminated={"exitCode": 0, "reason": "Completed"}),
                container_status("b", ready=True, running={}),
            ],
            status={"conditions": [{"type": "Ready", "status": "False"}]},
        ),
        ["mixed", "1/2", "NotReady", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod waiting for its first init container",
        "Pod",
        pod(
            "init-0",
            phase="Pending",
            spec={"initContainers": [{"name": "i1"}, {"name": "i2"}]},
            status={
                "initContainerStatuses": [
                    container_status("i1", running={}),
                    container_status("i2", waiting={"reason": "PodInitializing"}),
                ]
            },
            statuses=[container_status(waiting={"reason": "PodInitializing"})],
        ),
        ["init-0", "0/1", "Init:0/2", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod with a crash looping init container counts init restarts",
        "Pod",
        pod(
            "init-crash",
            phase="Pending",
            spec={"initContainers": [{"name": "i1"}, {"name": "i2"}]},
            status={
                "initContainerStatuses": [
                    container_status("i1", terminated={"exitCode": 0, "reason": "Completed"}),
                    container_status("i2", restarts=3, waiting={"reason": "CrashLoopBackOff"}),
                ]
            },
        ),
        ["init-crash", "0/1", "Init:CrashLoopBackOff", "3", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod with a failed init container",
        "Pod",
        pod(
            "init-fail",
            phase="Pending",
            spec={"initContainers": [{"name": "i1"}]},
            status={"initContainerStatuses": [container_status("i1", terminated={"exitCode": 2})]},
        ),
        ["init-fail", "0/1", "Init:ExitCode:2", "0", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod with a started sidecar counts it as a container",
        "Pod",
        pod(
            "sidecar",
            spec={"initContainers": [{"name": "proxy", "restartPolicy": "Always"}]},
            status={
                "initContainerStatuses": [
                    {**container_status("proxy", ready=True, restarts=1, running={}), "started": True}
                ],
                "conditions": [{"type": "Initialized", "status": "True"}],
            },
            statuses=[container_status(ready=True, running={})],
        ),
        ["sidecar", "2/2", "Running", "1", "3m10s", "<none>", "node-1", "<none>", "<none>"],
    ),
    Case(
        "pod scheduling gated, readiness gates counted",
        "Pod",
        pod(
            "gated",
            phase="Pending",
            spec={"nodeName": "", "readinessGates": [{"conditionType": "a/x"}, {"conditionType": "a/y"}]},
            status={
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                    {"type": "a/x", "status": "True"},
                    {"type": "a/y", "status": "False"},
                ]
            },
        ),
        ["gated", "0/1", "SchedulingGated", "0", "3m10s", "<none>", "<none>", "<none>", "1/2"],
    ),
    # --- StorageClass, VolumeAttachment, CSI
    Case(
        "default storage class",
        "StorageClass",
        obj(
            "StorageClass",
            "fast",
            created=ago(hours=1),
            metadata={"annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="csi.kstore.dev",
            reclaimPolicy="Retain",
            volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True,
        ),
        ["fast (default)", "csi.kstore.dev", "Retain", "WaitForFirstConsumer", True, "60m"],
    ),
    Case(
        "storage class without optional fields shows the defaults",
        "StorageClass",
        obj(
            "StorageClass",
            "slow",
            created=ago(days=400),
            metadata={"annotations": {"storageclass.beta.kubernetes.io/is-default-class": "false"}},
            provisioner="csi.kstore.dev",
        ),
        ["slow", "csi.kstore.dev", "Delete", "Immediate", False, "400d"],
    ),
    Case(
        "volume attachment attached",
        "VolumeAttachment",
        obj(
            "VolumeAttachment",
            "csi-0a1b",
            created=ago(30),
            spec={
                "attacher": "csi.kstore.dev",
                "nodeName": "node-1",
                "source": {"persistentVolumeName": "pv-1"},
            },
            status={"attached": True},
        ),
        ["csi-0a1b", "csi.kstore.dev", "pv-1", "node-1", True, "30s"],
    ),
    Case(
        "volume attachment not yet attached, inline source",
        "VolumeAttachment",
        obj(
            "VolumeAttachment",
            "csi-9",
            created=ago(1),
            spec={"attacher": "csi.kstore.dev", "nodeName": "node-2", "source": {"inlineVolumeSpec": {}}},
        ),
        ["csi-9", "csi.kstore.dev", "", "node-2", False, "1s"],
    ),
    Case(
        "csi node counts drivers",
        "CSINode",
        obj("CSINode", "node-1", created=ago(days=2), spec={"drivers": [{"name": "csi.kstore.dev"}]}),
        ["node-1", 1, "2d"],
    ),
    Case(
        "csi driver with defaults",
        "CSIDriver",
        obj(
            "CSIDriver", "csi.kstore.dev", created=ago(days=5), spec={"volumeLifecycleModes": ["Persistent"]}
        ),
        ["csi.kstore.dev", True, False, False, "<unset>", False, "Persistent", "5d"],
    ),
    Case(
        "csi driver with everything set",
        "CSIDriver",
        obj(
            "CSIDriver",
            "e.csi",
            created=ago(days=9),
            spec={
                "attachRequired": False,
                "podInfoOnMount": True,
                "storageCapacity": True,
                "tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}],
                "requiresRepublish": True,
            },
        ),
        ["e.csi", False, True, True, "vault,gcp", True, "<none>", "9d"],
    ),
    # --- Node, Namespace
    Case(
        "node not ready and cordoned",
        "Node",
        obj(
            "Node",
            "node-1",
            created=ago(days=3, hours=2),
            metadata={
                "labels": {
                    "node-role.kubernetes.io/control-plane": "",
                    "node-role.kubernetes.io/": "",
                    "kubernetes.io/role": "etcd",
                }
            },
            spec={"unschedulable": True},
            status={
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "Unknown"},
                ],
                "addresses": [
                    {"type": "Hostname", "address": "node-1"},
                    {"type": "InternalIP", "address": "10.1.0.1"},
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.32.0",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion": "6.1.0",
                    "containerRuntimeVersion": "containerd://1.7.0",
                },
            },
        ),
        [
            "node-1",
            "NotReady,SchedulingDisabled",
            "control-plane,etcd",
            "3d2h",
            "v1.32.0",
            "10.1.0.1",
            "<none>",
            "Debian GNU/Linux 12 (bookworm)",
            "6.1.0",
            "containerd://1.7.0",
        ],
    ),
    Case(
        "node that never reported",
        "Node",
        obj("Node", "node-2", created=ago(5)),
        ["node-2", "Unknown", "<none>", "5s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"],
    ),
    Case(
        "node ready",
        "Node",
        obj("Node", "node-3", created=ago(9), status={"conditions": [{"type": "Ready", "status": "True"}]}),
        ["node-3", "Ready", "<none>", "9s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"],
    ),
    Case(
        "namespace",
        "Namespace",
        obj("Namespace", "default", created=ago(days=800), status={"phase": "Active"}),
        ["default", "Active", "2y70d"],
    ),
    # --- workloads
    Case(
        "deployment 2/3",
        "Deployment",
        obj(
            "Deployment",
            "web",
            created=ago(hours=1, minutes=5),
            namespace="default",
            spec={
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "nginx:1.27"},
                            {"name": "log", "image": "busybox"},
                        ]
                    }
                },
            },
            status={"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2},
        ),
        ["web", "2/3", 3, 2, "65m", "app,log", "nginx:1.27,busybox", "app=web,tier=fe"],
    ),
    Case(
        "deployment with a fresh status",
        "Deployment",
        obj(
            "Deployment",
            "new",
            created=ago(0),
            spec={"replicas": 1, "selector": {}, "template": {"spec": {}}},
        ),
        ["new", "0/1", 0, 0, "0s", "", "", ""],
    ),
    Case(
        "replica set with match expressions",
        "ReplicaSet",
        obj(
            "ReplicaSet",
            "web-5d4f",
            created=ago(hours=9),
            spec={
                "replicas": 3,
                "selector": {
                    "matchLabels": {"pod-template-hash": "5d4f"},
                    "matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}],
                },
                "template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}},
            },
            status={"replicas": 3, "readyReplicas": 1},
        ),
        ["web-5d4f", 3, 3, 1, "9h", "app", "nginx", "app in (api,web),pod-template-hash=5d4f"],
    ),
    Case(
        "replica set with an empty selector",
        "ReplicaSet",
        obj("ReplicaSet", "rs", created=ago(3), spec={"replicas": 0, "selector": {}}),
        ["rs", 0, 0, 0, "3s", "", "", "<none>"],
    ),
    Case(
        "stateful set",
        "StatefulSet",
        obj(
            "StatefulSet",
            "db",
            created=ago(minutes=7, seconds=30),
            spec={
                "replicas": 2,
                "template": {"spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
            },
            status={"readyReplicas": 1},
        ),
        ["db", "1/2", "7m30s", "pg", "postgres:16"],
    ),
    # --- events
    Case(
        "event from the kubelet",
        "Event",
        obj(
            "Event",
            "web-0.17a9",
            created=ago(600),
            namespace="default",
            involvedObject={
                "kind": "Pod",
                "name": "web-0",
                "namespace": "default",
                "fieldPath": "spec.containers{app}",
            },
            reason="FailedMount",
            message='MountVolume.SetUp failed for volume "data"\n',
            source={"component": "kubelet", "host": "node-1"},
            firstTimestamp=ago(600),
            lastTimestamp=ago(300),
            count=3,
            type="Warning",
        ),
        [
            "5m",
            "Warning",
            "FailedMount",
            "pod/web-0",
            "spec.containers{app}",
            "kubelet, node-1",
            'MountVolume.SetUp failed for volume "data"',
            "10m",
            3,
            "web-0.17a9",
        ],
    ),
    Case(
        "event from the events API: eventTime, series, reportingComponent",
        "Event",
        obj(
            "Event",
            "data.1",
            created=ago(60),
            involvedObject={"kind": "PersistentVolumeClaim", "name": "data"},
            reason="ProvisioningSucceeded",
            message="ok",
            eventTime="2025-03-01T11:58:00.000000Z",
            series={"count": 4, "lastObservedTime": "2025-03-01T11:59:30.500000Z"},
            reportingComponent="kstore-provisioner",
            type="Normal",
        ),
        [
            "29s",
            "Normal",
            "ProvisioningSucceeded",
            "persistentvolumeclaim/data",
            "",
            "kstore-provisioner",
            "ok",
            "2m",
            4,
            "data.1",
        ],
    ),
    Case(
        "singleton event without timestamps or name",
        "Event",
        obj("Event", "e", involvedObject={"kind": "Node"}, type="Normal", reason="Starting"),
        ["<unknown>", "Normal", "Starting", "node", "", "", "", "<unknown>", 1, "e"],
    ),
    # --- the rest
    Case(
        "service cluster IP",
        "Service",
        obj(
            "Service",
            "web",
            created=ago(days=1),
            spec={
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"app": "web"},
            },
        ),
        ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "24h", "app=web"],
    ),
    Case(
        "service load balancer pending, node ports",
        "Service",
        obj(
            "Service",
            "lb",
            created=ago(hours=2),
            spec={
                "type": "LoadBalancer",
                "clusterIP": "10.96.0.11",
                "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}],
            },
        ),
        ["lb", "LoadBalancer", "10.96.0.11", "<pending>", "443:30443/TCP", "120m", "<none>"],
    ),
    Case(
        "service load balancer with ingress and external IPs",
        "Service",
        obj(
            "Service",
            "lb2",
            created=ago(1),
            spec={"type": "LoadBalancer", "clusterIPs": ["None"], "externalIPs": ["1.2.3.4"]},
            status={
                "loadBalancer": {
                    "ingress": [{"ip": "5.6.7.8"}, {"hostname": "a.example.com"}, {"ip": "5.6.7.8"}]
                }
            },
        ),
        ["lb2", "LoadBalancer", "None", "5.6.7.8,a.example.com,1.2.3.4", "<none>", "1s", "<none>"],
    ),
    Case(
        "service external name",
        "Service",
        obj(
            "Service", "ext", created=ago(1), spec={"type": "ExternalName", "externalName": "db.example.com"}
        ),
        ["ext", "ExternalName", "<none>", "db.example.com", "<none>", "1s", "<none>"],
    ),
    Case(
        "config map counts data and binaryData",
        "ConfigMap",
        obj("ConfigMap", "cfg", created=ago(42), data={"a": "1", "b": "2"}, binaryData={"c": "AA=="}),
        ["cfg", 3, "42s"],
    ),
    Case(
        "secret",
        "Secret",
        obj("Secret", "tls", created=ago(42), type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}),
        ["tls", "kubernetes.io/tls", 2, "42s"],
    ),
    Case(
        "service account",
        "ServiceAccount",
        obj("ServiceAccount", "default", created=ago(42), secrets=[{"name": "t"}]),
        ["default", 1, "42s"],
    ),
    Case(
        "lease with and without holder",
        "Lease",
        obj("Lease", "kstore-controller", created=ago(42), spec={"holderIdentity": "ctrl-1_ab"}),
        ["kstore-controller", "ctrl-1_ab", "42s"],
    ),
    Case(
        "lease without holder", "Lease", obj("Lease", "free", created=ago(42), spec={}), ["free", "", "42s"]
    ),
    Case("unknown kind", "Widget", obj("Widget", "w", created=ago(hours=26)), ["w", "26h"]),
    Case("missing creationTimestamp", "Widget", obj("Widget", "w"), ["w", "<unknown>"]),
    Case("garbage creationTimestamp", "Widget", obj("Widget", "w", created="yesterday"), ["w", "<invalid>"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cells(case: Case) -> None:
    table = table_for(case.kind, [case.given], now=NOW, resource_version="9")
    [row] = table["rows"]
    assert row["cells"] == case.cells
    assert [type(c) for c in row["cells"]] == [type(c) for c in case.cells]  # ints and bools stay typed
    assert len(row["cells"]) == len(table["columnDefinitions"])


def test_finished_pods_carry_a_completed_row_condition() -> None:
    done = pod("done", phase="Succeeded")
    failed = pod("failed", phase="Failed")
    running = pod("running")
    rows = table_for("Pod", [done, failed, running], now=NOW, resource_version="1")["rows"]
    assert rows[0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert rows[1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in rows[2]


def test_rows_keep_the_given_order() -> None:
    pods = [pod(name) for name in ("b", "a", "c")]
    rows = table_for("Pod", pods, now=NOW, resource_version="1")["rows"]
    assert [r["cells"][0] for r in rows] == ["b", "a", "c"]


# --- the Table and includeObject ---------------------------------------------------------------------


def test_table_shape_with_metadata_rows() -> None:
    claim = CASES[0].given
    table = table_for("PersistentVolumeClaim", [claim], now=NOW, resource_version="104")
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "104"}
    assert table["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": table["columnDefinitions"][0]["description"],
        "priority": 0,
    }
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": claim["metadata"],
    }


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ("Metadata", "PartialObjectMetadata"),
        ("", "PartialObjectMetadata"),
        ("Object", "PersistentVolumeClaim"),
    ],
)
def test_include_object(include: str, expected: str) -> None:
    claim = CASES[0].given
    [row] = table_for(
        "PersistentVolumeClaim", [claim], now=NOW, resource_version="1", include_object=include
    )["rows"]
    assert row["object"]["kind"] == expected
    if include == "Object":
        assert row["object"] == claim


def test_include_object_none_leaves_the_object_out() -> None:
    [row] = table_for("Pod", [pod("p")], now=NOW, resource_version="1", include_object="None")["rows"]
    assert set(row) == {"cells"}


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        table_for("Pod", [], now=NOW, resource_version="1", include_object="Everything")
    assert err.value.code == 400
    assert err.value.message == 'unrecognized includeObject value: "Everything"'


def test_watch_events_after_the_first_omit_column_definitions() -> None:
    table = table_for("Pod", [pod("p")], now=NOW, resource_version="3", with_column_definitions=False)
    assert table["columnDefinitions"] == []
    assert len(table["rows"][0]["cells"]) == 9


# --- HumanDuration, timestamps, access modes ---------------------------------------------------------

DURATIONS = [
    (-5, "<invalid>"),
    (-2, "<invalid>"),
    (-1.9, "0s"),
    (-1, "0s"),
    (0, "0s"),
    (0.9, "0s"),
    (59, "59s"),
    (61, "61s"),
    (119, "119s"),
    (120, "2m"),
    (121, "2m1s"),
    (599, "9m59s"),
    (600, "10m"),
    (119 * 60, "119m"),
    (179 * 60 + 59, "179m"),
    (3 * 3600, "3h"),
    (3 * 3600 + 30 * 60 + 59, "3h30m"),
    (7 * 3600 + 59 * 60, "7h59m"),
    (8 * 3600, "8h"),
    (47 * 3600 + 59 * 60, "47h"),
    (48 * 3600, "2d"),
    (2 * 86400 + 5 * 3600, "2d5h"),
    (7 * 86400 + 23 * 3600, "7d23h"),
    (8 * 86400, "8d"),
    (729 * 86400, "729d"),
    (730 * 86400, "2y"),
    (731 * 86400, "2y1d"),
    (7 * 365 * 86400 + 364 * 86400, "7y364d"),
    (8 * 365 * 86400, "8y"),
    (30 * 365 * 86400 + 200 * 86400, "30y"),
    (float("nan"), "<invalid>"),
]


@pytest.mark.parametrize(("seconds", "expected"), DURATIONS, ids=[str(d[0]) for d in DURATIONS])
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("0001-01-01T00:00:00Z", "<unknown>"),
        ("not-a-time", "<invalid>"),
        (12345, "<invalid>"),
        ("2025-03-01T11:59:00Z", "60s"),
        ("2025-03-01T11:59:00.250000Z", "59s"),
        ("2025-03-01T13:58:00+02:00", "2m"),
        ("2025-03-01T11:59:00", "60s"),
        ("2025-03-01T12:00:01Z", "0s"),  # one second of clock skew is "now"
        ("2025-03-01T12:00:05Z", "<invalid>"),
    ],
)
def test_since(timestamp: Any, expected: str) -> None:
    assert since(timestamp, NOW) == expected


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        ([], ""),
        (None, ""),
        (["ReadWriteOncePod"], "RWOP"),
        (["ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce", "ReadWriteOncePod"], "RWO,ROX,RWX,RWOP"),
        (["ReadWriteOnce", "ReadWriteOnce", "Bogus"], "RWO"),
    ],
)
def test_access_modes(modes: Any, expected: str) -> None:
    assert access_modes(modes) == expected
