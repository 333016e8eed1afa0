"""Reconstruction: the actual state rebuilt from disk when the kubelet starts (Kubernetes'
`reconciler/reconstruct_new.go`, read for behaviour), so a kubelet killed with `kill -9`
comes back without mounting anything twice and without leaking what its gone pods had.

Design:
- `scan()` (blocking, on a thread, before the kubelet serves) reads this node's directories
  and the mount table (or the simulated records): pod volume dirs
  `kubelet/pods/<uid>/volumes/<plugin dir>/<name>` and device links
  `.../volumeDevices/<plugin dir>/<name>`, global device mounts
  `kubelet/plugins/<plugin>/mounts/<name>`, and the CRI step's bind mounts under
  `containers/<uid>/`. It changes nothing.
- `Reconstruction.adopt()` (pure, every reconciler pass until nothing is left) matches what
  was found with the DesiredStateOfWorld, once the populator has run:
  * a pod volume some desired (volume, pod) names — same pod, plugin dir and name — is
    adopted: the volume marked attached (device path from the global mount or device link),
    its device mounted when the global mount is there, the pod's mount recorded with
    `mounted_at = RECONSTRUCTED`, which makes the reconciler run the (idempotent) set_up once
    to confirm it: nothing is mounted twice, and the mounter's path and read-only flag are
    current again;
  * a pod volume of a pod that is gone or terminating becomes an orphan in the actual state
    (name `reconstructed:<plugin>/<uid>/<name>`): the reconciler tears it down like any
    volume no longer desired;
  * a pod volume of a live pod that is not desired (yet: its claim not resolvable this pass)
    waits, so a transient populator error never tears down a running pod's volume.
  Global device mounts are added at once, under the volume's real unique name when its PV is
  known (so the node keeps reporting it in volumesInUse), marked device-mounted; the
  reconciler unmounts them once nothing uses or wants them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld, VolumeToMount
from kstore.kubelet.volumemanager.types import RECONSTRUCTED, PodUID, VolumeName
from kstore.observe.metrics import plugin_label
from kstore.volume.mount import Mounter, MountError, MountPoint
from kstore.volume.plugins.base import VolumeHost

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
FLEX_GLOBAL_PREFIX = "kubernetes.io/flexvolume/"


@dataclasses.dataclass(frozen=True)
class FoundPodVolume:
    pod_uid: PodUID
    plugin_dir: str  # `kubernetes.io~csi`, `vendor~driver`
    name: str  # the pod volume dir's name: the PV's name for a claim
    path: Path
    block: bool  # a volumeDevices link, not a volume dir
    device: str | None = None  # the link's target (block)


@dataclasses.dataclass(frozen=True)
class FoundDeviceMount:
    plugin_name: str  # `kubernetes.io/csi`, `flexvolume-vendor/driver`
    name: str
    path: Path
    device: str


@dataclasses.dataclass
class Found:
    pod_volumes: list[FoundPodVolume] = dataclasses.field(default_factory=list)
    device_mounts: list[FoundDeviceMount] = dataclasses.field(default_factory=list)
    container_mounts: dict[PodUID, list[MountPoint]] = dataclasses.field(default_factory=dict)

    def flex_drivers(self) -> set[str]:
        """FlexVolume drivers (`vendor/driver`) whose volumes were found."""
        drivers = {f.plugin_dir.replace("~", "/", 1) for f in self.pod_volumes
                   if "~" in f.plugin_dir and not f.plugin_dir.startswith("kubernetes.io~")}
        drivers.update(d.plugin_name.removeprefix("flexvolume-") for d in self.device_mounts
                       if d.plugin_name.startswith("flexvolume-"))
        return drivers

    def summary(self) -> str:
        return (f"{len(self.pod_volumes)} pod volumes, {len(self.device_mounts)} device mounts, "
                f"{sum(len(m) for m in self.container_mounts.values())} container mounts of "
                f"{len(self.container_mounts)} pods")


def _entries(directory: Path) -> list[str]:
    try:
        return sorted(e for e in os.listdir(directory) if not e.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def plugin_name_of_global_dir(relative: str) -> str:
    """`kubernetes.io/csi` stays; `kubernetes.io/flexvolume/vendor/driver` → `flexvolume-vendor/driver`."""
    if relative.startswith(FLEX_GLOBAL_PREFIX):
        return "flexvolume-" + relative.removeprefix(FLEX_GLOBAL_PREFIX)
    return relative


def scan(host: VolumeHost, mounter: Mounter, containers_dir: Path) -> Found:
    """What this node's directories and mounts hold now. Blocking; changes nothing."""
    found = Found()
    pods_dir = host.kubelet_dir() / "pods"
    for uid in _entries(pods_dir):
        for plugin_dir in _entries(pods_dir / uid / "volumes"):
            for name in _entries(pods_dir / uid / "volumes" / plugin_dir):
                found.pod_volumes.append(FoundPodVolume(PodUID(uid), plugin_dir, name,
                                                        pods_dir / uid / "volumes" / plugin_dir / name, block=False))
        for plugin_dir in _entries(pods_dir / uid / "volumeDevices"):
            for name in _entries(pods_dir / uid / "volumeDevices" / plugin_dir):
                link = pods_dir / uid / "volumeDevices" / plugin_dir / name
                device = os.readlink(link) if os.path.islink(link) else None
                found.pod_volumes.append(FoundPodVolume(PodUID(uid), plugin_dir, name, link, block=True, device=device))
    plugins_dir = host.kubelet_dir() / "plugins"
    try:
        plugin_mounts = mounter.mounts_under(plugins_dir) if plugins_dir.exists() else []
    except MountError as e:
        log.warning("reconstruct: cannot list mounts under %s: %s", plugins_dir, e)
        plugin_mounts = []
    root = Path(os.path.realpath(plugins_dir))
    for m in plugin_mounts:
        try:
            parts = m.target.relative_to(root).parts
        except ValueError:
            continue
        if len(parts) >= 3 and parts[-2] == "mounts":
            found.device_mounts.append(FoundDeviceMount(plugin_name_of_global_dir("/".join(parts[:-2])), parts[-1],
                                                        plugins_dir.joinpath(*parts), m.source))
    try:
        container_mounts = mounter.mounts_under(containers_dir) if containers_dir.exists() else []
    except MountError as e:
        log.warning("reconstruct: cannot list mounts under %s: %s", containers_dir, e)
        container_mounts = []
    croot = Path(os.path.realpath(containers_dir))
    for m in container_mounts:
        try:
            uid = PodUID(m.target.relative_to(croot).parts[0])
        except (ValueError, IndexError):
            continue
        found.container_mounts.setdefault(uid, []).append(m)
    return found


def orphan_name(plugin_name: str, uid: str, name: str) -> VolumeName:
    return VolumeName(f"reconstructed:{plugin_name}/{uid}/{name}")


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """What reconstruction needs to know of a plugin (looked up by the volume manager)."""

    name: str
    dir_name: str


class Reconstruction:
    """What `scan()` found and has not been matched yet; see the module docstring."""

    def __init__(self, found: Found) -> None:
        self.pending = list(found.pod_volumes)
        self.device_mounts = list(found.device_mounts)
        self._device_names: dict[tuple[str, str], VolumeName] = {}  # (plugin, volume) → its name in the actual state

    @property
    def done(self) -> bool:
        return not self.pending and not self.device_mounts

    def adopt(
        self, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, *, live: Callable[[PodUID], bool],
        plugin_by_dir: Callable[[str], PluginInfo | None], plugin_by_name: Callable[[str], PluginInfo | None],
        global_volume: Callable[[FoundDeviceMount], tuple[VolumeName, bool, Any] | None],
    ) -> list[PodUID]:
        """Match what was found (see the module docstring). `global_volume` answers a device
        mount's (unique name, attachable, spec) from its PV, None when unknown. Returns the pods
        whose volumes were adopted or orphaned."""
        touched: list[PodUID] = []
        desired: dict[tuple[PodUID, str, str, bool], VolumeToMount] = {}
        for volume in dsw.get_volumes_to_mount():
            info = plugin_by_name(volume.plugin_name)
            if info is not None:
                desired[(volume.pod_uid, info.dir_name, volume.spec_name, volume.block)] = volume
        device_mounts = {(d.plugin_name, d.name): d for d in self.device_mounts}

        # device mounts first: adopted pod volumes find their volume attached and device-mounted
        for d in list(self.device_mounts):
            info = plugin_by_name(d.plugin_name)
            if info is None:
                log.warning("reconstruct: device mount %s: no plugin %s; leaving it", d.path, d.plugin_name)
                self.device_mounts.remove(d)
                continue
            known = global_volume(d)
            name, attachable, spec = known if known is not None else (orphan_name(d.plugin_name, "global", d.name),
                                                                      False, None)
            asw.mark_volume_attached(name, plugin_name=info.name, metric_plugin=plugin_label(info.name), spec=spec,
                                     dir_name=d.name, device_path=d.device, attachable=attachable,
                                     device_mountable=True)
            asw.mark_device_mounted(name, device_path=d.device, device_mount_path=d.path)
            self._device_names[(info.name, d.name)] = name
            self.device_mounts.remove(d)

        for f in list(self.pending):
            volume = desired.get((f.pod_uid, f.plugin_dir, f.name, f.block))
            if volume is not None:
                self._adopt(asw, volume, f, device_mounts)
            elif not live(f.pod_uid):
                info = plugin_by_dir(f.plugin_dir)
                if info is None:
                    log.warning("reconstruct: %s: no plugin serves %s; leaving it", f.path, f.plugin_dir)
                else:
                    # under its device's volume when it has one: the device is unmounted only after it
                    name = self._device_names.get((info.name, f.name)) or orphan_name(info.name, f.pod_uid, f.name)
                    asw.mark_volume_attached(name, plugin_name=info.name, metric_plugin=plugin_label(info.name),
                                             spec=None, dir_name=f.name, device_path=f.device or "",
                                             block=f.block)
                    if f.block:
                        asw.mark_device_mounted(name, device_path=f.device or "", device_mount_path=None)
                    asw.mark_pod_mounted(name, f.pod_uid, dir_name=f.name, path=f.path, read_only=False,
                                         now=RECONSTRUCTED, block=f.block, device=f.device)
                    log.info("reconstruct: %s belongs to pod %s, which is gone: tearing it down", f.path, f.pod_uid)
            else:
                continue  # a live pod's volume not desired yet: wait
            self.pending.remove(f)
            touched.append(f.pod_uid)
        return touched

    @staticmethod
    def _adopt(asw: ActualStateOfWorld, volume: VolumeToMount, f: FoundPodVolume,
               device_mounts: dict[tuple[str, str], FoundDeviceMount]) -> None:
        current = asw.get_volume(volume.volume_name)
        device = f.device or ""
        global_mount = device_mounts.get((volume.plugin_name, volume.spec_name))
        if current is None:
            asw.mark_volume_attached(
                volume.volume_name, plugin_name=volume.plugin_name, metric_plugin=volume.metric_plugin,
                spec=volume.spec, dir_name=volume.spec_name,
                device_path=global_mount.device if global_mount is not None else device,
                attachable=volume.attachable, device_mountable=volume.device_mountable, block=volume.block)
        if volume.block and f.device:
            asw.mark_device_mounted(volume.volume_name, device_path=f.device, device_mount_path=None)
        asw.mark_pod_mounted(volume.volume_name, volume.pod_uid, dir_name=f.name, path=f.path, read_only=False,
                             now=RECONSTRUCTED, block=volume.block, device=f.device, outer_names=volume.outer_names)
        log.info("reconstruct: %s adopted for pod %s (%s)", f.path, volume.pod_uid, volume.volume_name)
