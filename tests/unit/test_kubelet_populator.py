"""The desired-state populator over the real PluginManager (simulated mounter, objects from a
dict): which volumes a pod wants, their unique names and capabilities, errors in Kubernetes'
wording, and when a pod leaves the desired state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kstore.controllers.pv.model import Driver
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.populator import FlexDrivers, Populator, pod_volume_names
from kstore.kubelet.volumemanager.types import PodUID
from kstore.volume.mount import SimulatedMounter
from kstore.volume.plugins import PluginManager, VolumeHost
from kstore.volume.pool import Pool
from kstore.volume.pv_source import pv_spec_for

NODE = "node-1"


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def put(self, kind: str, namespace: str, obj: dict[str, Any]) -> None:
        self.items[(kind, namespace, obj["metadata"]["name"])] = obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((kind, namespace, name))


class World:
    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "state"
        self.state.mkdir()
        self.objects = Objects()
        host = VolumeHost(self.state, SimulatedMounter(self.state), node=NODE, objects=self.objects)
        self.manager = PluginManager(host)
        self.pool = Pool(self.state)
        self.pods: list[dict[str, Any]] = []
        self.running: set[str] = set()
        self.dsw = DesiredStateOfWorld()
        self.populator = Populator(self.dsw, self.manager, pods=lambda: self.pods,
                                   containers_running=lambda uid: uid in self.running,
                                   flex=FlexDrivers(self.manager))

    def bound_claim(self, name: str, *, driver: str = "rook-ceph.rbd.csi.ceph.com", backend: str = "block",
                    mode: str = "Filesystem", access: str = "ReadWriteOnce") -> str:
        pv_name = f"pv-{name}"
        handle = self.pool.provision(backend=backend, name=pv_name, size_bytes=1 << 24, volume_mode=mode)
        spec = pv_spec_for(Driver(name=driver, backend=backend), handle,
                           claim={"spec": {"accessModes": [access], "volumeMode": mode}},
                           storage_class={"metadata": {"name": "sc"}})
        spec["claimRef"] = {"namespace": "ns", "name": name, "uid": f"cuid-{name}"}
        self.objects.put("PersistentVolume", "", {"metadata": {"name": pv_name}, "spec": spec})
        self.objects.put("PersistentVolumeClaim", "ns", {
            "metadata": {"name": name, "namespace": "ns", "uid": f"cuid-{name}"},
            "spec": {"volumeName": pv_name}, "status": {"phase": "Bound"}})
        return pv_name


def pod(uid: str, volumes: list[dict[str, Any]], mounts: list[str], devices: tuple[str, ...] = (),
        **meta: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "volumeMounts": [{"name": m, "mountPath": f"/{m}"} for m in mounts]}
    if devices:
        container["volumeDevices"] = [{"name": d, "devicePath": f"/dev/{d}"} for d in devices]
    return {"metadata": {"uid": uid, "name": f"p-{uid}", "namespace": "ns", "resourceVersion": "1", **meta},
            "spec": {"nodeName": NODE, "containers": [container], "volumes": volumes}}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_only_volumes_a_container_uses_each_with_its_plugin_and_per_pod_name(world: World) -> None:
    world.pods = [pod("u1", [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "tmp", "emptyDir": {}},
                             {"name": "unused", "emptyDir": {}}], mounts=["cfg", "tmp"])]
    assert world.populator.populate() == {PodUID("u1")}
    got = {(v.volume_name, v.plugin_name, v.attachable, v.requires_remount) for v in world.dsw.get_volumes_to_mount()}
    assert got == {("kubernetes.io/configmap/u1-cfg", "kubernetes.io/configmap", False, True),
                   ("kubernetes.io/empty-dir/u1-tmp", "kubernetes.io/empty-dir", False, False)}
    assert world.populator.populate() == set()  # nothing changed: not processed again


def test_a_block_backed_claim_is_attachable_under_the_name_the_ad_controller_uses(world: World) -> None:
    pv = world.bound_claim("data")
    world.pods = [pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}], mounts=["d"])]
    world.populator.populate()
    (v,) = world.dsw.get_volumes_to_mount()
    assert v.volume_name == f"kubernetes.io/csi/rook-ceph.rbd.csi.ceph.com^block/{pv}"
    assert (v.attachable, v.device_mountable, v.block, v.claim_key, v.pv_name) == (True, True, False, "ns/data", pv)
    assert v.metric_plugin == "kubernetes.io/csi:rook-ceph.rbd.csi.ceph.com"
    assert world.dsw.attachable_volumes() == [v.volume_name]


def test_two_pods_share_one_attachable_volume_but_not_one_shared_directory_name(world: World) -> None:
    world.bound_claim("rwx", driver="rook-ceph.cephfs.csi.ceph.com", backend="shared", access="ReadWriteMany")
    vol = [{"name": "d", "persistentVolumeClaim": {"claimName": "rwx"}}]
    world.pods = [pod("u1", vol, ["d"]), pod("u2", vol, ["d"])]
    world.populator.populate()
    names = sorted(v.volume_name for v in world.dsw.get_volumes_to_mount())
    assert names == ["kubernetes.io/csi/u1-pv-rwx", "kubernetes.io/csi/u2-pv-rwx"]
    assert world.dsw.attachable_volumes() == []


def test_unbound_claim_is_a_pod_error_until_it_binds(world: World) -> None:
    world.objects.put("PersistentVolumeClaim", "ns", {"metadata": {"name": "late", "namespace": "ns"},
                                                      "spec": {}, "status": {"phase": "Pending"}})
    world.pods = [pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "late"}},
                             {"name": "tmp", "emptyDir": {}}], mounts=["d", "tmp"])]
    world.populator.populate()
    assert world.dsw.get_pod_errors(PodUID("u1")) == ["error processing PVC ns/late: PVC is not bound"]
    assert [v.volume_name for v in world.dsw.get_volumes_to_mount()] == ["kubernetes.io/empty-dir/u1-tmp"]
    world.bound_claim("late")
    world.populator.populate()  # a pod with errors is processed again every pass
    assert world.dsw.get_pod_errors(PodUID("u1")) == []
    assert len(world.dsw.get_volumes_to_mount()) == 2


@pytest.mark.parametrize("mode,mounts,devices,error", [
    ("Block", ["d"], (), "volume d has volumeMode Block, but is specified in volumeMounts"),
    ("Filesystem", [], ("d",), "volume d has volumeMode Filesystem, but is specified in volumeDevices"),
])
def test_volume_mode_must_match_mounts_or_devices(world: World, mode: str, mounts: list[str], devices: tuple[str, ...],
                                                  error: str) -> None:
    world.bound_claim("c", mode=mode)
    world.pods = [pod("u1", [{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}], mounts, devices)]
    world.populator.populate()
    assert world.dsw.get_pod_errors(PodUID("u1")) == [error]


def test_terminating_pod_leaves_only_once_its_containers_stopped(world: World) -> None:
    world.pods = [pod("u1", [{"name": "tmp", "emptyDir": {}}], ["tmp"])]
    world.populator.populate()
    world.pods = [pod("u1", [{"name": "tmp", "emptyDir": {}}], ["tmp"], deletionTimestamp="2026-01-01T00:00:00Z")]
    world.running = {"u1"}
    world.populator.populate()
    assert world.dsw.pod_exists(PodUID("u1"))
    world.running = set()
    assert world.populator.populate() == {PodUID("u1")}
    assert not world.dsw.pod_exists(PodUID("u1"))


def test_an_unknown_flex_driver_waits_for_discovery_off_the_loop(world: World) -> None:
    world.pods = [pod("u1", [{"name": "f", "flexVolume": {"driver": "acme/fancy"}}], ["f"])]
    world.populator.populate()
    assert world.dsw.get_pod_errors(PodUID("u1")) == []  # not an error yet: the pod waits for the discovery
    assert not world.dsw.pod_exists(PodUID("u1"))
    flex = world.populator.flex
    assert flex.to_probe() == ["acme/fancy"]
    flex.record("acme/fancy", flex.probe("acme/fancy"))  # what the volume manager runs on a thread
    world.populator.mark_dirty()
    world.populator.populate()
    assert "is not installed" in world.dsw.get_pod_errors(PodUID("u1"))[0]


def test_pod_volume_names_cover_init_containers_and_devices() -> None:
    p = {"spec": {"initContainers": [{"volumeMounts": [{"name": "a"}]}],
                  "containers": [{"volumeMounts": [{"name": "b"}], "volumeDevices": [{"name": "c"}]}]}}
    assert pod_volume_names(p) == ({"a", "b"}, {"c"})
