"""The volume manager end to end over the simulated mounter (the same state machine and layout
as real mounts, recorded under a temp state dir): fake informers and store client, the real
plugins. Run until settled, then assert what is on disk, in the actual state, in
volumesInUse and in the claim's status; restart a fresh volume manager over the same disk to
check reconstruction."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.core import Metric

from kstore.client.clock import FakeClock
from kstore.client.informer import Handler
from kstore.controllers.pv.model import Driver
from kstore.kubelet.containers import ContainerRuntime, plan_mounts
from kstore.kubelet.volumemanager.manager import VolumeManager
from kstore.kubelet.volumemanager.metrics import TotalVolumesCollector, VolumeStatsCollector
from kstore.kubelet.volumemanager.types import PodUID
from kstore.volume.mount import SimulatedMounter
from kstore.volume.plugins import PluginManager, Spec, VolumeHost
from kstore.volume.pool import Pool
from kstore.volume.pv_source import pv_spec_for

NODE = "node-1"
MI = 1 << 20


class FakeInformer:
    def __init__(self) -> None:
        self.objs: dict[str, dict[str, Any]] = {}
        self.handlers: list[Handler] = []

    @staticmethod
    def key(obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]

    def put(self, obj: dict[str, Any]) -> None:
        old = self.objs.get(self.key(obj))
        self.objs[self.key(obj)] = obj
        for h in self.handlers:
            if old is None and h.on_add:
                h.on_add(obj)
            elif old is not None and h.on_update:
                h.on_update(old, obj)

    def remove(self, key: str) -> None:
        obj = self.objs.pop(key)
        for h in self.handlers:
            if h.on_delete:
                h.on_delete(obj)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.objs.get(key)

    def list(self) -> list[dict[str, Any]]:
        return list(self.objs.values())

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)


class FakeClient:
    def __init__(self, claims: FakeInformer) -> None:
        self.claims = claims
        self.volumes_in_use: list[str] | None = None
        self.patches = 0

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": {"volumesInUse": self.volumes_in_use or []}}

    async def patch(self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
                    subresource: str | None = None) -> dict[str, Any]:
        assert (kind, name, patch_type, subresource) == ("Node", NODE, "merge", "status")
        assert set(patch) == {"status"} and set(patch["status"]) == {"volumesInUse"}  # nothing else touched
        self.volumes_in_use = patch["status"]["volumesInUse"]
        self.patches += 1
        return {}

    async def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(int(obj["metadata"]["resourceVersion"]) + 1)))
        self.claims.put(obj)
        return obj


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        self.events.append((type, reason, message))


class Node:
    """One emulated node's kubelet pieces over a state dir, and the cluster objects it sees."""

    def __init__(self, state: Path, pool: ThreadPoolExecutor, *, pods: FakeInformer | None = None,
                 claims: FakeInformer | None = None, volumes: FakeInformer | None = None,
                 attachments: FakeInformer | None = None, client: FakeClient | None = None) -> None:
        self.state = state
        self.mounter = SimulatedMounter(state)
        self.pods = pods or FakeInformer()
        self.claims = claims or FakeInformer()
        self.volumes = volumes or FakeInformer()
        self.attachments = attachments or FakeInformer()
        self.client = client or FakeClient(self.claims)
        self.recorder = FakeRecorder()
        self.host = VolumeHost(state, self.mounter, node=NODE, objects=self, attach_timeout=1.0)
        self.runtime = ContainerRuntime(self.mounter, self.host.node_dir() / "containers")
        self.notified: list[str] = []
        self.attached_pods: list[str] = []
        self.vm = VolumeManager(client=self.client, host=self.host, plugins=PluginManager(self.host),  # type: ignore[arg-type]
                                runtime=self.runtime, pods=self.pods, claims=self.claims,  # type: ignore[arg-type]
                                volumes=self.volumes, attachments=self.attachments,  # type: ignore[arg-type]
                                recorder=self.recorder, pool=pool, clock=FakeClock(),  # type: ignore[arg-type]
                                notify=self.notified.append,
                                on_volumes_attached=lambda pod: self.attached_pods.append(pod["metadata"]["uid"]))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind == "PersistentVolumeClaim":
            return self.claims.get(f"{namespace}/{name}")
        if kind == "PersistentVolume":
            return self.volumes.get(name)
        if kind == "ConfigMap" and name == "cfg":
            return {"metadata": {"name": "cfg"}, "data": {"k": "v"}}
        return None

    def mounts(self) -> list[str]:
        return sorted(os.path.relpath(m.target, self.state) for m in self.mounter.mounts_under(self.state))


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as p:
        yield p


def provision(node: Node, claim: str, *, backend: str = "block", driver: str = "rook-ceph.rbd.csi.ceph.com",
              access: str = "ReadWriteOnce", mode: str = "Filesystem") -> str:
    pv_name = f"pvc-{claim}"
    handle = Pool(node.state).provision(backend=backend, name=pv_name, size_bytes=64 * MI, volume_mode=mode)
    spec = pv_spec_for(Driver(name=driver, backend=backend), handle,
                       claim={"spec": {"accessModes": [access], "volumeMode": mode}},
                       storage_class={"metadata": {"name": "sc"}})
    spec["claimRef"] = {"namespace": "ns", "name": claim, "uid": f"c-{claim}"}
    node.volumes.put({"metadata": {"name": pv_name, "resourceVersion": "1"}, "spec": spec})
    node.claims.put({"metadata": {"name": claim, "namespace": "ns", "uid": f"c-{claim}", "resourceVersion": "1"},
                     "spec": {"volumeName": pv_name, "accessModes": [access]},
                     "status": {"phase": "Bound", "capacity": {"storage": "64Mi"}}})
    return pv_name


def attach(node: Node, pv_name: str) -> str:
    """Play the attach/detach controller: attach for real (simulated loop) and say so."""
    spec = Spec.from_pv(node.volumes.get(pv_name) or {})
    plugin = PluginManager(VolumeHost(node.state, node.mounter)).find(spec)
    device = plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]
    node.attachments.put({"metadata": {"name": f"csi-{pv_name}"},
                          "spec": {"attacher": "x", "nodeName": NODE, "source": {"persistentVolumeName": pv_name}},
                          "status": {"attached": True, "attachmentMetadata": {"devicePath": device}}})
    return device


def make_pod(uid: str, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": f"p-{uid}", "namespace": "ns", "resourceVersion": "1"},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "volumeMounts": [
                {"name": v["name"], "mountPath": f"/{v['name']}"} for v in volumes]}], "volumes": volumes}}


async def test_block_claim_waits_for_in_use_and_attach_then_mounts_and_tears_down(tmp_path: Path,
                                                                                  pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    pv = provision(node, "data")
    node.pods.put(make_pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    await node.vm.settle()
    unique = f"kubernetes.io/csi/rook-ceph.rbd.csi.ceph.com^block/{pv}"
    assert node.client.volumes_in_use == [unique]  # reported before anything is attached
    problems = node.vm.mount_problems(node.pods.get("ns/p-u1") or {})
    assert (problems.unmounted, problems.unattached) == (["d"], ["d"])
    assert node.mounts() == []
    assert node.attached_pods == []  # the volumes_attached stage: not before the attach

    device = attach(node, pv)
    await node.vm.settle()
    assert node.attached_pods == ["u1"]  # once
    assert node.vm.volumes_ready(node.pods.get("ns/p-u1") or {})
    pod_dir = f"nodes/{NODE}/kubelet/pods/u1/volumes/kubernetes.io~csi/{pv}"
    assert node.mounts() == sorted([pod_dir, f"nodes/{NODE}/kubelet/plugins/kubernetes.io/csi/mounts/{pv}"])
    attached = node.vm.asw.get_volume(unique)  # type: ignore[arg-type]
    assert attached is not None and attached.device_path == device and attached.device_mounted
    (Path(node.state) / pod_dir / "file").write_text("kept")

    node.pods.remove("ns/p-u1")
    await node.vm.settle()
    assert node.mounts() == [] and node.client.volumes_in_use is None  # posted empty: field removed
    assert node.vm.pod_cleaned_up(PodUID("u1")) and node.vm.asw.get_attached_volumes() == []


async def test_shared_and_projected_volumes_and_the_cri_step(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    provision(node, "rwx", backend="shared", driver="rook-ceph.cephfs.csi.ceph.com", access="ReadWriteMany")
    volumes = [{"name": "d", "persistentVolumeClaim": {"claimName": "rwx"}}, {"name": "cfg", "configMap": {"name": "cfg"}}]
    node.pods.put(make_pod("u1", volumes))
    await node.vm.settle()
    assert node.client.patches == 0  # nothing attachable: volumesInUse untouched
    pod = node.pods.get("ns/p-u1") or {}
    assert node.vm.volumes_ready(pod)
    mounts = plan_mounts(pod, node.vm.pod_volumes(PodUID("u1")), node.runtime.root)
    assert {(m.target.name, m.read_only) for m in mounts} == {("d", False), ("cfg", True)}
    node.runtime.start(mounts)
    assert (node.runtime.root / "u1" / "app" / "cfg" / "k").read_text() == "v"
    node.runtime.stop(PodUID("u1"))
    assert not (node.runtime.root / "u1").exists()


async def test_missing_config_map_fails_with_kubernetes_words_and_backs_off(tmp_path: Path,
                                                                            pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    node.pods.put(make_pod("u1", [{"name": "nope", "configMap": {"name": "missing"}}]))
    await node.vm.settle(passes=5)
    assert node.recorder.events[0] == ("Warning", "FailedMount",
                                       'MountVolume.SetUp failed for volume "nope" : configmap "missing" not found')
    assert len(node.recorder.events) == 1  # the clock did not move: still backing off
    assert not node.vm.volumes_ready(node.pods.get("ns/p-u1") or {})


async def test_restart_adopts_what_is_mounted_and_mounts_nothing_twice(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    first = Node(tmp_path, pool)
    pv = provision(first, "data")
    first.pods.put(make_pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                                   {"name": "cfg", "configMap": {"name": "cfg"}}]))
    await first.vm.settle()
    attach(first, pv)
    await first.vm.settle()
    before = first.mounts()
    # kill -9: a fresh kubelet over the same disk, store and objects
    again = Node(tmp_path, pool, pods=first.pods, claims=first.claims, volumes=first.volumes,
                 attachments=first.attachments, client=first.client)
    await again.vm.start()
    assert {m.pod_uid for m in again.vm.asw.get_mounted_volumes()} == {"u1"}
    await again.vm.settle()
    assert again.mounts() == before
    assert again.vm.volumes_ready(again.pods.get("ns/p-u1") or {})
    assert again.vm.reported == first.client.volumes_in_use


async def test_restart_tears_down_what_a_gone_pod_left(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    first = Node(tmp_path, pool)
    pv = provision(first, "data")
    first.pods.put(make_pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                                   {"name": "t", "emptyDir": {}}]))
    await first.vm.settle()
    attach(first, pv)
    await first.vm.settle()
    assert first.mounts()
    first.pods.remove("ns/p-u1")  # deleted while its kubelet was down
    again = Node(tmp_path, pool, pods=first.pods, claims=first.claims, volumes=first.volumes,
                 attachments=first.attachments, client=first.client)
    await again.vm.start()
    assert again.vm.reported  # the device is still reported in use until it is unmounted
    await again.vm.settle()
    assert again.mounts() == [] and first.client.volumes_in_use is None
    await again.vm.sweep_pod_dirs()
    assert not (again.host.kubelet_dir() / "pods" / "u1").exists()


async def test_node_side_expansion_grows_the_filesystem_and_finishes_the_claim(tmp_path: Path,
                                                                               pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    pv = provision(node, "data")
    node.pods.put(make_pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    await node.vm.settle()
    attach(node, pv)
    await node.vm.settle()
    path = node.vm.pod_volumes(PodUID("u1"))["d"].path
    # the pv-controller's part: image grown, PV capacity, the claim's resize condition
    Pool(tmp_path).expand(Pool(tmp_path).list_volumes()[0], 128 * MI)
    pv_obj = node.volumes.get(pv) or {}
    node.volumes.put(dict(pv_obj, spec=dict(pv_obj["spec"], capacity={"storage": "128Mi"})))
    claim = node.claims.get("ns/data") or {}
    node.claims.put(dict(claim, metadata=dict(claim["metadata"], resourceVersion="2"), status=dict(
        claim["status"], conditions=[{"type": "FileSystemResizePending", "status": "True"}],
        allocatedResourceStatuses={"storage": "NodeResizePending"})))
    await node.vm.settle()
    assert node.mounter.statvfs(path).capacity_bytes == 128 * MI
    status = (node.claims.get("ns/data") or {})["status"]
    assert status["capacity"] == {"storage": "128Mi"} and "conditions" not in status
    assert "allocatedResourceStatuses" not in status
    assert ("Normal", "FileSystemResizeSuccessful",
            f'MountVolume.NodeExpandVolume succeeded for volume "{pv}" {NODE}') in node.recorder.events

    await node.vm.refresh_stats()
    families = {m.name: m for m in VolumeStatsCollector(lambda: node.vm.stats).collect()}
    sample = families["kubelet_volume_stats_capacity_bytes"].samples[0]
    assert sample.labels == {"namespace": "ns", "persistentvolumeclaim": "data"} and sample.value == 128 * MI


async def test_block_mode_claim_is_mapped_and_handed_to_the_container(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    pv = provision(node, "raw", mode="Block")
    pod = make_pod("u1", [{"name": "raw", "persistentVolumeClaim": {"claimName": "raw"}}])
    pod["spec"]["containers"][0] = {"name": "app", "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}]}
    node.pods.put(pod)
    await node.vm.settle()
    device = attach(node, pv)
    await node.vm.settle()
    volume = node.vm.pod_volumes(PodUID("u1"))["raw"]
    assert volume.device == device and os.readlink(volume.path) == device
    (mount,) = plan_mounts(pod, node.vm.pod_volumes(PodUID("u1")), node.runtime.root)
    assert (mount.device, mount.source, str(mount.target).endswith("u1/app/dev/xvda")) == (True, device, True)
    node.runtime.start([mount])
    assert node.mounter.mount_at(mount.target).source == device  # type: ignore[union-attr]
    node.runtime.stop(PodUID("u1"))
    node.pods.remove("ns/p-u1")
    await node.vm.settle()
    assert node.mounts() == [] and node.client.volumes_in_use is None
    assert not volume.path.is_symlink() and not volume.path.exists()


async def test_total_volumes_gauge(tmp_path: Path, pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    node.pods.put(make_pod("u1", [{"name": "t", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}]))
    node.vm.reconcile_once()  # desired, not mounted yet
    (family,) = list(TotalVolumesCollector(node.vm.dsw, node.vm.asw).collect())
    assert values(family) == {("kubernetes.io/configmap", "desired_state_of_world"): 1,
                              ("kubernetes.io/configmap", "actual_state_of_world"): 0,
                              ("kubernetes.io/empty-dir", "desired_state_of_world"): 1,
                              ("kubernetes.io/empty-dir", "actual_state_of_world"): 0}
    await node.vm.settle()
    (family,) = list(TotalVolumesCollector(node.vm.dsw, node.vm.asw).collect())
    assert values(family)[("kubernetes.io/empty-dir", "actual_state_of_world")] == 1


def values(family: Metric) -> dict[tuple[str, str], float]:
    return {(s.labels["plugin_name"], s.labels["state"]): s.value for s in family.samples}


async def test_volume_health_reports_what_disappeared_under_a_running_pod(tmp_path: Path,
                                                                         pool: ThreadPoolExecutor) -> None:
    node = Node(tmp_path, pool)
    pv = provision(node, "data")
    provision(node, "rwx", backend="shared", driver="rook-ceph.cephfs.csi.ceph.com", access="ReadWriteMany")
    node.pods.put(make_pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                                  {"name": "s", "persistentVolumeClaim": {"claimName": "rwx"}},
                                  {"name": "t", "emptyDir": {}}]))
    attach(node, pv)
    await node.vm.settle()
    assert sorted(node.attached_pods) == ["u1"]
    await node.vm.refresh_stats()
    assert node.vm.abnormal == {("ns", "data"): False, ("ns", "rwx"): False}  # claims only: not the emptyDir
    assert node.recorder.events == []

    image = Pool(node.state).path_for("block", pv)
    image.unlink()
    await node.vm.refresh_stats()
    assert node.vm.abnormal == {("ns", "data"): True, ("ns", "rwx"): False}
    assert node.recorder.events == [("Warning", "VolumeConditionAbnormal",
                                     f"Volume d: its image {image} was deleted under it")]
    families = {f.name: f for f in VolumeStatsCollector(lambda: {}, lambda: node.vm.abnormal).collect()}
    assert {(x.labels["namespace"], x.labels["persistentvolumeclaim"]): x.value
            for x in families["kubelet_volume_stats_health_status_abnormal"].samples} == {("ns", "data"): 1.0,
                                                                                         ("ns", "rwx"): 0.0}

    node.pods.remove("ns/p-u1")  # the pod still goes: its teardown does not need what vanished
    await node.vm.settle()
    assert node.mounts() == [] and node.vm.pod_cleaned_up(PodUID("u1"))
