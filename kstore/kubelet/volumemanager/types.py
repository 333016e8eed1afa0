"""Names the volume manager's caches share.

`VolumeName` is a volume's unique name: for a volume whose plugin attaches or mounts a
device, `unique_volume_name(plugin, spec)` (`kubernetes.io/csi/<driver>^<backend>/<pv>`),
the very string `node.status.volumesInUse` and `volumesAttached` carry; for any other volume
(emptyDir, configMap, a shared directory, ...) it is per pod, `<plugin>/<pod-uid>-<volume>`,
as Kubernetes' `GetUniqueVolumeNameFromSpecWithPod`. `PodUID` is `metadata.uid`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NewType

VolumeName = NewType("VolumeName", str)
PodUID = NewType("PodUID", str)

# `mounted_at` of a pod mount found on disk at start-up: the reconciler confirms it with one set_up.
RECONSTRUCTED = float("-inf")


@dataclasses.dataclass(frozen=True)
class PodVolume:
    """A volume set up for a pod, as the CRI step binds it into containers.

    `path` is where the pod's volume is (the pod volume dir, or a hostPath's confined path);
    for volumeMode Block, `device` is the mapped device and `path` the pod's device link.
    `read_only` is the plugin's own answer (configMap and secret volumes are read-only).
    """

    outer_names: tuple[str, ...]
    path: Path
    read_only: bool = False
    device: str | None = None


def per_pod_volume_name(plugin_name: str, pod_uid: str, volume: str) -> VolumeName:
    """The unique name of a volume no other pod shares (Kubernetes' GetUniqueVolumeNameFromSpecWithPod)."""
    return VolumeName(f"{plugin_name}/{pod_uid}-{volume}")
