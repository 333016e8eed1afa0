"""The volume manager's decisions (reconciler.plan) as table tests, in the shape of Kubernetes'
reconciler_test.go: an initial desired and actual state, what the volume attachments say,
which operations are pending; the expected operations, in order, and the volumes waiting for
attach. Pure: no mounts, no clock but the `now` of the case."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.reconciler import (
    ExpandVolume,
    FinishResize,
    MarkAttached,
    MarkDetached,
    MountVolume,
    Operation,
    UnmountDevice,
    UnmountVolume,
    plan,
    volumes_in_use,
)
from kstore.kubelet.volumemanager.types import RECONSTRUCTED, PodUID, VolumeName
from kstore.volume.plugins.base import Spec


@dataclasses.dataclass(frozen=True)
class DV:
    """A desired (volume, pod)."""

    volume: str
    pod: str
    attachable: bool = False
    device_mountable: bool = False
    reported: bool = False
    remount: bool = False
    claim: str | None = None
    pv: str | None = None
    block: bool = False


@dataclasses.dataclass(frozen=True)
class AV:
    """An actual volume: attached, maybe device-mounted, mounted for pods (uid, mounted_at)."""

    volume: str
    pods: tuple[tuple[str, float], ...] = ()
    device_mounted: bool = False
    attachable: bool = False
    expanded_to: int | None = None


@dataclasses.dataclass
class Case:
    name: str
    desired: list[DV] = dataclasses.field(default_factory=list)
    actual: list[AV] = dataclasses.field(default_factory=list)
    attached: dict[str, str] = dataclasses.field(default_factory=dict)  # what VolumeAttachments say
    pending: set[str] = dataclasses.field(default_factory=set)
    resize: dict[str, int] = dataclasses.field(default_factory=dict)  # volume → bytes the claim waits for
    now: float = 100.0
    expected: list[str] = dataclasses.field(default_factory=list)
    waiting: list[str] = dataclasses.field(default_factory=list)


def build(case: Case) -> tuple[DesiredStateOfWorld, ActualStateOfWorld]:
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld()
    for d in case.desired:
        dsw.add_pod_to_volume(
            volume_name=VolumeName(d.volume), pod_uid=PodUID(d.pod), pod={"metadata": {"uid": d.pod}},
            outer_name="v", plugin_name="kubernetes.io/test", metric_plugin="kubernetes.io/test",
            spec=Spec.from_volume({"name": d.volume}), attachable=d.attachable, device_mountable=d.device_mountable,
            block=d.block, requires_remount=d.remount, claim_key=d.claim, pv_name=d.pv)
    dsw.mark_volumes_reported_in_use([d.volume for d in case.desired if d.reported])
    for a in case.actual:
        name = VolumeName(a.volume)
        asw.mark_volume_attached(name, plugin_name="kubernetes.io/test", metric_plugin="kubernetes.io/test",
                                 spec=None, dir_name=a.volume, attachable=a.attachable, device_mountable=True)
        if a.device_mounted:
            asw.mark_device_mounted(name, device_path="/dev/loop9", device_mount_path=Path("/g") / a.volume)
        for uid, at in a.pods:
            asw.mark_pod_mounted(name, PodUID(uid), dir_name=a.volume, path=Path("/p") / uid, read_only=False, now=at)
        if a.expanded_to is not None:
            asw.mark_volume_expanded(name, a.expanded_to)
    return dsw, asw


def render(op: Operation) -> str:
    if isinstance(op, UnmountVolume):
        return f"unmount {op.volume.volume_name} {op.volume.pod_uid}"
    if isinstance(op, UnmountDevice):
        return f"unmount-device {op.volume.volume_name}"
    if isinstance(op, MarkDetached):
        return f"detached {op.volume_name}"
    if isinstance(op, MarkAttached):
        return f"attached {op.volume.volume_name} {op.device_path!r}"
    if isinstance(op, MountVolume):
        return f"{'remount' if op.remount else 'mount'} {op.volume.volume_name} {op.volume.pod_uid}"
    if isinstance(op, ExpandVolume):
        return f"expand {op.volume.volume_name} {op.size}"
    if isinstance(op, FinishResize):
        return f"finish-resize {op.volume.volume_name} {op.size}"
    raise AssertionError(op)


CASES = [
    Case("1-1 nothing desired, nothing there"),
    Case("1-2 non-attachable volume: attached at once, then mounted in the same pass",
         desired=[DV("cm", "a")], expected=["attached cm ''", "mount cm a"]),
    Case("1-3 attached but not mounted for the pod: mount",
         desired=[DV("cm", "a")], actual=[AV("cm")], expected=["mount cm a"]),
    Case("1-4 mounted and desired: nothing to do",
         desired=[DV("cm", "a")], actual=[AV("cm", pods=(("a", 99.0),))]),
    Case("2-1 attachable, not yet reported in volumesInUse: wait, even if attached",
         desired=[DV("pvc", "a", attachable=True, device_mountable=True)], attached={"pvc": "/dev/loop3"},
         waiting=["pvc"]),
    Case("2-2 attachable, reported, no VolumeAttachment yet: wait for the attach/detach controller",
         desired=[DV("pvc", "a", attachable=True, device_mountable=True, reported=True)], waiting=["pvc"]),
    Case("2-3 attachable, reported, attached: mark attached with the device path, mount",
         desired=[DV("pvc", "a", attachable=True, device_mountable=True, reported=True)],
         attached={"pvc": "/dev/loop3"}, expected=["attached pvc '/dev/loop3'", "mount pvc a"]),
    Case("2-4 attached with no device path in the attachment: attached all the same (the plugin finds the device)",
         desired=[DV("pvc", "a", attachable=True, reported=True)], attached={"pvc": ""},
         expected=["attached pvc ''", "mount pvc a"]),
    Case("3-1 pod gone: unmount its volume first",
         actual=[AV("cm", pods=(("a", 1.0),))], expected=["unmount cm a"]),
    Case("3-2 nobody mounts it, nobody wants it, device mounted: unmount the device",
         actual=[AV("pvc", device_mounted=True, attachable=True)], expected=["unmount-device pvc"]),
    Case("3-3 device unmounted: detached from the node's view",
         actual=[AV("pvc", attachable=True)], expected=["detached pvc"]),
    Case("3-4 never unmount a device while an operation on it is pending",
         actual=[AV("pvc", device_mounted=True)], pending={"pvc"}),
    Case("3-5 a device another pod still wants stays mounted",
         desired=[DV("pvc", "b", attachable=True, device_mountable=True, reported=True)],
         actual=[AV("pvc", pods=(("a", 1.0),), device_mounted=True, attachable=True)],
         expected=["unmount pvc a", "mount pvc b"]),
    Case("3-6 teardown comes before setup, in one pass",
         desired=[DV("new", "b")], actual=[AV("old", pods=(("a", 1.0),)), AV("gone", device_mounted=True)],
         expected=["unmount old a", "unmount-device gone", "attached new ''", "mount new b"]),
    Case("4-1 configMap-like volume refreshed after the remount period",
         desired=[DV("cm", "a", remount=True)], actual=[AV("cm", pods=(("a", 30.0),))], now=100.0,
         expected=["remount cm a"]),
    Case("4-2 ...not before",
         desired=[DV("cm", "a", remount=True)], actual=[AV("cm", pods=(("a", 50.0),))], now=100.0),
    Case("4-3 a mount found on disk at start-up is confirmed once, whatever the plugin",
         desired=[DV("pvc", "a")], actual=[AV("pvc", pods=(("a", RECONSTRUCTED),))], expected=["remount pvc a"]),
    Case("5-1 claim waits for a node-side resize: expand the mounted filesystem",
         desired=[DV("pvc", "a", claim="ns/c", pv="pv1")],
         actual=[AV("pvc", pods=(("a", 99.0),), device_mounted=True)], resize={"pvc": 2 << 30},
         expected=[f"expand pvc {2 << 30}"]),
    Case("5-2 expanded already (the claim write failed): only write the claim's status",
         desired=[DV("pvc", "a", claim="ns/c", pv="pv1")],
         actual=[AV("pvc", pods=(("a", 99.0),), device_mounted=True, expanded_to=2 << 30)], resize={"pvc": 2 << 30},
         expected=[f"finish-resize pvc {2 << 30}"]),
    Case("5-3 not mounted yet: mount first, expansion afterwards",
         desired=[DV("pvc", "a", claim="ns/c", pv="pv1")], actual=[AV("pvc", device_mounted=True)],
         resize={"pvc": 2 << 30}, expected=["mount pvc a"]),
    Case("5-4 a Block volume has no filesystem to grow here",
         desired=[DV("pvc", "a", claim="ns/c", pv="pv1", block=True)],
         actual=[AV("pvc", pods=(("a", 99.0),), device_mounted=True)], resize={"pvc": 2 << 30}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan(case: Case) -> None:
    dsw, asw = build(case)
    decided = plan(dsw, asw, attachment=lambda v: case.attached.get(v.volume_name),
                   pending=lambda n: n in case.pending, now=case.now, remount_period=60.0,
                   resize=lambda v: case.resize.get(v.volume_name))
    assert [render(op) for op in decided.operations] == case.expected
    assert [v.volume_name for v in decided.waiting_for_attach] == case.waiting


def test_volumes_in_use_reports_desired_and_still_attached_attachable_volumes_once_sorted() -> None:
    case = Case("in use", desired=[DV("b-pvc", "a", attachable=True), DV("cm", "a"), DV("b-pvc", "c", attachable=True)],
                actual=[AV("a-pvc", attachable=True), AV("b-pvc", attachable=True), AV("shared")])
    dsw, asw = build(case)
    assert volumes_in_use(dsw, asw) == ["a-pvc", "b-pvc"]


def test_a_desired_volume_reported_in_use_survives_in_the_desired_state_only_while_listed() -> None:
    dsw, _ = build(Case("r", desired=[DV("pvc", "a", attachable=True)]))
    dsw.mark_volumes_reported_in_use(["pvc"])
    assert all(v.reported_in_use for v in dsw.get_volumes_to_mount())
    dsw.mark_volumes_reported_in_use([])
    assert not any(v.reported_in_use for v in dsw.get_volumes_to_mount())
