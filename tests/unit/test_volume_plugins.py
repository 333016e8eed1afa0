"""Volume plugins with the SimulatedMounter: per plugin, the directory layout and the mounts
recorded, readOnly, idempotency, claims, Block mode, expansion, multi-node attach, the
projected files (AtomicWriter layout), metrics, and the safety refusals."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from kstore.controllers.pv.model import Driver
from kstore.volume.mount import BUSY, INVALID, NOT_FOUND, MountError, SimulatedMounter, UnsafePath
from kstore.volume.plugins import (
    CSI_PLUGIN,
    AttachablePlugin,
    DeviceMountablePlugin,
    PluginManager,
    Spec,
    VolumeHost,
    VolumePlugin,
)
from kstore.volume.plugins.atomic_writer import AtomicWriter, FileProjection
from kstore.volume.pool import Pool
from kstore.volume.pv_source import pv_spec_for

MI = 1 << 20
UID = "0b7c2d0e-1111-4222-8333-944445555666"
NODE = "node-1"


class Objects:
    """An ObjectGetter over a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, kind: str, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("metadata", {}).update({"name": name, "namespace": namespace} if namespace else {"name": name})
        self.items[(kind, namespace, name)] = obj
        return obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((kind, namespace, name))


@dataclasses.dataclass
class Env:
    state: Path
    mounter: SimulatedMounter
    objects: Objects
    host: VolumeHost
    manager: PluginManager
    pool: Pool

    def node(self, node: str = NODE) -> Path:
        return self.state / "nodes" / node

    def kubelet(self) -> Path:
        return self.node() / "kubelet"

    def mounts(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """Recorded mounts under the state dir: relative target → (source, fstype, options)."""
        out = {}
        for m in self.mounter.mounts_under(self.state):
            source = m.source
            if source.startswith(str(self.state)):
                source = os.path.relpath(source, self.state)
            out[os.path.relpath(m.target, self.state)] = (source, m.fstype, m.options)
        return out

    def provision_pv(self, name: str, *, driver: str = "rook-ceph.rbd.csi.ceph.com", backend: str = "block",
                     size: int = 64 * MI, mode: str = "Filesystem", access: str = "ReadWriteOnce",
                     node: str | None = None) -> dict[str, Any]:
        handle = self.pool.provision(backend=backend, name=name, size_bytes=size, node=node, volume_mode=mode)
        claim = {"spec": {"accessModes": [access], "volumeMode": mode}}
        spec = pv_spec_for(Driver(name=driver, backend=backend), handle, claim=claim,
                           storage_class={"metadata": {"name": "sc"}})
        return {"metadata": {"name": name}, "spec": spec}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    state = tmp_path / "state"
    state.mkdir()
    mounter = SimulatedMounter(state)
    objects = Objects()
    host = VolumeHost(state, mounter, node=NODE, objects=objects, flex_timeout=2.0)
    return Env(state, mounter, objects, host, PluginManager(host), Pool(state))


def pod(uid: str = UID, name: str = "web-0", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": {"app": "web", "tier": "a"}},
            "spec": {"nodeName": NODE, "serviceAccountName": "sa", **spec}}


def attach_and_mount(env: Env, spec: Spec, the_pod: dict[str, Any] | None = None) -> tuple[VolumePlugin, Path]:
    """What the ad-controller and the kubelet do for one Filesystem volume; the pod's path."""
    plugin = env.manager.find(spec)
    device = ""
    if isinstance(plugin, AttachablePlugin) and plugin.can_attach(spec):
        device = plugin.new_attacher().attach(spec, NODE)
    if isinstance(plugin, DeviceMountablePlugin) and plugin.can_device_mount(spec):
        dm = plugin.new_device_mounter()
        device = dm.wait_for_attach(spec, device, 1.0)
        dm.mount_device(spec, device, dm.device_mount_path(spec))
    mounter = plugin.new_mounter(spec, the_pod or pod())
    mounter.set_up()
    return plugin, mounter.path


def unmount_and_detach(env: Env, plugin: VolumePlugin, spec: Spec, uid: str = UID) -> None:
    plugin.new_unmounter(spec.name, uid).tear_down()
    if isinstance(plugin, DeviceMountablePlugin) and plugin.can_device_mount(spec):
        dm = plugin.new_device_mounter()
        plugin.new_device_unmounter().unmount_device(dm.device_mount_path(spec))
    if isinstance(plugin, AttachablePlugin) and plugin.can_attach(spec):
        plugin.new_detacher().detach(plugin.volume_name(spec), NODE)


# ---- table: pool-backed sources


@dataclasses.dataclass(frozen=True)
class PoolCase:
    name: str
    spec: Callable[[Env], Spec]
    plugin: str
    pod_dir: str  # relative to the kubelet dir
    mounts: dict[str, tuple[str, str, tuple[str, ...]]]  # relative to the state dir
    attached: bool


KUBELET = f"nodes/{NODE}/kubelet"
POD_VOLUMES = f"{KUBELET}/pods/{UID}/volumes"


def _static_pv(source: dict[str, Any], name: str = "pv-static", **spec: Any) -> Callable[[Env], Spec]:
    return lambda env: Spec.from_pv({"metadata": {"name": name},
                                     "spec": {"capacity": {"storage": "32Mi"}, "accessModes": ["ReadWriteOnce"],
                                              **source, **spec}})


POOL_CASES = [
    PoolCase("csi block (rook rbd)", lambda env: Spec.from_pv(env.provision_pv("pvc-1")), CSI_PLUGIN,
             f"pods/{UID}/volumes/kubernetes.io~csi/pvc-1",
             {f"{KUBELET}/plugins/kubernetes.io/csi/mounts/pvc-1": ("/dev/loop-sim-0", "ext4", ("rw",)),
              f"{POD_VOLUMES}/kubernetes.io~csi/pvc-1": ("<fs>", "none", ("rw", "bind"))}, attached=True),
    PoolCase("csi block, readOnly claim", lambda env: Spec.from_pv(env.provision_pv("pvc-1"), read_only=True),
             CSI_PLUGIN, f"pods/{UID}/volumes/kubernetes.io~csi/pvc-1",
             {f"{KUBELET}/plugins/kubernetes.io/csi/mounts/pvc-1": ("/dev/loop-sim-0", "ext4", ("rw",)),
              f"{POD_VOLUMES}/kubernetes.io~csi/pvc-1": ("<fs>", "none", ("ro", "bind"))}, attached=True),
    PoolCase("csi shared (rook cephfs, RWX)",
             lambda env: Spec.from_pv(env.provision_pv("pvc-2", driver="rook-ceph.cephfs.csi.ceph.com",
                                                       backend="shared", access="ReadWriteMany")),
             CSI_PLUGIN, f"pods/{UID}/volumes/kubernetes.io~csi/pvc-2",
             {f"{POD_VOLUMES}/kubernetes.io~csi/pvc-2": ("pool/shared/pvc-2", "none", ("rw", "bind"))},
             attached=False),
    PoolCase("in-tree rbd PV made by hand: image made on first use",
             _static_pv({"rbd": {"monitors": ["10.0.0.1:6789"], "image": "foo", "fsType": "ext4"}}),
             "kubernetes.io/rbd", f"pods/{UID}/volumes/kubernetes.io~rbd/pv-static",
             {f"{KUBELET}/plugins/kubernetes.io/rbd/mounts/pv-static": ("/dev/loop-sim-0", "ext4", ("rw",)),
              f"{POD_VOLUMES}/kubernetes.io~rbd/pv-static": ("<fs>", "none", ("rw", "bind"))}, attached=True),
    PoolCase("in-tree nfs PV made by hand: shared dir made on first use",
             _static_pv({"nfs": {"server": "nfs.example.com", "path": "/exports/a"}}, accessModes=["ReadWriteMany"]),
             "kubernetes.io/nfs", f"pods/{UID}/volumes/kubernetes.io~nfs/pv-static",
             {f"{POD_VOLUMES}/kubernetes.io~nfs/pv-static": ("pool/shared/pv-static", "none", ("rw", "bind"))},
             attached=False),
    PoolCase("inline nfs in a pod, readOnly: one shared dir per export",
             lambda env: Spec.from_volume({"name": "data", "nfs": {"server": "s", "path": "/e", "readOnly": True}}),
             "kubernetes.io/nfs", f"pods/{UID}/volumes/kubernetes.io~nfs/data",
             {f"{POD_VOLUMES}/kubernetes.io~nfs/data": ("<inline>", "none", ("ro", "bind"))}, attached=False),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: c.name)
def test_pool_backed_layout_and_mounts(env: Env, case: PoolCase) -> None:
    spec = case.spec(env)
    plugin, path = attach_and_mount(env, spec)
    assert plugin.name == case.plugin
    assert path == env.kubelet() / case.pod_dir
    mounts = env.mounts()
    for target, (source, fstype, options) in case.mounts.items():
        got = mounts.pop(target)
        if source == "<fs>":
            assert got[0].startswith("simulated/fs/")
        elif source == "<inline>":
            assert got[0].startswith("pool/shared/inline-nfs-")
        else:
            assert got[0] == source
        assert got[1:] == (fstype, options)
    assert mounts == {}
    assert bool(env.mounter.list_loops()) == case.attached
    unmount_and_detach(env, plugin, spec)
    assert env.mounts() == {}
    assert env.mounter.list_loops() == []
    assert not path.exists()


def test_block_volume_is_formatted_once_and_keeps_its_files(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin, path = attach_and_mount(env, spec)
    (path / "kept").write_text("still here")
    unmount_and_detach(env, plugin, spec)
    other = pod(uid="1111aaaa-2222-3333-4444-555566667777")
    plugin, path = attach_and_mount(env, spec, other)
    assert (path / "kept").read_text() == "still here"
    unmount_and_detach(env, plugin, spec, uid="1111aaaa-2222-3333-4444-555566667777")


def test_operations_are_idempotent(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin, path = attach_and_mount(env, spec)
    before = env.mounts()
    plugin, path = attach_and_mount(env, spec)  # every step again: nothing doubles
    assert env.mounts() == before and len(env.mounter.list_loops()) == 1
    unmount_and_detach(env, plugin, spec)
    unmount_and_detach(env, plugin, spec)  # and undoing twice is fine
    assert env.mounts() == {} and env.mounter.list_loops() == []
    records = [f for sub in ("mounts", "refs", "loops", "images")
               for _, _, f in os.walk(env.state / "simulated" / sub) if f]
    assert records == []  # the simulated records are gone too, their directories pruned


def test_shared_volume_is_one_directory_for_every_pod(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-2", driver="rook-ceph.cephfs.csi.ceph.com", backend="shared",
                                         access="ReadWriteMany"))
    uids = ["aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"]
    _, a = attach_and_mount(env, spec, pod(uid=uids[0]))
    plugin, b = attach_and_mount(env, spec, pod(uid=uids[1]))
    (a / "registry.db").write_text("blob")
    assert (b / "registry.db").read_text() == "blob"
    for uid in uids:
        plugin.new_unmounter(spec.name, uid).tear_down()
    assert env.mounts() == {}
    assert (env.state / "pool" / "shared" / "pvc-2" / "registry.db").read_text() == "blob"


def test_unmount_device_is_busy_while_a_pod_uses_it(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin, path = attach_and_mount(env, spec)
    assert isinstance(plugin, DeviceMountablePlugin)
    global_path = plugin.new_device_mounter().device_mount_path(spec)
    with pytest.raises(MountError) as e:
        plugin.new_device_unmounter().unmount_device(global_path)
    assert e.value.reason == BUSY and "still mounted by other references" in str(e.value)
    assert isinstance(plugin, AttachablePlugin)
    with pytest.raises(MountError) as e:
        plugin.new_detacher().detach(plugin.volume_name(spec), NODE)
    assert e.value.reason == BUSY
    assert plugin.new_attacher().is_attached(spec, NODE)
    unmount_and_detach(env, plugin, spec)


def test_attached_to_two_nodes_detached_when_the_last_lets_go(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1", mode="Block", access="ReadWriteMany"))
    plugin = env.manager.find(spec)
    assert isinstance(plugin, AttachablePlugin)
    attacher, detacher = plugin.new_attacher(), plugin.new_detacher()
    d1, d2 = attacher.attach(spec, "node-1"), attacher.attach(spec, "node-2")
    assert d1 == d2 == "/dev/loop-sim-0"
    assert attacher.is_attached(spec, "node-1") and attacher.is_attached(spec, "node-2")
    detacher.detach(plugin.volume_name(spec), "node-1")
    assert not attacher.is_attached(spec, "node-1") and attacher.is_attached(spec, "node-2")
    assert len(env.mounter.list_loops()) == 1
    detacher.detach(plugin.volume_name(spec), "node-2")
    assert env.mounter.list_loops() == []
    assert not attacher.is_attached(spec, "node-2")


def test_wait_for_attach_finds_the_device_or_times_out(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin = env.manager.find(spec)
    assert isinstance(plugin, DeviceMountablePlugin) and isinstance(plugin, AttachablePlugin)
    dm = plugin.new_device_mounter()
    with pytest.raises(MountError) as e:
        dm.wait_for_attach(spec, "", 0.2)
    assert e.value.reason == "Timeout" and "is not attached to node node-1" in str(e.value)
    device = plugin.new_attacher().attach(spec, NODE)
    assert dm.wait_for_attach(spec, "/dev/loop-sim-7", 0.2) == device  # a stale path: the real one
    plugin.new_detacher().detach(plugin.volume_name(spec), NODE)


def test_a_volume_deleted_under_its_pv_is_not_found(env: Env) -> None:
    pv = env.provision_pv("pvc-1")
    spec = Spec.from_pv(pv)
    env.pool.delete(env.pool.list_volumes()[0])
    plugin = env.manager.find(spec)
    assert isinstance(plugin, AttachablePlugin)
    with pytest.raises(MountError) as e:
        plugin.new_attacher().attach(spec, NODE)
    assert e.value.reason == NOT_FOUND and "no longer exists in the pool" in str(e.value)
    assert not (env.state / "pool" / "block" / "pvc-1").exists()  # never silently re-made
    shared = Spec.from_pv(env.provision_pv("pvc-2", driver="rook-ceph.cephfs.csi.ceph.com", backend="shared",
                                           access="ReadWriteMany"))
    env.pool.delete([h for h in env.pool.list_volumes() if h.name == "pvc-2"][0])
    with pytest.raises(MountError) as e:
        env.manager.find(shared).new_mounter(shared, pod()).set_up()
    assert e.value.reason == NOT_FOUND and "shared/pvc-2 no longer exists" in str(e.value)


def test_set_up_of_a_block_volume_needs_its_device_mounted(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin = env.manager.find(spec)
    with pytest.raises(MountError, match="mount_device first"):
        plugin.new_mounter(spec, pod()).set_up()
    assert not (env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~csi" / "pvc-1").exists()


# ---- volumeMode Block and expansion


def test_block_mode_maps_the_device(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-3", mode="Block"))
    plugin = env.manager.find(spec)
    assert isinstance(plugin, AttachablePlugin) and isinstance(plugin, DeviceMountablePlugin)
    assert plugin.can_attach(spec) and not plugin.can_device_mount(spec)
    device = plugin.new_attacher().attach(spec, NODE)
    mapper = plugin.new_block_mapper(spec, pod())  # type: ignore[attr-defined]
    link = mapper.map_pod_device(mapper.set_up_device(device))
    assert link == env.kubelet() / "pods" / UID / "volumeDevices" / "kubernetes.io~csi" / "pvc-3"
    assert os.readlink(link) == device
    ref = os.path.relpath(mapper.global_map_path / UID, env.state)
    assert env.mounts() == {ref: (device, "devtmpfs", ("rw", "bind"))}
    assert mapper.map_pod_device(device) == link  # idempotent
    with pytest.raises(MountError):
        plugin.new_mounter(spec, pod())
    unmapper = plugin.new_block_unmapper("pvc-3", UID)  # type: ignore[attr-defined]
    unmapper.unmap_pod_device()
    unmapper.tear_down_device()
    assert not os.path.lexists(link) and env.mounts() == {}
    plugin.new_detacher().detach(plugin.volume_name(spec), NODE)
    assert env.mounter.list_loops() == []


def test_local_block_volume_attaches_its_own_loop_device(env: Env) -> None:
    pv = env.provision_pv("pvc-4", driver="topolvm.io", backend="local", mode="Block", node=NODE)
    spec = Spec.from_pv(pv)
    plugin = env.manager.find(spec)
    assert plugin.name == "kubernetes.io/local-volume"
    mapper = plugin.new_block_mapper(spec, pod())  # type: ignore[attr-defined]
    device = mapper.set_up_device("")
    assert env.mounter.loop_backing_file(device) == env.node() / "local" / "pvc-4"
    mapper.map_pod_device(device)
    unmapper = plugin.new_block_unmapper("pvc-4", UID)  # type: ignore[attr-defined]
    unmapper.unmap_pod_device()
    unmapper.tear_down_device()
    assert env.mounter.list_loops() == [] and env.mounts() == {}


def test_node_expansion_grows_the_mounted_filesystem(env: Env) -> None:
    pv = env.provision_pv("pvc-1", size=64 * MI)
    spec = Spec.from_pv(pv)
    plugin, path = attach_and_mount(env, spec)
    assert env.mounter.statvfs(path).capacity_bytes == 64 * MI
    env.pool.expand(env.pool.list_volumes()[0], 128 * MI)
    assert isinstance(plugin, DeviceMountablePlugin)
    global_path = plugin.new_device_mounter().device_mount_path(spec)
    new_size = plugin.new_node_expander().expand(spec, "", global_path)  # type: ignore[attr-defined]
    assert new_size == 128 * MI
    assert env.mounter.statvfs(path).capacity_bytes == 128 * MI
    unmount_and_detach(env, plugin, spec)


# ---- local, hostPath, emptyDir


def test_local_pv_inside_the_state_dir_is_bound_as_it_is(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-5", driver="rancher.io/local-path", backend="local", node=NODE))
    plugin, path = attach_and_mount(env, spec)
    assert path == env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~local-volume" / "pvc-5"
    assert env.mounts()[os.path.relpath(path, env.state)][0] == f"nodes/{NODE}/local/pvc-5"
    plugin.new_unmounter("pvc-5", UID).tear_down()
    assert env.mounts() == {}


def test_local_pv_elsewhere_is_confined_under_the_node_root(env: Env) -> None:
    pv = {"metadata": {"name": "local-ssd"}, "spec": {"local": {"path": "/mnt/disks/ssd1"},
                                                      "capacity": {"storage": "1Gi"}}}
    spec = Spec.from_pv(pv)
    plugin, path = attach_and_mount(env, spec)
    assert env.mounts()[os.path.relpath(path, env.state)][0] == f"nodes/{NODE}/root/mnt/disks/ssd1"
    (path / "f").write_text("x")
    assert (env.node() / "root" / "mnt" / "disks" / "ssd1" / "f").read_text() == "x"
    plugin.new_unmounter("local-ssd", UID).tear_down()


@dataclasses.dataclass(frozen=True)
class HostPathCase:
    name: str
    path: str
    type: str
    prepare: str | None  # "dir" or "file" made at the confined place first
    error: str | None
    made: str | None = None  # "dir" or "file" expected at the confined place


HOST_PATH_CASES = [
    HostPathCase("/ confined", "/", "", None, None),
    HostPathCase("/etc DirectoryOrCreate: made under the node root", "/etc", "DirectoryOrCreate", None, None, "dir"),
    HostPathCase("FileOrCreate makes the file and its dir", "/var/log/app.log", "FileOrCreate", None, None, "file"),
    HostPathCase("Directory that exists", "/data", "Directory", "dir", None, "dir"),
    HostPathCase("Directory missing", "/data", "Directory", None, "hostPath /data doesn't exist"),
    HostPathCase("Directory that is a file", "/data", "Directory", "file",
                 "hostPath type check failed: /data is not a directory, it's a File"),
    HostPathCase("File that is a directory", "/etc/hosts", "File", "dir",
                 "hostPath type check failed: /etc/hosts is not a file, it's a Directory"),
    HostPathCase("Socket missing", "/var/run/docker.sock", "Socket", None, "hostPath /var/run/docker.sock doesn't exist"),
    HostPathCase("unknown type", "/x", "Weird", None, "Weird is an invalid volume type"),
]


@pytest.mark.parametrize("case", HOST_PATH_CASES, ids=lambda c: c.name)
def test_host_path(env: Env, case: HostPathCase) -> None:
    confined = env.node() / "root" / case.path.lstrip("/")
    if case.prepare == "dir":
        confined.mkdir(parents=True)
    elif case.prepare == "file":
        confined.parent.mkdir(parents=True, exist_ok=True)
        confined.write_text("")
    spec = Spec.from_volume({"name": "host", "hostPath": {"path": case.path, "type": case.type}})
    plugin = env.manager.find(spec)
    assert plugin.name == "kubernetes.io/host-path"
    if case.error is not None:
        with pytest.raises(MountError) as e:
            plugin.new_mounter(spec, pod()).set_up()
        assert str(e.value) == case.error
        return
    mounter = plugin.new_mounter(spec, pod())
    mounter.set_up()
    assert mounter.path == confined
    if case.made == "dir":
        assert confined.is_dir()
    elif case.made == "file":
        assert confined.is_file()
    assert env.mounts() == {}  # nothing is mounted for a hostPath
    plugin.new_unmounter("host", UID).tear_down()
    assert confined.exists() or case.made is None


def test_empty_dir_on_disk_and_in_memory(env: Env) -> None:
    disk = Spec.from_volume({"name": "cache", "emptyDir": {}})
    memory = Spec.from_volume({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}})
    plugin, path = attach_and_mount(env, disk)
    assert path == env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~empty-dir" / "cache"
    assert path.is_dir() and (path.stat().st_mode & 0o777) == 0o777
    (path / "sub").mkdir()
    (path / "sub" / "f").write_text("x")
    _, shm = attach_and_mount(env, memory)
    assert env.mounts() == {os.path.relpath(shm, env.state): ("tmpfs", "tmpfs", ("rw", "mode=777", f"size={64 * MI}"))}
    assert env.mounter.statvfs(shm).capacity_bytes == 64 * MI
    plugin.new_unmounter("cache", UID).tear_down()
    plugin.new_unmounter("shm", UID).tear_down()
    assert not path.exists() and not shm.exists() and env.mounts() == {}


# ---- configMap, secret, downwardAPI, projected


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def files(directory: Path) -> dict[str, tuple[str, int]]:
    """User-visible files (through the ..data links): path → (content, mode)."""
    out = {}
    for dirpath, _, filenames in os.walk(directory / "..data"):
        for name in filenames:
            full = Path(dirpath) / name
            rel = os.path.relpath(full, directory / "..data")
            out[rel] = ((directory / rel).read_text(), full.stat().st_mode & 0o777)
    return out


def test_config_map_files_use_the_atomic_writer_layout(env: Env) -> None:
    env.objects.add("ConfigMap", "default", "app", {"data": {"app.conf": "a=1", "log.level": "debug"},
                                                    "binaryData": {"bin": b64("\x01\x02")}})
    spec = Spec.from_volume({"name": "config", "configMap": {"name": "app", "defaultMode": 0o600,
                                                             "items": [{"key": "app.conf", "path": "conf/app.conf"},
                                                                       {"key": "log.level", "path": "level",
                                                                        "mode": 0o640}]}})
    plugin, path = attach_and_mount(env, spec)
    assert path == env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~configmap" / "config"
    assert files(path) == {"conf/app.conf": ("a=1", 0o600), "level": ("debug", 0o640)}
    data = os.readlink(path / "..data")
    assert data.startswith("..") and (path / data).is_dir()
    assert os.readlink(path / "conf") == "..data/conf"
    assert env.mounts() == {}  # a configMap is on the node's disk
    assert plugin.requires_remount(spec)
    plugin.new_mounter(spec, pod()).set_up()  # unchanged: nothing rewritten
    assert os.readlink(path / "..data") == data
    env.objects.add("ConfigMap", "default", "app", {"data": {"app.conf": "a=2", "log.level": "debug"}})
    plugin.new_mounter(spec, pod()).set_up()
    assert os.readlink(path / "..data") != data and not (path / data).exists()
    assert files(path)["conf/app.conf"] == ("a=2", 0o600)
    plugin.new_unmounter("config", UID).tear_down()
    assert not path.exists()


def test_a_missing_config_map_fails_the_mount_before_anything_is_made(env: Env) -> None:
    spec = Spec.from_volume({"name": "config", "configMap": {"name": "absent"}})
    plugin = env.manager.find(spec)
    with pytest.raises(MountError) as e:
        plugin.new_mounter(spec, pod()).set_up()
    assert str(e.value) == 'configmap "absent" not found' and e.value.reason == NOT_FOUND
    assert not (env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~configmap" / "config").exists()
    optional = Spec.from_volume({"name": "config", "configMap": {"name": "absent", "optional": True}})
    mounter = plugin.new_mounter(optional, pod())
    mounter.set_up()
    assert files(mounter.path) == {}
    env.objects.add("ConfigMap", "default", "present", {"data": {"a": "1"}})
    missing_key = Spec.from_volume({"name": "c2", "configMap": {"name": "present", "items": [{"key": "b", "path": "b"}]}})
    with pytest.raises(MountError, match="configmap references non-existent config key: b"):
        plugin.new_mounter(missing_key, pod()).set_up()


def test_secret_is_on_tmpfs_and_decoded(env: Env) -> None:
    env.objects.add("Secret", "default", "db", {"data": {"password": b64("s3cret"), "user": b64("admin")}})
    spec = Spec.from_volume({"name": "creds", "secret": {"secretName": "db"}})
    plugin, path = attach_and_mount(env, spec)
    assert path == env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~secret" / "creds"
    assert files(path) == {"password": ("s3cret", 0o644), "user": ("admin", 0o644)}
    assert env.mounts()[os.path.relpath(path, env.state)][1] == "tmpfs"
    plugin.new_unmounter("creds", UID).tear_down()
    assert not path.exists() and env.mounts() == {}
    with pytest.raises(MountError, match='^secret "nope" not found$'):
        plugin.new_mounter(Spec.from_volume({"name": "s", "secret": {"secretName": "nope"}}), pod()).set_up()


def test_downward_api_and_projected(env: Env) -> None:
    env.objects.add("ConfigMap", "default", "kube-root-ca.crt", {"data": {"ca.crt": "CA"}})
    env.objects.add("Node", "", NODE, {"status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}})
    the_pod = pod(containers=[{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}])
    the_pod["metadata"]["annotations"] = {"note": 'say "hi"'}
    downward = Spec.from_volume({"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "note", "fieldRef": {"fieldPath": "metadata.annotations['note']"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "cpu_limit", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}},
        {"path": "mem_mi", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                                "divisor": "1Mi"}},
        {"path": "cpu_request", "resourceFieldRef": {"containerName": "app", "resource": "requests.cpu"}},
    ]}})
    plugin, path = attach_and_mount(env, downward, the_pod)
    got = {k: v for k, (v, _) in files(path).items()}
    assert got == {"labels": 'app="web"\ntier="a"', "note": 'say "hi"', "annotations": 'note="say \\"hi\\""',
                   "name": "web-0", "cpu_limit": "500", "mem_mi": "256", "cpu_request": "1"}
    projected = Spec.from_volume({"name": "kube-api-access", "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]}})
    plugin, path = attach_and_mount(env, projected, the_pod)
    got = {k: v for k, (v, _) in files(path).items()}
    assert set(got) == {"token", "ca.crt", "namespace"}
    assert got["ca.crt"] == "CA" and got["namespace"] == "default"
    claims = json.loads(base64.urlsafe_b64decode(got["token"].split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:default:sa"
    assert env.mounts()[os.path.relpath(path, env.state)][1] == "tmpfs"


def test_atomic_writer_rejects_bad_paths(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    for bad, message in [("/abs", "must be relative path"), ("a/../b", "must not contain '..'"),
                         ("..hidden", "must not start with '..'"), ("", "must not be empty")]:
        with pytest.raises(MountError, match=message):
            writer.write({bad: FileProjection(b"x")})
    assert writer.write({"a/b": FileProjection(b"1"), "c": FileProjection(b"2")})
    assert writer.write({"c": FileProjection(b"2")})  # a/b gone: its link goes too
    assert sorted(os.listdir(tmp_path)) == sorted(["..data", "c", os.readlink(tmp_path / "..data")])


# ---- claims


def bind_claim(env: Env, pv: dict[str, Any], claim_name: str = "data", *, owner: str | None = None) -> None:
    claim: dict[str, Any] = {"metadata": {"uid": "claim-uid"}, "spec": {"volumeName": pv["metadata"]["name"]},
                             "status": {"phase": "Bound"}}
    if owner is not None:
        claim["metadata"]["ownerReferences"] = [{"kind": "Pod", "uid": owner, "controller": True}]
    env.objects.add("PersistentVolumeClaim", "default", claim_name, claim)
    pv["spec"]["claimRef"] = {"namespace": "default", "name": claim_name, "uid": "claim-uid"}
    env.objects.add("PersistentVolume", "", pv["metadata"]["name"], pv)


def test_claim_volume_resolves_to_its_pv(env: Env) -> None:
    pv = env.provision_pv("pvc-1")
    bind_claim(env, pv)
    plugin, spec = env.manager.for_pod_volume(
        {"name": "image-store", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}}, pod())
    assert plugin.name == CSI_PLUGIN and spec.name == "pvc-1"
    assert spec.read_only and spec.pod_volume_name == "image-store"
    with pytest.raises(MountError, match="resolve it to its PersistentVolume first"):
        env.manager.find(Spec.from_volume({"name": "x", "persistentVolumeClaim": {"claimName": "data"}}))


def test_claim_errors(env: Env) -> None:
    volume = {"name": "v", "persistentVolumeClaim": {"claimName": "data"}}
    with pytest.raises(MountError, match='persistentvolumeclaims "data" not found'):
        env.manager.for_pod_volume(volume, pod())
    env.objects.add("PersistentVolumeClaim", "default", "data", {"spec": {}, "status": {"phase": "Pending"}})
    with pytest.raises(MountError, match="error processing PVC default/data: PVC is not bound"):
        env.manager.for_pod_volume(volume, pod())
    env.objects.add("PersistentVolumeClaim", "default", "data", {"spec": {"volumeName": "gone"},
                                                                 "status": {"phase": "Bound"}})
    with pytest.raises(MountError, match='persistentvolumes "gone" not found'):
        env.manager.for_pod_volume(volume, pod())


def test_generic_ephemeral_volume_is_the_pods_claim(env: Env) -> None:
    pv = env.provision_pv("pvc-9")
    bind_claim(env, pv, "web-0-scratch", owner=UID)
    volume = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
    plugin, spec = env.manager.for_pod_volume(volume, pod())
    assert spec.name == "pvc-9" and plugin.name == CSI_PLUGIN
    with pytest.raises(MountError, match="was not created for pod default/web-0 \\(pod is not owner\\)"):
        env.manager.for_pod_volume(volume, pod(uid="99999999-0000-0000-0000-000000000000"))


def test_no_plugin_matches(env: Env) -> None:
    with pytest.raises(MountError, match='no volume plugin matched volume "odd"'):
        env.manager.find(Spec.from_volume({"name": "odd", "gitRepo": {"repository": "x"}}))
    with pytest.raises(MountError, match="CSI ephemeral inline volumes"):
        env.manager.find(Spec.from_volume({"name": "i", "csi": {"driver": "x"}})).new_mounter(
            Spec.from_volume({"name": "i", "csi": {"driver": "x"}}), pod()).set_up()


def test_external_driver_is_not_emulated(tmp_path: Path) -> None:
    from kstore.volume.drivers import DriverMap

    state = tmp_path / "state"
    state.mkdir()
    host = VolumeHost(state, SimulatedMounter(state), node=NODE,
                      drivers=DriverMap.parse({"external": ["ebs.csi.aws.com"]}))
    spec = Spec.from_pv({"metadata": {"name": "pv"}, "spec": {"csi": {"driver": "ebs.csi.aws.com",
                                                                      "volumeHandle": "vol-1"}}})
    plugin = PluginManager(host).find(spec)
    with pytest.raises(MountError, match="not found in the list of registered CSI drivers"):
        plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]


# ---- safety


@pytest.mark.parametrize("spec", [
    Spec.from_pv({"metadata": {"name": "raw"}, "spec": {"local": {"path": "/dev/vda"}, "volumeMode": "Block"}}),
    Spec.from_pv({"metadata": {"name": "raw"}, "spec": {"local": {"path": "/dev/vda"}}}),
    Spec.from_volume({"name": "disk", "hostPath": {"path": "/dev/vda", "type": "BlockDevice"}}),
    Spec.from_volume({"name": "kmsg", "hostPath": {"path": "/dev/kmsg"}}),
    Spec.from_volume({"name": "dev", "hostPath": {"path": "/srv/x", "type": "CharDevice"}}),
], ids=["local Block /dev/vda", "local /dev/vda", "hostPath BlockDevice /dev/vda", "hostPath /dev/kmsg",
        "hostPath CharDevice"])
def test_specs_naming_host_devices_are_refused(env: Env, spec: Spec) -> None:
    plugin = env.manager.find(spec)
    with pytest.raises(UnsafePath, match="device"):
        if spec.is_block:
            plugin.new_block_mapper(spec, pod()).set_up_device("")  # type: ignore[attr-defined]
        else:
            plugin.new_mounter(spec, pod()).set_up()
    assert env.mounter.list_loops() == [] and env.mounts() == {}


def test_host_path_cannot_escape_the_node_root(env: Env, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = env.node() / "root"
    root.mkdir(parents=True)
    (root / "escape").symlink_to(outside)  # e.g. a symlink a pod wrote into a hostPath
    for path in ("/escape", "/escape/sub"):
        spec = Spec.from_volume({"name": "h", "hostPath": {"path": path, "type": "DirectoryOrCreate"}})
        with pytest.raises(UnsafePath, match="outside the node root"):
            env.manager.find(spec).new_mounter(spec, pod()).set_up()
    assert list(outside.iterdir()) == []
    spec = Spec.from_volume({"name": "h", "hostPath": {"path": "/a/../../etc"}})
    with pytest.raises(MountError) as e:
        env.manager.find(spec).new_mounter(spec, pod())
    assert e.value.reason == INVALID and "must not contain '..'" in str(e.value)


def test_forged_pv_attributes_are_refused(env: Env, tmp_path: Path) -> None:
    pv = env.provision_pv("pvc-1")
    victim = tmp_path / "victim.img"
    victim.write_bytes(b"\0" * 4096)
    pv["spec"]["csi"]["volumeAttributes"]["kstore.io/path"] = str(victim)
    spec = Spec.from_pv(pv)
    plugin = env.manager.find(spec)
    with pytest.raises(UnsafePath):
        plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]
    assert env.mounter.list_loops() == []


@pytest.mark.parametrize("uid", ["../../etc", "a/b", "", ".hidden"])
def test_pod_uid_cannot_walk_out_of_the_pods_dir(env: Env, uid: str) -> None:
    spec = Spec.from_volume({"name": "cache", "emptyDir": {}})
    with pytest.raises(UnsafePath):
        env.manager.find(spec).new_mounter(spec, pod(uid=uid))


def test_tear_down_leaves_data_it_did_not_expect(env: Env) -> None:
    spec = Spec.from_pv(env.provision_pv("pvc-2", driver="rook-ceph.cephfs.csi.ceph.com", backend="shared",
                                         access="ReadWriteMany"))
    plugin = env.manager.find(spec)
    path = env.kubelet() / "pods" / UID / "volumes" / "kubernetes.io~csi" / "pvc-2"
    path.mkdir(parents=True)
    (path / "precious").write_text("x")  # not a mount: someone's files
    with pytest.raises(MountError) as e:
        plugin.new_unmounter("pvc-2", UID).tear_down()
    assert e.value.reason == BUSY
    assert (path / "precious").exists()


# ---- metrics


def _count(plugin: str, operation: str, status: str = "success") -> float:
    value = REGISTRY.get_sample_value("storage_operation_duration_seconds_count", {
        "volume_plugin": plugin, "operation_name": operation, "status": status, "migrated": "false"})
    return value or 0.0


def test_operations_are_timed_with_kubernetes_names(env: Env) -> None:
    # operations given a spec (or a volume name) carry the CSI driver, as Kubernetes' labels do;
    # tear_down and unmount_device know only a path, so they carry the plugin's name
    label = "kubernetes.io/csi:rook-ceph.rbd.csi.ceph.com"
    ops = ["volume_attach", "volume_mount", "volume_detach", "volume_fs_resize"]
    before = {op: _count(label, op) for op in ops}
    path_ops = ["volume_unmount", "unmount_device"]
    before_path = {op: _count(CSI_PLUGIN, op) for op in path_ops}
    spec = Spec.from_pv(env.provision_pv("pvc-1"))
    plugin, _ = attach_and_mount(env, spec)
    global_path = plugin.new_device_mounter().device_mount_path(spec)  # type: ignore[attr-defined]
    plugin.new_node_expander().expand(spec, "", global_path)  # type: ignore[attr-defined]
    unmount_and_detach(env, plugin, spec)
    assert {op: _count(label, op) - before[op] for op in ops} == {op: 1.0 for op in ops}
    assert {op: _count(CSI_PLUGIN, op) - before_path[op] for op in path_ops} == {op: 1.0 for op in path_ops}
    failed = _count("kubernetes.io/configmap", "volume_mount", "fail-unknown")
    spec = Spec.from_volume({"name": "c", "configMap": {"name": "absent"}})
    with pytest.raises(MountError):
        env.manager.find(spec).new_mounter(spec, pod()).set_up()
    assert _count("kubernetes.io/configmap", "volume_mount", "fail-unknown") == failed + 1
