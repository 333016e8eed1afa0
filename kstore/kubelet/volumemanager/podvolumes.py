"""What the pod worker asks the volume manager about one pod, as pure functions over the
desired and actual state (Kubernetes' WaitForAttachAndMount / GetMountedVolumesForPod /
WaitForUnmount, read for behaviour).

- `mount_problems`: the pod volumes some container uses that are not mounted yet, the
  attachable ones among them still waiting for their attachment, and the ones the populator
  could not process, with its errors — what "Unable to attach or mount volumes: unmounted
  volumes=[…], unattached volumes=[…], failed to process volumes=[…]: …" says.
- `pod_volumes`: pod volume name → where it is set up, for the CRI step.
- `cleaned_up`: a deleted pod's storage is gone: no pod mount left, and every volume it had
  that no other pod wants is out of the actual state and out of the posted volumesInUse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.populator import pod_uid_of, pod_volume_names
from kstore.kubelet.volumemanager.types import PodUID, PodVolume, VolumeName

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class MountProblems:
    unmounted: list[str]
    unattached: list[str]
    failed_to_process: list[str]
    errors: list[str]

    def message(self, cause: str) -> str:
        def names(xs: list[str]) -> str:
            return "[" + " ".join(xs) + "]"

        return (f"unmounted volumes={names(self.unmounted)}, unattached volumes={names(self.unattached)}, "
                f"failed to process volumes={names(self.failed_to_process)}: {cause}")


def expected_volumes(pod: Obj) -> list[str]:
    """The pod volumes some container mounts or maps (sorted)."""
    mounts, devices = pod_volume_names(pod)
    names = {str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []}
    return sorted((mounts | devices) & names)


def mount_problems(pod: Obj, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld,
                   waiting_for_attach: Collection[VolumeName]) -> MountProblems:
    uid = pod_uid_of(pod)
    by_outer = dsw.get_volume_names_for_pod(uid)
    unmounted, unattached, failed = [], [], []
    for outer in expected_volumes(pod):
        name = by_outer.get(outer)
        if name is None:
            failed.append(outer)
            unmounted.append(outer)
        elif not asw.pod_exists_in_volume(uid, name):
            unmounted.append(outer)
            if name in waiting_for_attach:
                unattached.append(outer)
    return MountProblems(unmounted=unmounted, unattached=unattached, failed_to_process=failed,
                         errors=dsw.get_pod_errors(uid))


def volumes_attached(pod: Obj, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> bool:
    """Every volume the pod's containers use is in the desired state and attached to the node
    (the `volumes_attached` end-to-end stage). False for a pod without such volumes."""
    by_outer = dsw.get_volume_names_for_pod(pod_uid_of(pod))
    expected = expected_volumes(pod)
    return bool(expected) and all(
        (name := by_outer.get(outer)) is not None and asw.volume_exists(name) for outer in expected)


def pod_volumes(uid: PodUID, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> dict[str, PodVolume]:
    out: dict[str, PodVolume] = {}
    for outer, name in dsw.get_volume_names_for_pod(uid).items():
        mounted = asw.get_mounted_volume(uid, name)
        if mounted is not None:
            out[outer] = PodVolume(outer_names=(outer,), path=mounted.path, read_only=mounted.read_only,
                                   device=mounted.device if mounted.block else None)
    return out


def cleaned_up(uid: PodUID, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, *, had: Iterable[VolumeName],
               reported: Collection[str]) -> bool:
    if dsw.pod_exists(uid) or asw.pod_has_mounted_volumes(uid):
        return False
    for name in had:
        if dsw.volume_exists(name):
            continue  # another pod still wants it: not this pod's to wait for
        if asw.volume_exists(name) or name in reported:
            return False
    return True
