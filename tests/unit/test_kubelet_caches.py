"""DesiredStateOfWorld and ActualStateOfWorld: the verbs, their no-ops, and copies out."""

from __future__ import annotations

from pathlib import Path

import pytest

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.types import PodUID, VolumeName, per_pod_volume_name
from kstore.volume.plugins.base import Spec

V1, V2 = VolumeName("kubernetes.io/csi/d^block/pv1"), VolumeName("kubernetes.io/csi/d^block/pv2")
A, B = PodUID("uid-a"), PodUID("uid-b")


def add(dsw: DesiredStateOfWorld, volume: VolumeName, uid: PodUID, outer: str = "data", **kw: object) -> None:
    args: dict[str, object] = dict(volume_name=volume, pod_uid=uid, pod={"metadata": {"uid": uid}}, outer_name=outer,
                                   plugin_name="kubernetes.io/csi", metric_plugin="kubernetes.io/csi:d",
                                   spec=Spec.from_volume({"name": outer}), attachable=True, device_mountable=True,
                                   block=False)
    args.update(kw)
    dsw.add_pod_to_volume(**args)  # type: ignore[arg-type]


def test_desired_add_is_idempotent_and_collects_outer_names() -> None:
    dsw = DesiredStateOfWorld()
    add(dsw, V1, A, "data")
    add(dsw, V1, A, "data")
    add(dsw, V1, A, "again")  # the same claim under a second pod volume name
    add(dsw, V1, B)
    (a, b) = dsw.get_volumes_to_mount()
    assert (a.pod_uid, a.outer_names) == (A, ("again", "data"))
    assert (b.pod_uid, b.outer_names) == (B, ("data",))
    assert dsw.get_volume_names_for_pod(A) == {"again": V1, "data": V1}


def test_desired_delete_pod_removes_volumes_nobody_wants_and_is_a_no_op_for_unknown_pods() -> None:
    dsw = DesiredStateOfWorld()
    add(dsw, V1, A)
    add(dsw, V2, A)
    add(dsw, V2, B)
    dsw.set_pod_errors(A, ["boom"])
    dsw.delete_pod(A)
    dsw.delete_pod(PodUID("nobody"))
    dsw.delete_pod_from_volume(B, V1)  # not there: no-op
    assert not dsw.volume_exists(V1) and dsw.volume_exists(V2)
    assert not dsw.pod_exists(A) and dsw.pod_exists(B)
    assert dsw.get_pod_errors(A) == []
    assert dsw.attachable_volumes() == [V2]


def test_desired_getters_return_copies() -> None:
    dsw = DesiredStateOfWorld()
    add(dsw, V1, A)
    dsw.set_pod_errors(A, ["e"])
    dsw.get_pod_errors(A).append("mutated")
    assert dsw.get_pod_errors(A) == ["e"]
    with pytest.raises(AttributeError):
        dsw.get_volumes_to_mount()[0].outer_names = ()  # type: ignore[misc]


def test_per_pod_names_keep_pods_apart() -> None:
    assert per_pod_volume_name("kubernetes.io/empty-dir", "uid-a", "scratch") == "kubernetes.io/empty-dir/uid-a-scratch"


def attach(asw: ActualStateOfWorld, volume: VolumeName, device: str = "") -> None:
    asw.mark_volume_attached(volume, plugin_name="kubernetes.io/csi", metric_plugin="kubernetes.io/csi:d", spec=None,
                             dir_name="pv1", device_path=device, attachable=True, device_mountable=True)


def test_actual_lifecycle_attach_device_mount_pods_and_back() -> None:
    asw = ActualStateOfWorld()
    attach(asw, V1)
    attach(asw, V1, "/dev/loop4")  # fills the empty device path, changes nothing else
    asw.mark_device_mounted(V1, device_path="/dev/loop4", device_mount_path=Path("/g/pv1"))
    asw.mark_pod_mounted(V1, A, dir_name="pv1", path=Path("/p/a"), read_only=False, now=1.0, outer_names=("data",))
    asw.mark_pod_mounted(V1, B, dir_name="pv1", path=Path("/p/b"), read_only=True, now=2.0)
    (v,) = asw.get_attached_volumes()
    assert (v.device_path, v.device_mounted, v.pods) == ("/dev/loop4", True, (A, B))
    assert asw.get_unmounted_volumes() == []
    with pytest.raises(ValueError, match="cannot mark detached while it is mounted"):
        asw.mark_volume_detached(V1)
    asw.mark_pod_unmounted(V1, A)
    asw.mark_pod_unmounted(V1, B)
    asw.mark_pod_unmounted(V1, B)  # no-op
    assert [u.volume_name for u in asw.get_unmounted_volumes()] == [V1]
    asw.mark_device_unmounted(V1)
    asw.mark_volume_detached(V1)
    asw.mark_volume_detached(V1)  # no-op
    assert not asw.volume_exists(V1)


def test_actual_marks_on_unknown_volumes_are_no_ops() -> None:
    asw = ActualStateOfWorld()
    asw.mark_pod_mounted(V1, A, dir_name="x", path=Path("/p"), read_only=False, now=0.0)
    asw.mark_device_mounted(V1, device_path="/dev/loop1", device_mount_path=None)
    asw.mark_volume_expanded(V1, 5)
    assert asw.get_attached_volumes() == [] and not asw.pod_has_mounted_volumes(A)


def test_actual_mounted_volume_for_the_cri_step() -> None:
    asw = ActualStateOfWorld()
    attach(asw, V1)
    asw.mark_pod_mounted(V1, A, dir_name="pv1", path=Path("/p/a"), read_only=True, now=3.0, outer_names=("data",))
    mounted = asw.get_mounted_volume(A, V1)
    assert mounted is not None and mounted.pod_volume().path == Path("/p/a") and mounted.pod_volume().read_only
    assert [m.pod_uid for m in asw.get_mounted_volumes_for_pod(A)] == [A]
    assert asw.get_mounted_volume(B, V1) is None
