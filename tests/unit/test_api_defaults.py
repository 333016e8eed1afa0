"""Tests for kstore.api.defaults: each case is an input object and the exact defaulted object."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from kstore.api.defaults import apply_defaults, image_pull_policy
from kstore.api.kinds import KINDS


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    kind: str
    given: dict[str, Any]
    expected: dict[str, Any]


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **extra}}


CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}

CASES = [
    Case(
        "pv hostPath",
        "PersistentVolume",
        {**meta("task-pv-volume"), "spec": {"capacity": {"storage": "10Gi"}, "hostPath": {"path": "/mnt/data"}}},
        {
            **meta("task-pv-volume"),
            "spec": {
                "capacity": {"storage": "10Gi"},
                "hostPath": {"path": "/mnt/data", "type": ""},
                "persistentVolumeReclaimPolicy": "Retain",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        },
    ),
    Case(
        "pv keeps what is set",
        "PersistentVolume",
        {**meta(), "spec": {"persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Block", "csi": {"driver": "d"}},
         "status": {"phase": "Bound"}},
        {**meta(), "spec": {"persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Block", "csi": {"driver": "d"}},
         "status": {"phase": "Bound"}},
    ),
    Case(
        "pvc",
        "PersistentVolumeClaim",
        {**meta("data"), "spec": {"accessModes": ["ReadWriteOnce"]}},
        {**meta("data"), "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}},
    ),
    Case(
        "storageclass",
        "StorageClass",
        {**meta("fast"), "provisioner": "ebs.csi.aws.com"},
        {**meta("fast"), "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
    ),
    Case(
        "storageclass keeps Retain and WaitForFirstConsumer",
        "StorageClass",
        {**meta("slow"), "provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"},
        {**meta("slow"), "provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"},
    ),
    Case(
        "pod",
        "Pod",
        {
            **meta("app"),
            "spec": {
                "containers": [
                    {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"memory": "100Mi"}},
                     "livenessProbe": {"httpGet": {"port": 80}},
                     "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]},
                    {"name": "b", "image": "busybox:1.36", "imagePullPolicy": "Never"},
                ],
                "volumes": [
                    {"name": "h", "hostPath": {"path": "/x"}},
                    {"name": "s", "secret": {"secretName": "s"}},
                    {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
                    {"name": "e", "emptyDir": {}},
                    {"name": "none"},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                ],
            },
        },
        {
            **meta("app"),
            "spec": {
                "containers": [
                    {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "100Mi"}},
                     "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                       "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                     "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}}}],
                     "imagePullPolicy": "Always", **CONTAINER_DEFAULTS},
                    {"name": "b", "image": "busybox:1.36", "imagePullPolicy": "Never", **CONTAINER_DEFAULTS},
                ],
                "volumes": [
                    {"name": "h", "hostPath": {"path": "/x", "type": ""}},
                    {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}},
                    {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
                    {"name": "e", "emptyDir": {}},
                    {"name": "none", "emptyDir": {}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {
                        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                ],
                "enableServiceLinks": True,
                **POD_SPEC_DEFAULTS,
                "priority": 0,
                "preemptionPolicy": "PreemptLowerPriority",
            },
            "status": {"phase": "Pending"},
        },
    ),
    Case(
        "deployment rolling update",
        "Deployment",
        {**meta("web"), "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}},
        {
            **meta("web"),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                                                      **CONTAINER_DEFAULTS}], **POD_SPEC_DEFAULTS}},
            },
        },
    ),
    Case(
        "deployment recreate gets no rollingUpdate",
        "Deployment",
        {**meta("mysql"), "spec": {"replicas": 3, "strategy": {"type": "Recreate"}, "template": {"spec": {}}}},
        {**meta("mysql"), "spec": {"replicas": 3, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 10,
                                   "progressDeadlineSeconds": 600, "template": {"spec": POD_SPEC_DEFAULTS}}},
    ),
    Case(
        "replicaset",
        "ReplicaSet",
        {**meta("rs"), "spec": {"template": {"spec": {}}}},
        {**meta("rs"), "spec": {"replicas": 1, "template": {"spec": POD_SPEC_DEFAULTS}}},
    ),
    Case(
        "statefulset with claim templates",
        "StatefulSet",
        {**meta("web"), "spec": {"replicas": 2, "template": {"spec": {}},
                                 "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}},
        {
            **meta("web"),
            "spec": {
                "replicas": 2,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "revisionHistoryLimit": 10,
                "template": {"spec": POD_SPEC_DEFAULTS},
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                          "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
                                          "status": {"phase": "Pending"}}],
            },
        },
    ),
    Case(
        "statefulset OnDelete gets no rollingUpdate",
        "StatefulSet",
        {**meta("db"), "spec": {"updateStrategy": {"type": "OnDelete"}, "podManagementPolicy": "Parallel"}},
        {**meta("db"), "spec": {"updateStrategy": {"type": "OnDelete"}, "podManagementPolicy": "Parallel",
                                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                                "replicas": 1, "revisionHistoryLimit": 10}},
    ),
    Case(
        "namespace",
        "Namespace",
        meta("team-a"),
        {**meta("team-a"), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
    ),
    Case(
        "namespace whose finalizers were emptied stays empty",
        "Namespace",
        {**meta("team-a"), "spec": {"finalizers": []}, "status": {"phase": "Terminating"}},
        {**meta("team-a"), "spec": {"finalizers": []}, "status": {"phase": "Terminating"}},
    ),
    Case(
        "node allocatable from capacity",
        "Node",
        {**meta("node-1"), "status": {"capacity": {"cpu": "4"}}},
        {**meta("node-1"), "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}},
    ),
    Case(
        "headless service",
        "Service",
        {**meta("nginx"), "spec": {"clusterIP": "None", "ports": [{"port": 80, "name": "web"}]}},
        {**meta("nginx"), "spec": {"clusterIP": "None", "ports": [{"port": 80, "name": "web", "protocol": "TCP", "targetPort": 80}],
                                   "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster"}},
    ),
    Case(
        "load balancer service",
        "Service",
        {**meta("wordpress"), "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8080}]}},
        {**meta("wordpress"), "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                                       "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                                       "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True}},
    ),
    Case("secret", "Secret", meta("s"), {**meta("s"), "type": "Opaque"}),
    Case(
        "volumeattachment",
        "VolumeAttachment",
        {**meta("csi-1"), "spec": {"attacher": "a"}},
        {**meta("csi-1"), "spec": {"attacher": "a"}, "status": {"attached": False}},
    ),
    Case(
        "csidriver",
        "CSIDriver",
        meta("hostpath.csi.k8s.io"),
        {**meta("hostpath.csi.k8s.io"), "spec": {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                                                 "fsGroupPolicy": "ReadWriteOnceWithFSType",
                                                 "volumeLifecycleModes": ["Persistent"], "requiresRepublish": False,
                                                 "seLinuxMount": False}},
    ),
    Case("configmap has no defaults", "ConfigMap", {**meta("c"), "data": {"a": "b"}}, {**meta("c"), "data": {"a": "b"}}),
    Case("lease has no defaults", "Lease", {**meta("l"), "spec": {}}, {**meta("l"), "spec": {}}),
    Case("wrong shapes are left alone", "PersistentVolumeClaim", {**meta(), "spec": ["x"], "status": "y"},
         {**meta(), "spec": ["x"], "status": "y"}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_apply_defaults(case: Case) -> None:
    obj = copy.deepcopy(case.given)
    apply_defaults(KINDS[case.kind], obj)
    assert obj == case.expected
    apply_defaults(KINDS[case.kind], obj)  # idempotent
    assert obj == case.expected


def test_defaults_do_not_share_mutable_values() -> None:
    first, second = meta("a"), meta("b")
    apply_defaults(KINDS["Namespace"], first)
    apply_defaults(KINDS["Namespace"], second)
    first["spec"]["finalizers"].append("x")
    assert second["spec"]["finalizers"] == ["kubernetes"]


IMAGES = [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("docker.io/library/nginx:latest", "Always"),
    ("registry:5000/team/app", "Always"),
    ("registry:5000/team/app:v1", "IfNotPresent"),
    ("mysql:8.0", "IfNotPresent"),
    ("busybox@sha256:abcd", "IfNotPresent"),
    ("busybox:latest@sha256:abcd", "Always"),
    ("", "Always"),
]


@pytest.mark.parametrize(("image", "policy"), IMAGES, ids=[i or "empty" for i, _ in IMAGES])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy
