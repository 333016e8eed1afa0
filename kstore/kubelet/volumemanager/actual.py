"""The kubelet's ActualStateOfWorld: which volumes this node has, as the reconciler's
operations found or made them (Kubernetes' `cache/actual_state_of_world.go`, read for
behaviour).

A small cache without I/O. A volume is "attached" here once the node may use it: an
attachable volume once its VolumeAttachment says `attached` (the device path comes from it),
any other volume at once. An attached volume can then be device-mounted (its filesystem at
the node's global path, or for volumeMode Block its device staged) and mounted for pods (set
up in each pod's volume dir). Teardown runs the other way: pods unmounted, device unmounted,
then the volume is marked detached (the attach/detach controller detaches for real once the
node stops listing it in volumesInUse).

Getters return frozen copies. `mark_*` verbs are idempotent; the docstrings say which are
no-ops. Only the volume manager's event-loop thread calls them (operations run on threads
but hand their outcome back as marks applied on the loop).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kstore.kubelet.volumemanager.types import PodUID, PodVolume, VolumeName
from kstore.volume.plugins.base import Spec


@dataclasses.dataclass(frozen=True)
class MountedVolume:
    """A volume set up for one pod."""

    volume_name: VolumeName
    pod_uid: PodUID
    plugin_name: str
    metric_plugin: str
    dir_name: str  # the pod volume dir's name (spec.name when it was set up): what tear_down needs
    path: Path
    read_only: bool
    block: bool
    device: str | None  # volumeMode Block: the mapped device
    mounted_at: float  # clock.now() of the last successful set_up (remounts refresh projected files)
    outer_names: tuple[str, ...] = ()

    def pod_volume(self) -> PodVolume:
        return PodVolume(outer_names=self.outer_names, path=self.path, read_only=self.read_only, device=self.device)


@dataclasses.dataclass(frozen=True)
class AttachedVolume:
    volume_name: VolumeName
    plugin_name: str
    metric_plugin: str
    spec: Spec | None  # None for a volume only found on disk (reconstructed, no longer desired)
    dir_name: str
    device_path: str
    device_mount_path: Path | None
    device_mounted: bool
    attachable: bool
    device_mountable: bool
    block: bool
    expanded_to: int | None  # bytes the node grew the filesystem to (None: not grown here)
    pods: tuple[PodUID, ...]


@dataclasses.dataclass
class _Mount:
    dir_name: str
    path: Path
    read_only: bool
    block: bool
    device: str | None
    mounted_at: float
    outer_names: tuple[str, ...]


@dataclasses.dataclass
class _Volume:
    plugin_name: str
    metric_plugin: str
    spec: Spec | None
    dir_name: str
    device_path: str
    attachable: bool
    device_mountable: bool
    block: bool
    device_mount_path: Path | None = None
    device_mounted: bool = False
    expanded_to: int | None = None
    pods: dict[PodUID, _Mount] = dataclasses.field(default_factory=dict)


class ActualStateOfWorld:
    def __init__(self) -> None:
        self._volumes: dict[VolumeName, _Volume] = {}

    # ---- writes

    def mark_volume_attached(
        self, volume_name: VolumeName, *, plugin_name: str, metric_plugin: str, spec: Spec | None, dir_name: str,
        device_path: str = "", attachable: bool = False, device_mountable: bool = False, block: bool = False,
    ) -> None:
        """Add the volume. If it is already there only an empty device path is filled in and a
        missing spec set: what was mounted stays as it is."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            self._volumes[volume_name] = _Volume(
                plugin_name=plugin_name, metric_plugin=metric_plugin, spec=spec, dir_name=dir_name,
                device_path=device_path, attachable=attachable, device_mountable=device_mountable, block=block)
            return
        if device_path and not volume.device_path:
            volume.device_path = device_path
        if volume.spec is None and spec is not None:
            volume.spec = spec

    def mark_volume_detached(self, volume_name: VolumeName) -> None:
        """Forget the volume. Refused (ValueError) while pods still have it mounted or its device
        is still mounted: those are torn down first. A no-op for an unknown volume."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            return
        if volume.pods or volume.device_mounted:
            raise ValueError(f"volume {volume_name}: cannot mark detached while it is mounted "
                             f"(pods {sorted(volume.pods)}, device mounted {volume.device_mounted})")
        del self._volumes[volume_name]

    def mark_device_mounted(self, volume_name: VolumeName, *, device_path: str, device_mount_path: Path | None) -> None:
        """A no-op for an unknown volume (it was never marked attached)."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            return
        volume.device_mounted = True
        volume.device_mount_path = device_mount_path
        if device_path:
            volume.device_path = device_path

    def mark_device_unmounted(self, volume_name: VolumeName) -> None:
        """A no-op for an unknown volume."""
        volume = self._volumes.get(volume_name)
        if volume is not None:
            volume.device_mounted = False

    def mark_pod_mounted(
        self, volume_name: VolumeName, pod_uid: PodUID, *, dir_name: str, path: Path, read_only: bool, now: float,
        block: bool = False, device: str | None = None, outer_names: tuple[str, ...] = (),
    ) -> None:
        """Record (or refresh, after a remount) the pod's mount. A no-op for a volume that is not
        attached."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            return
        volume.pods[pod_uid] = _Mount(dir_name=dir_name, path=path, read_only=read_only, block=block,
                                      device=device, mounted_at=now, outer_names=outer_names)

    def mark_pod_unmounted(self, volume_name: VolumeName, pod_uid: PodUID) -> None:
        """A no-op when the pod does not have the volume mounted."""
        volume = self._volumes.get(volume_name)
        if volume is not None:
            volume.pods.pop(pod_uid, None)

    def mark_volume_expanded(self, volume_name: VolumeName, size: int) -> None:
        """The node grew the volume's filesystem to `size` bytes. A no-op for an unknown volume."""
        volume = self._volumes.get(volume_name)
        if volume is not None:
            volume.expanded_to = size

    # ---- reads

    def volume_exists(self, volume_name: VolumeName) -> bool:
        return volume_name in self._volumes

    def get_volume(self, volume_name: VolumeName) -> AttachedVolume | None:
        volume = self._volumes.get(volume_name)
        return self._attached(volume_name, volume) if volume is not None else None

    def pod_exists_in_volume(self, pod_uid: PodUID, volume_name: VolumeName) -> bool:
        volume = self._volumes.get(volume_name)
        return volume is not None and pod_uid in volume.pods

    def get_mounted_volume(self, pod_uid: PodUID, volume_name: VolumeName) -> MountedVolume | None:
        volume = self._volumes.get(volume_name)
        if volume is None or pod_uid not in volume.pods:
            return None
        return self._mounted(volume_name, volume, pod_uid, volume.pods[pod_uid])

    def pod_has_mounted_volumes(self, pod_uid: PodUID) -> bool:
        return any(pod_uid in v.pods for v in self._volumes.values())

    def get_mounted_volumes(self) -> list[MountedVolume]:
        return [self._mounted(name, v, uid, m) for name, v in sorted(self._volumes.items())
                for uid, m in sorted(v.pods.items())]

    def get_mounted_volumes_for_pod(self, pod_uid: PodUID) -> list[MountedVolume]:
        return [self._mounted(name, v, pod_uid, v.pods[pod_uid]) for name, v in sorted(self._volumes.items())
                if pod_uid in v.pods]

    def get_attached_volumes(self) -> list[AttachedVolume]:
        return [self._attached(name, v) for name, v in sorted(self._volumes.items())]

    def get_unmounted_volumes(self) -> list[AttachedVolume]:
        """Attached volumes no pod has mounted (candidates for unmount_device and detach)."""
        return [self._attached(name, v) for name, v in sorted(self._volumes.items()) if not v.pods]

    @staticmethod
    def _mounted(name: VolumeName, v: _Volume, uid: PodUID, m: _Mount) -> MountedVolume:
        return MountedVolume(volume_name=name, pod_uid=uid, plugin_name=v.plugin_name, metric_plugin=v.metric_plugin,
                             dir_name=m.dir_name, path=m.path, read_only=m.read_only, block=m.block, device=m.device,
                             mounted_at=m.mounted_at, outer_names=m.outer_names)

    @staticmethod
    def _attached(name: VolumeName, v: _Volume) -> AttachedVolume:
        return AttachedVolume(volume_name=name, plugin_name=v.plugin_name, metric_plugin=v.metric_plugin, spec=v.spec,
                              dir_name=v.dir_name, device_path=v.device_path, device_mount_path=v.device_mount_path,
                              device_mounted=v.device_mounted, attachable=v.attachable,
                              device_mountable=v.device_mountable, block=v.block, expanded_to=v.expanded_to,
                              pods=tuple(sorted(v.pods)))
