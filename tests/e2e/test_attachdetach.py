"""The attach/detach controller through the real processes, kubectl and real loop devices: a
pod's block claim is attached (VolumeAttachment, /dev/loopN backed by the claim's pool image,
node.status.volumesAttached), detached when the pod goes, the Multi-Attach error for an RWO
claim wanted on a second node, and `kill -9` of the ad-controller attaching nothing twice.
Then the same controller on a cluster with `simulate_mounts: true`: recorded loop devices, the
safe-detach handshake (a volume the node lists in status.volumesInUse stays attached), and a
force detach once `max_wait_for_unmount` has passed on a node that is not Ready.

Independent of the kubelet's volume manager: pods name their node directly (no scheduler) and
are force-deleted; whether a kubelet mounts the volume or not, the controller's side is the same
(a mounted volume is detached once the kubelet has unmounted it)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kstore.volume.mount import SimulatedMounter, privileged
from tests.e2e.cluster import REPO, Cluster, after_passes, kstore_cli, started
from tests.e2e.cluster import until as wait_until

real_mounts = pytest.mark.skipif(not privileged(), reason="real loop devices need root with CAP_SYS_ADMIN")

TIMEOUT = 60.0



def until(what: str, cond: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    return wait_until(what, cond, timeout)


def apply(cluster: Cluster, *docs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=True)


def claim_doc(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": "32Mi"}}}}


def pod_doc(name: str, ns: str, node: str, claim: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "busybox",
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}


def bound_volume(cluster: Cluster, ns: str, claim: str) -> str:
    def volume() -> str:
        c = cluster.get_json("pvc", claim, "-n", ns)
        return c["spec"].get("volumeName", "") if c.get("status", {}).get("phase") == "Bound" else ""

    return until(f"claim {ns}/{claim} Bound", volume)


def attachments(cluster: Cluster, pv: str) -> list[dict[str, Any]]:
    items = cluster.get_json("volumeattachments")["items"]
    return [va for va in items if va["spec"]["source"].get("persistentVolumeName") == pv]


def attached_on(cluster: Cluster, pv: str, node: str) -> dict[str, Any] | None:
    for va in attachments(cluster, pv):
        if va["spec"]["nodeName"] == node and (va.get("status") or {}).get("attached") is True:
            return va
    return None


def image(cluster: Cluster, pv: str) -> Path:
    return cluster.state_dir / "pool" / "block" / pv


def loops_backing(path: Path) -> list[str]:
    """Loop devices whose backing file is `path`, from the kernel's view."""
    found = []
    target = os.path.realpath(path)
    for entry in Path("/sys/block").glob("loop*"):
        try:
            backing = (entry / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if backing.removesuffix(" (deleted)") == target:
            found.append(f"/dev/{entry.name}")
    return sorted(found)


def volumes_attached(cluster: Cluster, node: str) -> list[dict[str, str]]:
    return cluster.get_json("node", node).get("status", {}).get("volumesAttached") or []


def events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = cluster.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def force_delete(cluster: Cluster, ns: str, name: str) -> None:
    cluster.kubectl("delete", "pod", name, "-n", ns, "--grace-period=0", "--force", check=True)


def process(cluster: Cluster, name: str) -> dict[str, Any]:
    r = kstore_cli("status", "--state-dir", cluster.state_dir, "--json")
    assert r.returncode == 0, r.stderr
    return next(p for p in json.loads(r.stdout)["processes"] if p["name"] == name)


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


@real_mounts
def test_attach_and_detach_a_block_claim(cluster: Cluster) -> None:
    ns = "ad-attach"
    cluster.namespace(ns)
    apply(cluster, claim_doc("data", ns), pod_doc("web", ns, "node-1", "data"))
    pv = bound_volume(cluster, ns, "data")
    va = until("VolumeAttachment attached on node-1", lambda: attached_on(cluster, pv, "node-1"))
    assert va["spec"]["attacher"] == cluster.get_json("pv", pv)["spec"]["csi"]["driver"]
    device = va["status"]["attachmentMetadata"]["devicePath"]
    assert device.startswith("/dev/loop")
    backing = Path(f"/sys/block/{device.removeprefix('/dev/')}/loop/backing_file").read_text().strip()
    assert backing == os.path.realpath(image(cluster, pv))
    assert loops_backing(image(cluster, pv)) == [device]

    table = cluster.kubectl("get", "volumeattachments", check=True).stdout
    row = next(line for line in table.splitlines() if va["metadata"]["name"] in line)
    assert pv in row and "node-1" in row and "true" in row

    listed = until("node-1 lists the volume", lambda: [v for v in volumes_attached(cluster, "node-1")
                                                       if v["name"].endswith(f"/{pv}")])
    assert listed[0]["devicePath"] == device
    assert ("Normal", "SuccessfulAttachVolume", f'AttachVolume.Attach succeeded for volume "{pv}"') \
        in events(cluster, ns, "web")
    text = metrics(process(cluster, "ad-controller")["metrics_port"])
    assert 'attachdetach_controller_total_volumes{plugin_name="kubernetes.io/csi:' in text
    assert 'state="actual_state_of_world"' in text and "storage_count_attachable_volumes_in_use{" in text
    assert 'kstore_reconcile_duration_seconds_count{component="ad-controller",loop="reconciler"}' in text
    assert 'operation_name="volume_attach",status="success"' in text

    force_delete(cluster, ns, "web")
    until("VolumeAttachment deleted", lambda: not attachments(cluster, pv))
    until("loop device detached", lambda: not loops_backing(image(cluster, pv)))
    until("node-1 no longer lists it", lambda: not any(v["name"].endswith(f"/{pv}")
                                                       for v in volumes_attached(cluster, "node-1")))


@real_mounts
def test_rwo_claim_wanted_on_a_second_node_waits_for_the_first(cluster: Cluster) -> None:
    ns = "ad-multi"
    cluster.namespace(ns)
    apply(cluster, claim_doc("shared", ns), pod_doc("first", ns, "node-1", "shared"))
    pv = bound_volume(cluster, ns, "shared")
    first = until("attached on node-1", lambda: attached_on(cluster, pv, "node-1"))
    apply(cluster, pod_doc("second", ns, "node-2", "shared"))
    message = f'Multi-Attach error for volume "{pv}" Volume is already used by pod(s) first'
    until("the Multi-Attach event", lambda: ("Warning", "FailedAttachVolume", message) in events(cluster, ns, "second"))
    after_passes(cluster.state_dir, "ad-controller")  # several reconcile passes: still only on node-1
    assert [va["spec"]["nodeName"] for va in attachments(cluster, pv)] == ["node-1"]

    force_delete(cluster, ns, "first")
    second = until("attached on node-2", lambda: attached_on(cluster, pv, "node-2"))
    assert [va["spec"]["nodeName"] for va in attachments(cluster, pv)] == ["node-2"]
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert loops_backing(image(cluster, pv)) == [second["status"]["attachmentMetadata"]["devicePath"]]
    until("node-2 lists it", lambda: any(v["name"].endswith(f"/{pv}") for v in volumes_attached(cluster, "node-2")))
    assert not any(v["name"].endswith(f"/{pv}") for v in volumes_attached(cluster, "node-1"))

    force_delete(cluster, ns, "second")
    until("detached from node-2", lambda: not attachments(cluster, pv) and not loops_backing(image(cluster, pv)))


@real_mounts
def test_kill_9_of_the_ad_controller_attaches_nothing_twice(cluster: Cluster) -> None:
    ns = "ad-restart"
    cluster.namespace(ns)
    apply(cluster, claim_doc("data", ns), pod_doc("web", ns, "node-3", "data"))
    pv = bound_volume(cluster, ns, "data")
    va = until("attached on node-3", lambda: attached_on(cluster, pv, "node-3"))
    device = va["status"]["attachmentMetadata"]["devicePath"]

    before = process(cluster, "ad-controller")
    os.kill(before["pid"], signal.SIGKILL)
    after = until("the ad-controller restarted and ready", lambda: (
        p if (p := process(cluster, "ad-controller"))["pid"] not in (None, before["pid"]) and p["ready"] else None),
        timeout=90)
    assert after["restarts"] == before["restarts"] + 1
    after_passes(cluster.state_dir, "ad-controller")  # several reconcile passes of the new process
    again = attached_on(cluster, pv, "node-3")
    assert again is not None and again["metadata"]["uid"] == va["metadata"]["uid"]
    assert again["status"] == va["status"]  # nothing re-attached, nothing rewritten
    assert loops_backing(image(cluster, pv)) == [device]

    force_delete(cluster, ns, "web")
    until("VolumeAttachment deleted", lambda: not attachments(cluster, pv))
    until("loop device detached", lambda: not loops_backing(image(cluster, pv)))


# ---- simulated mounts, on nodes without a kubelet
#
# The safe-detach handshake and force detach need a node whose `status.volumesInUse` and Ready
# condition the test controls, whatever the kubelets do: the test registers a Node object of its
# own (as a kubelet would, with the controller-managed annotation) that no kubelet runs.

MAX_WAIT = 3.0


class SimulatedCluster(Cluster):
    def __init__(self, state_dir: Path, config: Path) -> None:
        super().__init__(state_dir)
        self.config = config

    def up(self) -> None:
        r = kstore_cli("up", "--config", self.config, "--state-dir", self.state_dir, "--base-port", "0",
                       "--nodes", str(self.nodes))
        if r.returncode != 0:
            raise RuntimeError(f"kstore up failed:\n{r.stdout}\n{r.stderr}")


@pytest.fixture(scope="module")
def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedCluster]:
    base = tmp_path_factory.mktemp("kstore-e2e-sim-")
    config = yaml.safe_load((REPO / "configs" / "dev.yaml").read_text())
    config["simulate_mounts"] = True
    config["periods"]["max_wait_for_unmount"] = MAX_WAIT
    (base / "simulated.yaml").write_text(yaml.safe_dump(config))
    with started(SimulatedCluster(base / "state", base / "simulated.yaml")) as c:
        yield c


def kubelet_less_node(cluster: Cluster, name: str) -> None:
    apply(cluster, {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                                 "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                    "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                               "message": "registered by the test"}]}})


def patch_node_status(cluster: Cluster, node: str, status: dict[str, Any]) -> None:
    cluster.kubectl("patch", "node", node, "--subresource=status", "--type=strategic", "-p",
                    json.dumps({"status": status}), check=True)


def unique_name(cluster: Cluster, node: str, pv: str) -> str:
    return until(f"{node} lists {pv}", lambda: next((v["name"] for v in volumes_attached(cluster, node)
                                                     if v["name"].endswith(f"/{pv}")), ""))


def simulated_loop(cluster: Cluster, pv: str) -> str | None:
    return SimulatedMounter(cluster.state_dir).find_loop(image(cluster, pv))


def test_simulated_attach_waits_for_the_node_to_stop_using_the_volume(sim_cluster: SimulatedCluster) -> None:
    cluster, ns, node = sim_cluster, "ad-sim", "ghost-a"
    cluster.namespace(ns)
    kubelet_less_node(cluster, node)
    apply(cluster, claim_doc("data", ns), pod_doc("web", ns, node, "data"))
    pv = bound_volume(cluster, ns, "data")
    va = until(f"attached on {node}", lambda: attached_on(cluster, pv, node))
    device = va["status"]["attachmentMetadata"]["devicePath"]
    assert device.startswith("/dev/loop-sim-") and simulated_loop(cluster, pv) == device
    assert loops_backing(image(cluster, pv)) == []  # recorded, not a real loop device
    name = unique_name(cluster, node, pv)

    patch_node_status(cluster, node, {"volumesInUse": [name]})  # as a kubelet reports a mounted volume
    force_delete(cluster, ns, "web")
    after_passes(cluster.state_dir, "ad-controller", 10)  # the node still uses it and is Ready: it stays
    assert attached_on(cluster, pv, node) is not None and simulated_loop(cluster, pv) == device
    patch_node_status(cluster, node, {"volumesInUse": None})  # unmounted
    until("VolumeAttachment deleted", lambda: not attachments(cluster, pv))
    until("recorded loop device gone", lambda: simulated_loop(cluster, pv) is None)
    until(f"{node} no longer lists it", lambda: not volumes_attached(cluster, node))


def test_force_detach_after_the_max_wait_on_a_not_ready_node(sim_cluster: SimulatedCluster) -> None:
    cluster, ns, node = sim_cluster, "ad-force", "ghost-b"
    cluster.namespace(ns)
    kubelet_less_node(cluster, node)
    apply(cluster, claim_doc("data", ns), pod_doc("web", ns, node, "data"))
    pv = bound_volume(cluster, ns, "data")
    until(f"attached on {node}", lambda: attached_on(cluster, pv, node))
    name = unique_name(cluster, node, pv)
    port = process(cluster, "ad-controller")["metrics_port"]

    def forced() -> float:
        for line in metrics(port).splitlines():
            if line.startswith('attachdetach_controller_forced_detaches_total{reason="timeout"}'):
                return float(line.split()[-1])
        return 0.0

    before = forced()
    patch_node_status(cluster, node, {"volumesInUse": [name], "conditions": [
        {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting"}]})
    force_delete(cluster, ns, "web")
    deleted_at = time.monotonic()
    until("force detached", lambda: not attachments(cluster, pv), timeout=MAX_WAIT + 30)
    assert time.monotonic() - deleted_at >= MAX_WAIT - 0.5  # not before the max wait for unmount
    assert forced() == before + 1
    until("recorded loop device gone", lambda: simulated_loop(cluster, pv) is None)
