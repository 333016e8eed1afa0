"""The PV controller through the real processes and the real kubectl: binding, provisioning on
the emulated pool, reclaim, protection, expansion, bad input — asserted as a user sees them
(kubectl output, events, and the pool's files)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.cluster import MANIFESTS, Cluster, until


def apply(cluster: Cluster, text: str, *args: str) -> str:
    return cluster.kubectl("apply", *args, "-f", "-", input=text, check=True).stdout


def claim_yaml(name: str, ns: str, *, cls: str | None, size: str = "1Gi", modes: str = "ReadWriteOnce") -> str:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": name, "namespace": ns},
                           "spec": {"accessModes": [modes], "resources": {"requests": {"storage": size}}}}
    if cls is not None:
        doc["spec"]["storageClassName"] = cls
    return yaml.safe_dump(doc)


def phase(cluster: Cluster, kind: str, name: str, ns: str | None = None) -> str:
    args = [kind, name, "-o", "jsonpath={.status.phase}"] + (["-n", ns] if ns else [])
    r = cluster.kubectl("get", *args)
    return r.stdout if r.returncode == 0 else ""


def events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = cluster.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def pool_file(cluster: Cluster, backend: str, name: str) -> Path:
    return cluster.state_dir / "pool" / backend / name


def test_seed_claim_is_provisioned_by_the_default_class_and_deleted_with_its_image(cluster: Cluster) -> None:
    cluster.namespace("seed-pv")
    # The seed's claim names no class: DefaultStorageClass admission gives it `standard`.
    seed = """\
kind: PersistentVolumeClaim
apiVersion: v1
metadata:
  name: pv-claim
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 1Gi
"""
    apply(cluster, seed, "-n", "seed-pv")
    until("pv-claim Bound", lambda: phase(cluster, "pvc", "pv-claim", "seed-pv") == "Bound")
    claim = cluster.get_json("pvc", "pv-claim", "-n", "seed-pv")
    volume = claim["spec"]["volumeName"]
    assert volume == f"pvc-{claim['metadata']['uid']}"
    assert claim["spec"]["storageClassName"] == "standard"
    assert claim["status"]["capacity"] == {"storage": "1Gi"} and claim["status"]["accessModes"] == ["ReadWriteOnce"]
    pv = cluster.get_json("pv", volume)
    assert pv["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "kstore.io/block"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    image = pool_file(cluster, "block", volume)
    assert image.stat().st_size == 1024**3 and image.stat().st_blocks * 512 < 1024**2  # sparse
    reasons = [r for _, r, _ in events(cluster, "seed-pv", "pv-claim")]
    assert "Provisioning" in reasons and "ProvisioningSucceeded" in reasons
    out = cluster.kubectl("delete", "pvc", "pv-claim", "-n", "seed-pv", check=True).stdout
    assert 'persistentvolumeclaim "pv-claim" deleted' in out
    until("PV gone", lambda: cluster.kubectl("get", "pv", volume).returncode == 1)
    assert not image.exists()


def test_static_pair_binds_to_the_smallest_fitting_volume_and_manual_never_provisions(cluster: Cluster) -> None:
    ns = "static-pv"
    cluster.namespace(ns)
    base = MANIFESTS / "kubernetes__website"
    cluster.kubectl("apply", "-f", str(base / "content__en__examples__pods__storage__pv-volume.yaml"), check=True)
    cluster.kubectl("apply", "-n", ns, "-f", str(base / "content__en__examples__pods__storage__pv-claim.yaml"),
                    check=True)
    until("task-pv-claim Bound", lambda: phase(cluster, "pvc", "task-pv-claim", ns) == "Bound")
    claim = cluster.get_json("pvc", "task-pv-claim", "-n", ns)
    assert claim["spec"]["volumeName"] == "task-pv-volume"
    assert claim["status"]["capacity"]["storage"] == "10Gi"  # asked 3Gi, got the 10Gi volume
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert phase(cluster, "pv", "task-pv-volume") == "Bound"
    # `manual` has no StorageClass object and `""` means no class: neither is ever provisioned.
    apply(cluster, claim_yaml("manual-only", ns, cls="manual") + "---\n" + claim_yaml("no-class", ns, cls=""))
    until("FailedBinding events", lambda: any(r == "FailedBinding" for _, r, _ in events(cluster, ns, "no-class")))
    assert phase(cluster, "pvc", "manual-only", ns) == "Pending" and phase(cluster, "pvc", "no-class", ns) == "Pending"
    assert ("Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set") \
        in events(cluster, ns, "no-class")
    # Retain: the claim goes, the volume is Released and keeps its claimRef (data kept)
    cluster.kubectl("delete", "pvc", "task-pv-claim", "-n", ns, check=True)
    until("task-pv-volume Released", lambda: phase(cluster, "pv", "task-pv-volume") == "Released")


def test_recycle_scrubs_and_makes_the_volume_available(cluster: Cluster) -> None:
    ns = "recycle-pv"
    cluster.namespace(ns)
    apply(cluster, """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: shared-retain}
provisioner: kstore.io/shared
reclaimPolicy: Retain
""")
    apply(cluster, claim_yaml("files", ns, cls="shared-retain", modes="ReadWriteMany"))
    until("files Bound", lambda: phase(cluster, "pvc", "files", ns) == "Bound")
    volume = cluster.get_json("pvc", "files", "-n", ns)["spec"]["volumeName"]
    directory = pool_file(cluster, "shared", volume)
    (directory / "data.txt").write_text("hello")
    cluster.kubectl("patch", "pv", volume, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Recycle"}}', check=True)
    cluster.kubectl("delete", "pvc", "files", "-n", ns, check=True)
    until("recycled volume Available", lambda: phase(cluster, "pv", volume) == "Available")
    assert directory.is_dir() and not (directory / "data.txt").exists()
    assert "claimRef" not in cluster.get_json("pv", volume)["spec"]


def test_expansion_grows_the_image_and_asks_the_node_to_resize(cluster: Cluster) -> None:
    ns = "expand-pv"
    cluster.namespace(ns)
    apply(cluster, claim_yaml("grow", ns, cls="standard"))
    until("grow Bound", lambda: phase(cluster, "pvc", "grow", ns) == "Bound")
    volume = cluster.get_json("pvc", "grow", "-n", ns)["spec"]["volumeName"]
    cluster.kubectl("patch", "pvc", "grow", "-n", ns, "-p", '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}',
                    check=True)
    until("PV capacity 3Gi", lambda: cluster.get_json("pv", volume)["spec"]["capacity"]["storage"] == "3Gi")
    assert pool_file(cluster, "block", volume).stat().st_size == 3 * 1024**3
    conds = until("FileSystemResizePending", lambda: cluster.get_json("pvc", "grow", "-n", ns)["status"].get(
        "conditions"))
    assert conds[0]["type"] == "FileSystemResizePending"
    r = cluster.kubectl("patch", "pvc", "grow", "-n", ns, "-p", '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}')
    assert r.returncode == 1 and "field can not be less than status.capacity" in r.stderr, r.stderr
    # A class that forbids expansion is refused at admission.
    apply(cluster, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fixed}\n"
                   "provisioner: kstore.io/block\n")
    apply(cluster, claim_yaml("fixed", ns, cls="fixed"))
    until("fixed Bound", lambda: phase(cluster, "pvc", "fixed", ns) == "Bound")
    r = cluster.kubectl("patch", "pvc", "fixed", "-n", ns, "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}')
    assert r.returncode == 1
    assert "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must " \
           "support resize" in r.stderr, r.stderr


def test_a_claim_in_use_is_protected_until_its_pod_is_gone(cluster: Cluster) -> None:
    ns = "protect-pv"
    cluster.namespace(ns)
    apply(cluster, claim_yaml("held", ns, cls="standard"))
    until("held Bound", lambda: phase(cluster, "pvc", "held", ns) == "Bound")
    apply(cluster, yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": ns},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "held"}}]}}))
    cluster.kubectl("delete", "pvc", "held", "-n", ns, "--wait=false", check=True)
    row = cluster.kubectl("get", "pvc", "held", "-n", ns, check=True).stdout.splitlines()[1].split()
    assert row[:2] == ["held", "Terminating"]
    # still there while the pod runs: the pv-controller keeps kubernetes.io/pvc-protection
    claim = cluster.get_json("pvc", "held", "-n", ns)
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    cluster.kubectl("delete", "pod", "user", "-n", ns, check=True)
    until("held gone", lambda: cluster.kubectl("get", "pvc", "held", "-n", ns).returncode == 1)


def test_bad_claims_get_clear_errors_and_nothing_half_provisioned(cluster: Cluster) -> None:
    ns = "bad-pv"
    cluster.namespace(ns)
    r = cluster.kubectl("apply", "-f", "-", input=claim_yaml("neg", ns, cls="standard", size="-1Gi"))
    assert r.returncode == 1 and "must be greater than zero" in r.stderr
    r = cluster.kubectl("apply", "-f", "-", input=claim_yaml("odd", ns, cls="standard", modes="ReadWriteSometimes"))
    assert r.returncode == 1 and 'Unsupported value: "ReadWriteSometimes"' in r.stderr
    apply(cluster, claim_yaml("ghost-class", ns, cls="nope"))
    until("ProvisioningFailed", lambda: any(r == "ProvisioningFailed" for _, r, _ in events(cluster, ns, "ghost-class")))
    assert ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "nope" not found') in \
        events(cluster, ns, "ghost-class")
    # A size no backing file can have: the backend fails, a Warning says why, no image and no PV.
    apply(cluster, claim_yaml("huge", ns, cls="standard", size="100Pi"))
    until("huge ProvisioningFailed", lambda: any(r == "ProvisioningFailed" for _, r, _ in events(cluster, ns, "huge")))
    uid = cluster.get_json("pvc", "huge", "-n", ns)["metadata"]["uid"]
    assert phase(cluster, "pvc", "huge", ns) == "Pending"
    assert not pool_file(cluster, "block", f"pvc-{uid}").exists()
    assert cluster.kubectl("get", "pv", f"pvc-{uid}").returncode == 1
    # and the controller keeps serving everyone else
    apply(cluster, claim_yaml("fine", ns, cls="standard"))
    until("fine Bound", lambda: phase(cluster, "pvc", "fine", ns) == "Bound")


def test_pv_controller_metrics(cluster: Cluster) -> None:
    cfg = json.loads((cluster.state_dir / "cluster.json").read_text())
    port = cfg["metrics_ports"]["pv-controller"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("pv_collector_bound_pv_count", "pv_collector_unbound_pv_count", "pv_collector_bound_pvc_count",
                 "pv_collector_unbound_pvc_count", "storage_operation_duration_seconds", "workqueue_adds",
                 "workqueue_depth", "kstore_reconcile_duration_seconds"):
        assert name in families, name
    ops = {(s.labels["operation_name"], s.labels["status"]) for s in families["storage_operation_duration_seconds"].samples
           if s.name.endswith("_count")}
    assert ("volume_provision", "success") in ops
    queues = {s.labels["name"] for s in families["workqueue_adds"].samples}
    assert {"claims", "volumes"} <= queues


def test_a_claim_cloned_from_another_starts_with_its_data(cluster: Cluster) -> None:
    ns = "clone-pv"
    cluster.namespace(ns)

    def clone(name: str, source: str) -> str:
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": "2Gi"}},
                     "dataSource": {"kind": "PersistentVolumeClaim", "name": source}}})

    apply(cluster, clone("orphan", "nowhere"))  # a source that does not exist: Pending, with the reason
    until("clone waits for its source", lambda: any(
        'persistentvolumeclaims "nowhere" not found' in m for _, _, m in events(cluster, ns, "orphan")))
    assert phase(cluster, "pvc", "orphan", ns) == "Pending"
    apply(cluster, claim_yaml("origin", ns, cls="standard"))
    until("origin Bound", lambda: phase(cluster, "pvc", "origin", ns) == "Bound")
    origin = pool_file(cluster, "block", cluster.get_json("pvc", "origin", "-n", ns)["spec"]["volumeName"])
    with open(origin, "r+b") as f:  # data the origin's user wrote, 100 MiB in
        f.seek(100 << 20)
        f.write(b"kstore clone marker")
    apply(cluster, clone("copy", "origin"))
    until("copy Bound", lambda: phase(cluster, "pvc", "copy", ns) == "Bound")
    copy = pool_file(cluster, "block", cluster.get_json("pvc", "copy", "-n", ns)["spec"]["volumeName"])
    assert copy.stat().st_size == 2 * 1024**3
    with open(copy, "rb") as f:
        f.seek(100 << 20)
        assert f.read(19) == b"kstore clone marker"
    assert copy.stat().st_blocks * 512 < 16 << 20  # holes stayed holes
