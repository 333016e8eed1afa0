"""Strategic merge patch as table tests: each case applies one patch to one object and checks the
whole result, or the error in kube-apiserver's words. Cases marked "4.9" are the bodies kubectl
sends (KUBE-API.md §4.9) verbatim; the others are adapted from Kubernetes'
strategicpatch/patch_test.go onto the real fields that carry each strategy. When the kubectl 1.32
binary is present, every case and 50 seeded random patches are also checked against
`kubectl patch --local`, which runs Kubernetes' own strategicpatch package offline."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kstore.api.errors import ApiError
from kstore.api.kinds import KINDS
from kstore.api.patch import apply_patch
from kstore.api.smp import strategic_merge
from kstore.api.smp_keys import STRATEGIES, ListMerge
from kstore.apistore.backends.memory import MemoryBackend
from kstore.apistore.store import Store

# ---- builders


def obj(kind: str, spec: dict[str, Any] | None = None, *, status: dict[str, Any] | None = None,
        **meta: Any) -> dict[str, Any]:
    o: dict[str, Any] = {"kind": kind, "metadata": {"name": "x", **meta}}
    if spec is not None:
        o["spec"] = spec
    if status is not None:
        o["status"] = status
    return o


def ctr(name: str, image: str = "nginx:1.26", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


def env(*pairs: str) -> list[dict[str, str]]:
    """env("A=1", "B") -> [{"name": "A", "value": "1"}, {"name": "B"}]"""
    out = []
    for p in pairs:
        name, _, value = p.partition("=")
        out.append({"name": name, "value": value} if value else {"name": name})
    return out


def names(*items: str) -> list[dict[str, str]]:
    return [{"name": n} for n in items]


def deploy(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return obj("Deployment", {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, **spec,
                              "template": {"metadata": {"labels": {"app": "x"}},
                                           "spec": {"containers": containers}}})


def template_patch(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclasses.dataclass
class Case:
    name: str
    kind: str
    original: dict[str, Any]
    patch: Any
    expected: dict[str, Any]


# ---- the bodies kubectl sends (KUBE-API.md §4.9), verbatim

OLD_PVC_APPLIED = '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"}}\n'
NEW_PVC_APPLIED = '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"labels":{"tier":"gold"}}}\n'
PVC = obj("PersistentVolumeClaim",
          {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
           "storageClassName": "standard", "volumeMode": "Filesystem", "volumeName": "pvc-1"},
          status={"phase": "Bound", "capacity": {"storage": "2Gi"}},
          annotations={LAST_APPLIED: OLD_PVC_APPLIED}, finalizers=["kubernetes.io/pvc-protection"])

APP = ctr("app", env=env("A=1"), ports=[{"containerPort": 80, "protocol": "TCP"}],
          volumeMounts=[{"name": "data", "mountPath": "/data"}])
POD = obj("Pod", {"containers": [APP], "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}},
                                                    {"name": "tmp", "emptyDir": {}}],
                  "nodeName": "node-1"},
          status={"phase": "Running"}, annotations={LAST_APPLIED: "{}\n"})

VCT = {"metadata": {"name": "vol"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                                             "resources": {"requests": {"storage": "1Gi"}}},
       "status": {"phase": "Pending"}}
STS = obj("StatefulSet", {"serviceName": "web", "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [APP]}},
                          "volumeClaimTemplates": [VCT]})


def _with(o: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `o` with the dotted `path` set to `value` (or deleted, for DELETE)."""
    o = copy.deepcopy(o)
    *parents, last = path.split(".")
    cur = o
    for p in parents:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    if value is DELETE:
        del cur[last]
    elif isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value
    return o


DELETE = object()

KUBECTL_CASES = [
    Case("4.9 PVC: label added and request changed", "PersistentVolumeClaim", PVC,
         {"metadata": {"annotations": {LAST_APPLIED: NEW_PVC_APPLIED}, "labels": {"tier": "gold"}},
          "spec": {"resources": {"requests": {"storage": "3Gi"}}}},
         _with(_with(_with(PVC, "metadata.annotations", {LAST_APPLIED: NEW_PVC_APPLIED}),
                     "metadata.labels", {"tier": "gold"}), "spec.resources.requests.storage", "3Gi")),
    Case("4.9 Pod: image changed with $setElementOrder keeps env, ports and mounts", "Pod", POD,
         {"metadata": {"annotations": {LAST_APPLIED: "{}\n"}},
          "spec": {"$setElementOrder/containers": [{"name": "app"}],
                   "containers": [{"image": "nginx:1.27", "name": "app"}]}},
         _with(POD, "spec.containers.0.image", "nginx:1.27")),
    Case("4.9 StatefulSet: volumeClaimTemplates has no merge key and is replaced whole", "StatefulSet", STS,
         {"metadata": {"annotations": {LAST_APPLIED: "{}\n"}},
          "spec": {"template": {"metadata": {"labels": {"app": "web", "rev": "2"}}},
                   "volumeClaimTemplates": [{"metadata": {"name": "vol"}, "spec": {
                       "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}}}]}},
         _with(_with(_with(STS, "metadata.annotations", {LAST_APPLIED: "{}\n"}),
                     "spec.template.metadata.labels", {"app": "web", "rev": "2"}),
               "spec.volumeClaimTemplates", [{"metadata": {"name": "vol"}, "spec": {
                   "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}}}])),
    Case("4.9 label removed with null", "PersistentVolumeClaim", _with(PVC, "metadata.labels", {"tier": "gold"}),
         {"metadata": {"labels": {"tier": None}}},
         _with(PVC, "metadata.labels", {})),
    Case("4.9 volumeMounts removed with null and a volume with $patch: delete", "Pod",
         _with(POD, "spec.containers.0.env", DELETE),
         {"spec": {"$setElementOrder/containers": [{"name": "app"}],
                   "containers": [{"env": [{"name": "A", "value": "1"}], "name": "app", "volumeMounts": None}],
                   "volumes": [{"$patch": "delete", "name": "data"}]}},
         _with(_with(POD, "spec.containers.0.volumeMounts", DELETE), "spec.volumes", [{"name": "tmp", "emptyDir": {}}])),
    Case("4.9 Deployment: container added after app, as $setElementOrder says", "Deployment", deploy([APP]),
         {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                                         "containers": [{"image": "busybox", "name": "side"}]}}}},
         deploy([APP, {"image": "busybox", "name": "side"}])),
]

# ---- list order (patch.go: patch order, then server order, interleaved by live positions)

ORDER_CASES = [
    Case("without $setElementOrder a new element goes first", "Deployment", deploy([APP]),
         template_patch({"containers": [{"image": "busybox", "name": "side"}]}),
         deploy([{"image": "busybox", "name": "side"}, APP])),
    Case("preserve the order from the patch in a merging list", "Pod",
         obj("Pod", {"containers": [ctr("c", env=[{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}])]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"},
                                                        {"name": "2", "valueFrom": {"x": "y"}}]}]}},
         obj("Pod", {"containers": [ctr("c", env=[{"name": "3", "value": "c"}, {"name": "1", "value": "a"},
                                                  {"name": "2", "value": "b", "valueFrom": {"x": "y"}}])]})),
    Case("preserve the order from the patch in a merging list 2: server-only elements keep their place", "Pod",
         obj("Pod", {"containers": [ctr("c", env=[{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}])]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=[{"name": "2", "value": "b"}, {"name": "3", "value": "c"},
                                                  {"name": "1", "value": "a"}])]})),
    Case("$setElementOrder may name an element that is not in the list", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("1", "3"))]}),
         {"spec": {"containers": [{"name": "c", "$setElementOrder/env": names("3", "2", "1"),
                                   "env": env("3=3", "1=1")}]}},
         obj("Pod", {"containers": [ctr("c", env=env("3=3", "1=1"))]})),
    Case("$setElementOrder interleaves server-only elements by their live position", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("a", "b", "x"))]}),
         {"spec": {"containers": [{"name": "c", "$setElementOrder/env": names("a", "b", "c"), "env": env("c")}]}},
         obj("Pod", {"containers": [ctr("c", env=env("a", "b", "c", "x"))]})),
    Case("$setElementOrder alone reorders", "Pod", obj("Pod", {"containers": [ctr("a"), ctr("b")]}),
         {"spec": {"$setElementOrder/containers": names("b", "a")}},
         obj("Pod", {"containers": [ctr("b"), ctr("a")]})),
    Case("an apply that removes one container and adds another: the injected one keeps its slot", "Pod",
         obj("Pod", {"containers": [ctr("app"), ctr("old"), ctr("injected")]}),
         {"spec": {"$setElementOrder/containers": names("app", "new"),
                   "containers": [{"name": "new", "image": "busybox"}, {"$patch": "delete", "name": "old"}]}},
         obj("Pod", {"containers": [ctr("app"), ctr("injected"), {"name": "new", "image": "busybox"}]})),
    Case("delete and reorder in one list, reorder in another", "Pod",
         obj("Pod", {"containers": [ctr("a"), ctr("b")], "volumes": [{"name": "c", "emptyDir": {}},
                                                                   {"name": "d", "emptyDir": {}}]}),
         {"spec": {"$setElementOrder/containers": names("b"), "$setElementOrder/volumes": names("d", "c"),
                   "containers": [{"$patch": "delete", "name": "a"}]}},
         obj("Pod", {"containers": [ctr("b")], "volumes": [{"name": "d", "emptyDir": {}},
                                                          {"name": "c", "emptyDir": {}}]})),
]

# ---- lists of scalars with patchStrategy merge (metadata.finalizers, node podCIDRs)

F = "metadata.finalizers"

PRIMITIVE_CASES = [
    Case("unique scalars when merging lists", "Pod", obj("Pod", finalizers=["a", "b"]),
         {"metadata": {"finalizers": ["b", "c"]}}, obj("Pod", finalizers=["a", "b", "c"])),
    Case("a new finalizer without $setElementOrder goes first", "PersistentVolumeClaim",
         obj("PersistentVolumeClaim", finalizers=["kubernetes.io/pvc-protection"]),
         {"metadata": {"finalizers": ["example.com/x"]}},
         obj("PersistentVolumeClaim", finalizers=["example.com/x", "kubernetes.io/pvc-protection"])),
    Case("delete items in lists of scalars", "Pod", obj("Pod", finalizers=["a", "b", "c", "d"]),
         {"metadata": {"$setElementOrder/finalizers": ["a", "b"], "$deleteFromPrimitiveList/finalizers": ["c"]}},
         obj("Pod", finalizers=["a", "b", "d"])),
    Case("delete all duplicate items in lists of scalars", "Pod", obj("Pod", finalizers=["a", "b", "c", "c", "d"]),
         {"metadata": {"$deleteFromPrimitiveList/finalizers": ["c"]}}, obj("Pod", finalizers=["a", "b", "d"])),
    Case("add and delete items in lists of scalars", "Pod", obj("Pod", finalizers=["a", "b", "c", "d"]),
         {"metadata": {"$setElementOrder/finalizers": ["a", "b", "e"], "$deleteFromPrimitiveList/finalizers": ["c"],
                       "finalizers": ["e"]}},
         obj("Pod", finalizers=["a", "b", "e", "d"])),
    Case("$deleteFromPrimitiveList on a missing list does nothing", "Pod", obj("Pod"),
         {"metadata": {"$deleteFromPrimitiveList/finalizers": ["c"]}}, obj("Pod")),
    Case("a node's podCIDRs merge as a set", "Node", obj("Node", {"podCIDRs": ["10.0.0.0/24"]}),
         {"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}}, obj("Node", {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]})),
    Case("$deleteFromPrimitiveList also works on a list without a strategy", "PersistentVolumeClaim",
         obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}),
         {"spec": {"$deleteFromPrimitiveList/accessModes": ["ReadWriteOnce"]}},
         obj("PersistentVolumeClaim", {"accessModes": ["ReadOnlyMany"]})),
    Case("$deleteFromPrimitiveList leaves a list of maps alone", "Pod", obj("Pod", {"containers": [ctr("c")]}),
         {"spec": {"$deleteFromPrimitiveList/containers": [{"name": "c"}]}}, obj("Pod", {"containers": [ctr("c")]})),
    Case("a list of scalars without a strategy is replaced", "PersistentVolumeClaim",
         obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}),
         {"spec": {"accessModes": ["ReadWriteMany"]}}, obj("PersistentVolumeClaim", {"accessModes": ["ReadWriteMany"]})),
]

# ---- $patch directives

DIRECTIVE_CASES = [
    Case("$patch: replace on a map keeps only the patch's keys", "PersistentVolumeClaim",
         obj("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}}}),
         {"spec": {"resources": {"$patch": "replace", "requests": {"storage": "5Gi"}}}},
         obj("PersistentVolumeClaim", {"resources": {"requests": {"storage": "5Gi"}}})),
    Case("$patch: replace in a list makes the list the other elements", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("A=1", "B=2"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"$patch": "replace"}, {"name": "Z", "value": "9"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=env("Z=9"))]})),
    Case("delete all items from a merging list with a lone $patch: replace", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("A=1", "B=2"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"$patch": "replace"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=[])]})),
    Case("$patch: delete on a map removes it", "Pod", obj("Pod", labels={"a": "1"}),
         {"metadata": {"labels": {"$patch": "delete"}}}, obj("Pod")),
    Case("$patch: merge is the default", "Pod", obj("Pod", labels={"a": "1"}),
         {"metadata": {"labels": {"$patch": "merge", "b": "2"}}}, obj("Pod", labels={"a": "1", "b": "2"})),
    Case("delete all maps from a merging list", "Pod", obj("Pod", {"containers": [ctr("c", env=env("1", "2"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "1", "$patch": "delete"},
                                                        {"name": "2", "$patch": "delete"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=[])]})),
    Case("delete a missing map from a merging list is a no-op", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("2=b"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "1", "$patch": "delete"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=env("2=b"))]})),
    Case("a delete removes every element with that key (patch.go deleteMatchingEntries)", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("1", "1", "2=a", "3", "3"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "1", "$patch": "delete"},
                                                        {"name": "3", "$patch": "delete"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=env("2=a"))]})),
    Case("add map and delete map from a merging list", "Pod",
         obj("Pod", {"containers": [ctr("c", env=env("1", "2=b", "4=c"))]}),
         {"spec": {"containers": [{"name": "c", "env": [{"name": "1", "$patch": "delete"}, {"name": "3"}]}]}},
         obj("Pod", {"containers": [ctr("c", env=env("3", "2=b", "4=c"))]})),
    Case("directives in a value with nothing to merge into are consumed, not stored", "Pod",
         obj("Pod", {"containers": [ctr("c")]}),
         {"spec": {"$setElementOrder/volumes": names("b"),
                   "volumes": [{"$patch": "delete", "name": "a"},
                               {"$retainKeys": ["emptyDir", "name"], "name": "b", "emptyDir": {"medium": None}}],
                   "securityContext": {"$patch": "replace", "runAsUser": 1000, "sysctls": None}}},
         obj("Pod", {"containers": [ctr("c")], "volumes": [{"name": "b", "emptyDir": {}}],
                     "securityContext": {"runAsUser": 1000}})),
]

# ---- $retainKeys (pod volumes: "merge,retainKeys"; Deployment strategy: "retainKeys")

HOSTPATH = {"name": "data", "hostPath": {"path": "/mnt/data", "type": ""}}

RETAIN_KEYS_CASES = [
    Case("a pod volume switches from hostPath to emptyDir with $retainKeys", "Pod",
         obj("Pod", {"containers": [APP], "volumes": [HOSTPATH]}),
         {"spec": {"$setElementOrder/volumes": names("data"),
                   "volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "data"}]}},
         obj("Pod", {"containers": [APP], "volumes": [{"name": "data", "emptyDir": {}}]})),
    Case("without $retainKeys the old volume source stays (why kubectl sends it)", "Pod",
         obj("Pod", {"containers": [APP], "volumes": [HOSTPATH]}),
         {"spec": {"volumes": [{"emptyDir": {}, "name": "data"}]}},
         obj("Pod", {"containers": [APP], "volumes": [{**HOSTPATH, "emptyDir": {}}]})),
    Case("a Deployment strategy switches to Recreate with $retainKeys", "Deployment",
         deploy([APP], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}),
         {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
         deploy([APP], strategy={"type": "Recreate"})),
    Case("retainKeys map can change a field when no $retainKeys directive is present", "Deployment",
         deploy([APP], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}),
         {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}},
         deploy([APP], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})),
    Case("retainKeys list of maps clears a field", "Pod",
         obj("Pod", {"containers": [APP], "volumes": [{"name": "a", "emptyDir": {}},
                                                      {"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}}]}),
         {"spec": {"$setElementOrder/volumes": names("a", "data"),
                   "volumes": [{"$retainKeys": ["emptyDir", "name"], "name": "data"}]}},
         obj("Pod", {"containers": [APP], "volumes": [{"name": "a", "emptyDir": {}},
                                                      {"name": "data", "emptyDir": {}}]})),
]

# ---- merge keys across the kinds, nested

NESTED_CASES = [
    Case("env inside containers inside a Deployment template merges by name", "Deployment",
         deploy([ctr("app", env=env("A=1", "B=2"), ports=[{"containerPort": 80, "protocol": "TCP"}]), ctr("side")]),
         template_patch({"containers": [{"name": "app", "env": env("B=3"),
                                         "ports": [{"containerPort": 80, "name": "http"}]}]}),
         deploy([ctr("app", env=env("A=1", "B=3"), ports=[{"containerPort": 80, "protocol": "TCP", "name": "http"}]),
                 ctr("side")])),
    Case("volumeMounts merge by mountPath, volumeDevices by devicePath", "Pod",
         obj("Pod", {"containers": [ctr("c", volumeMounts=[{"name": "a", "mountPath": "/a"}],
                                        volumeDevices=[{"name": "b", "devicePath": "/dev/b"}])]}),
         {"spec": {"containers": [{"name": "c", "volumeMounts": [{"mountPath": "/a", "readOnly": True}],
                                   "volumeDevices": [{"devicePath": "/dev/b", "name": "b2"}]}]}},
         obj("Pod", {"containers": [ctr("c", volumeMounts=[{"name": "a", "mountPath": "/a", "readOnly": True}],
                                        volumeDevices=[{"name": "b2", "devicePath": "/dev/b"}])]})),
    Case("initContainers merge by name, tolerations and envFrom are replaced", "Pod",
         obj("Pod", {"initContainers": [ctr("init", envFrom=[{"configMapRef": {"name": "a"}}])],
                     "tolerations": [{"key": "a", "operator": "Exists"}]}),
         {"spec": {"initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "s"}}]}],
                   "tolerations": [{"key": "b", "operator": "Exists"}]}},
         obj("Pod", {"initContainers": [ctr("init", envFrom=[{"secretRef": {"name": "s"}}])],
                     "tolerations": [{"key": "b", "operator": "Exists"}]})),
    Case("pod status conditions merge by type", "Pod",
         obj("Pod", status={"conditions": [{"type": "Ready", "status": "False"},
                                           {"type": "PodScheduled", "status": "True"}]}),
         {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
         obj("Pod", status={"conditions": [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]})),
    Case("node conditions and addresses merge by type; taints and images are replaced", "Node",
         obj("Node", {"taints": [{"key": "a", "effect": "NoSchedule"}]},
             status={"conditions": [{"type": "Ready", "status": "True"}],
                     "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                     "images": [{"names": ["a"]}]}),
         {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
          "status": {"conditions": [{"type": "DiskPressure", "status": "False"}],
                     "addresses": [{"type": "Hostname", "address": "node-1"}], "images": [{"names": ["b"]}]}},
         obj("Node", {"taints": [{"key": "b", "effect": "NoExecute"}]},
             status={"conditions": [{"type": "DiskPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                     "addresses": [{"type": "Hostname", "address": "node-1"},
                                   {"type": "InternalIP", "address": "10.0.0.1"}],
                     "images": [{"names": ["b"]}]})),
    Case("ownerReferences merge by uid", "ReplicaSet",
         obj("ReplicaSet", ownerReferences=[{"uid": "u1", "kind": "Deployment", "name": "d"}]),
         {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "name": "e"}]}},
         obj("ReplicaSet", ownerReferences=[{"uid": "u1", "kind": "Deployment", "name": "d", "controller": True},
                                            {"uid": "u2", "name": "e"}])),
    Case("Service ports merge by port", "Service", obj("Service", {"ports": [{"port": 80, "targetPort": 8080}]}),
         {"spec": {"ports": [{"port": 80, "name": "http"}]}},
         obj("Service", {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}]})),
    Case("CSINode drivers merge by name", "CSINode",
         obj("CSINode", {"drivers": [{"name": "a", "nodeID": "n1"}, {"name": "b", "nodeID": "n1"}]}),
         {"spec": {"drivers": [{"name": "b", "allocatable": {"count": 8}}]}},
         obj("CSINode", {"drivers": [{"name": "a", "nodeID": "n1"},
                                     {"name": "b", "nodeID": "n1", "allocatable": {"count": 8}}]})),
    Case("ServiceAccount secrets merge by name", "ServiceAccount", {**obj("ServiceAccount"), "secrets": names("a")},
         {"secrets": names("b")}, {**obj("ServiceAccount"), "secrets": names("b", "a")}),
    Case("a type change replaces the value", "ConfigMap", {**obj("ConfigMap"), "data": {"a": "1"}},
         {"data": "nope"}, {**obj("ConfigMap"), "data": "nope"}),
]

CASES = KUBECTL_CASES + ORDER_CASES + PRIMITIVE_CASES + DIRECTIVE_CASES + RETAIN_KEYS_CASES + NESTED_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_strategic_merge(case: Case) -> None:
    original, patch = copy.deepcopy(case.original), copy.deepcopy(case.patch)
    before = copy.deepcopy((original, patch))
    got = strategic_merge(original, patch, case.kind)
    assert got == case.expected
    assert (original, patch) == before, "inputs were modified"
    assert "$" not in json.dumps(got), "a directive was stored"


# ---- errors, in kube-apiserver's words


@dataclasses.dataclass
class ErrCase:
    name: str
    kind: str
    original: dict[str, Any]
    patch: Any
    error: str  # "<code> <reason>: <message substring>"


ERROR_CASES = [
    ErrCase("the patch is not a map", "Pod", obj("Pod"), [{"op": "add"}],
            "400 BadRequest: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ErrCase("missing merge key", "Pod", obj("Pod", {"containers": [ctr("c", env=env("A=1"))]}),
            {"spec": {"containers": [{"name": "c", "env": [{"value": "b"}]}]}},
            "400 BadRequest: map: map[value:b] does not contain declared merge key: name"),
    ErrCase("a delete directive without the merge key", "Pod", POD, {"spec": {"volumes": [{"$patch": "delete"}]}},
            "400 BadRequest: map: map[$patch:delete] does not contain declared merge key: name"),
    ErrCase("an unknown $patch in a map", "Pod", obj("Pod", labels={"a": "1"}),
            {"metadata": {"labels": {"$patch": "remove"}}},
            "400 BadRequest: unknown patch type: remove in map: map[$patch:remove]"),
    ErrCase("an unknown $patch in a list element", "Pod", POD,
            {"spec": {"volumes": [{"$patch": "drop", "name": "data"}]}},
            "400 BadRequest: unknown patch type: drop in map: map[$patch:drop name:data]"),
    ErrCase("$setElementOrder is not a list", "Pod", POD, {"spec": {"$setElementOrder/containers": {"name": "app"}}},
            "400 BadRequest: expected a []interface {}, but received a map[string]interface {}"),
    ErrCase("$setElementOrder without a list name", "Pod", POD, {"spec": {"$setElementOrder": []}},
            "400 BadRequest: invalid patch format of setElementOrder list"),
    ErrCase("the order in $setElementOrder and the patch list do not match", "Pod",
            obj("Pod", {"containers": [ctr("c", env=env("1", "3", "2"))]}),
            {"spec": {"containers": [{"name": "c", "$setElementOrder/env": names("1", "2", "3"),
                                      "env": env("3=3", "1=1")}]}},
            "400 BadRequest: The order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match "
            "$setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n"),
    ErrCase("the order in $setElementOrder and a primitive patch list do not match", "Pod",
            obj("Pod", finalizers=["1", "3", "2"]),
            {"metadata": {"$setElementOrder/finalizers": ["1", "2", "3"], "finalizers": ["3", "1"]}},
            "400 BadRequest: The order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]\n"),
    ErrCase("a $setElementOrder element without the merge key", "Pod", POD,
            {"spec": {"$setElementOrder/containers": [{"image": "x"}]}},
            "400 BadRequest: map: map[image:x] does not contain declared merge key: name"),
    ErrCase("$deleteFromPrimitiveList is not a list", "Pod", obj("Pod", finalizers=["a"]),
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            "400 BadRequest: invalid patch format of primitive list"),
    ErrCase("$retainKeys is not a list", "Deployment", deploy([APP], strategy={"type": "RollingUpdate"}),
            {"spec": {"strategy": {"$retainKeys": "type"}}}, "400 BadRequest: invalid patch format of retainKeys"),
    ErrCase("a patched key missing from $retainKeys", "Deployment", deploy([APP], strategy={"type": "RollingUpdate"}),
            {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {}}}},
            "400 BadRequest: invalid patch format of retainKeys: 'rollingUpdate' is patched but not listed"),
    ErrCase("list element types differ in a merge list", "Pod", obj("Pod", finalizers=["a"]),
            {"metadata": {"finalizers": [{"name": "b"}]}},
            "400 BadRequest: list element types are not identical: [[a] [map[name:b]]]"),
    ErrCase("lists of lists", "Pod", obj("Pod", finalizers=[]), {"metadata": {"finalizers": [["b"]]}},
            "422 Invalid: lists of lists are not supported"),
    ErrCase("a kind without strategic merge", "CephBlockPool", obj("CephBlockPool"), {"metadata": {}},
            "415 UnsupportedMediaType: the body of the request was in an unknown format"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_strategic_merge_errors(case: ErrCase) -> None:
    with pytest.raises(ApiError) as e:
        strategic_merge(case.original, case.patch, case.kind)
    code, _, rest = case.error.partition(" ")
    reason, _, message = rest.partition(": ")
    assert (e.value.code, e.value.reason) == (int(code), reason)
    assert message in e.value.message


# ---- the table


def test_every_served_kind_has_a_strategy_table() -> None:
    assert set(STRATEGIES) == set(KINDS)


def test_pod_template_paths_are_the_pod_spec_paths() -> None:
    pod = {p: s for p, s in STRATEGIES["Pod"].items() if p.startswith("spec.")}
    for kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        template = {p.removeprefix("spec.template."): s for p, s in STRATEGIES[kind].items()
                    if p.startswith("spec.template.spec.")}
        assert template == pod, kind
        assert STRATEGIES[kind]["spec.template.metadata.finalizers"] == ListMerge()
        assert "spec.volumeClaimTemplates" not in STRATEGIES[kind]


# ---- through apply_patch and the store


def test_apply_patch_strategic() -> None:
    pod = {"apiVersion": "v1", **POD}
    got = apply_patch(pod, {"spec": {"$setElementOrder/containers": names("app"),
                                     "containers": [{"name": "app", "image": "nginx:1.27"}]}}, "strategic")
    assert got["spec"]["containers"] == [{**APP, "image": "nginx:1.27"}]
    assert got["apiVersion"] == "v1" and pod == {"apiVersion": "v1", **POD}


async def test_store_patch_strategic() -> None:
    store = Store(MemoryBackend(), events=None, clock=lambda: 1_790_000_000.0)
    store.load()
    store.start()
    await store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "spec": {"containers": [ctr("app", env=env("A=1"),
                                                    volumeMounts=[{"name": "d", "mountPath": "/d"}])],
                                 "volumes": [{"name": "d", "emptyDir": {}}]}})
    entry = await store.patch("Pod", "default", "p", {
        "metadata": {"finalizers": ["example.com/keep"], "labels": {"tier": "gold"}},
        "spec": {"$setElementOrder/containers": names("app"), "containers": [{"name": "app", "image": "nginx:1.27"}]},
    }, "strategic")
    stored = store.get("Pod", "default", "p").obj
    assert stored == entry.obj
    c = stored["spec"]["containers"][0]
    assert (c["image"], c["env"], c["volumeMounts"]) == ("nginx:1.27", env("A=1"), [{"name": "d", "mountPath": "/d"}])
    assert stored["metadata"]["labels"] == {"tier": "gold"}
    assert "example.com/keep" in stored["metadata"]["finalizers"]
    assert "$" not in json.dumps(stored)


# ---- against Kubernetes' own implementation: `kubectl patch --local` runs strategicpatch offline


def _kubectl_132() -> str | None:
    path = os.environ.get("KSTORE_TEST_KUBECTL_132")
    if not path and shutil.which("kubectl"):
        path = str(Path(shutil.which("kubectl") or "").resolve().parent / "kubectl.1.32")
    return path if path and os.access(path, os.X_OK) else None


KUBECTL_132 = _kubectl_132()
needs_kubectl = pytest.mark.skipif(KUBECTL_132 is None, reason="needs the kubectl 1.32 binary")

# Where we differ on purpose (smp.py's docstring says why); kubectl's unstructured output also
# keeps the directives a typed kube-apiserver would drop.
DIVERGENCES = {
    "$patch: delete on a map removes it",
    "$patch: merge is the default",
    "directives in a value with nothing to merge into are consumed, not stored",
    "$deleteFromPrimitiveList is not a list",  # patch.go ignores it; we refuse it
}


def _kubectl_patch(original: dict[str, Any], patch: Any, tmp: Path) -> dict[str, Any] | None:
    """kubectl 1.32's result, or None if it refused the patch."""
    f = tmp / "obj.json"
    f.write_text(json.dumps({"apiVersion": KINDS[original["kind"]].api_version, **original}))
    r = subprocess.run([str(KUBECTL_132), "patch", "--local", "-f", str(f), "--type", "strategic",
                        "-p", json.dumps(patch), "-o", "json"],
                       capture_output=True, text=True, timeout=30, env={**os.environ, "KUBECONFIG": os.devnull})
    if r.returncode:
        return None
    got = json.loads(r.stdout)
    got.pop("apiVersion")
    return got


def _ours(original: dict[str, Any], patch: Any) -> dict[str, Any] | None:
    try:
        return strategic_merge(original, patch, original["kind"])
    except ApiError:
        return None


@needs_kubectl
def test_cases_agree_with_kubectl(tmp_path: Path) -> None:
    cases = CASES + [Case(e.name, e.kind, e.original, e.patch, {}) for e in ERROR_CASES if e.kind in KINDS]
    for case in (c for c in cases if c.name not in DIVERGENCES):
        assert _ours(case.original, case.patch) == _kubectl_patch(case.original, case.patch, tmp_path), case.name


def _random_pod_and_patch(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pod with merge lists of maps (env, volumes, containers) and of scalars (finalizers), and a
    patch that adds, changes, deletes and orders elements the way kubectl apply's patches do."""
    keys = list("abcdef")

    def some(lo: int, hi: int) -> list[str]:
        return rng.sample(keys, rng.randint(lo, hi))

    pod = obj("Pod", {"containers": [ctr("c", env=[{"name": n, "value": str(i)} for i, n in enumerate(some(1, 4))])],
                      "volumes": [{"name": n, "emptyDir": {}} for n in some(1, 3)]}, finalizers=some(1, 4))

    def list_patch(live: list[str], element: Any) -> tuple[list[Any], list[Any] | None]:
        items = [{"name": n, "$patch": "delete"} if n in live and element and rng.random() < 0.25
                 else (element(n) if element else n) for n in some(0, 3)]
        if rng.random() < 0.4:
            return items, None
        named = [i["name"] if isinstance(i, dict) else i for i in items
                 if not (isinstance(i, dict) and "$patch" in i)]
        order = []
        rest = [n for n in live if n not in named and rng.random() < 0.7]
        while named or rest:  # keep the patch's relative order, interleave other live names
            order.append((named if named and (not rest or rng.random() < 0.5) else rest).pop(0))
        return items, ([{"name": n} for n in order] if element else order)

    patch: dict[str, Any] = {"metadata": {}, "spec": {}}
    finalizers, order = list_patch(pod["metadata"]["finalizers"], None)
    patch["metadata"] |= {"finalizers": finalizers} if finalizers else {}
    patch["metadata"] |= {"$setElementOrder/finalizers": order} if order is not None else {}
    if rng.random() < 0.3:
        patch["metadata"]["$deleteFromPrimitiveList/finalizers"] = [n for n in some(1, 2) if n not in finalizers]
    container: dict[str, Any] = {"name": "c"}
    envs, order = list_patch([e["name"] for e in pod["spec"]["containers"][0]["env"]],
                             lambda n: {"name": n, "value": "p"})
    if rng.random() < 0.1:
        envs = [{"$patch": "replace"}] + [e for e in envs if "$patch" not in e]
    container |= {"env": envs} if envs else {}
    container |= {"$setElementOrder/env": order} if order is not None else {}
    patch["spec"]["containers"] = [container]
    if rng.random() < 0.3:
        patch["spec"]["containers"].append(ctr(rng.choice(["b", "z"]), "busybox"))
        if rng.random() < 0.5:
            patch["spec"]["$setElementOrder/containers"] = [{"name": c["name"]} for c in patch["spec"]["containers"]]
    volumes, order = list_patch([v["name"] for v in pod["spec"]["volumes"]], lambda n: {"name": n, "emptyDir": {}})
    patch["spec"] |= {"volumes": volumes} if volumes else {}
    patch["spec"] |= {"$setElementOrder/volumes": order} if order is not None else {}
    return pod, patch


@needs_kubectl
def test_random_patches_agree_with_kubectl(tmp_path: Path) -> None:
    rng = random.Random(20250101)
    for _ in range(50):
        pod, patch = _random_pod_and_patch(rng)
        assert _ours(pod, patch) == _kubectl_patch(pod, patch, tmp_path), json.dumps({"pod": pod, "patch": patch})
