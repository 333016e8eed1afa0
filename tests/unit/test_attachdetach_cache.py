"""DesiredStateOfWorld and ActualStateOfWorld: pure tables (Kubernetes'
desired_state_of_world_test.go / actual_state_of_world_test.go, our cases)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from kstore.client.clock import FakeClock
from kstore.controllers.attachdetach.cache import (
    ActualStateOfWorld,
    AttachState,
    DesiredStateOfWorld,
    NodeNotManaged,
)
from kstore.controllers.attachdetach.testing import RWX, volume
from kstore.controllers.attachdetach.volumes import NodeName, PodRef, PodUID

N1, N2 = NodeName("node-1"), NodeName("node-2")
V1, V2, SHARED = volume("pv-1"), volume("pv-2"), volume("pv-rwx", modes=(RWX,))
P1 = PodRef(PodUID("uid-1"), "default", "web-1")
P2 = PodRef(PodUID("uid-2"), "default", "web-2")
P3 = PodRef(PodUID("uid-3"), "other", "web-3")


def summary(dsw: DesiredStateOfWorld) -> set[tuple[str, str, tuple[str, ...]]]:
    """(volume's PV, node, pods) for every volume to attach."""
    return {(v.volume.spec_name, v.node, tuple(sorted(p.name for p in v.scheduled_pods)))
            for v in dsw.get_volumes_to_attach()}


@dataclasses.dataclass
class DswCase:
    name: str
    steps: Callable[[DesiredStateOfWorld], None]
    expected: set[tuple[str, str, tuple[str, ...]]]
    expected_nodes: set[str] = dataclasses.field(default_factory=lambda: {N1, N2})


DSW_CASES = [
    DswCase("one pod one volume", lambda d: d.add_pod(P1, "data", V1, N1), {("pv-1", N1, ("web-1",))}),
    DswCase("two pods share a volume on a node",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.add_pod(P2, "data", V1, N1)),
            {("pv-1", N1, ("web-1", "web-2"))}),
    DswCase("the same volume on two nodes is two entries",
            lambda d: (d.add_pod(P1, "data", SHARED, N1), d.add_pod(P2, "data", SHARED, N2)),
            {("pv-rwx", N1, ("web-1",)), ("pv-rwx", N2, ("web-2",))}),
    DswCase("adding the same pod volume twice is a no-op",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.add_pod(P1, "data", V1, N1)),
            {("pv-1", N1, ("web-1",))}),
    DswCase("an outer name pointing elsewhere leaves the old volume",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.add_pod(P1, "data", V2, N1)),
            {("pv-2", N1, ("web-1",))}),
    DswCase("deleting the last pod removes the volume",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.add_pod(P2, "data", V1, N1), d.delete_pod(P1.uid),
                       d.delete_pod(P2.uid)), set()),
    DswCase("deleting one of two pods keeps the volume",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.add_pod(P2, "data", V1, N1), d.delete_pod(P1.uid)),
            {("pv-1", N1, ("web-2",))}),
    DswCase("deleting one pod volume keeps the others",
            lambda d: (d.add_pod(P1, "a", V1, N1), d.add_pod(P1, "b", V2, N1), d.delete_pod_volume(P1.uid, "a")),
            {("pv-2", N1, ("web-1",))}),
    DswCase("two outer names for one volume: dropping one keeps it",
            lambda d: (d.add_pod(P1, "a", V1, N1), d.add_pod(P1, "b", V1, N1), d.delete_pod_volume(P1.uid, "a")),
            {("pv-1", N1, ("web-1",))}),
    DswCase("deleting an unknown pod is a no-op", lambda d: d.delete_pod(PodUID("nobody")), set()),
    DswCase("a node with volumes is not deleted",
            lambda d: (d.add_pod(P1, "data", V1, N1), d.delete_node(N1)), {("pv-1", N1, ("web-1",))}),
    DswCase("an empty node is deleted", lambda d: d.delete_node(N2), set(), {N1}),
    DswCase("adding a node twice is a no-op", lambda d: d.add_node(N1), set()),
]


@pytest.mark.parametrize("case", DSW_CASES, ids=lambda c: c.name)
def test_desired_state(case: DswCase) -> None:
    dsw = DesiredStateOfWorld()
    dsw.add_node(N1)
    dsw.add_node(N2)
    case.steps(dsw)
    assert summary(dsw) == case.expected
    assert set(dsw.nodes()) == case.expected_nodes


def test_pod_on_an_unmanaged_node_is_refused() -> None:
    dsw = DesiredStateOfWorld()
    with pytest.raises(NodeNotManaged):
        dsw.add_pod(P1, "data", V1, N1)
    assert dsw.get_volumes_to_attach() == []


def test_a_pod_seen_on_another_node_leaves_the_first_whole() -> None:
    dsw = DesiredStateOfWorld()
    dsw.add_node(N1)
    dsw.add_node(N2)
    dsw.add_pod(P1, "a", V1, N1)
    dsw.add_pod(P1, "b", V2, N2)
    assert summary(dsw) == {("pv-2", N2, ("web-1",))}
    assert dsw.get_pod_volumes(P1.uid) == {"b": V2.name}


def test_multi_attach_flag_and_pods_on_nodes() -> None:
    dsw = DesiredStateOfWorld()
    for n in (N1, N2):
        dsw.add_node(n)
    dsw.add_pod(P1, "d", V1, N1)
    dsw.add_pod(P3, "d", V1, N1)
    dsw.add_pod(P2, "d", V1, N2)
    dsw.set_multi_attach_error(V1.name, N2)
    v = dsw.get_volume_to_attach(V1.name, N2)
    assert v is not None and v.multi_attach_error_reported
    assert not dsw.get_volume_to_attach(V1.name, N1).multi_attach_error_reported  # type: ignore[union-attr]
    assert sorted(p.name for p in dsw.get_volume_pods_on_nodes([N1], V1.name)) == ["web-1", "web-3"]
    dsw.set_multi_attach_error(V2.name, N1)  # unknown: no-op


def test_getters_return_copies() -> None:
    dsw = DesiredStateOfWorld()
    dsw.add_node(N1)
    dsw.add_pod(P1, "d", V1, N1)
    got = dsw.get_pod_volumes(P1.uid)
    got["x"] = V2.name
    assert dsw.get_pod_volumes(P1.uid) == {"d": V1.name}
    with pytest.raises(dataclasses.FrozenInstanceError):
        dsw.get_volumes_to_attach()[0].node = N2  # type: ignore[misc]


# ---- actual state


def test_attach_states_and_report() -> None:
    asw = ActualStateOfWorld(clock=FakeClock())
    assert asw.get_attach_state(V1.name, N1) is AttachState.DETACHED
    asw.mark_uncertain(V1, N1, attachment="csi-1")
    assert asw.get_attach_state(V1.name, N1) is AttachState.UNCERTAIN
    assert asw.get_volumes_to_report_attached(N1) == []
    assert asw.get_nodes_for_attached_volume(V1.name) == []  # uncertain does not hold the volume
    asw.mark_attached(V1, N1, device_path="/dev/loop3", attachment="csi-1")
    assert asw.get_attach_state(V1.name, N1) is AttachState.ATTACHED
    assert asw.get_volumes_to_report_attached(N1) == [(V1.name, "/dev/loop3")]
    assert asw.get_nodes_for_attached_volume(V1.name) == [N1]
    assert asw.nodes_to_update_status_for() == [N1]
    asw.set_node_status_updated(N1)
    asw.mark_attached(V1, N1, device_path="/dev/loop3", attachment="csi-1")  # same again: no status change
    assert asw.nodes_to_update_status_for() == []
    asw.remove_volume_from_report_as_attached(V1.name, N1)
    assert asw.get_volumes_to_report_attached(N1) == [] and asw.nodes_to_update_status_for() == [N1]
    asw.add_volume_to_report_as_attached(V1.name, N1)
    assert asw.get_volumes_to_report_attached(N1) == [(V1.name, "/dev/loop3")]
    asw.mark_uncertain(V1, N1, attachment=None)  # keeps the device path and the attachment name
    av = asw.get_attached_volume(V1.name, N1)
    assert av is not None and av.device_path == "/dev/loop3" and av.attachment == "csi-1"
    assert asw.get_volumes_to_report_attached(N1) == []
    asw.add_volume_to_report_as_attached(V1.name, N1)  # uncertain is never reported
    assert asw.get_volumes_to_report_attached(N1) == []
    asw.delete_volume_node(V1.name, N1)
    assert asw.get_attached_volumes() == [] and asw.get_attach_state(V1.name, N1) is AttachState.DETACHED
    asw.delete_volume_node(V1.name, N1)  # unknown: no-op


def test_detach_request_time_uses_the_injected_clock() -> None:
    clock = FakeClock(100.0)
    asw = ActualStateOfWorld(clock=clock)
    asw.mark_attached(V1, N1, device_path="/dev/loop0", attachment="csi-1")
    assert asw.set_detach_request_time(V1.name, N1) == 0.0
    clock.advance(30)
    assert asw.set_detach_request_time(V1.name, N1) == 30.0
    assert asw.get_attached_volume(V1.name, N1).detach_requested_at == 100.0  # type: ignore[union-attr]
    asw.reset_detach_request_time(V1.name, N1)
    clock.advance(5)
    assert asw.set_detach_request_time(V1.name, N1) == 0.0
    with pytest.raises(KeyError):
        asw.set_detach_request_time(V2.name, N1)


def test_mount_report_decides_mounted_by_node() -> None:
    asw = ActualStateOfWorld(clock=FakeClock())
    asw.mark_attached(V1, N1, device_path="/dev/loop0", attachment="a")
    asw.mark_attached(SHARED, N2, device_path="/dev/loop1", attachment="b")
    assert not asw.get_attached_volume(V1.name, N1).mounted_by_node  # type: ignore[union-attr]
    asw.set_mount_report(N1, [V1.name, "something-else"])
    assert asw.get_attached_volume(V1.name, N1).mounted_by_node  # type: ignore[union-attr]
    assert not asw.get_attached_volume(SHARED.name, N2).mounted_by_node  # type: ignore[union-attr]
    asw.set_mount_report(N1, [])
    assert not asw.is_mounted_by_node(V1.name, N1)


def test_find_by_attachment_and_nodes() -> None:
    asw = ActualStateOfWorld(clock=FakeClock())
    asw.mark_attached(SHARED, N1, device_path="/dev/loop0", attachment="csi-a")
    asw.mark_uncertain(SHARED, N2, attachment="csi-b")
    assert asw.find_by_attachment("csi-b").node == N2  # type: ignore[union-attr]
    assert asw.find_by_attachment("nope") is None
    assert asw.nodes() == [N1, N2]
    assert [a.node for a in asw.get_attached_volumes_for_node(N2)] == [N2]
    assert {(a.node, a.state) for a in asw.get_attached_volumes()} == {
        (N1, AttachState.ATTACHED), (N2, AttachState.UNCERTAIN)}


def test_a_volume_without_spec_does_not_replace_one_with_spec() -> None:
    asw = ActualStateOfWorld(clock=FakeClock())
    asw.mark_attached(V1, N1, device_path="/dev/loop0", attachment="a")
    specless = dataclasses.replace(V1, spec=None)
    asw.mark_uncertain(specless, N1, attachment="a")
    assert asw.get_attached_volume(V1.name, N1).volume.spec is not None  # type: ignore[union-attr]
