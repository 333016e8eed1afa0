"""The volume manager's operations: what runs on the executor's threads (Kubernetes'
`operation_generator.go`: GenerateMountVolumeFunc, GenerateUnmountVolumeFunc,
GenerateUnmountDeviceFunc, the map/unmap and node-expand functions, read for behaviour).

Each function blocks (plugins run losetup, mkfs, mount, FlexVolume drivers ...), never
raises, and returns an `OpResult`: the marks to apply to the ActualStateOfWorld on the event
loop — also for the steps that succeeded before a later one failed (a device mounted before
set_up failed stays recorded as mounted) — the events to record, and the error.

Event texts are Kubernetes' (`<Operation> failed for volume "<spec name>" : <error>`, reason
FailedMount / FailedMapVolume), the spec name being the PV's name for a claim and the pod
volume's name otherwise, as `volume.VolumeSpec.Name()`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld, AttachedVolume, MountedVolume
from kstore.kubelet.volumemanager.desired import VolumeToMount
from kstore.volume.plugins.base import (
    BlockMappablePlugin,
    DeviceMountablePlugin,
    NodeExpandablePlugin,
    VolumePlugin,
)

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
Mark = Callable[[ActualStateOfWorld], None]
NO_POD = "none"  # a plain name for unmappers that act on the whole volume, not one pod


@dataclasses.dataclass(frozen=True)
class Event:
    obj: Obj
    type: str
    reason: str
    message: str


@dataclasses.dataclass
class OpResult:
    marks: list[Mark] = dataclasses.field(default_factory=list)
    events: list[Event] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def apply(self, asw: ActualStateOfWorld) -> None:
        for mark in self.marks:
            mark(asw)


def _fail(result: OpResult, obj: Obj | None, reason: str, operation: str, name: str, err: BaseException) -> OpResult:
    result.error = f'{operation} failed for volume "{name}" : {err}'
    if obj is not None:
        result.events.append(Event(obj, "Warning", reason, result.error))
    return result


def mount_volume(plugin: VolumePlugin, volume: VolumeToMount, attached: AttachedVolume, *, now: Callable[[], float],
                 wait_timeout: float, delay: float = 0.0) -> OpResult:
    """Wait for attach and mount the device (first pod only), then set up the pod's dir — or,
    for volumeMode Block, stage the device and map it into the pod."""
    result = OpResult()
    spec, pod, name = volume.spec, volume.pod, volume.spec_name
    if delay > 0:
        time.sleep(delay)  # the driver mapping's latency profile for `mount`
    device = attached.device_path
    if volume.block:
        if not isinstance(plugin, BlockMappablePlugin):
            return _fail(result, pod, "FailedMapVolume", "MapVolume.SetUpDevice", name,
                         ValueError(f"plugin {plugin.name} cannot map block volumes"))
        try:
            if volume.attachable and isinstance(plugin, DeviceMountablePlugin):
                device = plugin.new_device_mounter().wait_for_attach(spec, device, wait_timeout)
        except Exception as e:
            return _fail(result, pod, "FailedMapVolume", "MapVolume.WaitForAttach", name, e)
        try:
            mapper = plugin.new_block_mapper(spec, pod)
            staged = mapper.set_up_device(device)
        except Exception as e:
            return _fail(result, pod, "FailedMapVolume", "MapVolume.SetUpDevice", name, e)
        global_map = mapper.global_map_path
        result.marks.append(lambda asw: asw.mark_device_mounted(volume.volume_name, device_path=staged,
                                                                device_mount_path=global_map))
        try:
            link = mapper.map_pod_device(staged)
        except Exception as e:
            return _fail(result, pod, "FailedMapVolume", "MapVolume.MapPodDevice", name, e)
        mounted_at = now()
        result.marks.append(lambda asw: asw.mark_pod_mounted(
            volume.volume_name, volume.pod_uid, dir_name=name, path=link, read_only=spec.read_only, now=mounted_at,
            block=True, device=staged, outer_names=volume.outer_names))
        return result

    if volume.device_mountable and not attached.device_mounted and isinstance(plugin, DeviceMountablePlugin):
        device_mounter = plugin.new_device_mounter()
        try:
            device = device_mounter.wait_for_attach(spec, device, wait_timeout)
        except Exception as e:
            return _fail(result, pod, "FailedMount", "MountVolume.WaitForAttach", name, e)
        mount_path = device_mounter.device_mount_path(spec)
        try:
            device_mounter.mount_device(spec, device, mount_path)
        except Exception as e:
            return _fail(result, pod, "FailedMount", "MountVolume.MountDevice", name, e)
        mounted_device = device
        result.marks.append(lambda asw: asw.mark_device_mounted(volume.volume_name, device_path=mounted_device,
                                                                device_mount_path=mount_path))
    try:
        mounter = plugin.new_mounter(spec, pod)
        mounter.set_up()
    except Exception as e:
        return _fail(result, pod, "FailedMount", "MountVolume.SetUp", name, e)
    path, read_only, mounted_at = mounter.path, bool(getattr(mounter, "read_only", False)), now()
    result.marks.append(lambda asw: asw.mark_pod_mounted(
        volume.volume_name, volume.pod_uid, dir_name=name, path=path, read_only=read_only, now=mounted_at,
        outer_names=volume.outer_names))
    return result


def unmount_volume(plugin: VolumePlugin, mounted: MountedVolume, *, delay: float = 0.0) -> OpResult:
    """Tear down (or unmap) the pod's volume dir."""
    result = OpResult()
    if delay > 0:
        time.sleep(delay)
    try:
        if mounted.block:
            if not isinstance(plugin, BlockMappablePlugin):
                raise ValueError(f"plugin {plugin.name} cannot unmap block volumes")
            plugin.new_block_unmapper(mounted.dir_name, mounted.pod_uid).unmap_pod_device()
        else:
            plugin.new_unmounter(mounted.dir_name, mounted.pod_uid).tear_down()
    except Exception as e:
        operation = "UnmapVolume.UnmapPodDevice" if mounted.block else "UnmountVolume.TearDown"
        result.error = (f'{operation} failed for volume "{mounted.dir_name}" (UniqueName: "{mounted.volume_name}") '
                        f'pod "{mounted.pod_uid}": {e}')
        return result
    result.marks.append(lambda asw: asw.mark_pod_unmounted(mounted.volume_name, mounted.pod_uid))
    return result


def unmount_device(plugin: VolumePlugin, attached: AttachedVolume) -> OpResult:
    """Unmount the global mount (or undo a Block volume's staging) once no pod uses it."""
    result = OpResult()
    try:
        if attached.block:
            if isinstance(plugin, BlockMappablePlugin):
                plugin.new_block_unmapper(attached.dir_name, NO_POD).tear_down_device()
        elif attached.device_mount_path is not None and isinstance(plugin, DeviceMountablePlugin):
            plugin.new_device_unmounter().unmount_device(attached.device_mount_path)
    except Exception as e:
        operation = "UnmapDevice" if attached.block else "UnmountDevice"
        result.error = f'{operation} failed for volume "{attached.dir_name}" (UniqueName: "{attached.volume_name}"): {e}'
        return result
    result.marks.append(lambda asw: asw.mark_device_unmounted(attached.volume_name))
    return result


def expand_volume(plugin: VolumePlugin, volume: VolumeToMount, attached: AttachedVolume, size: int, *,
                  node: str, claim: Obj | None) -> OpResult:
    """Grow the mounted filesystem to the device's new size (`losetup -c`, `resize2fs`)."""
    result = OpResult()
    name = volume.spec_name
    try:
        if isinstance(plugin, NodeExpandablePlugin) and plugin.requires_fs_resize(volume.spec):
            mount_path: Path | None = attached.device_mount_path
            plugin.new_node_expander().expand(volume.spec, attached.device_path, mount_path)
    except Exception as e:
        result.error = f'MountVolume.NodeExpandVolume failed for volume "{name}" : {e}'
        for obj in (volume.pod, claim):
            if obj is not None:
                result.events.append(Event(obj, "Warning", "FileSystemResizeFailed", result.error))
        return result
    message = f'MountVolume.NodeExpandVolume succeeded for volume "{name}" {node}'
    for obj in (volume.pod, claim):
        if obj is not None:
            result.events.append(Event(obj, "Normal", "FileSystemResizeSuccessful", message))
    result.marks.append(lambda asw: asw.mark_volume_expanded(volume.volume_name, size))
    return result
