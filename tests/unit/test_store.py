"""Store semantics as table tests: an in-memory backend, an injected clock, a recording event
sink. Each case starts from a set of objects, does one request and checks the answer (or the
error, in kube-apiserver's words), what is stored afterwards and the events sent."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from kstore.api.errors import ApiError
from kstore.apistore.backends.memory import MemoryBackend
from kstore.apistore.backends.sqlite import SqliteBackend
from kstore.apistore.store import Entry, Store

pytestmark = pytest.mark.asyncio

NOW = 1_790_000_000.0  # 2026-09-21T...Z
NOW_TS = "2026-09-21T14:13:20Z"


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, tuple[str, ...]]] = []

    def publish(self, kind: str, etype: str, entry: Entry, nodes: tuple[str, ...]) -> None:
        self.events.append((etype, kind, entry.obj["metadata"]["name"], nodes))

    def position(self, kind: str, node: str | None) -> tuple[int, int]:
        return 1, len(self.events)


# ---- builders


def pvc(name: str, *, ns: str = "default", size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",),
        sc: str | None = "", **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if sc is not None:
        spec["storageClassName"] = sc
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns, **meta}, "spec": spec}


def pv(name: str, *, size: str = "5Gi", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, **meta},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/mnt/{name}"}, "storageClassName": "manual"}}


def pod(name: str, *, node: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                             "labels": labels or {}}, "spec": spec}


async def new_store(objs: list[dict[str, Any]] = (), *, history: int = 1000,
                    backend: Any = None) -> tuple[Store, Sink]:
    sink = Sink()
    store = Store(backend or MemoryBackend(), events=sink, history=history, clock=lambda: NOW)
    store.load()
    store.start()
    for o in objs:
        await store.create(copy.deepcopy(o))
    sink.events.clear()
    return store, sink


@dataclasses.dataclass
class Case:
    name: str
    initial: list[dict[str, Any]]
    action: Any  # async (store) -> Entry
    error: str | None = None  # "<code> <reason>: <message substring>"
    expect: Any = None  # (store, entry) -> None, asserts on the result
    events: list[tuple[str, str, str]] | None = None


async def _update_claim(s: Store, mutate: Any, rv: str | None = "keep") -> Entry:
    obj = copy.deepcopy(s.get("PersistentVolumeClaim", "default", "c1").obj)
    mutate(obj)
    if rv != "keep":
        obj["metadata"]["resourceVersion"] = rv
    return await s.update(obj)


def _labels(o: dict[str, Any]) -> None:
    o["metadata"]["labels"] = {"tier": "db"}


def _grow(o: dict[str, Any]) -> None:
    o["spec"]["resources"]["requests"]["storage"] = "2Gi"


def _status(o: dict[str, Any]) -> None:
    o["status"] = {"phase": "Bound"}


def _drop_finalizers(o: dict[str, Any]) -> None:
    o["metadata"]["finalizers"] = []


def check_created(s: Store, e: Entry) -> None:
    m = e.obj["metadata"]
    assert m["uid"] and m["resourceVersion"] == str(e.rv) and m["creationTimestamp"] == NOW_TS
    assert m["generation"] == 1
    assert e.obj["status"] == {"phase": "Pending"}
    assert "kubernetes.io/pvc-protection" in m["finalizers"]
    assert s.get("PersistentVolumeClaim", "default", "c1").rv == e.rv


CASES = [
    Case("create assigns uid, resourceVersion, timestamp, generation, defaults and finalizer", [],
         lambda s: s.create(pvc("c1")), expect=check_created,
         events=[("ADDED", "PersistentVolumeClaim", "c1")]),
    Case("create of an existing name is AlreadyExists", [pvc("c1")], lambda s: s.create(pvc("c1")),
         error='409 AlreadyExists: persistentvolumeclaims "c1" already exists', events=[]),
    Case("create of an unknown kind", [],
         lambda s: s.create({"apiVersion": "ceph.rook.io/v1", "kind": "CephBlockPool", "metadata": {"name": "p"}}),
         error='404 NotFound: no matches for kind "CephBlockPool" in version "ceph.rook.io/v1"', events=[]),
    Case("create with no accessModes is Invalid and stores nothing", [],
         lambda s: s.create(pvc("c1", modes=())),
         error="422 Invalid: spec.accessModes: Required value", events=[]),
    Case("create with a negative size is Invalid", [],
         lambda s: s.create(pvc("c1", size="-1Gi")),
         error="422 Invalid: must be greater than zero", events=[]),
    Case("create in a namespace that does not exist", [],
         lambda s: s.create(pvc("c1", ns="nowhere")),
         error='404 NotFound: namespaces "nowhere" not found', events=[]),
    Case("generateName makes a name", [],
         lambda s: s.create({**pvc(""), "metadata": {"generateName": "data-", "namespace": "default"}}),
         expect=lambda s, e: (e.obj["metadata"]["name"].startswith("data-")
                              and len(e.obj["metadata"]["name"]) == 10) or pytest.fail("bad name")),
    Case("update with a stale resourceVersion is a Conflict", [pvc("c1")],
         lambda s: _update_claim(s, _labels, rv="1"),
         error='409 Conflict: Operation cannot be fulfilled on persistentvolumeclaims "c1": the object has been '
               "modified; please apply your changes to the latest version and try again", events=[]),
    Case("a label change bumps resourceVersion but not generation", [pvc("c1")],
         lambda s: _update_claim(s, _labels),
         expect=lambda s, e: (e.obj["metadata"]["generation"] == 1
                              and e.obj["metadata"]["labels"] == {"tier": "db"}) or pytest.fail(str(e.obj)),
         events=[("MODIFIED", "PersistentVolumeClaim", "c1")]),
    Case("growing an unbound claim is Forbidden", [pvc("c1", sc="fast")],
         lambda s: _update_claim(s, _grow),
         error='403 Forbidden: persistentvolumeclaims "c1" is forbidden: Only bound persistent volume claims can '
               "be expanded", events=[]),
    Case("a spec change bumps generation", [pv("v1")],
         lambda s: s.patch("PersistentVolume", "", "v1", {"spec": {"capacity": {"storage": "9Gi"}}}, "merge"),
         expect=lambda s, e: e.obj["metadata"]["generation"] == 2 or pytest.fail(str(e.obj["metadata"])),
         events=[("MODIFIED", "PersistentVolume", "v1")]),
    Case("a spec update keeps the stored status", [pvc("c1")],
         lambda s: _update_claim(s, _status),
         expect=lambda s, e: e.obj["status"] == {"phase": "Pending"} or pytest.fail(str(e.obj["status"])), events=[]),
    Case("a status update changes only the status", [pvc("c1")],
         lambda s: s.update({**s.get("PersistentVolumeClaim", "default", "c1").obj, "status": {"phase": "Bound"},
                             "spec": {"accessModes": ["ReadWriteMany"]}}, subresource="status"),
         expect=lambda s, e: (e.obj["status"] == {"phase": "Bound"}
                              and e.obj["spec"]["accessModes"] == ["ReadWriteOnce"]) or pytest.fail(str(e.obj)),
         events=[("MODIFIED", "PersistentVolumeClaim", "c1")]),
    Case("an unchanged update is a no-op: no new revision, no event", [pvc("c1")],
         lambda s: _update_claim(s, lambda o: None),
         expect=lambda s, e: e.rv == s.revision or pytest.fail("revision moved"), events=[]),
    Case("delete of an object with finalizers marks it terminating", [pvc("c1")],
         lambda s: s.delete("PersistentVolumeClaim", "default", "c1"),
         expect=lambda s, e: s.get("PersistentVolumeClaim", "default", "c1").obj["metadata"]["deletionTimestamp"]
         == NOW_TS or pytest.fail("not terminating"),
         events=[("MODIFIED", "PersistentVolumeClaim", "c1")]),
    Case("delete without finalizers removes at once", [pv("v1")],
         lambda s: s.delete("PersistentVolume", "", "v1", propagation_policy="Background"),
         expect=None, events=[("MODIFIED", "PersistentVolume", "v1")]),
    Case("delete with a wrong uid precondition", [pvc("c1")],
         lambda s: s.delete("PersistentVolumeClaim", "default", "c1", uid="nope"),
         error="409 Conflict: Precondition failed: UID in precondition: nope", events=[]),
    Case("delete of a missing object", [],
         lambda s: s.delete("PersistentVolumeClaim", "default", "ghost"),
         error='404 NotFound: persistentvolumeclaims "ghost" not found', events=[]),
    Case("get of a missing cluster-scoped object names the group", [],
         lambda s: _aget(s, "StorageClass", "", "fast"),
         error='404 NotFound: storageclasses.storage.k8s.io "fast" not found'),
    Case("a pod on a node is deleted gracefully: it stays until its kubelet deletes it with grace 0",
         [pod("p1", node="node-1")],
         lambda s: s.delete("Pod", "default", "p1"),
         expect=lambda s, e: e.obj["metadata"]["deletionGracePeriodSeconds"] == 30 or pytest.fail(str(e.obj)),
         events=[("MODIFIED", "Pod", "p1")]),
    Case("a pod with no node is deleted at once", [pod("p1")],
         lambda s: s.delete("Pod", "default", "p1"),
         expect=lambda s, e: _missing(s, "Pod", "default", "p1"), events=[("DELETED", "Pod", "p1")]),
    Case("merge patch", [pvc("c1")],
         lambda s: s.patch("PersistentVolumeClaim", "default", "c1", {"metadata": {"labels": {"a": "b"}}}, "merge"),
         expect=lambda s, e: e.obj["metadata"]["labels"] == {"a": "b"} or pytest.fail("no label"),
         events=[("MODIFIED", "PersistentVolumeClaim", "c1")]),
    Case("json patch", [pvc("c1")],
         lambda s: s.patch("PersistentVolumeClaim", "default", "c1",
                           [{"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}], "json"),
         expect=lambda s, e: e.obj["metadata"]["annotations"] == {"x": "y"} or pytest.fail("no annotation"),
         events=[("MODIFIED", "PersistentVolumeClaim", "c1")]),
    Case("json patch that does not apply", [pvc("c1")],
         lambda s: s.patch("PersistentVolumeClaim", "default", "c1",
                           [{"op": "replace", "path": "/spec/nope/x", "value": 1}], "json"),
         error="422 Invalid: member 'nope' not found", events=[]),
    Case("a patch carrying a stale resourceVersion is a Conflict", [pvc("c1")],
         lambda s: s.patch("PersistentVolumeClaim", "default", "c1", {"metadata": {"resourceVersion": "1"}}, "merge"),
         error="409 Conflict: the object has been modified", events=[]),
]


async def _aget(s: Store, kind: str, ns: str, name: str) -> Entry:
    return s.get(kind, ns, name)


def _missing(s: Store, kind: str, ns: str, name: str) -> None:
    with pytest.raises(ApiError) as e:
        s.get(kind, ns, name)
    assert e.value.code == 404


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_store(case: Case) -> None:
    store, sink = await new_store(case.initial)
    before = store.revision
    try:
        if case.error:
            with pytest.raises(ApiError) as info:
                await case.action(store)
            code, rest = case.error.split(" ", 1)
            reason, _, message = rest.partition(": ")
            assert info.value.code == int(code), info.value.message
            assert info.value.reason == reason, info.value.message
            assert message in info.value.message
            assert store.revision == before  # nothing written
        else:
            entry = await case.action(store)
            if case.expect:
                case.expect(store, entry)
        if case.events is not None:
            assert [e[:3] for e in sink.events] == case.events
    finally:
        await store.close()


async def test_finalizer_removal_completes_a_pending_delete() -> None:
    store, sink = await new_store([pvc("c1")])
    try:
        await store.delete("PersistentVolumeClaim", "default", "c1")
        await _update_claim(store, _drop_finalizers)
        _missing(store, "PersistentVolumeClaim", "default", "c1")
        assert [e[0] for e in sink.events] == ["MODIFIED", "DELETED"]
    finally:
        await store.close()


async def test_terminating_pod_goes_when_its_kubelet_deletes_with_grace_zero() -> None:
    store, sink = await new_store([pod("p1", node="node-1")])
    try:
        await store.delete("Pod", "default", "p1")
        assert store.get("Pod", "default", "p1")
        await store.delete("Pod", "default", "p1", grace_period_seconds=0)
        _missing(store, "Pod", "default", "p1")
        assert sink.events == [("MODIFIED", "Pod", "p1", ("node-1",)), ("DELETED", "Pod", "p1", ("node-1",))]
    finally:
        await store.close()


@dataclasses.dataclass
class ListCase:
    name: str
    kwargs: dict[str, Any]
    expected: list[str]
    error: str | None = None


LIST_CASES = [
    ListCase("all pods, sorted", {}, ["a", "b", "c", "d"]),
    ListCase("label equality", {"label_selector": "app=web"}, ["a", "c"]),
    ListCase("label set-based", {"label_selector": "app in (db),tier"}, ["b"]),
    ListCase("field selector metadata.name", {"field_selector": "metadata.name=c"}, ["c"]),
    ListCase("field selector spec.nodeName", {"field_selector": "spec.nodeName=node-1"}, ["a", "b"]),
    ListCase("node index", {"node": "node-2"}, ["c"]),
    ListCase("not on a node", {"field_selector": "spec.nodeName="}, ["d"]),
    ListCase("namespace filter", {"namespace": "kube-system"}, []),
    ListCase("unsupported field", {"field_selector": "spec.bogus=1"}, [],
             error="field label not supported: spec.bogus"),
]


@pytest.mark.parametrize("case", LIST_CASES, ids=[c.name for c in LIST_CASES])
async def test_list(case: ListCase) -> None:
    store, _ = await new_store([
        pod("c", node="node-2", labels={"app": "web"}), pod("a", node="node-1", labels={"app": "web"}),
        pod("b", node="node-1", labels={"app": "db", "tier": "1"}), pod("d"),
    ])
    try:
        if case.error:
            with pytest.raises(ApiError, match=case.error):
                store.list("Pod", **case.kwargs)
        else:
            items, rv = store.list("Pod", **case.kwargs)
            assert [e.obj["metadata"]["name"] for e in items] == case.expected
            assert rv == store.revision
    finally:
        await store.close()


async def test_watch_history_and_410_gone() -> None:
    store, _ = await new_store([], history=3)
    try:
        start = store.revision
        for i in range(5):
            await store.create(pv(f"v{i}"))
        with pytest.raises(ApiError) as e:
            store.events_since("PersistentVolume", start)
        assert e.value.code == 410 and e.value.reason == "Expired"
        assert "too old resource version" in e.value.message
        recent = store.events_since("PersistentVolume", store.revision - 2)
        assert [(ev.etype, ev.entry.obj["metadata"]["name"]) for ev in recent] == [("ADDED", "v3"), ("ADDED", "v4")]
        named = store.events_since("PersistentVolume", store.revision - 2, field_selector="metadata.name=v4")
        assert [ev.entry.obj["metadata"]["name"] for ev in named] == ["v4"]
    finally:
        await store.close()


class FailingBackend(MemoryBackend):
    def __init__(self) -> None:
        self.fail = False

    def write(self, puts: Any, deletes: Any, revision: int) -> None:
        if self.fail:
            self.fail = False
            raise OSError(28, "No space left on device")


async def test_a_failed_commit_applies_nothing_and_the_next_write_works() -> None:
    backend = FailingBackend()
    store, sink = await new_store([], backend=backend)
    backend.fail = True
    try:
        before = store.revision
        with pytest.raises(ApiError) as e:
            await store.create(pv("v1"))
        assert e.value.code == 500 and "No space left on device" in e.value.message
        assert store.revision == before and sink.events == []
        _missing(store, "PersistentVolume", "", "v1")
        entry = await store.create(pv("v1"))
        assert entry.rv == before + 1
    finally:
        await store.close()


async def test_sqlite_keeps_objects_and_revision_across_reopen(tmp_path: Any) -> None:
    path = tmp_path / "store.db"
    store, _ = await new_store([], backend=SqliteBackend(path))
    await store.create(pv("v1"))
    await store.create(pvc("c1"))
    await store.delete("PersistentVolume", "", "v1")
    await store.delete("PersistentVolume", "", "v1") if False else None
    revision = store.revision
    await store.close()
    again, _ = await new_store([], backend=SqliteBackend(path))
    try:
        assert again.revision == revision
        assert again.get("PersistentVolumeClaim", "default", "c1").obj["metadata"]["name"] == "c1"
        assert again.get("PersistentVolume", "", "v1").obj["metadata"]["deletionTimestamp"]
        created = await again.create(pv("v2"))
        assert created.rv == revision + 1
    finally:
        await again.close()


async def test_binding_assigns_a_pod_once() -> None:
    store, sink = await new_store([pod("p1")])
    try:
        bound = await store.bind("default", "p1", "node-2")
        assert bound.obj["spec"]["nodeName"] == "node-2"
        assert [c["type"] for c in bound.obj["status"]["conditions"]] == ["PodScheduled"]
        assert sink.events == [("MODIFIED", "Pod", "p1", ("node-2",))]
        with pytest.raises(ApiError) as e:
            await store.bind("default", "p1", "node-3")
        assert e.value.code == 409 and 'already assigned to node "node-2"' in e.value.message
    finally:
        await store.close()
