"""The real kubectl against a real `kstore up` cluster: the commands of KUBE-API.md §8, each
asserting what a user sees (kubectl's own output and exit code)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import Cluster
from tests.seed import SEED_POD

APPLY = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast-e2e}
provisioner: example.com/fast
allowVolumeExpansion: true
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-e2e}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: /mnt/e2e}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: apply-e2e, labels: {app: demo}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast-e2e
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apply-e2e}
spec:
  containers:
  - name: app
    image: nginx:1.27
    env: [{name: A, value: "1"}]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apply-e2e}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apply-e2e}
spec:
  replicas: 0
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres, volumeMounts: [{name: vol, mountPath: /var/lib/postgresql}]}]
  volumeClaimTemplates:
  - metadata: {name: vol}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Node
metadata: {name: extra-node, labels: {tier: e2e}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other-e2e}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: extra-node}
spec: {drivers: []}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va-e2e}
spec:
  attacher: fast.example.com
  nodeName: extra-node
  source: {persistentVolumeName: pv-e2e}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_version_reports_1_32(cluster: Cluster) -> None:
    r = cluster.kubectl("version", "-o", "json", check=True)
    server = json.loads(r.stdout)["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "32")


def test_api_resources_lists_the_kinds_with_short_names(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", check=True).stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    for plural, short in [("persistentvolumeclaims", "pvc"), ("persistentvolumes", "pv"), ("pods", "po"),
                          ("nodes", "no"), ("namespaces", "ns"), ("events", "ev"), ("storageclasses", "sc"),
                          ("deployments", "deploy"), ("statefulsets", "sts")]:
        assert plural in rows and short in rows[plural], out
    assert "volumeattachments" in rows and "csinodes" in rows


def test_apply_create_configure_unchanged_delete(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("apply-e2e")
    f = write(tmp_path, "all.yaml", APPLY)
    r = cluster.kubectl("apply", "-f", f, check=True)
    assert r.stdout.count(" created") == 10, r.stdout
    r = cluster.kubectl("apply", "-f", f, check=True)
    # As against kube-apiserver: a StatefulSet's volumeClaimTemplates list has no merge key and the
    # server defaults its items, so kubectl sends it again each time (kubernetes#66450).
    assert r.stdout.count(" unchanged") == 9 and "statefulset.apps/db configured" in r.stdout, r.stdout

    # Drop a label, a volume and a volumeMount, add a container, grow nothing else.
    docs = list(yaml.safe_load_all(APPLY))
    pvc, pod = docs[2], docs[3]
    del pvc["metadata"]["labels"]
    pod["spec"]["containers"][0].pop("volumeMounts")
    pod["spec"].pop("volumes")
    pod["spec"]["containers"].append({"name": "side", "image": "busybox"})
    changed = write(tmp_path, "changed.yaml", yaml.safe_dump_all(docs))
    r = cluster.kubectl("apply", "-f", changed)
    # A pod's volumes and containers are immutable: kube-apiserver refuses that part, the rest applies.
    assert 'persistentvolumeclaim/data configured' in r.stdout, r.stdout + r.stderr
    assert "Forbidden: pod updates may not change fields other than" in r.stderr, r.stderr
    got = cluster.get_json("pvc", "data", "-n", "apply-e2e")
    assert "labels" not in got["metadata"] or "app" not in got["metadata"]["labels"]

    r = cluster.kubectl("delete", "-f", f, "--wait=false", check=True)
    assert r.stdout.count(" deleted") == 10, r.stdout


def test_strategic_merge_through_apply_on_a_deployment(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("smp-e2e")
    base = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "smp-e2e"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}}, "spec": {
                         "containers": [{"name": "app", "image": "nginx:1.26",
                                         "env": [{"name": "A", "value": "1"}],
                                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                         "volumes": [{"name": "data", "emptyDir": {}}]}}}}
    cluster.kubectl("apply", "-f", write(tmp_path, "d1.yaml", yaml.safe_dump(base)), check=True)
    spec = base["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = "nginx:1.27"
    spec["containers"][0].pop("volumeMounts")
    spec.pop("volumes")
    spec["containers"].append({"name": "side", "image": "busybox"})
    r = cluster.kubectl("apply", "-f", write(tmp_path, "d2.yaml", yaml.safe_dump(base)), check=True)
    assert "deployment.apps/app configured" in r.stdout
    got = cluster.get_json("deploy", "app", "-n", "smp-e2e")["spec"]["template"]["spec"]
    assert [c["name"] for c in got["containers"]] == ["app", "side"]
    assert got["containers"][0]["image"] == "nginx:1.27"
    assert got["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert "volumeMounts" not in got["containers"][0] and "volumes" not in got
    assert not any(k.startswith("$") for k in json.dumps(got).split('"'))


def test_get_outputs(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("get-e2e")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": "get-e2e", "labels": {"app": "demo"}},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "slow",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    cluster.kubectl("create", "-f", write(tmp_path, "c.yaml", yaml.safe_dump(claim)), check=True)
    table = cluster.kubectl("get", "pvc", "-n", "get-e2e", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                                "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert table[1].split()[:3] == ["data", "Pending", "slow"]
    wide = cluster.kubectl("get", "pvc", "-n", "get-e2e", "-o", "wide", check=True).stdout
    assert "VOLUMEMODE" in wide and "Filesystem" in wide
    all_ns = cluster.kubectl("get", "pvc", "-A", check=True).stdout.splitlines()
    assert all_ns[0].split()[0] == "NAMESPACE" and any(line.split()[:2] == ["get-e2e", "data"] for line in all_ns)
    assert cluster.kubectl("get", "pvc", "-n", "get-e2e", "-o", "name", check=True).stdout.strip() == \
        "persistentvolumeclaim/data"
    assert cluster.kubectl("get", "pvc", "-n", "get-e2e", "-o", "jsonpath={.items[*].metadata.name}",
                           check=True).stdout == "data"
    as_yaml = yaml.safe_load(cluster.kubectl("get", "pvc", "data", "-n", "get-e2e", "-o", "yaml", check=True).stdout)
    assert as_yaml["metadata"]["uid"] and as_yaml["status"]["phase"] == "Pending"
    merged = cluster.get_json("pv,pvc,pods", "-n", "get-e2e")
    assert merged["kind"] == "List"
    assert [i["metadata"]["name"] for i in merged["items"] if i["kind"] == "PersistentVolumeClaim"] == ["data"]
    nodes = cluster.kubectl("get", "nodes", check=True).stdout
    assert "node-1" in nodes and "Ready" in nodes
    several = cluster.kubectl("get", "sc,volumeattachments,csinodes,nodes,ns,deploy,sts", "-A", check=True).stdout
    assert "csinode.storage.k8s.io/node-1" in several and "namespace/get-e2e" in several


def test_patch_types_and_errors(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("patch-e2e")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p", "namespace": "patch-e2e"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    f = write(tmp_path, "p.yaml", yaml.safe_dump(claim))
    cluster.kubectl("create", "-f", f, check=True)
    r = cluster.kubectl("create", "-f", f)
    assert r.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating' in r.stderr
    assert 'persistentvolumeclaims "p" already exists' in r.stderr
    n = "patch-e2e"
    assert "patched" in cluster.kubectl("patch", "pvc", "p", "-n", n, "-p", '{"metadata":{"labels":{"s":"1"}}}',
                                        check=True).stdout
    cluster.kubectl("patch", "pvc", "p", "-n", n, "--type=merge", "-p", '{"metadata":{"labels":{"m":"2"}}}', check=True)
    cluster.kubectl("patch", "pvc", "p", "-n", n, "--type=json",
                    "-p", '[{"op":"add","path":"/metadata/labels/j","value":"3"}]', check=True)
    cluster.kubectl("label", "pvc", "p", "-n", n, "l=4", check=True)
    labels = cluster.get_json("pvc", "p", "-n", n)["metadata"]["labels"]
    assert labels == {"s": "1", "m": "2", "j": "3", "l": "4"}

    bad = dict(claim, metadata={"name": "bad", "namespace": n}, spec={"resources": {"requests": {"storage": "1Gi"}}})
    r = cluster.kubectl("create", "-f", write(tmp_path, "bad.yaml", yaml.safe_dump(bad)))
    assert r.returncode == 1
    assert 'The PersistentVolumeClaim "bad" is invalid: spec.accessModes: Required value' in r.stderr, r.stderr

    r = cluster.kubectl("get", "pvc", "nope", "-n", n)
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (NotFound): persistentvolumeclaims "nope" not found'
    r = cluster.kubectl("delete", "sc", "nope")
    assert r.stderr.strip() == 'Error from server (NotFound): storageclasses.storage.k8s.io "nope" not found'


def test_wait_for_a_status_phase(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("wait-e2e")
    for name in ("w1", "w2"):
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": name, "namespace": "wait-e2e"},
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                          "resources": {"requests": {"storage": "1Gi"}}}}
        cluster.kubectl("create", "-f", write(tmp_path, f"{name}.yaml", yaml.safe_dump(claim)), check=True)
    waiter = cluster.popen_kubectl("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/w2", "-n", "wait-e2e",
                                   "--timeout=30s")
    try:
        # Only w1 turns Bound first: a server ignoring the name selector would wrongly satisfy the wait.
        cluster.kubectl("patch", "pvc", "w1", "-n", "wait-e2e", "--subresource=status", "--type=merge",
                        "-p", '{"status":{"phase":"Bound"}}', check=True)
        assert waiter.poll() is None or waiter.returncode != 0
        cluster.kubectl("patch", "pvc", "w2", "-n", "wait-e2e", "--subresource=status", "--type=merge",
                        "-p", '{"status":{"phase":"Bound"}}', check=True)
        out, err = waiter.communicate(timeout=40)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, err
    assert out.strip() == "persistentvolumeclaim/w2 condition met"


def read_lines_until(proc: subprocess.Popen[str], done: Callable[[list[str]], bool], timeout: float) -> list[str]:
    """Lines a running process prints, read from its pipe without Python's buffering (so select()
    tells the truth), until `done(lines)` or the timeout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf, lines = b"", []
    deadline = time.monotonic() + timeout
    while not done(lines) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            lines.extend(line.decode() for line in complete)
    return lines


def test_get_watch_prints_changes(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("watch-e2e")
    watcher = cluster.popen_kubectl("get", "pvc", "-n", "watch-e2e", "-w")
    try:
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": "watched", "namespace": "watch-e2e"},
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                          "resources": {"requests": {"storage": "1Gi"}}}}
        cluster.kubectl("create", "-f", write(tmp_path, "w.yaml", yaml.safe_dump(claim)), check=True)
        cluster.kubectl("label", "pvc", "watched", "-n", "watch-e2e", "x=y", check=True)
        lines = read_lines_until(watcher, lambda ls: sum(x.startswith("watched") for x in ls) >= 2, 20)
    finally:
        watcher.kill()
        watcher.communicate()
    rows = [line.split() for line in lines if line.startswith("watched")]
    assert len(rows) >= 2, lines
    assert rows[0][:2] == ["watched", "Pending"]


def test_describe_pvc_shows_its_events(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("describe-e2e")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "d", "namespace": "describe-e2e", "labels": {"app": "demo"}},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    cluster.kubectl("create", "-f", write(tmp_path, "d.yaml", yaml.safe_dump(claim)), check=True)
    uid = cluster.get_json("pvc", "d", "-n", "describe-e2e")["metadata"]["uid"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "d.1", "namespace": "describe-e2e"},
             "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "describe-e2e", "name": "d",
                                "uid": uid, "apiVersion": "v1"},
             "reason": "FailedBinding", "message": "no persistent volumes available for this claim",
             "type": "Normal", "source": {"component": "persistentvolume-controller"},
             "firstTimestamp": now, "lastTimestamp": now, "count": 1}
    other = json.loads(json.dumps(event))
    other["metadata"]["name"] = "x.1"
    other["involvedObject"].update(name="x", uid="other")
    other["reason"] = "SomethingElse"
    for i, e in enumerate((event, other)):
        cluster.kubectl("create", "-f", write(tmp_path, f"e{i}.yaml", yaml.safe_dump(e)), check=True)
    out = cluster.kubectl("describe", "pvc", "d", "-n", "describe-e2e", check=True).stdout
    assert "Name:          d" in out and "Status:        Pending" in out and "app=demo" in out
    assert "FailedBinding" in out and "no persistent volumes available for this claim" in out
    assert "SomethingElse" not in out


@pytest.mark.parametrize("validate", ["true", "false"])
def test_seed_pod_with_misplaced_volumes_is_refused(cluster: Cluster, tmp_path: Path, validate: str) -> None:
    pod = SEED_POD.replace("name: pv-pod", f"name: task-pv-pod-{validate}")  # the seed's own pv-pod
    r = cluster.kubectl("apply", f"--validate={validate}", "-f", write(tmp_path, "pod.yaml", pod))
    assert r.returncode == 1
    if validate == "true":
        assert 'strict decoding error: unknown field "spec.containers[0].volumes"' in r.stderr, r.stderr
    else:
        assert 'spec.containers[0].volumeMounts[0].name: Not found: "pv-storage"' in r.stderr, r.stderr
    assert cluster.kubectl("get", "pod", f"task-pv-pod-{validate}").returncode == 1


def test_a_crd_document_is_refused_and_the_rest_applies(cluster: Cluster, tmp_path: Path) -> None:
    text = """\
apiVersion: ceph.rook.io/v1
kind: CephBlockPool
metadata: {name: replicapool, namespace: rook-ceph}
spec: {replicated: {size: 3}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: rook-ceph-block-e2e}
provisioner: rook-ceph.rbd.csi.ceph.com
"""
    r = cluster.kubectl("apply", "-f", write(tmp_path, "crd.yaml", text))
    assert r.returncode == 1
    assert 'no matches for kind "CephBlockPool" in version "ceph.rook.io/v1"' in r.stderr
    assert "storageclass.storage.k8s.io/rook-ceph-block-e2e created" in r.stdout


def test_python_client_creates_lists_and_watches(cluster: Cluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "py-e2e"}})
    body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "py"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "2Gi"}}}}
    created = core.create_namespaced_persistent_volume_claim("py-e2e", body)
    assert created.metadata.uid and created.status.phase == "Pending"
    listed = core.list_namespaced_persistent_volume_claim("py-e2e")
    assert [i.metadata.name for i in listed.items] == ["py"]
    w = kubernetes.watch.Watch()
    seen = []
    core.patch_namespaced_persistent_volume_claim("py", "py-e2e", {"metadata": {"labels": {"k": "v"}}})
    for ev in w.stream(core.list_namespaced_persistent_volume_claim, "py-e2e",
                       resource_version=listed.metadata.resource_version, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.labels))
        w.stop()
    assert seen == [("MODIFIED", "py", {"k": "v"})]
    with pytest.raises(kubernetes.client.ApiException) as e:
        core.read_namespaced_persistent_volume_claim("nope", "py-e2e")
    assert e.value.status == 404
    pvs = kubernetes.client.CoreV1Api(api_client).list_persistent_volume()
    assert pvs.items is not None


def test_describe_pv_pod_node_and_explain(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("describe2-e2e")
    docs = """\
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-describe}
spec: {capacity: {storage: 2Gi}, accessModes: [ReadWriteOnce], storageClassName: manual, hostPath: {path: /mnt/x}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: describe2-e2e}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: v, mountPath: /v}]}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: data}}]
"""
    cluster.kubectl("apply", "-f", write(tmp_path, "d.yaml", docs), check=True)
    pv = cluster.kubectl("describe", "pv", "pv-describe", check=True).stdout
    assert "Name:            pv-describe" in pv and "Capacity:        2Gi" in pv and "HostPath" in pv
    pod = cluster.kubectl("describe", "pod", "p", "-n", "describe2-e2e", check=True).stdout
    assert "ClaimName:   data" in pod and "Status:       Pending" in pod, pod
    node = cluster.kubectl("describe", "node", "node-1", check=True).stdout
    assert "kubernetes.io/hostname=node-1" in node and "KubeletReady" in node
    explain = cluster.kubectl("explain", "pvc.spec.resources", check=True).stdout
    assert "FIELD: resources" in explain and "requests" in explain
    explain = cluster.kubectl("explain", "pod.spec.volumes.persistentVolumeClaim", check=True).stdout
    assert "claimName" in explain


def test_kubectl_scale_uses_the_scale_subresource(cluster: Cluster, tmp_path: Path) -> None:
    cluster.namespace("scale-e2e")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s", "namespace": "scale-e2e"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                       "template": {"metadata": {"labels": {"app": "s"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    cluster.kubectl("apply", "-f", write(tmp_path, "s.yaml", yaml.safe_dump(deploy)), check=True)
    out = cluster.kubectl("scale", "deployment/s", "-n", "scale-e2e", "--replicas=3", check=True).stdout
    assert out.strip() == "deployment.apps/s scaled"
    assert cluster.get_json("deploy", "s", "-n", "scale-e2e")["spec"]["replicas"] == 3
    r = cluster.kubectl("scale", "deployment/s", "-n", "scale-e2e", "--replicas=-1")
    assert r.returncode != 0
