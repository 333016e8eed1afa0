"""Periodic chores of the volume manager, off the reconciler's path.

- Volume stats: which mounted claims to measure (pure: `stat_targets`), and `measure()`
  (blocking statvfs through the mounter, on a thread); the gauges read the last result.
- Volume health (Kubernetes' CSI volume health, `VolumeConditionAbnormal`): each mounted claim
  is checked at the same pace as its stats (pure: `health_targets`; blocking: `check_health`):
  its pod path still a mount point, the directory or image behind it not deleted, its device
  still attached. A volume that disappeared under a running pod gets a Warning event on the
  pod and `kubelet_volume_stats_health_status_abnormal` 1; the kubelet goes on serving, and
  the pod's teardown still works (unmounting what is left, detaching a deleted image's device).
- Leftover pod directories: once a pod is gone and nothing of it is mounted, the empty
  directories its volumes left under `kubelet/pods/<uid>` and `containers/<uid>` are removed
  (Kubernetes' cleanupOrphanedPodDirs). Only empty directories go: a file left inside (a
  volume's data that was never unmounted) keeps its directory, and a directory with a mount
  below it is not touched.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.volume.mount import FsStats, Mounter, MountError
from kstore.volume.plugins.flexvolume import PLUGIN_PREFIX as FLEX_PLUGIN_PREFIX

log = logging.getLogger(__name__)

StatKey = tuple[str, str]  # (namespace, persistentvolumeclaim)


def stat_targets(dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> dict[StatKey, Path]:
    """Where each mounted claim of this node is (one path per claim)."""
    targets: dict[StatKey, Path] = {}
    for v in dsw.get_volumes_to_mount():
        if not v.claim_key or v.block:
            continue
        mounted = asw.get_mounted_volume(v.pod_uid, v.volume_name)
        if mounted is not None:
            namespace, _, claim = v.claim_key.partition("/")
            targets[(namespace, claim)] = mounted.path
    return targets


def measure(mounter: Mounter, targets: dict[StatKey, Path]) -> dict[StatKey, FsStats]:
    """statvfs of each target (blocking); a target that cannot be measured is left out."""
    out = {}
    for key, path in targets.items():
        try:
            out[key] = mounter.statvfs(path)
        except MountError as e:
            log.debug("statvfs %s: %s", path, e)
    return out


@dataclasses.dataclass(frozen=True)
class HealthTarget:
    """One mounted claim of one pod, and where to look."""

    key: StatKey  # (namespace, persistentvolumeclaim)
    pod: dict[str, Any]
    volume: str  # the pod's name for the volume (what the event names)
    path: Path  # the pod's volume dir
    device_mount_path: Path | None  # the global mount of a device-mountable volume
    device: str | None  # volumeMode Block: the mapped device


def health_targets(dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> list[HealthTarget]:
    """Every claim mounted for a pod here (FlexVolume drivers mount as they like: not checked)."""
    out = []
    for v in dsw.get_volumes_to_mount():
        if not v.claim_key or v.plugin_name.startswith(FLEX_PLUGIN_PREFIX):
            continue
        mounted = asw.get_mounted_volume(v.pod_uid, v.volume_name)
        if mounted is None:
            continue
        attached = asw.get_volume(v.volume_name)
        global_path = attached.device_mount_path if attached is not None and attached.device_mounted else None
        namespace, _, claim = v.claim_key.partition("/")
        out.append(HealthTarget(key=(namespace, claim), pod=v.pod, volume=v.outer_names[0], path=mounted.path,
                                device_mount_path=None if mounted.block else global_path,
                                device=mounted.device if mounted.block else None))
    return out


def check_health(mounter: Mounter, targets: list[HealthTarget]) -> list[tuple[HealthTarget, str | None]]:
    """Each target with why it is abnormal, or None (blocking: statx, stat, sysfs)."""
    out: list[tuple[HealthTarget, str | None]] = []
    for t in targets:
        try:
            if t.device is not None:
                problem = mounter.device_health(t.device)
            else:
                problem = mounter.mount_health(t.path)
                if problem is None and t.device_mount_path is not None:
                    problem = mounter.mount_health(t.device_mount_path)
        except (MountError, OSError) as e:
            problem = f"cannot check it: {e}"
        out.append((t, problem))
    return out


def remove_pod_dirs(mounter: Mounter, directories: list[Path]) -> None:
    """Remove the empty directory trees of gone pods (blocking); see the module docstring."""
    for directory in directories:
        try:
            if mounter.mounts_under(directory):
                continue
        except MountError:
            continue
        for dirpath, dirnames, _ in os.walk(directory, topdown=False):
            for name in dirnames:
                try:
                    os.rmdir(os.path.join(dirpath, name))
                except OSError:
                    pass  # not empty (or a symlink): left alone
        try:
            os.rmdir(directory)
            log.info("removed the directory %s of a gone pod", directory)
        except OSError:
            log.debug("%s: not empty, left alone", directory)
