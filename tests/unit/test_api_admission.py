"""Tests for kstore.api.admission over an in-memory View: each case is a cluster, an object, and
either the exact admitted object or the exact Status the apiserver would return."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from kstore.api.admission import View, admit_create, admit_update, default_storage_class
from kstore.api.errors import ApiError
from kstore.api.kinds import KINDS


class FakeView:
    """A View over a list of objects, keyed like the store: (kind, namespace, name)."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = {
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): copy.deepcopy(o)
            for o in objects
        }

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for (k, ns, _), o in self.objects.items() if k == kind and namespace in (None, ns)]


def namespace(name: str, *, terminating: bool = False) -> dict[str, Any]:
    ns: dict[str, Any] = {"kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}
    if terminating:
        ns["metadata"]["deletionTimestamp"] = "2024-05-01T00:00:00Z"
        ns["status"]["phase"] = "Terminating"
    return ns


def storage_class(name: str, *, default: str | None = None, beta: bool = False, created: str = "2024-01-01T00:00:00Z",
                  expandable: bool | None = None) -> dict[str, Any]:  # fmt: skip
    sc: dict[str, Any] = {"kind": "StorageClass", "metadata": {"name": name, "creationTimestamp": created},
                          "provisioner": "ebs.csi.aws.com"}  # fmt: skip
    if default is not None:
        key = (
            "storageclass.beta.kubernetes.io/is-default-class"
            if beta
            else "storageclass.kubernetes.io/is-default-class"
        )
        sc["metadata"]["annotations"] = {key: default}
    if expandable is not None:
        sc["allowVolumeExpansion"] = expandable
    return sc


def claim(*, name: str = "data", ns: str = "default", spec: dict[str, Any] | None = None,
          annotations: dict[str, str] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    obj: dict[str, Any] = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **(spec or {}),
        },
    }
    if annotations:
        obj["metadata"]["annotations"] = annotations
    if status:
        obj["status"] = status
    return obj


def with_class(obj: dict[str, Any], name: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["spec"]["storageClassName"] = name
    return obj


def with_finalizer(obj: dict[str, Any], finalizer: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"].setdefault("finalizers", []).append(finalizer)
    return obj


DEFAULT_NS = [namespace("default"), namespace("kube-system")]
PVC_PROTECTION = "kubernetes.io/pvc-protection"


@dataclasses.dataclass(frozen=True)
class CreateCase:
    name: str
    cluster: list[dict[str, Any]]
    obj: dict[str, Any]
    expected: dict[str, Any] | None = None  # the admitted object
    status: tuple[int, str, str] | None = None  # or (code, reason, message) of the refusal


CREATE = [
    CreateCase("no default class: claim unchanged but protected", DEFAULT_NS, claim(),
               expected=with_finalizer(claim(), PVC_PROTECTION)),
    CreateCase("default class is set", [*DEFAULT_NS, storage_class("gp3", default="true"), storage_class("io2")],
               claim(), expected=with_finalizer(with_class(claim(), "gp3"), PVC_PROTECTION)),
    CreateCase("beta default annotation counts", [*DEFAULT_NS, storage_class("old", default="true", beta=True)],
               claim(), expected=with_finalizer(with_class(claim(), "old"), PVC_PROTECTION)),
    CreateCase("default must say true", [*DEFAULT_NS, storage_class("low-latency", default="false")],
               claim(), expected=with_finalizer(claim(), PVC_PROTECTION)),
    CreateCase("newest default wins", [*DEFAULT_NS, storage_class("a", default="true", created="2024-01-01T00:00:00Z"),
                                       storage_class("b", default="true", created="2024-03-01T00:00:00Z")],
               claim(), expected=with_finalizer(with_class(claim(), "b"), PVC_PROTECTION)),
    CreateCase("same age: first by name", [*DEFAULT_NS, storage_class("z", default="true"), storage_class("m", default="true")],
               claim(), expected=with_finalizer(with_class(claim(), "m"), PVC_PROTECTION)),
    CreateCase("empty class stays empty", [*DEFAULT_NS, storage_class("gp3", default="true")],
               with_class(claim(), ""), expected=with_finalizer(with_class(claim(), ""), PVC_PROTECTION)),
    CreateCase("explicit class stays", [*DEFAULT_NS, storage_class("gp3", default="true")],
               with_class(claim(), "manual"), expected=with_finalizer(with_class(claim(), "manual"), PVC_PROTECTION)),
    CreateCase("beta class annotation stays", [*DEFAULT_NS, storage_class("gp3", default="true")],
               claim(annotations={"volume.beta.kubernetes.io/storage-class": "slow"}),
               expected=with_finalizer(claim(annotations={"volume.beta.kubernetes.io/storage-class": "slow"}), PVC_PROTECTION)),
    CreateCase("finalizer is not added twice", DEFAULT_NS, with_finalizer(claim(), PVC_PROTECTION),
               expected=with_finalizer(claim(), PVC_PROTECTION)),
    CreateCase("volume is protected", [], {"kind": "PersistentVolume", "metadata": {"name": "pv-1"}},
               expected={"kind": "PersistentVolume", "metadata": {"name": "pv-1", "finalizers": ["kubernetes.io/pv-protection"]}}),
    CreateCase("cluster-scoped kinds need no namespace", [], storage_class("gp3"), expected=storage_class("gp3")),
    CreateCase("other namespaced kinds are untouched", DEFAULT_NS, {"kind": "Pod", "metadata": {"name": "p", "namespace": "kube-system"}},
               expected={"kind": "Pod", "metadata": {"name": "p", "namespace": "kube-system"}}),
    CreateCase("missing namespace", DEFAULT_NS, claim(ns="team-a"), status=(404, "NotFound", 'namespaces "team-a" not found')),
    CreateCase("terminating namespace", [namespace("old", terminating=True)], claim(ns="old"), status=(
        403, "Forbidden",
        'persistentvolumeclaims "data" is forbidden: unable to create new content in namespace old because it is being terminated')),
    CreateCase("terminating namespace, grouped resource", [namespace("old", terminating=True)],
               {"kind": "Deployment", "metadata": {"name": "web", "namespace": "old"}}, status=(
        403, "Forbidden",
        'deployments.apps "web" is forbidden: unable to create new content in namespace old because it is being terminated')),
]  # fmt: skip


@pytest.mark.parametrize("case", CREATE, ids=[c.name for c in CREATE])
def test_admit_create(case: CreateCase) -> None:
    view: View = FakeView(case.cluster)
    obj = copy.deepcopy(case.obj)
    info = KINDS[obj["kind"]]
    if case.status is None:
        admit_create(info, obj, view)
        assert obj == case.expected
    else:
        with pytest.raises(ApiError) as caught:
            admit_create(info, obj, view)
        assert (caught.value.code, caught.value.reason, caught.value.message) == case.status


def test_terminating_namespace_status_has_the_cause() -> None:
    with pytest.raises(ApiError) as caught:
        admit_create(KINDS["Pod"], {"kind": "Pod", "metadata": {"name": "p", "namespace": "old"}},
                     FakeView([namespace("old", terminating=True)]))  # fmt: skip
    assert caught.value.to_status()["details"] == {
        "name": "p",
        "kind": "pods",
        "causes": [{"reason": "NamespaceTerminating", "message": "namespace old is being terminated",
                    "field": "metadata.namespace"}],
    }  # fmt: skip


def test_default_storage_class_none() -> None:
    assert default_storage_class(FakeView([storage_class("a")])) is None


@dataclasses.dataclass(frozen=True)
class UpdateCase:
    name: str
    cluster: list[dict[str, Any]]
    old: dict[str, Any]
    new_size: str
    status: tuple[int, str, str] | None = None


BOUND = {"phase": "Bound", "capacity": {"storage": "10Gi"}}
EXPANDABLE = [*DEFAULT_NS, storage_class("resize-sc", expandable=True), storage_class("fixed", expandable=False),
              storage_class("unset")]  # fmt: skip
RESIZE_FORBIDDEN = (
    'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the '
    "storageclass that provisions the pvc must support resize"
)
SHRINK = (
    'PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: Forbidden: field can not be less '
    "than status.capacity"
)


def bound_claim(
    class_name: str | None, size: str = "10Gi", status: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
    if class_name is not None:
        spec["storageClassName"] = class_name
    return claim(spec=spec, status=BOUND if status is None else status)


UPDATE = [
    UpdateCase("growth allowed by the class", EXPANDABLE, bound_claim("resize-sc"), "20Gi"),
    UpdateCase("same size", EXPANDABLE, bound_claim("fixed"), "10Gi"),
    UpdateCase("same size in other units", EXPANDABLE, bound_claim("fixed"), "10240Mi"),
    UpdateCase("class forbids growth", EXPANDABLE, bound_claim("fixed"), "20Gi", (403, "Forbidden", RESIZE_FORBIDDEN)),
    UpdateCase("class does not say", EXPANDABLE, bound_claim("unset"), "20Gi", (403, "Forbidden", RESIZE_FORBIDDEN)),
    UpdateCase("class is gone", EXPANDABLE, bound_claim("deleted-sc"), "20Gi", (403, "Forbidden", RESIZE_FORBIDDEN)),
    UpdateCase("static claim without class", EXPANDABLE, bound_claim(""), "20Gi", (403, "Forbidden", RESIZE_FORBIDDEN)),
    UpdateCase("unbound claim", EXPANDABLE, bound_claim("resize-sc", status={"phase": "Pending"}), "20Gi", (
        403, "Forbidden", 'persistentvolumeclaims "data" is forbidden: Only bound persistent volume claims can be expanded')),
    UpdateCase("shrink below capacity", EXPANDABLE, bound_claim("resize-sc"), "5Gi", (422, "Invalid", SHRINK)),
    UpdateCase("shrink to capacity after a failed expansion", EXPANDABLE,
               bound_claim("resize-sc", size="20Gi"), "10Gi", (422, "Invalid", SHRINK)),
    UpdateCase("walk back a failed expansion", EXPANDABLE, bound_claim("resize-sc", size="30Gi"), "20Gi"),
    UpdateCase("namespace gone", [storage_class("resize-sc", expandable=True)], bound_claim("resize-sc"), "20Gi",
               (404, "NotFound", 'namespaces "default" not found')),
    UpdateCase("updates are fine in a terminating namespace",
               [namespace("default", terminating=True), storage_class("resize-sc", expandable=True)],
               bound_claim("resize-sc"), "20Gi"),
]  # fmt: skip


@pytest.mark.parametrize("case", UPDATE, ids=[c.name for c in UPDATE])
def test_admit_update_resize(case: UpdateCase) -> None:
    view = FakeView(case.cluster)
    new = copy.deepcopy(case.old)
    new["spec"]["resources"]["requests"]["storage"] = case.new_size
    before = copy.deepcopy(new)
    if case.status is None:
        admit_update(KINDS["PersistentVolumeClaim"], new, case.old, view)
        assert new == before  # the resize check never mutates
    else:
        with pytest.raises(ApiError) as caught:
            admit_update(KINDS["PersistentVolumeClaim"], new, case.old, view)
        assert (caught.value.code, caught.value.reason, caught.value.message) == case.status


def test_class_change_with_growth_is_forbidden() -> None:
    old = bound_claim("resize-sc")
    new = copy.deepcopy(old)
    new["spec"]["storageClassName"] = "other"
    new["spec"]["resources"]["requests"]["storage"] = "20Gi"
    with pytest.raises(ApiError) as caught:
        admit_update(KINDS["PersistentVolumeClaim"], new, old, FakeView(EXPANDABLE))
    assert caught.value.message == RESIZE_FORBIDDEN
