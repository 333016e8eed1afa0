"""The real chain with loop devices and mounts (root with CAP_SYS_ADMIN and /dev/loop-control;
skipped otherwise): provision → attach → mount_device (ext4 once) → set_up → tear_down →
unmount_device → detach, readOnly binds, expansion of a mounted volume, volumeMode Block, and
tmpfs-backed volumes. Every test ends with no mount under its state dir and no loop device
backing a file in it, and its fixture removes what a failing test left (only what is under
that state dir)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kstore.controllers.pv.model import Driver
from kstore.volume.mount import RealMounter, privileged
from kstore.volume.plugins import (
    AttachablePlugin,
    DeviceMountablePlugin,
    PluginManager,
    Spec,
    VolumeHost,
)
from kstore.volume.pool import Pool
from kstore.volume.pv_source import pv_spec_for

pytestmark = pytest.mark.skipif(not privileged(), reason="needs root with CAP_SYS_ADMIN and /dev/loop-control")

MI = 1 << 20
NODE = "node-1"
UID_A = "aaaaaaaa-0000-4000-8000-00000000000a"
UID_B = "bbbbbbbb-0000-4000-8000-00000000000b"


def leftovers(state: Path) -> tuple[list[str], list[str]]:
    """Mounts under the state dir, loop devices backed by a file in it (from the kernel's view)."""
    root = os.path.realpath(state)
    mounts = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout.split()
    ours = [m for m in mounts if m == root or m.startswith(root + "/")]
    listing = json.loads(subprocess.run(["losetup", "-J", "-l"], capture_output=True, text=True).stdout or "{}")
    loops = [d["name"] for d in listing.get("loopdevices", [])
             if str(d.get("back-file") or "").startswith(root + "/")]
    return ours, loops


@pytest.fixture
def env(state_dir: Path) -> Iterator[tuple[Path, RealMounter, PluginManager, Pool]]:
    mounter = RealMounter(state_dir)
    manager = PluginManager(VolumeHost(state_dir, mounter, node=NODE))
    try:
        yield state_dir, mounter, manager, Pool(state_dir)
    finally:
        # only what this test made: everything is under its own state dir
        for mount in mounter.mounts_under(state_dir):
            subprocess.run(["umount", "-l", str(mount.target)], capture_output=True)
        for loop in mounter.list_loops():
            subprocess.run(["losetup", "-d", loop.device], capture_output=True)
    assert leftovers(state_dir) == ([], [])


def block_pv(pool: Pool, name: str, *, size: int = 64 * MI, mode: str = "Filesystem") -> dict[str, Any]:
    handle = pool.provision(backend="block", name=name, size_bytes=size, volume_mode=mode)
    claim = {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": mode}}
    spec = pv_spec_for(Driver(name="rook-ceph.rbd.csi.ceph.com", backend="block"), handle, claim=claim,
                       storage_class={"metadata": {"name": "rook-ceph-block"}})
    return {"metadata": {"name": name}, "spec": spec}


def pod(uid: str) -> dict[str, Any]:
    return {"metadata": {"name": f"p-{uid[:4]}", "namespace": "default", "uid": uid}, "spec": {"nodeName": NODE}}


def findmnt(path: Path) -> dict[str, str]:
    out = subprocess.run(["findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS", "--mountpoint", str(path)],
                         capture_output=True, text=True).stdout
    found = json.loads(out)["filesystems"] if out.strip() else []
    return found[-1] if found else {}


def losetup_backing(device: str) -> str:
    return subprocess.run(["losetup", "-n", "-O", "BACK-FILE", device], capture_output=True, text=True).stdout.strip()


def test_full_chain(env: tuple[Path, RealMounter, PluginManager, Pool]) -> None:
    state, mounter, manager, pool = env
    pv = block_pv(pool, "pvc-1")
    image = os.path.realpath(state / "pool" / "block" / "pvc-1")
    spec = Spec.from_pv(pv)
    plugin = manager.find(spec)
    assert isinstance(plugin, AttachablePlugin) and isinstance(plugin, DeviceMountablePlugin)

    # attach: a real loop device backed by our image
    device = plugin.new_attacher().attach(spec, NODE)
    assert device.startswith("/dev/loop") and losetup_backing(device) == image
    assert plugin.new_attacher().attach(spec, NODE) == device  # idempotent

    # mount_device: formatted once, mounted at the global path
    dm = plugin.new_device_mounter()
    device = dm.wait_for_attach(spec, device, 5)
    global_path = dm.device_mount_path(spec)
    dm.mount_device(spec, device, global_path)
    assert subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True,
                          text=True).stdout.strip() == "ext4"
    assert findmnt(global_path) == {"target": str(global_path), "source": device, "fstype": "ext4",
                                    "options": findmnt(global_path)["options"]}

    # set_up: a bind mount into the pod's volume dir; a readOnly pod cannot write
    rw = plugin.new_mounter(spec, pod(UID_A))
    rw.set_up()
    assert rw.path == state / "nodes" / NODE / "kubelet" / "pods" / UID_A / "volumes" / "kubernetes.io~csi" / "pvc-1"
    assert findmnt(rw.path)["source"] == device
    (rw.path / "written-by-a").write_text("hello")
    ro = plugin.new_mounter(Spec.from_pv(pv, read_only=True), pod(UID_B))
    ro.set_up()
    assert findmnt(ro.path)["options"].split(",")[0] == "ro"
    assert (ro.path / "written-by-a").read_text() == "hello"
    with pytest.raises(OSError) as e:
        (ro.path / "nope").write_text("x")
    assert e.value.errno == errno.EROFS

    # tear down both pods, unmount the device, mount it again: not reformatted, data kept
    plugin.new_unmounter("pvc-1", UID_A).tear_down()
    plugin.new_unmounter("pvc-1", UID_B).tear_down()
    assert not rw.path.exists() and not ro.path.exists()
    plugin.new_device_unmounter().unmount_device(global_path)
    assert not global_path.exists()
    assert mounter.ensure_filesystem(device) is False
    dm.mount_device(spec, device, global_path)
    assert (global_path / "written-by-a").read_text() == "hello"
    plugin.new_device_unmounter().unmount_device(global_path)

    # detach: no loop device backs our image any more
    plugin.new_detacher().detach(plugin.volume_name(spec), NODE)
    assert mounter.find_loop(Path(image)) is None
    assert leftovers(state) == ([], [])


def test_expand_while_mounted(env: tuple[Path, RealMounter, PluginManager, Pool]) -> None:
    state, mounter, manager, pool = env
    pv = block_pv(pool, "pvc-2", size=64 * MI)
    spec = Spec.from_pv(pv)
    plugin = manager.find(spec)
    device = plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]
    dm = plugin.new_device_mounter()  # type: ignore[attr-defined]
    global_path = dm.device_mount_path(spec)
    dm.mount_device(spec, device, global_path)
    ro = plugin.new_mounter(Spec.from_pv(pv, read_only=True), pod(UID_A))
    ro.set_up()
    (global_path / "kept").write_text("x")
    before = mounter.statvfs(ro.path).capacity_bytes

    pool.expand(pool.list_volumes()[0], 256 * MI)  # the controller grows the image
    new_size = plugin.new_node_expander().expand(spec, device, global_path)  # type: ignore[attr-defined]
    after = mounter.statvfs(ro.path).capacity_bytes
    assert new_size == after and after > 3 * before  # df through the pod's path shows it
    assert findmnt(ro.path)["options"].split(",")[0] == "ro"  # the pod's mount is as it was
    assert (ro.path / "kept").read_text() == "x"

    plugin.new_unmounter("pvc-2", UID_A).tear_down()
    plugin.new_device_unmounter().unmount_device(global_path)  # type: ignore[attr-defined]
    plugin.new_detacher().detach(plugin.volume_name(spec), NODE)  # type: ignore[attr-defined]
    assert leftovers(state) == ([], [])


def test_block_mode_hands_the_device_to_the_pod(env: tuple[Path, RealMounter, PluginManager, Pool]) -> None:
    state, mounter, manager, pool = env
    pv = block_pv(pool, "pvc-3", size=16 * MI, mode="Block")
    spec = Spec.from_pv(pv)
    plugin = manager.find(spec)
    device = plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]
    mapper = plugin.new_block_mapper(spec, pod(UID_A))  # type: ignore[attr-defined]
    link = mapper.map_pod_device(mapper.set_up_device(device))
    assert os.readlink(link) == device
    assert findmnt(mapper.global_map_path / UID_A)["target"] == str(mapper.global_map_path / UID_A)
    with open(link, "r+b") as f:  # raw I/O through the pod's path reaches the image
        f.write(b"raw block data")
        f.flush()
        os.fsync(f.fileno())
    with open(device, "rb") as f:
        assert f.read(14) == b"raw block data"
    unmapper = plugin.new_block_unmapper("pvc-3", UID_A)  # type: ignore[attr-defined]
    unmapper.unmap_pod_device()
    unmapper.tear_down_device()
    plugin.new_detacher().detach(plugin.volume_name(spec), NODE)  # type: ignore[attr-defined]
    with open(state / "pool" / "block" / "pvc-3", "rb") as f:
        assert f.read(14) == b"raw block data"
    assert not os.path.lexists(link)
    assert leftovers(state) == ([], [])


def test_local_block_volume_gets_its_loop_device_on_the_node(env: tuple[Path, RealMounter, PluginManager,
                                                                         Pool]) -> None:
    state, mounter, manager, pool = env
    handle = pool.provision(backend="local", name="pvc-4", size_bytes=16 * MI, node=NODE, volume_mode="Block")
    pv = {"metadata": {"name": "pvc-4"}, "spec": {"local": {"path": str(handle.path)}, "volumeMode": "Block"}}
    spec = Spec.from_pv(pv)
    plugin = manager.find(spec)
    mapper = plugin.new_block_mapper(spec, pod(UID_A))  # type: ignore[attr-defined]
    device = mapper.set_up_device("")
    assert losetup_backing(device) == os.path.realpath(handle.path)
    mapper.map_pod_device(device)
    unmapper = plugin.new_block_unmapper("pvc-4", UID_A)  # type: ignore[attr-defined]
    unmapper.unmap_pod_device()
    unmapper.tear_down_device()
    assert leftovers(state) == ([], [])


def test_tmpfs_and_shared_volumes(env: tuple[Path, RealMounter, PluginManager, Pool]) -> None:
    state, mounter, manager, pool = env
    handle = pool.provision(backend="shared", name="pvc-5", size_bytes=MI)
    shared = {"metadata": {"name": "pvc-5"}, "spec": {"csi": {"driver": "rook-ceph.cephfs.csi.ceph.com",
                                                              "volumeHandle": handle.volume_id,
                                                              "volumeAttributes": handle.to_attributes()},
                                                      "accessModes": ["ReadWriteMany"]}}
    memory = Spec.from_volume({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}})
    specs = [Spec.from_pv(shared), memory]
    paths = {}
    for uid in (UID_A, UID_B):
        for spec in specs:
            mounter_ = manager.find(spec).new_mounter(spec, pod(uid))
            mounter_.set_up()
            paths[(uid, spec.name)] = mounter_.path
    (paths[(UID_A, "pvc-5")] / "registry").write_text("blob")
    assert (paths[(UID_B, "pvc-5")] / "registry").read_text() == "blob"  # one directory, two pods
    shm = paths[(UID_A, "shm")]
    assert findmnt(shm)["fstype"] == "tmpfs"
    assert mounter.statvfs(shm).capacity_bytes == 8 * MI
    for (uid, name), path in paths.items():
        plugin = manager.find(specs[0] if name == "pvc-5" else memory)
        plugin.new_unmounter(name, uid).tear_down()
        assert not path.exists()
    assert (state / "pool" / "shared" / "pvc-5" / "registry").read_text() == "blob"
    assert leftovers(state) == ([], [])
