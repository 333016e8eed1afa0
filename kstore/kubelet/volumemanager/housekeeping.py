"""Periodic chores of the volume manager, off the reconciler's path.

- Volume stats: which mounted claims to measure (pure: `stat_targets`), and `measure()`
  (blocking statvfs through the mounter, on a thread); the gauges read the last result.
- Leftover pod directories: once a pod is gone and nothing of it is mounted, the empty
  directories its volumes left under `kubelet/pods/<uid>` and `containers/<uid>` are removed
  (Kubernetes' cleanupOrphanedPodDirs). Only empty directories go: a file left inside (a
  volume's data that was never unmounted) keeps its directory, and a directory with a mount
  below it is not touched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.volume.mount import FsStats, Mounter, MountError

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
