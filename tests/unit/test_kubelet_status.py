"""Pod status as the kubelet builds it (pure): Pending / ContainerCreating, config errors,
Running with its conditions, kept foreign conditions and stable transition times."""

from __future__ import annotations

from typing import Any

from kstore.kubelet.status import PodState, build_status, fingerprint, pod_ip, qos_class

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"
SCHEDULED = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-12-31T23:59:59Z"}


def pod(*, inits: bool = False, status: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": "node-1", "containers": [
        {"name": "app", "image": "nginx:1.25", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
        {"name": "side", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}
    if inits:
        spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    return {"metadata": {"uid": "u1", "name": "p", "namespace": "ns"}, "spec": spec,
            "status": status if status is not None else {"phase": "Pending", "conditions": [SCHEDULED]}}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


def test_pending_while_volumes_are_set_up() -> None:
    s = build_status(pod(), PodState(running=False), now=T0, host_ip="127.0.0.1", pod_ip="10.244.0.9")
    assert s["phase"] == "Pending" and "podIP" not in s and s["hostIP"] == "127.0.0.1" and s["startTime"] == T0
    assert conditions(s) == {"PodReadyToStartContainers": ("False", None), "Initialized": ("True", None),
                             "Ready": ("False", "ContainersNotReady"), "ContainersReady": ("False", "ContainersNotReady"),
                             "PodScheduled": ("True", None)}
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "containers with unready status: [app side]"
    assert [(c["name"], c["state"], c["ready"], c["started"], c["imageID"]) for c in s["containerStatuses"]] == [
        ("app", {"waiting": {"reason": "ContainerCreating"}}, False, False, ""),
        ("side", {"waiting": {"reason": "ContainerCreating"}}, False, False, "")]


def test_init_containers_make_it_pod_initializing() -> None:
    s = build_status(pod(inits=True), PodState(running=False), now=T0, host_ip="h", pod_ip="i")
    assert conditions(s)["Initialized"] == ("False", "ContainersNotInitialized")
    assert s["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_create_container_config_error_carries_its_message() -> None:
    s = build_status(pod(), PodState(running=False, waiting_reason="CreateContainerConfigError",
                                     waiting_message="error SubPath `/x` must not be an absolute path"),
                     now=T0, host_ip="h", pod_ip="i")
    assert s["containerStatuses"][0]["state"] == {"waiting": {
        "reason": "CreateContainerConfigError", "message": "error SubPath `/x` must not be an absolute path"}}


def test_running_with_every_condition_true_and_the_scheduler_condition_kept() -> None:
    pending = build_status(pod(), PodState(running=False), now=T0, host_ip="127.0.0.1", pod_ip="10.244.0.9")
    s = build_status(pod(inits=True, status=pending), PodState(running=True, started_at=T1), now=T1,
                     host_ip="127.0.0.1", pod_ip="10.244.0.9")
    assert s["phase"] == "Running" and s["podIP"] == "10.244.0.9" and s["podIPs"] == [{"ip": "10.244.0.9"}]
    assert s["startTime"] == T0  # kept: when the kubelet first acknowledged the pod
    assert {t: st for t, (st, _) in conditions(s).items()} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    by_type = {c["type"]: c for c in s["conditions"]}
    assert by_type["PodScheduled"] == SCHEDULED
    assert by_type["Ready"]["lastTransitionTime"] == T1  # it changed
    assert by_type["Initialized"]["lastTransitionTime"] == T0  # True before and after: unchanged
    app = s["containerStatuses"][0]
    assert app["state"] == {"running": {"startedAt": T1}} and app["ready"] and app["started"]
    assert app["containerID"].startswith("kstore://") and app["restartCount"] == 0
    assert app["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert s["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert s["qosClass"] == "Guaranteed"


def test_fingerprint_ignores_timestamps_only() -> None:
    a = build_status(pod(), PodState(running=True, started_at=T0), now=T0, host_ip="h", pod_ip="i")
    b = build_status(pod(), PodState(running=True, started_at=T1), now=T1, host_ip="h", pod_ip="i")
    c = build_status(pod(), PodState(running=False), now=T1, host_ip="h", pod_ip="i")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert fingerprint(None) == fingerprint({})


def test_pod_ips_are_stable_per_pod_and_node() -> None:
    assert pod_ip(1, "u1") == pod_ip(1, "u1")
    assert pod_ip(1, "u1").startswith("10.244.1.") and pod_ip(2, "u1").startswith("10.244.2.")


def test_qos_classes() -> None:
    def q(*resources: dict[str, Any]) -> str:
        return qos_class({"spec": {"containers": [{"name": str(i), "resources": r} for i, r in enumerate(resources)]}})

    assert q({}) == "BestEffort"
    assert q({"limits": {"cpu": "1", "memory": "1Gi"}}) == "Guaranteed"
    assert q({"requests": {"cpu": "1"}}) == "Burstable"
    assert q({"limits": {"cpu": "1", "memory": "1Gi"}}, {}) == "Burstable"
