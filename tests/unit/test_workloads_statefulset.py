"""statefulset.py and statefulset_identity.py: ordering, identity, claims and their retention."""

from __future__ import annotations

import pytest

from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.model import STS_POD_INDEX, STS_POD_NAME, STS_REVISION, Create, Delete, Obj
from kstore.controllers.workloads.statefulset import sync_stateful_set
from kstore.controllers.workloads.statefulset_identity import claim_refs, update_revision

NOW = t.NOW


def created(actions: list) -> list[str]:
    return [f"{a.obj['kind']}/{a.obj['metadata']['name']}" for a in actions if isinstance(a, Create)]


def deleted(actions: list) -> list[str]:
    return [a.name for a in actions if isinstance(a, Delete)]


# ---- OrderedReady: the ordering decision, step by step


@pytest.mark.parametrize(("pods", "expected"), [
    ([], ["PersistentVolumeClaim/www-web-0", "Pod/web-0"]),
    ([("web-0", "Pending", False)], []),                   # web-1 waits: web-0 not Running
    ([("web-0", "Running", False)], []),                   # ... nor Ready
    ([("web-0", "Running", True)], ["PersistentVolumeClaim/www-web-1", "Pod/web-1"]),
    ([("web-0", "Running", True), ("web-1", "Pending", False)], []),
    ([("web-1", "Running", True)], ["PersistentVolumeClaim/www-web-0", "Pod/web-0"]),  # a hole is filled first
])
def test_ordered_ready_creates_pod_n_only_after_0_to_n_minus_1_are_running_and_ready(
        pods: list[tuple[str, str, bool]], expected: list[str]) -> None:
    sts = t.stateful_set("web", 3)
    existing = [t.pod(n, labels={"app": "web"}, owner=sts, phase=ph, ready=r) for n, ph, r in pods]
    claims = [t.claim(f"www-{n}") for n, _, _ in pods]
    assert created(sync_stateful_set(sts, t.FakeCluster([sts, *existing, *claims]), now=NOW)) == expected


def test_parallel_creates_every_pod_at_once_each_after_its_claim() -> None:
    sts = t.stateful_set("web", 3, policy="Parallel")
    assert created(sync_stateful_set(sts, t.FakeCluster([sts]), now=NOW)) == [
        "PersistentVolumeClaim/www-web-0", "Pod/web-0", "PersistentVolumeClaim/www-web-1", "Pod/web-1",
        "PersistentVolumeClaim/www-web-2", "Pod/web-2"]


def test_a_terminating_pod_blocks_an_ordered_set() -> None:
    sts = t.stateful_set("web", 2)
    p0 = t.pod("web-0", labels={"app": "web"}, owner=sts, phase="Running", ready=True)
    p0["metadata"]["deletionTimestamp"] = t.format_time(NOW)
    assert created(sync_stateful_set(sts, t.FakeCluster([sts, p0, t.claim("www-web-0")]), now=NOW)) == []


def test_an_existing_claim_is_used_and_one_being_deleted_makes_it_wait() -> None:
    sts = t.stateful_set("web", 1)
    kept = t.claim("www-web-0")
    assert created(sync_stateful_set(sts, t.FakeCluster([sts, kept]), now=NOW)) == ["Pod/web-0"]
    kept["metadata"]["deletionTimestamp"] = t.format_time(NOW)
    assert created(sync_stateful_set(sts, t.FakeCluster([sts, kept]), now=NOW)) == []


# ---- identity and claims


def test_pod_identity_and_storage() -> None:
    c = t.FakeCluster([t.stateful_set("web", 1, claims=("www", "logs"))])
    c.settle()
    pod = c.obj("Pod", "web-0")
    labels = pod["metadata"]["labels"]
    assert labels[STS_POD_NAME] == "web-0" and labels[STS_POD_INDEX] == "0"
    assert labels[STS_REVISION] == update_revision(c.obj("StatefulSet", "web"))
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "nginx")
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}},
                                      {"name": "logs", "persistentVolumeClaim": {"claimName": "logs-web-0"}}]
    claim = c.obj("PersistentVolumeClaim", "www-web-0")
    assert claim["metadata"]["labels"] == {"app": "web"}  # the selector's matchLabels
    assert "ownerReferences" not in claim["metadata"]      # Retain / Retain
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert c.events[:2] == ["StatefulSet/web Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in "
                            "StatefulSet web success",
                            "StatefulSet/web Normal SuccessfulCreate create Claim logs-web-0 Pod web-0 in "
                            "StatefulSet web success"]


def test_an_invalid_claim_gets_failed_create_with_the_store_message_and_other_sets_flow() -> None:
    bad, good = t.stateful_set("bad", 1, claims=("Data",)), t.stateful_set("good", 1)
    c = t.FakeCluster([bad, good])
    message = ('PersistentVolumeClaim "Data-bad-0" is invalid: metadata.name: Invalid value: "Data-bad-0": '
               "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters")
    c.fail_next("create", "PersistentVolumeClaim", 422, message)
    with pytest.raises(t.FakeError):
        c.apply(sync_stateful_set(bad, c, now=NOW))
    c.apply(sync_stateful_set(good, c, now=NOW))
    assert c.events[0] == ("StatefulSet/bad Warning FailedCreate create Claim Data-bad-0 for Pod bad-0 in "
                           f"StatefulSet bad failed error: {message}")
    assert c.names("Pod") == ["good-0"] and c.names("PersistentVolumeClaim") == ["www-good-0"]


# ---- scaling down and retention


def running_set(replicas: int, retention: Obj | None = None, policy: str = "OrderedReady") -> t.FakeCluster:
    c = t.FakeCluster([t.stateful_set("web", replicas, retention=retention, policy=policy)])
    for _ in range(replicas + 1):
        c.settle()
        c.run_all_pods()
    c.settle()
    return c


def test_scale_down_from_the_highest_ordinal_one_at_a_time() -> None:
    c = running_set(3)
    for p in c.objects["Pod"].values():
        p["spec"]["nodeName"] = "n1"  # graceful: terminating until the kubelet finishes
    c.obj("StatefulSet", "web")["spec"]["replicas"] = 1
    c.settle()
    assert [p for p in c.names("Pod") if c.obj("Pod", p)["metadata"].get("deletionTimestamp")] == ["web-2"]
    c.finish_terminating_pods()
    c.settle()
    c.finish_terminating_pods()
    c.settle()
    assert c.names("Pod") == ["web-0"]
    assert c.names("PersistentVolumeClaim") == ["www-web-0", "www-web-1", "www-web-2"]  # kept (Retain)
    assert "StatefulSet/web Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful" in c.events


@pytest.mark.parametrize(("when_deleted", "when_scaled", "claims_after_scale_down", "claims_after_delete"), [
    ("Retain", "Retain", ["www-web-0", "www-web-1"], ["www-web-0", "www-web-1"]),
    ("Delete", "Retain", ["www-web-0", "www-web-1"], []),
    ("Retain", "Delete", ["www-web-0"], ["www-web-0"]),
    ("Delete", "Delete", ["www-web-0"], []),
])
def test_retention_policy(when_deleted: str, when_scaled: str, claims_after_scale_down: list[str],
                          claims_after_delete: list[str]) -> None:
    c = running_set(2, {"whenDeleted": when_deleted, "whenScaled": when_scaled})
    assert c.names("PersistentVolumeClaim") == ["www-web-0", "www-web-1"]
    c.obj("StatefulSet", "web")["spec"]["replicas"] = 1
    c.settle()
    assert c.names("Pod") == ["web-0"]
    assert c.names("PersistentVolumeClaim") == claims_after_scale_down
    del c.objects["StatefulSet"]["default/web"]  # deleted in the background: the GC follows
    c.settle()
    assert c.names("Pod") == []
    assert c.names("PersistentVolumeClaim") == claims_after_delete


@pytest.mark.parametrize(("policy", "condemned", "expected"), [
    ({"whenDeleted": "Retain", "whenScaled": "Retain"}, False, None),
    ({"whenDeleted": "Delete", "whenScaled": "Retain"}, False, ["StatefulSet"]),
    ({"whenDeleted": "Delete", "whenScaled": "Retain"}, True, ["StatefulSet"]),
    ({"whenDeleted": "Retain", "whenScaled": "Delete"}, False, None),
    ({"whenDeleted": "Retain", "whenScaled": "Delete"}, True, ["Pod"]),
    ({"whenDeleted": "Delete", "whenScaled": "Delete"}, False, ["StatefulSet"]),
    ({"whenDeleted": "Delete", "whenScaled": "Delete"}, True, ["Pod"]),
])
def test_claim_refs_table(policy: Obj, condemned: bool, expected: list[str] | None) -> None:
    sts = t.stateful_set("web", 1, retention=policy)
    pod = t.pod("web-1", owner=sts)
    refs = claim_refs(t.claim("www-web-1"), sts, pod, condemned=condemned)
    assert (None if refs is None else [r["kind"] for r in refs]) == expected
    for r in refs or []:
        assert r["controller"] and r["blockOwnerDeletion"]


def test_claim_refs_leave_a_claim_of_an_earlier_set_alone() -> None:
    sts = t.stateful_set("web", 1, retention={"whenDeleted": "Delete", "whenScaled": "Retain"})
    old = t.stateful_set("web", 1, uid="uid-earlier-web")
    assert claim_refs(t.claim("www-web-0", owner=old), sts, None, condemned=False) is None


# ---- updates and failures


def test_failed_pod_is_recreated() -> None:
    c = running_set(1)
    c.set_pod("web-0", phase="Failed")
    c.settle()
    assert c.obj("Pod", "web-0")["status"]["phase"] == "Pending"
    assert any("RecreatingFailedPod" in e for e in c.events)


def test_rolling_update_replaces_from_the_highest_ordinal() -> None:
    c = running_set(3)
    c.obj("StatefulSet", "web")["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    actions = sync_stateful_set(c.obj("StatefulSet", "web"), c, now=NOW)
    assert deleted(actions) == ["web-2"]
    for _ in range(8):
        c.settle()
        c.run_all_pods()
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in c.objects["Pod"].values()}
    assert images == {"web-0": "nginx:2", "web-1": "nginx:2", "web-2": "nginx:2"}
    status = c.obj("StatefulSet", "web")["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["updatedReplicas"] == 3


def test_status_counts() -> None:
    c = running_set(2)
    status = c.obj("StatefulSet", "web")["status"]
    assert {k: status[k] for k in ("replicas", "readyReplicas", "availableReplicas", "currentReplicas",
                                   "updatedReplicas", "observedGeneration")} == {
        "replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2,
        "observedGeneration": 1}
