"""The volume index gives find_best_match the same answer as the full volume list would."""

from __future__ import annotations

import random

import pytest

from kstore.controllers.pv.index import VolumeIndex
from kstore.controllers.pv.matching import find_best_match

MODES = [["ReadWriteOnce"], ["ReadWriteOnce", "ReadOnlyMany"], ["ReadWriteMany"],
         ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"], ["ReadWriteOncePod"]]


def volume(rng: random.Random, i: int) -> dict:
    bound = rng.random() < 0.3
    spec = {"capacity": {"storage": f"{rng.choice([1, 2, 2, 5, 10])}Gi"}, "accessModes": rng.choice(MODES),
            "storageClassName": rng.choice(["a", "b", ""]), "hostPath": {"path": "/x"},
            "volumeMode": rng.choice(["Filesystem", "Filesystem", "Block"])}
    if bound:
        spec["claimRef"] = {"namespace": "ns", "name": f"c{rng.randrange(20)}", "uid": f"u{rng.randrange(40)}"}
    labels = {"tier": rng.choice(["gold", "silver"])}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"v{i:03d}", "labels": labels}, "spec": spec,
            "status": {"phase": rng.choice(["Available", "Available", "Available", "Released"]) if not bound
                       else "Bound"}}


def claim(rng: random.Random, i: int) -> dict:
    spec = {"accessModes": rng.choice(MODES[:3]), "storageClassName": rng.choice(["a", "b", ""]),
            "resources": {"requests": {"storage": f"{rng.choice([1, 2, 3, 5, 8, 12])}Gi"}},
            "volumeMode": rng.choice(["Filesystem", "Filesystem", "Block"])}
    if rng.random() < 0.2:
        spec["selector"] = {"matchLabels": {"tier": "gold"}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"c{i % 20}", "namespace": "ns", "uid": f"u{rng.randrange(40)}"}, "spec": spec}


@pytest.mark.parametrize("seed", range(20))
def test_index_candidates_give_the_same_best_match(seed: int) -> None:
    rng = random.Random(seed)
    volumes = [volume(rng, i) for i in range(rng.randrange(1, 150))]
    index = VolumeIndex()
    for v in volumes:
        index.put(v)
    for v in rng.sample(volumes, len(volumes) // 5):  # churn: removals and re-adds
        index.remove(v["metadata"]["name"])
    for v in volumes:
        if rng.random() < 0.5:
            index.put(v)
    present = list(index.all())
    node = {"metadata": {"name": "n", "labels": {"kubernetes.io/hostname": "n"}}}
    for i in range(60):
        c = claim(rng, i)
        for n in (None, node):
            full = find_best_match(c, present, delay_binding=False, node=n)
            fast = find_best_match(c, index.candidates(c, n), delay_binding=False, node=n)
            assert (full or {}).get("metadata", {}).get("name") == (fast or {}).get("metadata", {}).get("name"), c
