"""The reconciler's decisions: compare the desired and the actual state, say what to do
(Kubernetes' `reconciler/reconciler_common.go`: unmountVolumes, unmountDetachDevices,
mountOrAttachVolumes, read for behaviour).

`plan()` is pure: no I/O, no awaits, no clock of its own. The volume manager runs it every
`periods.vm_reconcile` and carries the plan out in order: marks at once, operations through
the operation executor (one per volume at a time; "operation already pending" and "in
backoff" are expected and skip quietly).

Order, teardown before setup:
1. `UnmountVolume` for every pod mount no longer desired;
2. for attached volumes no pod has mounted and nobody wants: `UnmountDevice` while the device
   is mounted, then `MarkDetached` (the node stops listing it in volumesInUse; the
   attach/detach controller detaches) — never while an operation on the volume is pending;
3. for every desired (volume, pod): an attachable volume waits until the node has reported it
   in use and its VolumeAttachment says attached (`MarkAttached` with its device path); any
   other volume is attached at once; then `MountVolume` (wait for attach, mount the device at
   the global path when it is not yet, set up the pod's dir — or map a Block volume); a
   mounted volume whose plugin refreshes its contents (configMap, secret, ...) is mounted
   again every `remount_period`, and one found on disk at start-up once, to confirm it; a mounted volume whose claim waits for a node-side resize
   gets `ExpandVolume`, then `FinishResize` (the claim's status).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld, AttachedVolume, MountedVolume
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld, VolumeToMount
from kstore.kubelet.volumemanager.types import RECONSTRUCTED, VolumeName

REMOUNT_PERIOD = 60.0  # seconds between set_up refreshes of configMap / secret / projected volumes


@dataclasses.dataclass(frozen=True)
class UnmountVolume:
    volume: MountedVolume

    @property
    def key(self) -> VolumeName:
        return self.volume.volume_name


@dataclasses.dataclass(frozen=True)
class UnmountDevice:
    volume: AttachedVolume

    @property
    def key(self) -> VolumeName:
        return self.volume.volume_name


@dataclasses.dataclass(frozen=True)
class MarkDetached:
    volume_name: VolumeName


@dataclasses.dataclass(frozen=True)
class MarkAttached:
    volume: VolumeToMount
    device_path: str


@dataclasses.dataclass(frozen=True)
class MountVolume:
    volume: VolumeToMount
    remount: bool = False

    @property
    def key(self) -> VolumeName:
        return self.volume.volume_name


@dataclasses.dataclass(frozen=True)
class ExpandVolume:
    volume: VolumeToMount
    size: int  # bytes: the PV's capacity

    @property
    def key(self) -> VolumeName:
        return self.volume.volume_name


@dataclasses.dataclass(frozen=True)
class FinishResize:
    volume: VolumeToMount
    size: int


Operation = UnmountVolume | UnmountDevice | MarkDetached | MarkAttached | MountVolume | ExpandVolume | FinishResize


@dataclasses.dataclass
class Plan:
    operations: list[Operation]
    waiting_for_attach: list[VolumeToMount]  # attachable volumes not attached yet (event texts)


AttachmentLookup = Callable[[VolumeToMount], str | None]  # device path once attached, None before
ResizeLookup = Callable[[VolumeToMount], int | None]  # bytes the claim waits for on the node, None: nothing


def plan(
    dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, *, attachment: AttachmentLookup,
    pending: Callable[[VolumeName], bool], now: float, remount_period: float = REMOUNT_PERIOD,
    resize: ResizeLookup = lambda _v: None,
) -> Plan:
    ops: list[Operation] = []
    waiting: list[VolumeToMount] = []

    # OBSERVATION: mounted for a pod that no longer wants it (pod gone, terminated, volume dropped)
    for mounted in asw.get_mounted_volumes():
        if not dsw.pod_exists_in_volume(mounted.pod_uid, mounted.volume_name):
            ops.append(UnmountVolume(mounted))

    # OBSERVATION: attached, no pod mounts it, nobody wants it
    for attached in asw.get_unmounted_volumes():
        if dsw.volume_exists(attached.volume_name) or pending(attached.volume_name):
            continue
        if attached.device_mounted:
            ops.append(UnmountDevice(attached))
        else:
            ops.append(MarkDetached(attached.volume_name))

    for volume in dsw.get_volumes_to_mount():
        current = asw.get_volume(volume.volume_name)
        if current is None:
            if volume.attachable:
                # the safe-detach handshake: in volumesInUse first, then wait for the attachment
                device = attachment(volume) if volume.reported_in_use else None
                if device is None:
                    waiting.append(volume)
                    continue
                ops.append(MarkAttached(volume, device))
            else:
                ops.append(MarkAttached(volume, ""))
            ops.append(MountVolume(volume))
            continue
        mounted = asw.get_mounted_volume(volume.pod_uid, volume.volume_name)
        if mounted is None:
            ops.append(MountVolume(volume))
        elif mounted.mounted_at == RECONSTRUCTED or (
                volume.requires_remount and now - mounted.mounted_at >= remount_period):
            ops.append(MountVolume(volume, remount=True))
        elif not volume.block and current.device_mounted:
            size = resize(volume)
            if size is None:
                continue
            if current.expanded_to is None or current.expanded_to < size:
                ops.append(ExpandVolume(volume, size))
            else:
                ops.append(FinishResize(volume, size))
    return Plan(operations=ops, waiting_for_attach=waiting)


def volumes_in_use(dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> list[str]:
    """What the node reports in `status.volumesInUse` (Kubernetes' GetVolumesInUse): attachable
    volumes it wants and attachable volumes it still has, sorted, each once."""
    names = set(dsw.attachable_volumes())
    names.update(v.volume_name for v in asw.get_attached_volumes() if v.attachable)
    return sorted(names)
