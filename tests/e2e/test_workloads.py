"""The controller-manager through the real processes and the real kubectl: Deployments,
ReplicaSets, StatefulSets with volumeClaimTemplates, generic ephemeral volumes, garbage
collection as `kubectl delete --cascade` asks, namespace deletion, and node lifecycle on a
cluster of its own with a short grace period.

Pods may or may not become Running here (that is the kubelet's and the scheduler's part), so
what is asserted is what the controllers produce: objects, names, labels, ownerReferences,
events; where the StatefulSet's ordering needs a Running and Ready pod, the test plays the
kubelet and writes that pod status itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kstore.supervisor import cleanup
from tests.e2e.cluster import MANIFESTS, Cluster, kstore_cli, until

WEB = MANIFESTS / "kubernetes__website" / "content__en__examples__application__web__web.yaml"
EPHEMERAL_POD = MANIFESTS / "rook__rook" / "deploy__examples__csi__rbd__pod-ephemeral.yaml"
SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
REPO = Path(__file__).resolve().parents[2]



def stays(what: str, cond: Callable[[], Any], seconds: float) -> None:
    """`cond` holds at every poll for `seconds` (for what must *not* happen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert cond(), what
        time.sleep(0.2)


def apply(cluster: Cluster, text: str, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=text, check=True)


def items(cluster: Cluster, kind: str, ns: str, *args: str) -> list[dict[str, Any]]:
    return cluster.get_json(kind, "-n", ns, *args)["items"]


def names(cluster: Cluster, kind: str, ns: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in items(cluster, kind, ns))


def get(cluster: Cluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
    r = cluster.kubectl("get", kind, name, "-o", "json", *(["-n", ns] if ns else []))
    return json.loads(r.stdout) if r.returncode == 0 else None


def events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    found = items(cluster, "events", ns, "--field-selector", f"involvedObject.name={name}")
    return [(e["type"], e["reason"], e["message"]) for e in found]


def deployment_yaml(name: str, replicas: int, image: str = "nginx:1.25") -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
    })


def controller_of(obj: dict[str, Any]) -> dict[str, Any]:
    (ref,) = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
    return ref


# ---- Deployment → ReplicaSet → Pods


def test_deployment_makes_a_hashed_replica_set_and_generated_pods_and_scales_3_1_0(cluster: Cluster) -> None:
    ns = "wl-deploy"
    cluster.namespace(ns)
    apply(cluster, deployment_yaml("nginx", 3), ns)
    (rs,) = until("the ReplicaSet", lambda: items(cluster, "rs", ns) or None)
    deploy = get(cluster, "deployment", "nginx", ns)
    assert deploy is not None
    rs_name = rs["metadata"]["name"]
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert re.fullmatch(f"{SAFE}{{10}}", hash_) and rs_name == f"nginx-{hash_}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "nginx", "pod-template-hash": hash_}
    assert controller_of(rs) == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx",
                                 "uid": deploy["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = until("3 pods", lambda: (p := items(cluster, "pods", ns)) and len(p) == 3 and p)
    for pod in pods:
        assert re.fullmatch(f"{rs_name}-{SAFE}{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "nginx", "pod-template-hash": hash_}
        assert controller_of(pod)["uid"] == rs["metadata"]["uid"] and controller_of(pod)["blockOwnerDeletion"]
    until("the Deployment status", lambda: (s := (get(cluster, "deployment", "nginx", ns) or {}).get("status", {}))
          and s.get("replicas") == 3 and s.get("updatedReplicas") == 3 and s.get("observedGeneration") == 1)
    for replicas in (1, 0):
        # `kubectl scale` needs the scale subresource the REST front door does not serve yet: patch the spec
        cluster.kubectl("patch", "deployment", "nginx", "-n", ns, "--type=merge",
                        "-p", json.dumps({"spec": {"replicas": replicas}}), check=True)
        until(f"{replicas} pods", lambda n=replicas: len([p for p in items(cluster, "pods", ns)
                                                          if not p["metadata"].get("deletionTimestamp")]) == n)
        until(f"the ReplicaSet at {replicas}",
              lambda n=replicas: (get(cluster, "rs", rs_name, ns) or {}).get("spec", {}).get("replicas") == n)
    until("pods gone", lambda: names(cluster, "pods", ns) == [])
    got = events(cluster, ns, "nginx")
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set {rs_name} from 0 to 3") in got
    assert ("Normal", "ScalingReplicaSet", f"Scaled down replica set {rs_name} from 3 to 1") in got
    assert ("Normal", "ScalingReplicaSet", f"Scaled down replica set {rs_name} from 1 to 0") in got
    rs_events = {(t, r) for t, r, _ in events(cluster, ns, rs_name)}
    assert {("Normal", "SuccessfulCreate"), ("Normal", "SuccessfulDelete")} <= rs_events


def test_rolling_update_makes_a_second_replica_set(cluster: Cluster) -> None:
    ns = "wl-rollout"
    cluster.namespace(ns)
    apply(cluster, deployment_yaml("app", 4), ns)
    until("4 pods", lambda: len(names(cluster, "pods", ns)) == 4)
    cluster.kubectl("set", "image", "deployment/app", "web=nginx:1.27", "-n", ns, check=True)
    rss = until("a second ReplicaSet", lambda: (r := items(cluster, "rs", ns)) and len(r) == 2 and r)
    new = next(r for r in rss if r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27")
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    # maxSurge 25% of 4 = 1: never more than 5 pods wanted at once
    stays("at most replicas + maxSurge", lambda: sum(r["spec"]["replicas"] for r in items(cluster, "rs", ns)) <= 5, 2)
    until("the Deployment's revision", lambda: (get(cluster, "deployment", "app", ns) or {})
          .get("metadata", {}).get("annotations", {}).get("deployment.kubernetes.io/revision") == "2")


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_deleting_a_deployment_collects_its_replica_set_and_pods(cluster: Cluster, cascade: str) -> None:
    ns = f"wl-gc-{cascade}"
    cluster.namespace(ns)
    apply(cluster, deployment_yaml("gone", 2), ns)
    until("2 pods", lambda: len(names(cluster, "pods", ns)) == 2)
    cluster.kubectl("delete", "deployment", "gone", "-n", ns, f"--cascade={cascade}", "--wait=false", check=True)
    until("everything gone", lambda: not names(cluster, "deploy", ns) and not names(cluster, "rs", ns)
          and not names(cluster, "pods", ns), timeout=60)


def test_orphan_deletion_keeps_the_replica_set_and_pods_without_the_reference(cluster: Cluster) -> None:
    ns = "wl-gc-orphan"
    cluster.namespace(ns)
    apply(cluster, deployment_yaml("kept", 2), ns)
    until("2 pods", lambda: len(names(cluster, "pods", ns)) == 2)
    cluster.kubectl("delete", "deployment", "kept", "-n", ns, "--cascade=orphan", check=True)
    until("the Deployment gone", lambda: names(cluster, "deploy", ns) == [])
    (rs,) = until("the orphaned ReplicaSet", lambda: (r := items(cluster, "rs", ns)) and
                  not r[0]["metadata"].get("ownerReferences") and r)
    stays("the ReplicaSet and its pods stay", lambda: len(names(cluster, "rs", ns)) == 1 and all(
        controller_of(p)["uid"] == rs["metadata"]["uid"] for p in items(cluster, "pods", ns))
        and len(names(cluster, "pods", ns)) == 2, 2)


# ---- StatefulSet


def play_kubelet_ready(cluster: Cluster, ns: str, pod: str) -> None:
    """Write Running and Ready into a pod's status, as its kubelet would."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}}
    cluster.kubectl("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status),
                    check=True)


def running_and_ready(pod: dict[str, Any] | None) -> bool:
    if not pod or pod.get("status", {}).get("phase") != "Running":
        return False
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def test_web_statefulset_claims_first_and_ordered_ready(cluster: Cluster) -> None:
    ns = "wl-web"
    cluster.namespace(ns)
    cluster.kubectl("apply", "-n", ns, "-f", str(WEB), check=True)
    sts = until("the StatefulSet", lambda: get(cluster, "sts", "web", ns))
    claim = until("www-web-0", lambda: get(cluster, "pvc", "www-web-0", ns))
    pod = until("web-0", lambda: get(cluster, "pod", "web-0", ns))
    assert claim["metadata"]["labels"] == {"app": "nginx"}
    assert not claim["metadata"].get("ownerReferences")  # Retain / Retain
    assert claim["metadata"]["creationTimestamp"] <= pod["metadata"]["creationTimestamp"]
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0" and labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"].startswith("web-")
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "nginx")
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in pod["spec"]["volumes"]
    assert controller_of(pod)["uid"] == sts["metadata"]["uid"]
    got = [m for _, r, m in events(cluster, ns, "web") if r == "SuccessfulCreate"]
    assert got[:2] == ["create Claim www-web-0 Pod web-0 in StatefulSet web success",
                       "create Pod web-0 in StatefulSet web successful"]
    if not running_and_ready(get(cluster, "pod", "web-0", ns)):
        # OrderedReady: no web-1 while web-0 is not Running and Ready
        stays("web-1 not created before web-0 is Running and Ready",
              lambda: get(cluster, "pod", "web-1", ns) is None or running_and_ready(get(cluster, "pod", "web-0", ns)),
              3)
        play_kubelet_ready(cluster, ns, "web-0")
    until("www-web-1 and web-1", lambda: get(cluster, "pvc", "www-web-1", ns) and get(cluster, "pod", "web-1", ns))
    until("the StatefulSet's status", lambda: (get(cluster, "sts", "web", ns) or {}).get("status", {})
          .get("replicas") == 2)


def test_statefulset_with_an_invalid_claim_template_gets_an_event_and_others_flow(cluster: Cluster) -> None:
    ns = "wl-bad-sts"
    cluster.namespace(ns)

    def sts(name: str, claim: str) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
                "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                         "volumeClaimTemplates": [{"metadata": {"name": claim}, "spec": {
                             "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}

    apply(cluster, yaml.safe_dump_all([sts("bad", "Data"), sts("good", "data")]), ns)
    failed = until("FailedCreate on bad", lambda: [m for t, r, m in events(cluster, ns, "bad")
                                                   if (t, r) == ("Warning", "FailedCreate")])
    assert failed[0].startswith("create Claim Data-bad-0 for Pod bad-0 in StatefulSet bad failed error: ")
    assert "metadata.name" in failed[0] and "Data-bad-0" in failed[0]
    until("good-0 and its claim", lambda: get(cluster, "pod", "good-0", ns) and get(cluster, "pvc", "data-good-0", ns))
    assert get(cluster, "pod", "bad-0", ns) is None


# ---- generic ephemeral volumes


def test_ephemeral_volume_claim_is_owned_by_the_pod_and_collected_with_it(cluster: Cluster) -> None:
    ns = "wl-ephemeral"
    cluster.namespace(ns)
    cluster.kubectl("apply", "-n", ns, "-f", str(EPHEMERAL_POD), check=True)
    pod = until("the pod", lambda: get(cluster, "pod", "csi-rbd-demo-ephemeral-pod", ns))
    claim = until("its claim", lambda: get(cluster, "pvc", "csi-rbd-demo-ephemeral-pod-mypvc", ns))
    assert claim["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod",
                                                     "name": "csi-rbd-demo-ephemeral-pod",
                                                     "uid": pod["metadata"]["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]
    assert claim["spec"]["storageClassName"] == "rook-ceph-block"
    cluster.kubectl("delete", "pod", "csi-rbd-demo-ephemeral-pod", "-n", ns, "--wait=false", check=True)
    until("the claim collected", lambda: get(cluster, "pvc", "csi-rbd-demo-ephemeral-pod-mypvc", ns) is None,
          timeout=60)


def test_a_conflicting_claim_is_reported_on_the_pod(cluster: Cluster) -> None:
    ns = "wl-ephemeral-conflict"
    cluster.namespace(ns)
    doc = yaml.safe_load(EPHEMERAL_POD.read_text())
    apply(cluster, yaml.safe_dump({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                   "metadata": {"name": "csi-rbd-demo-ephemeral-pod-mypvc"},
                                   "spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}}), ns)
    apply(cluster, yaml.safe_dump(doc), ns)
    until("FailedBinding on the pod", lambda: [m for t, r, m in events(cluster, ns, "csi-rbd-demo-ephemeral-pod")
                                               if (t, r) == ("Warning", "FailedBinding")
                                               and "was not created for pod" in m])
    assert not (get(cluster, "pvc", "csi-rbd-demo-ephemeral-pod-mypvc", ns) or {})["metadata"].get("ownerReferences")


# ---- namespaces


def test_deleting_a_namespace_removes_its_content_and_then_the_namespace(cluster: Cluster) -> None:
    ns = "wl-ns-delete"
    cluster.namespace(ns)
    apply(cluster, deployment_yaml("inside", 2), ns)
    until("2 pods", lambda: len(names(cluster, "pods", ns)) == 2)
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=True)
    until("the namespace gone", lambda: get(cluster, "namespace", ns) is None, timeout=60)


# ---- node lifecycle, on a cluster with a short grace period


def short_grace_config(tmp: Path) -> Path:
    config = yaml.safe_load((REPO / "configs" / "dev.yaml").read_text())
    # node_status 1 s: kubelets heartbeat well inside the 4 s grace (their Lease renews every 10 s)
    config["periods"].update(node_grace=4, pod_eviction_timeout=3, node_status=1)
    path = tmp / "short-grace.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def short_grace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("kstore-e2e-grace-")
    state = tmp / "state"
    c = Cluster(state)
    try:
        r = kstore_cli("up", "--config", short_grace_config(tmp), "--state-dir", state, "--base-port", "0",
                       "--nodes", "3")
        if r.returncode != 0:
            raise RuntimeError(f"kstore up failed:\n{r.stdout}\n{r.stderr}")
        yield c
    finally:
        c.down()
        cleanup.down(state)


def process_pid(cluster: Cluster, name: str) -> int:
    r = kstore_cli("status", "--json", "--state-dir", cluster.state_dir)
    snapshot = json.loads(r.stdout)
    (proc,) = [p for p in snapshot["processes"] if p["name"] == name]
    return int(proc["pid"])


def pinned_pod(name: str, node: str, tolerations: list[dict[str, Any]] | None = None) -> str:
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def ready_status(node: dict[str, Any] | None) -> str:
    for c in (node or {}).get("status", {}).get("conditions") or []:
        if c["type"] == "Ready":
            return str(c["status"])
    return ""


def taints(node: dict[str, Any] | None) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node or {}).get("spec", {}).get("taints") or []}


UNREACHABLE = {("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}


def test_a_silent_node_turns_unknown_is_tainted_and_its_pods_are_evicted(short_grace: Cluster) -> None:
    c, ns = short_grace, "wl-nodes"
    c.namespace(ns)
    apply(c, pinned_pod("evicted", "node-2"), ns)
    apply(c, pinned_pod("tolerant", "node-2", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                                "effect": "NoExecute", "tolerationSeconds": 3600}]), ns)
    stays("healthy nodes stay Ready (1 s heartbeats, 4 s grace)",
          lambda: all(ready_status(get(c, "node", n)) == "True" for n in ("node-1", "node-2", "node-3")), 6)
    pid = process_pid(c, "kubelet-node-2")
    os.kill(pid, signal.SIGSTOP)
    try:
        node = until("node-2 Ready=Unknown", lambda: (n := get(c, "node", "node-2")) and ready_status(n) == "Unknown"
                     and n, timeout=30)
        for cond in node["status"]["conditions"]:
            assert (cond["status"], cond["reason"], cond["message"]) == (
                "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        node = until("unreachable taints", lambda: (n := get(c, "node", "node-2")) and UNREACHABLE <= taints(n) and n)
        no_exec = next(t for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", no_exec["timeAdded"])
        # the default toleration (pod_eviction_timeout: 3 s) runs out; the kubelet cannot finish the deletion
        until("evicted marked for deletion",
              lambda: (get(c, "pod", "evicted", ns) or {}).get("metadata", {}).get("deletionTimestamp"), timeout=30)
        until("the eviction event", lambda: ("Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/evicted")
              in events(c, ns, "evicted"))
        assert not (get(c, "pod", "tolerant", ns) or {}).get("metadata", {}).get("deletionTimestamp")
        assert ready_status(get(c, "node", "node-1")) == "True"
    finally:
        os.kill(pid, signal.SIGCONT)
    until("node-2 Ready again", lambda: ready_status(get(c, "node", "node-2")) == "True", timeout=30)
    until("taints removed", lambda: not (UNREACHABLE & taints(get(c, "node", "node-2"))), timeout=30)
    until("the kubelet finishes the eviction", lambda: get(c, "pod", "evicted", ns) is None, timeout=30)
    assert get(c, "pod", "tolerant", ns) is not None


def test_out_of_service_taint_deletes_the_pods_at_once(short_grace: Cluster) -> None:
    c, ns = short_grace, "wl-oos"
    c.namespace(ns)
    apply(c, pinned_pod("on-3", "node-3"), ns)
    until("the pod", lambda: get(c, "pod", "on-3", ns))
    c.kubectl("taint", "nodes", "node-3", "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute", check=True)
    try:
        until("the pod deleted", lambda: get(c, "pod", "on-3", ns) is None, timeout=20)
        assert ("Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/on-3") in events(c, ns, "on-3")
    finally:
        c.kubectl("taint", "nodes", "node-3", "node.kubernetes.io/out-of-service-")
