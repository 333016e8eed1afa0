"""The kubelet's DesiredStateOfWorld: which volumes this node should have mounted, for which
pods (Kubernetes' `pkg/kubelet/volumemanager/cache/desired_state_of_world.go`, read for
behaviour).

A small cache without I/O, filled by the populator from this node's pods and read by the
reconciler. Volumes are keyed by their unique name (types.py); a volume lists the pods that
want it, each with the pod volume names (`outer_names`) its containers use. Getters return
frozen copies. Every verb is idempotent; where one is a no-op its docstring says so.

`reported_in_use`: an attachable volume may only be mounted once the node has posted it in
`status.volumesInUse` (the safe-detach handshake: the attach/detach controller never detaches
a volume the node lists there). The volume manager marks it after a successful post.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kstore.kubelet.volumemanager.types import PodUID, VolumeName
from kstore.volume.plugins.base import Spec

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class VolumeToMount:
    """One (volume, pod) pair the node should have mounted."""

    volume_name: VolumeName
    pod_uid: PodUID
    pod: Obj
    outer_names: tuple[str, ...]
    plugin_name: str
    metric_plugin: str  # the `plugin_name` label (kubernetes.io/csi:<driver> for CSI)
    spec: Spec
    attachable: bool
    device_mountable: bool
    block: bool  # volumeMode Block: mapped into the pod, not mounted
    requires_remount: bool
    reported_in_use: bool
    claim_key: str | None = None  # namespace/name of the PersistentVolumeClaim behind it
    pv_name: str | None = None

    @property
    def spec_name(self) -> str:
        """Kubernetes' volume.VolumeSpec.Name(): the PV's name, or the pod volume's."""
        return self.spec.name


@dataclasses.dataclass
class _PodEntry:
    pod: Obj
    outer_names: tuple[str, ...]
    spec: Spec
    requires_remount: bool
    claim_key: str | None
    pv_name: str | None


@dataclasses.dataclass
class _Volume:
    plugin_name: str
    metric_plugin: str
    attachable: bool
    device_mountable: bool
    block: bool
    reported_in_use: bool = False
    pods: dict[PodUID, _PodEntry] = dataclasses.field(default_factory=dict)


class DesiredStateOfWorld:
    def __init__(self) -> None:
        self._volumes: dict[VolumeName, _Volume] = {}
        self._pod_errors: dict[PodUID, list[str]] = {}

    # ---- writes

    def add_pod_to_volume(
        self, *, volume_name: VolumeName, pod_uid: PodUID, pod: Obj, outer_name: str, plugin_name: str,
        metric_plugin: str, spec: Spec, attachable: bool, device_mountable: bool, block: bool,
        requires_remount: bool = False, claim_key: str | None = None, pv_name: str | None = None,
    ) -> None:
        """Add the volume if new, and the pod to it. If the pod is already there, its pod object
        and spec are refreshed and `outer_name` is added to its names (a pod naming one claim
        twice mounts it once)."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            volume = _Volume(plugin_name=plugin_name, metric_plugin=metric_plugin, attachable=attachable,
                             device_mountable=device_mountable, block=block)
            self._volumes[volume_name] = volume
        entry = volume.pods.get(pod_uid)
        if entry is None:
            volume.pods[pod_uid] = _PodEntry(pod=pod, outer_names=(outer_name,), spec=spec,
                                             requires_remount=requires_remount, claim_key=claim_key, pv_name=pv_name)
            return
        entry.pod, entry.spec = pod, spec
        entry.claim_key, entry.pv_name = claim_key, pv_name
        if outer_name not in entry.outer_names:
            entry.outer_names = tuple(sorted((*entry.outer_names, outer_name)))

    def delete_pod_from_volume(self, pod_uid: PodUID, volume_name: VolumeName) -> None:
        """Remove the pod from the volume, and the volume once no pod wants it. A no-op when
        either is not there."""
        volume = self._volumes.get(volume_name)
        if volume is None:
            return
        volume.pods.pop(pod_uid, None)
        if not volume.pods:
            del self._volumes[volume_name]

    def delete_pod(self, pod_uid: PodUID) -> None:
        """Remove the pod from every volume, and its errors. A no-op for an unknown pod."""
        for name in [n for n, v in self._volumes.items() if pod_uid in v.pods]:
            self.delete_pod_from_volume(pod_uid, name)
        self._pod_errors.pop(pod_uid, None)

    def mark_volumes_reported_in_use(self, reported: Iterable[str]) -> None:
        """Set `reported_in_use` on exactly the volumes named (the node's last posted
        volumesInUse); the others are cleared."""
        names = set(reported)
        for name, volume in self._volumes.items():
            volume.reported_in_use = name in names

    def set_pod_errors(self, pod_uid: PodUID, errors: list[str]) -> None:
        """What the populator could not process for the pod (empty: nothing)."""
        if errors:
            self._pod_errors[pod_uid] = list(errors)
        else:
            self._pod_errors.pop(pod_uid, None)

    # ---- reads

    def volume_exists(self, volume_name: VolumeName) -> bool:
        return volume_name in self._volumes

    def pod_exists(self, pod_uid: PodUID) -> bool:
        return any(pod_uid in v.pods for v in self._volumes.values())

    def pod_exists_in_volume(self, pod_uid: PodUID, volume_name: VolumeName) -> bool:
        volume = self._volumes.get(volume_name)
        return volume is not None and pod_uid in volume.pods

    def get_volumes_to_mount(self) -> list[VolumeToMount]:
        return [self._to_mount(name, volume, uid, entry)
                for name, volume in sorted(self._volumes.items()) for uid, entry in sorted(volume.pods.items())]

    def get_volume_names_for_pod(self, pod_uid: PodUID) -> dict[str, VolumeName]:
        """Pod volume name (outer name) → unique volume name."""
        out: dict[str, VolumeName] = {}
        for name, volume in self._volumes.items():
            entry = volume.pods.get(pod_uid)
            if entry is not None:
                for outer in entry.outer_names:
                    out[outer] = name
        return out

    def attachable_volumes(self) -> list[VolumeName]:
        return sorted(n for n, v in self._volumes.items() if v.attachable)

    def get_pod_errors(self, pod_uid: PodUID) -> list[str]:
        return list(self._pod_errors.get(pod_uid, ()))

    def pod_uids(self) -> set[PodUID]:
        return {uid for v in self._volumes.values() for uid in v.pods}

    @staticmethod
    def _to_mount(name: VolumeName, volume: _Volume, uid: PodUID, entry: _PodEntry) -> VolumeToMount:
        return VolumeToMount(
            volume_name=name, pod_uid=uid, pod=entry.pod, outer_names=entry.outer_names,
            plugin_name=volume.plugin_name, metric_plugin=volume.metric_plugin, spec=entry.spec,
            attachable=volume.attachable, device_mountable=volume.device_mountable, block=volume.block,
            requires_remount=entry.requires_remount, reported_in_use=volume.reported_in_use,
            claim_key=entry.claim_key, pv_name=entry.pv_name,
        )
