"""The manifests users bring (../shared/manifests, INDEX.tsv), applied with the real kubectl,
each group in its own namespace: every document is accepted, or refused as kube-apiserver
refuses it (a kind it does not serve, such as rook's CephBlockPool CRD)."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import MANIFESTS, Cluster

# Documents kube-apiserver refuses, by file: (kind, the error kubectl prints).
REFUSED = {
    "rook__rook/deploy__examples__csi__rbd__storageclass.yaml": [
        ("CephBlockPool", 'no matches for kind "CephBlockPool" in version "ceph.rook.io/v1"'),
    ],
}


def index_rows() -> list[dict[str, str]]:
    index = MANIFESTS / "INDEX.tsv"
    if not index.exists():
        return []
    with index.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def group_of(row: dict[str, str]) -> str:
    m = re.search(r"group ([a-z0-9-]+)", row["notes"] + " " + row["expected_end_state"])
    return m.group(1) if m else Path(row["file"]).stem.lower().replace("_", "-")[-40:].strip("-")


ROWS = index_rows()


@pytest.mark.skipif(not ROWS, reason="../shared/manifests is not there")
def test_every_manifest_applies_as_against_kube_apiserver(cluster: Cluster) -> None:
    namespaces: set[str] = set()
    problems = []
    for row in ROWS:
        path = MANIFESTS / row["file"]
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        ns = f"m-{group_of(row)}"[:63].rstrip("-")
        if ns not in namespaces:
            cluster.namespace(ns)
            namespaces.add(ns)
        pinned = any((d.get("metadata") or {}).get("namespace") for d in docs)
        args = ["apply", "-f", str(path)] + ([] if pinned else ["-n", ns])
        r = cluster.kubectl(*args)
        refused = REFUSED.get(row["file"], [])
        accepted = [d for d in docs if d["kind"] not in {k for k, _ in refused}]
        for doc in accepted:
            kind, name = doc["kind"].lower(), doc["metadata"]["name"]
            if not re.search(rf"^{kind}(\.[a-z0-9.]+)?/{re.escape(name)} (created|configured|unchanged)$",
                             r.stdout, re.M):
                problems.append(f"{row['file']}: {kind}/{name} not accepted:\n{r.stdout}{r.stderr}")
        for _, message in refused:
            if message not in r.stderr:
                problems.append(f"{row['file']}: expected refusal {message!r}, got:\n{r.stderr}")
        if (r.returncode != 0) != bool(refused):
            problems.append(f"{row['file']}: kubectl exit {r.returncode}:\n{r.stdout}{r.stderr}")
    assert not problems, "\n\n".join(problems)
    # What they made is there, readable through kubectl.
    claims = {c["metadata"]["name"]: c for c in cluster.get_json("pvc", "-A")["items"]}
    assert {"task-pv-claim", "rbd-pvc", "raw-block-rbd-pvc", "cephfs-pvc", "ebs-claim", "csi-pvc"} <= set(claims)
    assert claims["task-pv-claim"]["spec"]["storageClassName"] == "manual"
    assert claims["raw-block-rbd-pvc"]["spec"]["volumeMode"] == "Block"
    classes = {c["metadata"]["name"] for c in cluster.get_json("sc")["items"]}
    assert {"rook-ceph-block", "rook-cephfs", "ebs-sc", "low-latency", "local-storage", "csi-hostpath-sc"} <= classes

    # The end states INDEX.tsv expects of the PV controller: static pairs bind, dynamic claims
    # are provisioned, `manual` and "" never are, a clone of a missing source waits.
    bound = {  # namespace/claim → the volume it binds to (None: a provisioned pvc-<uid>)
        "m-website-task-pv/task-pv-claim": "task-pv-volume",
        "m-website-expand/expandable-pvc": None,
        "m-website-mysql/mysql-pv-claim": "mysql-pv-volume",
        "m-website-wordpress/mysql-pv-claim": None,
        "m-website-wordpress/wp-pv-claim": None,
        "m-rook-rbd/rbd-pvc": None,
        "m-rook-rbd/raw-block-rbd-pvc": None,
        "m-rook-cephfs/cephfs-pvc": None,
        "kube-system/cephfs-pvc": None,
        "m-ebs-resize/ebs-claim": None,
        "m-ebs-static/ebs-claim": "test-pv",
        "m-hostpath/csi-pvc": None,
        "m-hostpath/pvc-raw": None,
    }

    def claim(key: str) -> dict:
        ns, name = key.split("/")
        return cluster.get_json("pvc", name, "-n", ns)

    deadline = time.monotonic() + 60
    pending = set(bound)
    while pending and time.monotonic() < deadline:
        pending = {k for k in pending if claim(k)["status"].get("phase") != "Bound"}
        if pending:
            time.sleep(0.2)  # polling kubectl as a user would
    assert not pending, f"not Bound: {sorted(pending)}"
    for key, volume in bound.items():
        c = claim(key)
        assert c["spec"]["volumeName"] == (volume or f"pvc-{c['metadata']['uid']}"), key
    assert cluster.get_json("pv", claim("m-rook-rbd/raw-block-rbd-pvc")["spec"]["volumeName"])["spec"][
        "volumeMode"] == "Block"
    rwx = cluster.get_json("pv", claim("kube-system/cephfs-pvc")["spec"]["volumeName"])
    assert rwx["spec"]["csi"]["driver"] == "rook-ceph.cephfs.csi.ceph.com"
    assert rwx["spec"]["csi"]["volumeHandle"].startswith("shared/")
    # A clone of a claim that does not exist stays Pending, with the provisioner's reason.
    clone = claim("m-hostpath/hp-pvc-clone")
    assert clone["status"]["phase"] == "Pending"
    messages = [e["message"] for e in cluster.get_json(
        "events", "-n", "m-hostpath", "--field-selector", "involvedObject.name=hp-pvc-clone")["items"]]
    assert any('persistentvolumeclaims "src-hp-pvc" not found' in m for m in messages), messages
