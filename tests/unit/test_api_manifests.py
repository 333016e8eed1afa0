"""Every real manifest under /work/shared/manifests passes defaulting and validation, as the
apistore would run them on `kubectl apply` (namespace `default` when the document has none).

The corpus lives outside the repository; the tests skip cleanly when it is missing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kstore.api.defaults import apply_defaults
from kstore.api.errors import invalid
from kstore.api.kinds import KindInfo, lookup
from kstore.api.validation import validate_create, validate_update
from tests.seed import MANIFESTS, SEED_POD


def manifest_documents() -> list[Any]:
    if not MANIFESTS.is_dir():
        return [
            pytest.param(
                None, None, id="no-manifests", marks=pytest.mark.skip(reason=f"{MANIFESTS} is missing")
            )
        ]
    params = []
    for path in sorted(MANIFESTS.glob("*/*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and lookup(doc.get("apiVersion", ""), doc.get("kind", "")) is not None:
                params.append(pytest.param(path.name, doc, id=f"{path.name}#{i}:{doc['kind']}"))
    return params


def admit_like_the_store(doc: dict[str, Any]) -> tuple[KindInfo, dict[str, Any]]:
    info = lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    obj = copy.deepcopy(doc)
    if info.namespaced:
        obj["metadata"].setdefault("namespace", "default")
    apply_defaults(info, obj)
    return info, obj


@pytest.mark.parametrize(("filename", "doc"), manifest_documents())
def test_manifest_validates_after_defaults(filename: str, doc: dict[str, Any]) -> None:
    info, obj = admit_like_the_store(doc)
    assert [f"{c.field}: {c.message}" for c in validate_create(info, obj)] == []
    # Re-applying a stored object is an update with no change: always allowed.
    assert validate_update(info, copy.deepcopy(obj), obj) == []


def test_manifest_corpus_is_covered() -> None:
    if not MANIFESTS.is_dir():
        pytest.skip(f"{MANIFESTS} is missing")
    kinds = {p.values[1]["kind"] for p in manifest_documents()}
    assert {
        "PersistentVolume",
        "PersistentVolumeClaim",
        "StorageClass",
        "Pod",
        "Deployment",
        "StatefulSet",
    } <= kinds


def test_pod_with_misplaced_volumes_key() -> None:
    info, obj = admit_like_the_store(yaml.safe_load(SEED_POD))
    causes = validate_create(info, obj)
    assert [(c.field, c.reason, c.message) for c in causes] == [
        ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", 'Not found: "pv-storage"')
    ]
    assert invalid("Pod", "pv-pod", causes).message == (
        'Pod "pv-pod" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "pv-storage"'
    )
