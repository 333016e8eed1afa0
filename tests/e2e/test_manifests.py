"""The manifests users bring (../shared/manifests, INDEX.tsv), applied with the real kubectl,
each group in its own namespace: every document is accepted, or refused as kube-apiserver
refuses it (a kind it does not serve, such as rook's CephBlockPool CRD)."""

from __future__ import annotations

import csv
import re
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
