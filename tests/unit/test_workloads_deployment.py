"""deployment.py and deployment_util.py: Kubernetes' deployment_util_test / sync_test /
rolling_test situations (our tables), and whole rollouts run to settlement on the fake store."""

from __future__ import annotations

import pytest

from kstore.controllers.workloads import deployment_util as du
from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.deployment import reconcile_old_rss, scale, sync_deployment
from kstore.controllers.workloads.meta import format_time
from kstore.controllers.workloads.model import (
    ANN_DESIRED_REPLICAS,
    ANN_MAX_REPLICAS,
    ANN_REVISION,
    POD_TEMPLATE_HASH,
    Create,
    Obj,
    Update,
)

NOW = t.NOW


def rolling(surge: object, unavailable: object) -> Obj:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


# ---- arithmetic (TestResolveFenceposts, TestNewRSNewReplicas)


@pytest.mark.parametrize(("surge", "unavailable", "replicas", "expected"), [
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 10, (3, 2)),        # surge rounds up, unavailable rounds down
    ("0%", "0%", 4, (0, 1)),           # both zero: unavailable becomes 1
    (0, 0, 0, (0, 1)),
    ("50%", "50%", 1, (1, 0)),
    (2, "100%", 3, (2, 3)),
    ("1%", "1%", 1, (1, 0)),
])
def test_resolve_fenceposts(surge: object, unavailable: object, replicas: int, expected: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(t.deployment("d", replicas, strategy=rolling(surge, unavailable))) == expected


@pytest.mark.parametrize(("strategy", "replicas", "old", "new", "expected"), [
    (rolling(1, 0), 3, 3, 0, 1),      # surge 1 over 3 old
    (rolling(1, 0), 3, 3, 1, 1),      # total 4 already: no room
    (rolling("100%", 0), 3, 3, 0, 3),
    (rolling(5, 0), 3, 0, 1, 3),      # never above the desired replicas
    ({"type": "Recreate"}, 3, 3, 0, 3),
])
def test_new_rs_new_replicas(strategy: Obj, replicas: int, old: int, new: int, expected: int) -> None:
    d = t.deployment("d", replicas, strategy=strategy)
    old_rs, new_rs = t.replica_set("old", old), t.replica_set("new", new)
    assert du.new_rs_new_replicas(d, [old_rs, new_rs], new_rs) == expected


def test_reconcile_old_rss_cleans_unhealthy_first_then_keeps_min_available() -> None:
    d = t.deployment("d", 10, strategy=rolling(3, 2))
    old = t.replica_set("old", 10)
    old["status"] = {"availableReplicas": 8}  # two unhealthy
    new = t.replica_set("new", 3)
    new["status"] = {"availableReplicas": 0}
    # all 13, min available 8, new unavailable 3 → may scale down by 2: the unhealthy ones
    assert reconcile_old_rss(d, [old, new], [old], new) == {"old": 8}
    new["status"] = {"availableReplicas": 3}
    old["status"] = {"availableReplicas": 10}
    # available 13 > 8: scale old down by 5
    assert reconcile_old_rss(d, [old, new], [old], new) == {"old": 5}


@pytest.mark.parametrize(("before", "after", "new", "old", "expected_new", "expected_old"), [
    (5, 10, 2, 3, 4, 6),   # sync_test "proportional scaling: 5 -> 10"
    (5, 3, 2, 3, 1, 2),    # "proportional scaling: 5 -> 3"
    (10, 0, 5, 5, 0, 0),   # scaled to zero: everything goes
])
def test_proportional_scaling_during_a_rollout(before: int, after: int, new: int, old: int, expected_new: int,
                                               expected_old: int) -> None:
    d = t.deployment("d", after, strategy=rolling(0, 1))
    old_rs, new_rs = t.replica_set("old", old), t.replica_set("new", new)
    new_rs["metadata"]["creationTimestamp"] = format_time(NOW)
    for rs in (old_rs, new_rs):
        rs["metadata"]["annotations"] = {ANN_MAX_REPLICAS: str(before), ANN_DESIRED_REPLICAS: str(before)}
    sizes = {a.obj["metadata"]["name"]: a.obj["spec"]["replicas"] for a in scale(d, new_rs, [old_rs])}
    assert sizes == {"new": expected_new, "old": expected_old}


# ---- creating the new ReplicaSet


def test_new_replica_set_shape() -> None:
    d = t.deployment("web", 3)
    actions = sync_deployment(d, t.FakeCluster([d]), now=NOW)
    rs = next(a.obj for a in actions if isinstance(a, Create))
    hash_ = rs["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{hash_}" and len(hash_) == 10
    assert rs["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: hash_}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", POD_TEMPLATE_HASH: hash_}}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {ANN_REVISION: "1", ANN_DESIRED_REPLICAS: "3", ANN_MAX_REPLICAS: "4"}
    assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                  "uid": "uid-web", "controller": True, "blockOwnerDeletion": True}]
    status = next(a.obj["status"] for a in actions if isinstance(a, Update) and a.status)
    progressing = du.get_condition(status, "Progressing")
    assert progressing is not None and progressing["reason"] == "NewReplicaSetCreated"
    assert progressing["message"] == f'Created new replica set "web-{hash_}"'


def test_a_name_taken_by_another_template_bumps_collision_count() -> None:
    d = t.deployment("web", 3)
    rs = sync_deployment(d, t.FakeCluster([d]), now=NOW)[0].obj  # type: ignore[union-attr]
    squatter = t.replica_set(rs["metadata"]["name"], 1, labels={"app": "other"})
    actions = sync_deployment(d, t.FakeCluster([d, squatter]), now=NOW)
    assert [a.obj["status"].get("collisionCount") for a in actions if isinstance(a, Update)] == [1]
    d["status"] = {"collisionCount": 1}
    again = next(a.obj for a in sync_deployment(d, t.FakeCluster([d, squatter]), now=NOW) if isinstance(a, Create))
    assert again["metadata"]["name"] != rs["metadata"]["name"]


# ---- whole rollouts


def settled(c: t.FakeCluster) -> t.FakeCluster:
    c.settle()
    return c


def rs_sizes(c: t.FakeCluster) -> dict[str, int]:
    return {r["metadata"]["name"]: r["spec"]["replicas"] for r in c.objects["ReplicaSet"].values()}


def test_create_scale_3_to_1_to_0() -> None:
    c = settled(t.FakeCluster([t.deployment("web", 3)]))
    (rs_name,) = c.names("ReplicaSet")
    assert len(c.names("Pod")) == 3 and all(p.startswith(f"{rs_name}-") for p in c.names("Pod"))
    for pod in c.objects["Pod"].values():
        assert pod["metadata"]["labels"][POD_TEMPLATE_HASH] == rs_name.split("-")[-1]
    for replicas in (1, 0):
        d = c.obj("Deployment", "web")
        d["spec"]["replicas"] = replicas
        settled(c)
        assert len(c.names("Pod")) == replicas
    assert c.obj("ReplicaSet", rs_name)["metadata"]["annotations"][ANN_DESIRED_REPLICAS] == "0"
    assert f"Deployment/web Normal ScalingReplicaSet Scaled down replica set {rs_name} from 3 to 1" in c.events


def test_status_available_and_complete_once_pods_are_ready() -> None:
    c = settled(t.FakeCluster([t.deployment("web", 3)]))
    status = c.obj("Deployment", "web")["status"]
    assert status["updatedReplicas"] == 3 and "availableReplicas" not in status
    assert du.get_condition(status, "Available")["status"] == "False"
    c.run_all_pods()
    settled(c)
    status = c.obj("Deployment", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert du.get_condition(status, "Available")["reason"] == "MinimumReplicasAvailable"
    assert du.get_condition(status, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert status["observedGeneration"] == 1


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(4, "25%", "25%"), (10, 3, 2), (3, 0, 1), (5, 2, 0)])
def test_rolling_update_stays_within_max_surge_and_max_unavailable(replicas: int, surge: object,
                                                                   unavailable: object) -> None:
    c = settled(t.FakeCluster([t.deployment("web", replicas, strategy=rolling(surge, unavailable))]))
    c.run_all_pods()
    settled(c)
    d = c.obj("Deployment", "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    max_surge, max_unavailable = du.resolve_fenceposts(d)
    for _ in range(30):
        c.settle()
        total = sum(rs_sizes(c).values())
        assert total <= replicas + max_surge
        ready = sum(1 for p in c.objects["Pod"].values() if p["status"].get("conditions"))
        assert ready >= replicas - max_unavailable
        c.run_all_pods()
        if len(c.names("ReplicaSet")) == 2 and sorted(rs_sizes(c).values()) == [0, replicas]:
            break
    new_rs = next(r for r in c.objects["ReplicaSet"].values() if r["spec"]["replicas"] == replicas)
    assert new_rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert new_rs["metadata"]["annotations"][ANN_REVISION] == "2"
    assert c.obj("Deployment", "web")["metadata"]["annotations"][ANN_REVISION] == "2"


def test_recreate_scales_old_to_zero_and_waits_for_its_pods() -> None:
    c = settled(t.FakeCluster([t.deployment("web", 2, strategy={"type": "Recreate"})]))
    for p in c.objects["Pod"].values():
        p["spec"]["nodeName"] = "n1"  # graceful deletion: they terminate until the kubelet finishes
    c.run_all_pods()
    settled(c)
    d = c.obj("Deployment", "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    settled(c)
    assert list(rs_sizes(c).values()) == [0]  # old scaled down, no new one yet
    assert all(p["metadata"].get("deletionTimestamp") for p in c.objects["Pod"].values())
    c.finish_terminating_pods()
    settled(c)
    assert sorted(rs_sizes(c).values()) == [0, 2]


def test_revision_history_limit_deletes_the_oldest_scaled_down() -> None:
    d = t.deployment("web", 1)
    d["spec"]["revisionHistoryLimit"] = 1
    c = settled(t.FakeCluster([d]))
    for image in ("v2", "v3"):
        c.obj("Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"] = image
        for _ in range(10):
            c.settle()
            c.run_all_pods()
    images = sorted(r["spec"]["template"]["spec"]["containers"][0]["image"] for r in c.objects["ReplicaSet"].values())
    assert images == ["v2", "v3"]


def test_progress_deadline_exceeded() -> None:
    c = settled(t.FakeCluster([t.deployment("web", 1)]))
    c.now += 601
    settled(c)
    cond = du.get_condition(c.obj("Deployment", "web")["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"].endswith("has timed out progressing.")


def test_a_deployment_being_deleted_only_updates_status() -> None:
    d = t.deployment("web", 3)
    d["metadata"]["deletionTimestamp"] = format_time(NOW)
    actions = sync_deployment(d, t.FakeCluster([d]), now=NOW)
    assert all(isinstance(a, Update) and a.status for a in actions)
