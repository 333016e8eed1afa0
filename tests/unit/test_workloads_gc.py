"""gc_graph.py, garbagecollector.py, ephemeral.py and namespace.py: owners, dependents and
what goes when."""

from __future__ import annotations

import pytest

from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.ephemeral import sync_ephemeral
from kstore.controllers.workloads.garbagecollector import (
    OwnerState,
    classify_from_graph,
    sync_attempt_to_delete,
    sync_deleting_dependents,
)
from kstore.controllers.workloads.gc_graph import UidGraph
from kstore.controllers.workloads.meta import format_time
from kstore.controllers.workloads.model import FOREGROUND, Create, Delete, Event, Obj, RequeueAfter, Update
from kstore.controllers.workloads.namespace import sync_namespace

NOW = t.NOW
ABSENT, PRESENT, WAITING = OwnerState.ABSENT, OwnerState.PRESENT, OwnerState.WAITING


# ---- the graph


def test_graph_tracks_dependents_through_owner_changes() -> None:
    rs = t.replica_set("rs")
    other = t.replica_set("other")
    p = t.pod("p", owner=rs)
    g = UidGraph()
    for o in (rs, other, p):
        g.upsert(o)
    assert [n.name for n in g.dependents("uid-rs")] == ["p"]
    p2 = t.pod("p", owner=other)
    g.upsert(p2)
    assert g.dependents("uid-rs") == [] and [n.name for n in g.dependents("uid-other")] == ["p"]
    assert g.remove(t.pod("p", uid="uid-someone-else")) is None  # another incarnation: no-op
    assert g.remove(p2) is not None and g.dependents("uid-other") == [] and len(g) == 2


# ---- attempt to delete: (owners' states) → decision


def two_owner_pod() -> Obj:
    a, b = t.replica_set("a"), t.replica_set("b")
    p = t.pod("p")
    p["metadata"]["ownerReferences"] = [t.owner_ref_to(a, block=True), t.owner_ref_to(b)]
    return p


@pytest.mark.parametrize(("states", "expected"), [
    ({"uid-a": PRESENT, "uid-b": PRESENT}, []),
    ({"uid-a": ABSENT, "uid-b": PRESENT}, ["update: owners uid-b"]),
    ({"uid-a": WAITING, "uid-b": PRESENT}, ["update: owners uid-b"]),
    ({"uid-a": ABSENT, "uid-b": ABSENT}, ["delete Background"]),
    ({"uid-a": WAITING, "uid-b": ABSENT}, ["delete Background"]),  # no dependents of its own
    ({"uid-a": ABSENT, "uid-b": OwnerState.UNRESOLVABLE}, ["update: owners uid-b"]),  # never on a guess
])
def test_attempt_to_delete_table(states: dict[str, OwnerState], expected: list[str]) -> None:
    p = two_owner_pod()
    g = UidGraph()
    node = g.upsert(p)[1]
    assert node is not None
    out = []
    for a in sync_attempt_to_delete(node, g, states):
        if isinstance(a, Update):
            out.append("update: owners " + ",".join(r["uid"] for r in a.obj["metadata"]["ownerReferences"]))
        elif isinstance(a, Delete):
            out.append(f"delete {a.propagation}")
    assert out == expected


def test_a_dependent_with_dependents_of_a_waiting_owner_goes_in_the_foreground() -> None:
    d = t.deployment("d")
    rs = t.replica_set("rs", owner=d)
    g = UidGraph()
    for o in (rs, t.pod("p", owner=rs)):
        g.upsert(o)
    node = g.get("uid-rs")
    assert node is not None
    assert sync_attempt_to_delete(node, g, {"uid-d": WAITING}) == [
        Delete("ReplicaSet", "default", "rs", "uid-rs", propagation="Foreground")]


def test_the_foreground_finalizer_goes_when_no_blocking_dependent_is_left() -> None:
    d = t.deployment("d")
    d["metadata"].update(deletionTimestamp=format_time(NOW), finalizers=[FOREGROUND])
    g = UidGraph()
    g.upsert(d)
    rs = t.replica_set("rs")
    rs["metadata"]["ownerReferences"] = [t.owner_ref_to(d)]  # not blocking
    g.upsert(rs)
    node = g.get("uid-d")
    assert node is not None
    (update,) = sync_deleting_dependents(node, g)
    assert isinstance(update, Update) and update.obj["metadata"]["finalizers"] == []
    g.upsert(t.replica_set("rs2", owner=d))  # blockOwnerDeletion
    assert sync_deleting_dependents(node, g) == []


def test_owners_unknown_to_the_graph_are_asked_about_and_scopes_checked() -> None:
    g = UidGraph()
    elsewhere = t.replica_set("rs", ns="other")
    g.upsert(elsewhere)
    p = t.pod("p", owner=elsewhere)  # a namespaced owner in another namespace: absent
    p["metadata"]["ownerReferences"].append({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "uid-cm"})
    p["metadata"]["ownerReferences"].append({"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                                             "uid": "uid-w"})
    node = g.upsert(p)[1]
    assert node is not None
    states, unknown = classify_from_graph(node, g)
    assert states == {"uid-rs": ABSENT, "uid-w": OwnerState.UNRESOLVABLE}
    assert [r["uid"] for r in unknown] == ["uid-cm"]
    events = [a for a in sync_attempt_to_delete(node, g, {**states, "uid-cm": ABSENT}) if isinstance(a, Event)]
    assert [e.reason for e in events] == ["OwnerRefInvalidNamespace"]
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "CSINode",
             "metadata": {"name": "n", "uid": "uid-n", "ownerReferences": [t.owner_ref_to(t.pod("x"))]}}
    cluster_scoped = g.upsert(lease)[1]
    assert cluster_scoped is not None
    assert classify_from_graph(cluster_scoped, g)[0] == {"uid-x": OwnerState.UNRESOLVABLE}


# ---- propagation, end to end on the fake store


def deployment_with_pods() -> t.FakeCluster:
    c = t.FakeCluster([t.deployment("web", 2)])
    c.settle()
    return c


def test_background_deletion_collects_replica_sets_and_pods() -> None:
    c = deployment_with_pods()
    c.apply([Delete("Deployment", "default", "web", "uid-web")])
    c.settle()
    assert (c.names("ReplicaSet"), c.names("Pod")) == ([], [])


def test_foreground_deletion_waits_for_terminating_pods() -> None:
    c = deployment_with_pods()
    for p in c.objects["Pod"].values():
        p["spec"]["nodeName"] = "n1"
    c.apply([Delete("Deployment", "default", "web", "uid-web", propagation="Foreground")])
    c.settle()
    assert c.names("Deployment") == ["web"] and len(c.names("ReplicaSet")) == 1
    assert all(p["metadata"].get("deletionTimestamp") for p in c.objects["Pod"].values())
    assert c.obj("ReplicaSet", c.names("ReplicaSet")[0])["metadata"]["finalizers"] == [FOREGROUND]
    c.finish_terminating_pods()
    c.settle()
    assert (c.names("Deployment"), c.names("ReplicaSet"), c.names("Pod")) == ([], [], [])


def test_orphan_deletion_keeps_dependents_without_the_reference() -> None:
    c = deployment_with_pods()
    c.apply([Delete("Deployment", "default", "web", "uid-web", propagation="Orphan")])
    c.settle()
    assert c.names("Deployment") == []
    (rs,) = c.objects["ReplicaSet"].values()
    assert "ownerReferences" not in rs["metadata"] and len(c.names("Pod")) == 2
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in c.objects["Pod"].values())


# ---- generic ephemeral volumes


EPHEMERAL = [{"name": "mypvc", "ephemeral": {"volumeClaimTemplate": {
    "metadata": {"labels": {"type": "scratch"}, "annotations": {"note": "x"}},
    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
             "resources": {"requests": {"storage": "1Gi"}}}}}}]


def test_ephemeral_claim_is_made_for_the_pod() -> None:
    p = t.pod("demo", volumes=EPHEMERAL)
    (create,) = sync_ephemeral(p, t.FakeCluster([p]))
    assert isinstance(create, Create)
    claim = create.obj
    assert claim["metadata"] == {"name": "demo-mypvc", "namespace": "default", "labels": {"type": "scratch"},
                                 "annotations": {"note": "x"},
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "demo",
                                                      "uid": "uid-demo", "controller": True,
                                                      "blockOwnerDeletion": True}]}
    assert claim["spec"]["storageClassName"] == "standard"


@pytest.mark.parametrize(("existing_owner", "deleting", "expected"), [
    ("pod", False, []),
    ("nobody", False, ["Event Warning FailedBinding ephemeral volume mypvc: PVC default/demo-mypvc was not created "
                       "for pod default/demo (pod is not owner)"]),
    (None, True, []),  # a pod being deleted gets nothing new
])
def test_ephemeral_existing_claims(existing_owner: str | None, deleting: bool, expected: list[str]) -> None:
    p = t.pod("demo", volumes=EPHEMERAL)
    if deleting:
        p["metadata"]["deletionTimestamp"] = format_time(NOW)
    objs = [p]
    if existing_owner is not None:
        objs.append(t.claim("demo-mypvc", owner=p if existing_owner == "pod" else None))
    out = [f"Event {a.type} {a.reason} {a.message}" for a in sync_ephemeral(p, t.FakeCluster(objs))
           if isinstance(a, Event)]
    assert out == expected


def test_ephemeral_claim_goes_with_its_pod() -> None:
    c = t.FakeCluster([t.pod("demo", volumes=EPHEMERAL)])
    c.settle()
    assert c.names("PersistentVolumeClaim") == ["demo-mypvc"]
    c.apply([Delete("Pod", "default", "demo", "uid-demo")])
    c.settle()
    assert c.names("PersistentVolumeClaim") == []


# ---- namespaces


def terminating_namespace() -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "x", "uid": "uid-ns-x", "resourceVersion": "1",
                         "deletionTimestamp": format_time(NOW)},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}}


def test_namespace_content_is_deleted_and_reported() -> None:
    ns = terminating_namespace()
    held = t.claim("data", ns="x")
    held["metadata"].update(finalizers=["kubernetes.io/pvc-protection"], deletionTimestamp=format_time(NOW))
    actions = sync_namespace(ns, {"Pod": [t.pod("p", ns="x")], "PersistentVolumeClaim": [held]}, now=NOW)
    assert [a.name for a in actions if isinstance(a, Delete)] == ["p"]  # the claim is already going
    status = next(a.obj["status"] for a in actions if isinstance(a, Update))
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["NamespaceContentRemaining"]["message"] == ("Some resources are remaining: "
                                                             "persistentvolumeclaims has 1 resource instances, "
                                                             "pods has 1 resource instances")
    assert conds["NamespaceFinalizersRemaining"]["message"] == ("Some content in the namespace has finalizers "
                                                                "remaining: kubernetes.io/pvc-protection in 1 "
                                                                "resource instances")
    assert any(isinstance(a, RequeueAfter) for a in actions)


def test_an_empty_terminating_namespace_is_finalized() -> None:
    (update,) = sync_namespace(terminating_namespace(), {"Pod": [], "Event": []}, now=NOW)
    assert isinstance(update, Update) and not update.status
    assert update.obj["spec"]["finalizers"] == []


def test_an_active_namespace_is_left_alone() -> None:
    ns = terminating_namespace()
    del ns["metadata"]["deletionTimestamp"]
    assert sync_namespace(ns, {"Pod": [t.pod("p", ns="x")]}, now=NOW) == []
