"""The scheduler through the real processes and the real kubectl: pods land where their node
selectors and volumes allow, WaitForFirstConsumer claims are provisioned on the pod's node, and
pods that fit nowhere stay Pending with kube-scheduler's message — as a user sees it (nodeName,
claim annotations, events, the PodScheduled condition). Pods are not expected to run: only where
they are placed."""

from __future__ import annotations

import time
from typing import Any

import yaml

from tests.e2e.cluster import MANIFESTS, Cluster, until

EBS = MANIFESTS / "kubernetes-sigs__aws-ebs-csi-driver"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
NOT_HELPFUL = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."



def apply(cluster: Cluster, text: str, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=text, check=True)


def pod_yaml(name: str, *, claims: tuple[str, ...] = (), node_selector: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]}
    if claims:
        spec["volumes"] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
        spec["containers"][0]["volumeMounts"] = [{"name": f"v{i}", "mountPath": f"/data{i}"} for i in range(len(claims))]
    if node_selector:
        spec["nodeSelector"] = node_selector
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def node_of(cluster: Cluster, ns: str, pod: str) -> str:
    r = cluster.kubectl("get", "pod", pod, "-n", ns, "-o", "jsonpath={.spec.nodeName}")
    return r.stdout if r.returncode == 0 else ""


def events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str, str, str]]:
    items = cluster.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"], (e.get("source") or {}).get("component", "")) for e in items]


def failed_scheduling(cluster: Cluster, ns: str, pod: str) -> list[str]:
    return [msg for typ, reason, msg, _ in events(cluster, ns, pod) if (typ, reason) == ("Warning", "FailedScheduling")]


def scheduled_condition(cluster: Cluster, ns: str, pod: str) -> dict[str, Any] | None:
    conditions = cluster.get_json("pod", pod, "-n", ns).get("status", {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "PodScheduled"), None)


def test_pod_with_a_node_selector_lands_on_the_matching_node(cluster: Cluster) -> None:
    cluster.namespace("sched-selector")
    cluster.kubectl("label", "node", "node-2", "e2e.kstore.io/disk=ssd", check=True)
    apply(cluster, pod_yaml("picky", node_selector={"e2e.kstore.io/disk": "ssd"}), "sched-selector")
    assert until("picky bound", lambda: node_of(cluster, "sched-selector", "picky")) == "node-2"
    assert until("Scheduled event", lambda: [e for e in events(cluster, "sched-selector", "picky")
                                             if e[1] == "Scheduled"]) == [
        ("Normal", "Scheduled", "Successfully assigned sched-selector/picky to node-2", "default-scheduler")]
    condition = scheduled_condition(cluster, "sched-selector", "picky")
    assert condition is not None and condition["status"] == "True"


def test_ebs_wait_for_first_consumer_claim_follows_the_pod(cluster: Cluster) -> None:
    ns = "sched-ebs"
    cluster.namespace(ns)
    for part in ("storageclass", "claim"):
        cluster.kubectl("apply", "-n", ns, "-f", str(EBS / f"examples__kubernetes__dynamic-provisioning__manifests__"
                                                          f"{part}.yaml"), check=True)
    time.sleep(1.0)  # long enough for an Immediate claim to have been provisioned: this one must wait
    claim = cluster.get_json("pvc", "ebs-claim", "-n", ns)
    assert claim["status"]["phase"] == "Pending"
    assert SELECTED_NODE not in (claim["metadata"].get("annotations") or {})
    cluster.kubectl("apply", "-n", ns, "-f", str(EBS / "examples__kubernetes__dynamic-provisioning__manifests__pod.yaml"),
                    check=True)
    node = until("app bound", lambda: node_of(cluster, ns, "app"))
    claim = until("ebs-claim Bound", lambda: (c := cluster.get_json("pvc", "ebs-claim", "-n", ns))["status"].get(
        "phase") == "Bound" and c)
    assert claim["metadata"]["annotations"][SELECTED_NODE] == node
    pv = cluster.get_json("pv", claim["spec"]["volumeName"])
    assert pv["spec"]["csi"]["driver"] == "ebs.csi.aws.com" and pv["spec"]["storageClassName"] == "ebs-sc"
    reasons = [e[1] for e in events(cluster, ns, "ebs-claim")]
    assert "WaitForFirstConsumer" in reasons or "WaitForPodScheduled" in reasons
    assert "ProvisioningSucceeded" in until("provisioned event", lambda: [e[1] for e in events(cluster, ns, "ebs-claim")
                                                                        if e[1] == "ProvisioningSucceeded"])


LOCAL = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sched-e2e-local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: sched-e2e-local-pv}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: sched-e2e-local
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [node-2]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: local-claim}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: sched-e2e-local
  resources: {requests: {storage: 1Gi}}
"""


def test_local_pv_with_node_affinity_brings_the_pod_to_its_node(cluster: Cluster) -> None:
    ns = "sched-local"
    cluster.namespace(ns)
    apply(cluster, LOCAL, ns)
    apply(cluster, pod_yaml("local-user", claims=("local-claim",)), ns)
    assert until("local-user bound", lambda: node_of(cluster, ns, "local-user")) == "node-2"
    claim = until("local-claim Bound", lambda: (c := cluster.get_json("pvc", "local-claim", "-n", ns))["status"].get(
        "phase") == "Bound" and c)
    assert claim["spec"]["volumeName"] == "sched-e2e-local-pv"


RWOP_CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: solo}
spec:
  accessModes: [ReadWriteOncePod]
  resources: {requests: {storage: 1Gi}}
"""


def test_rwop_claim_second_pod_stays_pending_with_the_reason(cluster: Cluster) -> None:
    ns = "sched-rwop"
    cluster.namespace(ns)
    apply(cluster, RWOP_CLAIM, ns)
    apply(cluster, pod_yaml("first", claims=("solo",)), ns)
    until("first bound", lambda: node_of(cluster, ns, "first"))
    apply(cluster, pod_yaml("second", claims=("solo",)), ns)
    message = ("0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name and "
               "ReadWriteOncePod access mode. preemption: 0/3 nodes are available: 3 No preemption victims found for "
               "incoming pod.")
    assert until("FailedScheduling", lambda: failed_scheduling(cluster, ns, "second")) == [message]
    assert node_of(cluster, ns, "second") == ""
    condition = scheduled_condition(cluster, ns, "second")
    assert condition is not None and (condition["status"], condition["reason"], condition["message"]) == (
        "False", "Unschedulable", message)
    # the first pod goes: the second one is retried on that event and takes the claim
    cluster.kubectl("delete", "pod", "first", "-n", ns, "--grace-period=0", "--force", "--wait=false", check=True)
    until("second bound", lambda: node_of(cluster, ns, "second"), timeout=60)


def test_pod_naming_a_missing_claim_stays_pending_with_an_event(cluster: Cluster) -> None:
    ns = "sched-missing"
    cluster.namespace(ns)
    apply(cluster, pod_yaml("orphan", claims=("missing",)), ns)
    assert until("FailedScheduling", lambda: failed_scheduling(cluster, ns, "orphan")) == [
        f'0/3 nodes are available: persistentvolumeclaim "missing" not found. {NOT_HELPFUL}']
    assert node_of(cluster, ns, "orphan") == ""
    # the claim appears (the default class binds it at once): the pod follows
    apply(cluster, RWOP_CLAIM.replace("solo", "missing").replace("ReadWriteOncePod", "ReadWriteOnce"), ns)
    until("orphan bound", lambda: node_of(cluster, ns, "orphan"), timeout=60)


ZONAL = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sched-e2e-zonal}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: sched-e2e-zonal-pv
  labels: {topology.kubernetes.io/zone: zone-c}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: sched-e2e-zonal
  hostPath: {path: /mnt/zonal}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: zonal}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: sched-e2e-zonal
  resources: {requests: {storage: 1Gi}}
"""


def test_zone_labelled_pv_keeps_its_pods_in_its_zone(cluster: Cluster) -> None:
    ns = "sched-zone"
    cluster.namespace(ns)
    apply(cluster, ZONAL, ns)
    until("zonal Bound", lambda: cluster.get_json("pvc", "zonal", "-n", ns)["status"].get("phase") == "Bound")
    apply(cluster, pod_yaml("zonal-user", claims=("zonal",)), ns)
    assert until("zonal-user bound", lambda: node_of(cluster, ns, "zonal-user")) == "node-3"  # zone-c


def test_node_selector_no_node_matches(cluster: Cluster) -> None:
    ns = "sched-nowhere"
    cluster.namespace(ns)
    apply(cluster, pod_yaml("nowhere", node_selector={"e2e.kstore.io/gpu": "a100"}), ns)
    message = f"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. {NOT_HELPFUL}"
    assert until("FailedScheduling", lambda: failed_scheduling(cluster, ns, "nowhere")) == [message]
    condition = scheduled_condition(cluster, ns, "nowhere")
    assert condition is not None and (condition["status"], condition["reason"], condition["message"]) == (
        "False", "Unschedulable", message)
    described = cluster.kubectl("describe", "pod", "nowhere", "-n", ns, check=True).stdout
    assert "FailedScheduling" in described and "default-scheduler" in described


def test_claim_of_a_class_that_does_not_exist(cluster: Cluster) -> None:
    ns = "sched-noclass"
    cluster.namespace(ns)
    claim = RWOP_CLAIM.replace("solo", "ghost").replace("ReadWriteOncePod", "ReadWriteOnce")
    apply(cluster, claim.replace("spec:\n", "spec:\n  storageClassName: no-such-class\n"), ns)
    apply(cluster, pod_yaml("haunted", claims=("ghost",)), ns)
    assert until("FailedScheduling", lambda: failed_scheduling(cluster, ns, "haunted")) == [
        f"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. {NOT_HELPFUL}"]
