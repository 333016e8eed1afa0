"""Builders for scheduler tests, shaped like Kubernetes' `makePod` / `makeNode` / `makePVC` /
`makePV` helpers of `volume_binding_test.go` (our code). Every object is a plain dict with a
deterministic uid (`uid-<name>`) and resourceVersion "1" unless told otherwise; the builders
never share nested dicts between objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kstore.controllers.pv.model import ANN_BIND_COMPLETED, ANN_SELECTED_NODE

Obj = dict[str, Any]
RWO, ROX, RWX, RWOP = "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
NAMESPACE = "testns"


def make_node(name: str, *, labels: Mapping[str, str] | None = None, zone: str | None = None, cpu: str = "4",
              memory: str = "8Gi", pods: str = "110", taints: Iterable[Mapping[str, str]] = (),
              unschedulable: bool = False, ready: str | None = "True", rv: str = "1") -> Obj:
    node_labels = {HOSTNAME: name}
    if zone is not None:
        node_labels[ZONE] = zone
    node_labels.update(labels or {})
    node: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": rv, "labels": node_labels},
        "spec": {},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}, "conditions": []},
    }
    if taints:
        node["spec"]["taints"] = [dict(t) for t in taints]
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if ready is not None:
        node["status"]["conditions"].append({"type": "Ready", "status": ready})
    return node


def make_pod(name: str, *, namespace: str = NAMESPACE, node: str = "", claims: Iterable[str] = (),
             ephemeral: Iterable[str] = (), cpu: str | None = None, memory: str | None = None,
             labels: Mapping[str, str] | None = None, node_selector: Mapping[str, str] | None = None,
             affinity: Mapping[str, Any] | None = None, tolerations: Iterable[Mapping[str, Any]] = (),
             spread: Iterable[Mapping[str, Any]] = (), owner: str | None = None, phase: str = "Pending",
             priority: int = 0, scheduler_name: str = "default-scheduler", preemption_policy: str | None = None,
             gates: Iterable[str] = (), rv: str = "1") -> Obj:
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: Obj = {"name": "app", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    spec: Obj = {"containers": [container], "schedulerName": scheduler_name, "priority": priority}
    volumes = [{"name": f"vol-{c}", "persistentVolumeClaim": {"claimName": c}} for c in claims]
    volumes += [{"name": v, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}} for v in ephemeral]
    if volumes:
        spec["volumes"] = volumes
    if node:
        spec["nodeName"] = node
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if affinity:
        spec["affinity"] = affinity
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    if spread:
        spec["topologySpreadConstraints"] = [dict(c) for c in spread]
    if preemption_policy:
        spec["preemptionPolicy"] = preemption_policy
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": rv,
                 "labels": dict(labels or {})}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                    "uid": f"uid-{owner}", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": phase}}


def make_pvc(name: str, class_name: str | None = "wait-sc", *, namespace: str = NAMESPACE, request: str = "1Gi",
             modes: Iterable[str] = (RWO,), bound_to: str | None = None, volume_name: str | None = None,
             selected_node: str | None = None, phase: str | None = None,
             annotations: Mapping[str, str] | None = None, owner_pod: str | None = None, rv: str = "1",
             deleting: bool = False) -> Obj:
    """A claim; `bound_to` makes it fully bound (volumeName + bind-completed, phase Bound);
    `volume_name` only names a volume (pre-bound by the user)."""
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": rv,
                 "annotations": dict(annotations or {})}
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": request}}}
    if class_name is not None:
        spec["storageClassName"] = class_name
    status: Obj = {"phase": phase or "Pending"}
    if bound_to is not None:
        spec["volumeName"] = bound_to
        meta["annotations"][ANN_BIND_COMPLETED] = "yes"
        status["phase"] = phase or "Bound"
    elif volume_name is not None:
        spec["volumeName"] = volume_name
    if selected_node is not None:
        meta["annotations"][ANN_SELECTED_NODE] = selected_node
    if owner_pod is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": owner_pod,
                                    "uid": f"uid-{owner_pod}", "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec, "status": status}


def make_pv(name: str, class_name: str = "wait-sc", *, capacity: str = "10Gi", modes: Iterable[str] = (RWO,),
            claim: str | None = None, claim_namespace: str = NAMESPACE, claim_uid: str | None = None,
            phase: str | None = None, hostnames: Iterable[str] | None = None,
            node_affinity: Mapping[str, Iterable[str]] | None = None, labels: Mapping[str, str] | None = None,
            csi_driver: str | None = None, rv: str = "1") -> Obj:
    """A PV; `claim` sets its claimRef (with `claim_uid`, default `uid-<claim>`; pass "" for a
    user's pre-binding without uid); `hostnames` / `node_affinity` its required node affinity."""
    spec: Obj = {"capacity": {"storage": capacity}, "accessModes": list(modes), "storageClassName": class_name,
                 "persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Filesystem"}
    if csi_driver:
        spec["csi"] = {"driver": csi_driver, "volumeHandle": f"h-{name}"}
    else:
        spec["local"] = {"path": f"/mnt/{name}"}
    expressions = []
    if hostnames is not None:
        expressions.append({"key": HOSTNAME, "operator": "In", "values": list(hostnames)})
    for key, values in (node_affinity or {}).items():
        expressions.append({"key": key, "operator": "In", "values": list(values)})
    if expressions:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}
    if claim is not None:
        spec["claimRef"] = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": claim_namespace,
                            "name": claim, "uid": f"uid-{claim}" if claim_uid is None else claim_uid}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": rv, "labels": dict(labels or {})},
            "spec": spec, "status": {"phase": phase or ("Bound" if claim else "Available")}}


def make_class(name: str, provisioner: str = "kstore.io/block", *, mode: str = "WaitForFirstConsumer",
               allowed_topologies: Mapping[str, Iterable[str]] | None = None) -> Obj:
    sc: Obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"},
               "provisioner": provisioner, "volumeBindingMode": mode, "reclaimPolicy": "Delete"}
    if allowed_topologies:
        sc["allowedTopologies"] = [{"matchLabelExpressions": [
            {"key": k, "values": list(v)} for k, v in allowed_topologies.items()]}]
    return sc


def make_csinode(node: str, limits: Mapping[str, int]) -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
            "metadata": {"name": node, "uid": f"uid-csinode-{node}", "resourceVersion": "1"},
            "spec": {"drivers": [{"name": d, "nodeID": node, "allocatable": {"count": c}} for d, c in limits.items()]}}


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def term(key: str, *values: str, operator: str = "In") -> Obj:
    """A NodeSelectorTerm with one expression."""
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def required_node_affinity(*terms: Obj) -> Obj:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def pod_affinity_term(labels: Mapping[str, str], topology_key: str = HOSTNAME) -> Obj:
    return {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": topology_key}


__all__ = [
    "HOSTNAME", "NAMESPACE", "ROX", "RWO", "RWOP", "RWX", "ZONE",
    "make_class", "make_csinode", "make_node", "make_pod", "make_pv", "make_pvc", "pod_affinity_term",
    "required_node_affinity", "taint", "term",
]
