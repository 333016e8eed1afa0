"""CSI and in-tree volume sources served by the emulated pool (Kubernetes' `pkg/volume/csi`
and the in-tree plugins, read for behaviour).

Design:
- One `PoolPlugin` per Kubernetes plugin name: `kubernetes.io/csi` for `csi:` sources, and one
  per in-tree source (`rbd` → `kubernetes.io/rbd`, `nfs` → `kubernetes.io/nfs`, ...), so the
  pod volume dir (`kubernetes.io~csi/<pv>`, as in the seed) and the `volume_plugin` metric
  label are Kubernetes' own. Which backend serves a volume is the driver mapping's answer
  (`DriverMap.for_volume_source`, configs/drivers.yaml), per volume, as Kubernetes' CSI plugin
  asks each driver whether it needs attaching:
  * `block` — attach: a loop device for the pool image (`losetup`), recorded per node under
    `nodes/<node>/attachments/`, so a volume attached to two nodes (RWX Block) is detached
    from the machine only when the last node lets go; mount_device: `mkfs.ext4` only when
    blank, then mount at `kubelet/plugins/<plugin>/mounts/<pv>`; set_up: bind that into the
    pod dir (read-only when asked); volumeMode Block: the device handed to the pod
    (common.DeviceMapper); node expansion: `losetup -c` + `resize2fs`.
  * `shared` — no attach, no device: set_up binds the pool directory into the pod dir, on any
    node (RWX / ROX: NFS, CephFS, EFS).
  * `local` — a directory on this node (a CSI driver mapped to local): bound like shared.
- The volume behind a PV: the pool handle the PV carries (`handle_from_pv`), checked by the
  pool before use (a forged path is Unsafe). A PV kstore did not provision (made by hand with
  an `nfs:` or `rbd:` source, as real manifests have) gets a pool volume named after the PV
  and sized from its capacity, made on first use: the admin's disk, emulated. A provisioned
  volume that is gone is NotFound (deleted under its PV): it is never silently re-made.
- Inline pod sources (`nfs:` in a pod) are served when their backend is shared: the directory
  `pool/shared/inline-<source>-<hash of the source>`, so every pod naming the same export shares
  it. Inline block sources and CSI ephemeral inline volumes are refused (Invalid) with a hint:
  a PersistentVolumeClaim or a generic ephemeral volume does the same.
- Names an external provisioner serves are not emulated: Kubernetes' "driver name ... not
  found in the list of registered CSI drivers".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

from kstore.api.quantity import QuantityError, to_bytes
from kstore.controllers.pv.model import Driver
from kstore.observe.metrics import time_operation
from kstore.volume.handle import BLOCK, LOCAL, SHARED, VolumeHandle
from kstore.volume.mount import BUSY, EXT4, FAILED, INVALID, NOT_FOUND, TIMEOUT, MountError
from kstore.volume.plugins.base import (
    AttachablePlugin,
    Attacher,
    BlockMappablePlugin,
    BlockVolumeMapper,
    BlockVolumeUnmapper,
    Detacher,
    DeviceMountablePlugin,
    DeviceMounter,
    DeviceUnmounter,
    NodeExpandablePlugin,
    NodeExpander,
    Obj,
    Spec,
    VolumeHost,
    VolumeMounter,
    VolumePlugin,
    VolumeUnmounter,
    plain_name,
    pod_uid,
)
from kstore.volume.plugins.common import (
    BindMounter,
    BindUnmounter,
    DeviceMapper,
    DeviceUnmapper,
    pool_error,
    remove_mount_dir,
    volume_lock,
    write_json,
)
from kstore.volume.pool import Pool, PoolError
from kstore.volume.pv_source import DEFAULT_FSTYPE, handle_from_pv

CSI_PLUGIN = "kubernetes.io/csi"
DEFAULT_SIZE = 1 << 30  # a volume made on first use for a PV without capacity, or an inline source


@dataclasses.dataclass(frozen=True)
class PoolVolume:
    """What serves one volume spec."""

    driver: Driver
    backend: str
    handle: VolumeHandle
    provisioned: bool  # made by kstore's provisioner; False: made on first use here
    fstype: str
    mount_options: tuple[str, ...]
    read_only_device: bool  # the PV source's own readOnly: mount the device read-only


class PoolPlugin(VolumePlugin, AttachablePlugin, DeviceMountablePlugin, BlockMappablePlugin, NodeExpandablePlugin):
    def __init__(self, host: VolumeHost, name: str, source_key: str) -> None:
        super().__init__(host)
        self.name = name
        self.source_key = source_key
        self.pool = Pool(host.state_dir)

    def can_support(self, spec: Spec) -> bool:
        return spec.source_of(self.source_key) is not None

    # ---- which backend, which pool volume

    def driver(self, spec: Spec) -> Driver:
        source = dict(spec.source)
        assert self.host.drivers is not None
        driver = self.host.drivers.for_volume_source(source)
        if driver is None:
            raise MountError(INVALID, f"volume {spec.name}: its {self.source_key} source names no driver")
        if driver.external:
            raise MountError(NOT_FOUND, f"volume {spec.name}: driver name {driver.name} not found in the list of "
                                        "registered CSI drivers (it is configured as external: not emulated)")
        if spec.pv is None:
            if self.source_key == "csi":
                raise MountError(INVALID, f"volume {spec.name}: CSI ephemeral inline volumes (driver "
                                          f"{driver.name}) are not emulated; use a generic ephemeral volume "
                                          "(ephemeral.volumeClaimTemplate) or a PersistentVolumeClaim")
            if driver.backend != SHARED:
                raise MountError(INVALID, f"volume {spec.name}: inline {self.source_key} volumes are served by the "
                                          f"{driver.backend} backend only through PersistentVolumes; use a "
                                          "PersistentVolumeClaim")
        return driver

    def backend(self, spec: Spec) -> str:
        return self.driver(spec).backend

    def resolve(self, spec: Spec) -> PoolVolume:
        driver = self.driver(spec)
        backend = driver.backend
        source = spec.source_of(self.source_key) or {}
        handle = handle_from_pv(spec.pv, state_dir=self.host.state_dir) if spec.pv is not None else None
        provisioned = handle is not None
        if handle is not None and handle.backend != backend:
            raise MountError(INVALID, f"volume {spec.name}: its PV names a {handle.backend} volume, but driver "
                                      f"{driver.name} is served by {backend}")
        if handle is None:
            handle = self._made_on_first_use(spec, backend, source)
        spec_obj = spec.pv.get("spec") if spec.pv is not None else {}
        options = tuple(str(o) for o in (spec_obj or {}).get("mountOptions") or ())
        return PoolVolume(driver=driver, backend=backend, handle=handle, provisioned=provisioned,
                          fstype=str(source.get("fsType") or DEFAULT_FSTYPE), mount_options=options,
                          read_only_device=bool(source.get("readOnly")))

    def _made_on_first_use(self, spec: Spec, backend: str, source: Obj) -> VolumeHandle:
        if spec.pv is not None:
            name = spec.name
            try:
                size = to_bytes(((spec.pv.get("spec") or {}).get("capacity") or {}).get("storage"))
            except (QuantityError, TypeError):
                size = DEFAULT_SIZE
        else:
            digest = hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()[:16]
            name, size = f"inline-{self.source_key.lower()}-{digest}", DEFAULT_SIZE
        node = self.host.node if backend == LOCAL else None
        if backend == LOCAL and node is None:
            node = "unknown"  # only a node uses a local volume; the controller never gets here
        try:
            path = self.pool.path_for(backend, name, node)
        except PoolError as e:
            raise pool_error(e) from e
        return VolumeHandle(backend, name, path, max(size, 1), node if backend == LOCAL else None)

    def ensure(self, vol: PoolVolume, spec: Spec) -> Path:
        """The volume's path, made now when this is its first use (see the module docstring)."""
        handle = vol.handle
        try:
            if self.pool.exists(handle):
                return handle.path
            if vol.provisioned:
                raise MountError(NOT_FOUND, f"volume {handle.volume_id} no longer exists in the pool ({handle.path}): "
                                            "it was deleted under its PersistentVolume")
            self.pool.provision(backend=handle.backend, name=handle.name, size_bytes=handle.size, node=handle.node,
                                volume_mode=spec.volume_mode)
        except PoolError as e:
            raise pool_error(e) from e
        return handle.path

    # ---- identity

    def volume_name(self, spec: Spec) -> str:
        vol = self.resolve(spec)
        return f"{vol.driver.name}^{vol.handle.volume_id}"

    def metric_label(self, spec: Spec | None = None) -> str:
        if self.name == CSI_PLUGIN and spec is not None:
            driver = (spec.source_of("csi") or {}).get("driver")
            if isinstance(driver, str) and driver:
                return driver  # plugin_label makes it kubernetes.io/csi:<driver>, as Kubernetes does
        return self.name

    def can_attach(self, spec: Spec) -> bool:
        return spec.pv is not None and self.backend(spec) == BLOCK

    def can_device_mount(self, spec: Spec) -> bool:
        return self.can_attach(spec) and not spec.is_block

    def requires_fs_resize(self, spec: Spec) -> bool:
        return self.can_attach(spec)

    def device_mount_path(self, spec: Spec) -> Path:
        return self.host.plugin_dir(self.name) / "mounts" / plain_name(spec.name, "volume name")

    # ---- factories

    def new_attacher(self) -> Attacher:
        return _Attacher(self)

    def new_detacher(self) -> Detacher:
        return _Detacher(self)

    def new_device_mounter(self) -> DeviceMounter:
        return _DeviceMounter(self)

    def new_device_unmounter(self) -> DeviceUnmounter:
        return _DeviceUnmounter(self)

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        if spec.is_block:
            raise MountError(INVALID, f"volume {spec.name} is volumeMode Block: map it (new_block_mapper), "
                                      "it has no filesystem to mount")
        path = self.host.pod_volume_dir(pod_uid(pod), self.name, spec.name)

        def source() -> Path:
            vol = self.resolve(spec)
            if vol.backend == BLOCK:
                global_path = self.device_mount_path(spec)
                if not self.host.mounter.is_mount_point(global_path):
                    raise MountError(FAILED, f"volume {vol.handle.volume_id}: its device is not mounted at "
                                             f"{global_path} (mount_device first)")
                return global_path
            found = self.ensure(vol, spec)
            if not found.is_dir():
                raise MountError(INVALID, f"volume {vol.handle.volume_id}: {found} is an image, not a directory: "
                                          "a Filesystem volume of the block kind needs its device mounted")
            return found

        return BindMounter(self, spec, path, source, read_only=spec.is_read_only(self.source_key))

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return BindUnmounter(self, self.host.pod_volume_dir(pod_uid, self.name, volume_name))

    def new_block_mapper(self, spec: Spec, pod: Obj) -> BlockVolumeMapper:
        if not spec.is_block:
            raise MountError(INVALID, f"volume {spec.name} is volumeMode Filesystem: mount it, do not map it")
        backend = self.backend(spec)
        if backend == SHARED:
            raise MountError(INVALID, f"volume {spec.name}: a shared volume is a directory and cannot be "
                                      "volumeMode Block")

        def image() -> Path:
            return self.ensure(self.resolve(spec), spec)

        return DeviceMapper(self, spec, pod_uid(pod), spec.name, image, attach_here=backend == LOCAL)

    def new_block_unmapper(self, volume_name: str, pod_uid: str) -> BlockVolumeUnmapper:
        return DeviceUnmapper(self, pod_uid, volume_name)

    def new_node_expander(self) -> NodeExpander:
        return _NodeExpander(self)

    # ---- attachment records

    def attached_nodes(self, name: str) -> list[str]:
        nodes_root = self.host.state_dir / "nodes"
        marker = f"{BLOCK}~{plain_name(name, 'volume')}"
        try:
            nodes = sorted(os.listdir(nodes_root))
        except FileNotFoundError:
            return []
        return [n for n in nodes if (nodes_root / n / "attachments" / marker).exists()]


def _split_volume_name(volume_name: str) -> tuple[str, str, str]:
    """`<driver>^<backend>/<name>` → (driver, backend, name)."""
    driver, _, volume_id = volume_name.rpartition("^")
    backend, _, name = volume_id.partition("/")
    if not backend or not name:
        raise MountError(INVALID, f"volume name {volume_name!r} is not <driver>^<backend>/<name>")
    return driver, backend, name


class _Attacher(Attacher):
    def __init__(self, plugin: PoolPlugin) -> None:
        self.plugin = plugin

    def attach(self, spec: Spec, node: str) -> str:
        plugin, host = self.plugin, self.plugin.host
        with plugin.timer("volume_attach", spec):
            vol = plugin.resolve(spec)
            if vol.backend != BLOCK or spec.pv is None:
                return ""
            marker = host.attachment_marker(node, BLOCK, vol.handle.name)
            with volume_lock(host, BLOCK, vol.handle.name):
                image = plugin.ensure(vol, spec)
                device = host.mounter.attach_loop(image)
                marker.parent.mkdir(parents=True, exist_ok=True)
                write_json(marker, {"device": device, "image": str(image), "volume": plugin.volume_name(spec),
                                    "attached": time.time()})
            return device

    def is_attached(self, spec: Spec, node: str) -> bool:
        plugin, host = self.plugin, self.plugin.host
        vol = plugin.resolve(spec)
        if vol.backend != BLOCK:
            return True
        if not host.attachment_marker(node, BLOCK, vol.handle.name).exists():
            return False
        return host.mounter.find_loop(vol.handle.path) is not None


class _Detacher(Detacher):
    def __init__(self, plugin: PoolPlugin) -> None:
        self.plugin = plugin

    def detach(self, volume_name: str, node: str) -> None:
        plugin, host = self.plugin, self.plugin.host
        driver, backend, name = _split_volume_name(volume_name)
        label = driver if plugin.name == CSI_PLUGIN and driver else plugin.name
        with time_operation(label, "volume_detach"):
            if backend != BLOCK:
                return
            try:
                image = plugin.pool.path_for(BLOCK, name)
            except PoolError as e:
                raise pool_error(e) from e
            marker = host.attachment_marker(node, BLOCK, name)
            with volume_lock(host, BLOCK, name):
                if any(n != node for n in plugin.attached_nodes(name)):
                    marker.unlink(missing_ok=True)  # another node still has it: keep the device
                    return
                for loop in host.mounter.loops_backing(image):
                    host.mounter.detach_loop(loop.device)
                marker.unlink(missing_ok=True)


class _DeviceMounter(DeviceMounter):
    def __init__(self, plugin: PoolPlugin) -> None:
        self.plugin = plugin

    def wait_for_attach(self, spec: Spec, device_path: str, timeout: float) -> str:
        plugin, mounter = self.plugin, self.plugin.host.mounter
        vol = plugin.resolve(spec)
        if vol.backend != BLOCK:
            return device_path
        image = Path(os.path.realpath(vol.handle.path))
        deadline = time.monotonic() + timeout
        while True:
            if device_path:
                backing = mounter.loop_backing_file(device_path)
                if backing is not None and Path(os.path.realpath(backing)) == image:
                    return device_path
            found = mounter.find_loop(image)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise MountError(TIMEOUT, f"volume {vol.handle.volume_id} is not attached to node {plugin.host.node}: "
                                          f"no loop device backs {image} (waited {timeout:g}s)")
            time.sleep(0.05)

    def device_mount_path(self, spec: Spec) -> Path:
        return self.plugin.device_mount_path(spec)

    def mount_device(self, spec: Spec, device_path: str, device_mount_path: Path) -> None:
        plugin, mounter = self.plugin, self.plugin.host.mounter
        vol = plugin.resolve(spec)
        if vol.backend != BLOCK or spec.is_block:
            return
        current = mounter.mount_at(device_mount_path) if mounter.is_mount_point(device_mount_path) else None
        if current is not None:
            if current.source != device_path:
                raise MountError(FAILED, f"{device_path} cannot be mounted at {device_mount_path}: "
                                         f"{current.source} is mounted there")
            return
        created = not os.path.lexists(device_mount_path)
        try:
            # formatted now: ext4, the only filesystem the mounters make; else ask blkid what is there
            formatted = mounter.ensure_filesystem(device_path, vol.fstype)
            fstype = EXT4 if formatted else (mounter.filesystem_type(device_path) or DEFAULT_FSTYPE)
            options = list(vol.mount_options) + (["ro"] if vol.read_only_device else [])
            mounter.mount(device_path, device_mount_path, fstype, options)
        except BaseException:
            if created and os.path.isdir(device_mount_path) and not mounter.is_mount_point(device_mount_path):
                try:
                    os.rmdir(device_mount_path)
                except OSError:
                    pass
            raise


class _DeviceUnmounter(DeviceUnmounter):
    def __init__(self, plugin: PoolPlugin) -> None:
        self.plugin = plugin

    def unmount_device(self, device_mount_path: Path) -> None:
        plugin, host = self.plugin, self.plugin.host
        with plugin.timer("unmount_device"):
            if not os.path.lexists(device_mount_path):
                return
            if host.mounter.is_mount_point(device_mount_path):
                refs = host.mounter.mount_refs(device_mount_path)
                if refs:
                    raise MountError(BUSY, f'the device mount path "{device_mount_path}" is still mounted by other '
                                             f"references {[str(r) for r in refs]}")
            remove_mount_dir(host.mounter, host, device_mount_path)


class _NodeExpander(NodeExpander):
    def __init__(self, plugin: PoolPlugin) -> None:
        self.plugin = plugin

    def expand(self, spec: Spec, device_path: str, device_mount_path: Path | None) -> int:
        plugin, mounter = self.plugin, self.plugin.host.mounter
        with plugin.timer("volume_fs_resize", spec):
            vol = plugin.resolve(spec)
            if vol.backend != BLOCK:
                return 0
            device = device_path or mounter.find_loop(vol.handle.path)
            if not device:
                raise MountError(NOT_FOUND, f"volume {vol.handle.volume_id} is not attached: nothing to expand")
            mounter.refresh_loop_capacity(device)
            if spec.is_block:
                return mounter.device_size(device)
            mounter.resize_filesystem(device)
            if device_mount_path is not None and mounter.is_mount_point(device_mount_path):
                return mounter.statvfs(device_mount_path).capacity_bytes
            return mounter.device_size(device)

