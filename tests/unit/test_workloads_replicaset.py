"""replicaset.py, podutil.py and hashing.py: the ReplicaSet's decisions, table by table."""

from __future__ import annotations

import dataclasses

import pytest

from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.hashing import SAFE_ALPHABET, fnv32a, safe_encode, template_hash
from kstore.controllers.workloads.model import CreateBatch, Delete, Obj, RequeueAfter, Update
from kstore.controllers.workloads.podutil import deletion_order
from kstore.controllers.workloads.replicaset import sync_replica_set

NOW = t.NOW
RS = t.replica_set("rs", 3, labels={"app": "a"})


def owned(name: str, **kw: object) -> Obj:
    return t.pod(name, labels={"app": "a"}, owner=RS, **kw)  # type: ignore[arg-type]


# ---- hashing


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968


def test_safe_encode_is_kubernetes_alphabet_by_code_point() -> None:
    # '0' is 48, 48 % 27 = 21 → '4'; '7' is 55 → 28 % 27 = 1 → 'c'
    assert safe_encode("07") == "4c"


def test_template_hash_is_ten_safe_characters_stable_and_collision_aware() -> None:
    template = t.pod_template({"app": "web"})
    h = template_hash(template)
    assert len(h) == 10 and set(h) <= set(SAFE_ALPHABET)
    assert template_hash(t.pod_template({"app": "web"})) == h
    assert template_hash(template, 1) != h
    assert template_hash(t.pod_template({"app": "web"}, image="nginx:2")) != h


# ---- syncs


@dataclasses.dataclass
class Case:
    name: str
    pods: list[Obj]
    replicas: int = 3
    creates: int = 0
    deletes: list[str] = dataclasses.field(default_factory=list)
    adopted: list[str] = dataclasses.field(default_factory=list)
    released: list[str] = dataclasses.field(default_factory=list)


CASES = [
    Case("creates the missing pods", [owned("p1")], creates=2),
    Case("steady: nothing", [owned("p1"), owned("p2"), owned("p3")]),
    Case("terminating and finished pods do not count",
         [owned("p1"), owned("p2", phase="Succeeded"), owned("p3", phase="Failed")], creates=2),
    Case("scale down: unscheduled before scheduled",
         [owned("on-node", node="n1", phase="Running", ready=True), owned("unscheduled")], replicas=1,
         deletes=["unscheduled"]),
    Case("scale down: pending before running, not ready before ready",
         [owned("running-ready", node="n1", phase="Running", ready=True),
          owned("running", node="n1", phase="Running"), owned("pending", node="n1")], replicas=1,
         deletes=["pending", "running"]),
    Case("scale down: newest first",
         [owned("old", node="n1", phase="Running", ready=True, ready_since=NOW - 500, created=NOW - 600),
          owned("new", node="n2", phase="Running", ready=True, ready_since=NOW - 500, created=NOW - 10)],
         replicas=1, deletes=["new"]),
    Case("scale down: doubled-up node first",
         [owned("a", node="n1", phase="Running", ready=True, created=NOW - 10),
          owned("b", node="n1", phase="Running", ready=True, created=NOW - 20),
          owned("c", node="n2", phase="Running", ready=True, created=NOW - 5)], replicas=2, deletes=["a"]),
    Case("adopts a matching orphan", [owned("p1"), t.pod("orphan", labels={"app": "a"})], replicas=2,
         adopted=["orphan"]),
    Case("leaves orphans its selector does not match", [t.pod("other", labels={"app": "b"})], creates=3),
    Case("releases a pod whose labels no longer match", [owned("p1"), t.pod("moved", labels={"app": "b"}, owner=RS)],
         replicas=1, released=["moved"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sync_replica_set(case: Case) -> None:
    rs = t.replica_set("rs", case.replicas, labels={"app": "a"})
    view = t.FakeCluster([rs, *case.pods])
    actions = sync_replica_set(rs, view, now=NOW)
    creates = [c for a in actions if isinstance(a, CreateBatch) for c in a.creates]
    assert len(creates) == case.creates
    assert [a.name for a in actions if isinstance(a, Delete)] == case.deletes
    spec_updates = [a.obj for a in actions if isinstance(a, Update) and not a.status]
    assert [p["metadata"]["name"] for p in spec_updates if p["metadata"].get("ownerReferences")] == case.adopted
    assert [p["metadata"]["name"] for p in spec_updates if not p["metadata"].get("ownerReferences")] == case.released
    for c in creates:
        meta = c.obj["metadata"]
        assert meta["generateName"] == "rs-" and meta["labels"] == {"app": "a"}
        assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                            "uid": "uid-rs", "controller": True, "blockOwnerDeletion": True}]


def test_created_pods_are_named_by_generate_name_with_events() -> None:
    c = t.FakeCluster([t.replica_set("rs", 2, labels={"app": "a"})])
    c.settle()
    names = c.names("Pod")
    assert len(names) == 2 and all(n.startswith("rs-") and len(n) == 8 for n in names)
    assert all(set(n[3:]) <= set(SAFE_ALPHABET) for n in names)
    assert sorted(c.events) == sorted(f"ReplicaSet/rs Normal SuccessfulCreate Created pod: {n}" for n in names)


def test_a_refused_template_gets_failed_create_with_the_store_message() -> None:
    c = t.FakeCluster([t.replica_set("rs", 2, labels={"app": "a"})])
    c.fail_next("create", "Pod", 422, 'Pod "rs-x" is invalid: spec.containers: Required value')
    with pytest.raises(t.FakeError):
        c.apply(sync_replica_set(c.obj("ReplicaSet", "rs"), c, now=NOW))
    assert c.events[0].startswith("ReplicaSet/rs Warning FailedCreate Error creating: Pod \"rs-x\" is invalid")


def test_a_replica_set_being_deleted_creates_nothing() -> None:
    rs = t.replica_set("rs", 3, labels={"app": "a"})
    rs["metadata"]["deletionTimestamp"] = t.format_time(NOW)
    actions = sync_replica_set(rs, t.FakeCluster([rs]), now=NOW)
    assert not [a for a in actions if isinstance(a, CreateBatch | Delete)]


def test_status_counts_and_min_ready_seconds_requeue() -> None:
    rs = t.replica_set("rs", 3, labels={"app": "a"}, min_ready=30)
    pods = [owned("ready-long", phase="Running", ready=True, ready_since=NOW - 100),
            owned("ready-new", phase="Running", ready=True, ready_since=NOW - 10),
            owned("pending")]
    actions = sync_replica_set(rs, t.FakeCluster([rs, *pods]), now=NOW)
    status = next(a.obj["status"] for a in actions if isinstance(a, Update) and a.status)
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1,
                      "observedGeneration": 1}
    assert [a.seconds for a in actions if isinstance(a, RequeueAfter)] == [pytest.approx(20.1)]


def test_deletion_order_puts_the_cheapest_first() -> None:
    cheap = owned("cheap", node="n1", phase="Running", ready=True)
    cheap["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "-10"}
    dear = owned("dear", node="n2", phase="Running", ready=True, created=NOW - 1)
    assert [p["metadata"]["name"] for p in deletion_order([dear, cheap])] == ["cheap", "dear"]
