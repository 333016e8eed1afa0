"""The attach/detach reconciler's decisions, as tables (Kubernetes' reconciler_test.go, our
cases): detach before attach, the safe-detach handshake, force detach after the max wait on a
node that is not Ready (not on a Ready one), the out-of-service taint, Multi-Attach events with
Kubernetes' wording, "operation already pending" and backoff. A fake executor records what
would be started; an injected clock moves time."""

from __future__ import annotations

import dataclasses

import pytest

from kstore.client.clock import FakeClock
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachState, DesiredStateOfWorld
from kstore.controllers.attachdetach.operationexecutor import DETACH
from kstore.controllers.attachdetach.reconciler import Reconciler
from kstore.controllers.attachdetach.testing import (
    RWX,
    Call,
    FakeAttacherDetacher,
    FakeNodes,
    FakeRecorder,
    volume,
)
from kstore.controllers.attachdetach.volumes import AttachableVolume, NodeName, PodRef, PodUID

N1, N2, N3 = NodeName("node-1"), NodeName("node-2"), NodeName("node-3")
V1, V2, SHARED = volume("pv-1"), volume("pv-2"), volume("pv-rwx", modes=(RWX,))
MAX_WAIT = 360.0


def pod(name: str, ns: str = "default") -> PodRef:
    return PodRef(PodUID(f"uid-{ns}-{name}"), ns, name)


A, B, C, OTHER = pod("web-a"), pod("web-b"), pod("web-c"), pod("web-x", "other")


@dataclasses.dataclass
class Case:
    name: str
    desired: list[tuple[PodRef, AttachableVolume, NodeName]] = dataclasses.field(default_factory=list)
    attached: list[tuple[AttachableVolume, NodeName, AttachState]] = dataclasses.field(default_factory=list)
    in_use: dict[str, list[AttachableVolume]] = dataclasses.field(default_factory=dict)
    not_ready: tuple[str, ...] = ()
    out_of_service: tuple[str, ...] = ()
    pending: tuple[tuple[AttachableVolume, str], ...] = ()
    backoff: tuple[tuple[AttachableVolume, str, str], ...] = ()
    advance: float | None = None  # pass, move the clock this far, pass again
    expected_calls: list[Call] = dataclasses.field(default_factory=list)
    expected_events: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    expected_forced: list[str] = dataclasses.field(default_factory=list)


def attach(v: AttachableVolume, n: str) -> Call:
    return Call("attach", v.name, n)


def detach(v: AttachableVolume, n: str, *, safe: bool = True) -> Call:
    return Call("detach", v.name, n, safe)


def multi_attach(pod_name: str, v: AttachableVolume, suffix: str) -> tuple[str, str, str, str]:
    return (pod_name, "Warning", "FailedAttachVolume", f'Multi-Attach error for volume "{v.spec_name}" {suffix}')


EXCLUSIVE = "Volume is already exclusively attached to one node and can't be attached to another"

CASES = [
    Case("desired and not attached: attach", desired=[(A, V1, N1)], expected_calls=[attach(V1, N1)]),
    Case("attached and desired: nothing", desired=[(A, V1, N1)], attached=[(V1, N1, AttachState.ATTACHED)]),
    Case("uncertain and desired: attach again (idempotent)", desired=[(A, V1, N1)],
         attached=[(V1, N1, AttachState.UNCERTAIN)], expected_calls=[attach(V1, N1)]),
    Case("attached and not desired, not in use: detach", attached=[(V1, N1, AttachState.ATTACHED)],
         expected_calls=[detach(V1, N1)]),
    Case("uncertain and not desired: detach", attached=[(V1, N1, AttachState.UNCERTAIN)],
         expected_calls=[detach(V1, N1)]),
    Case("detach before attach in one pass", desired=[(B, V2, N2)], attached=[(V1, N1, AttachState.ATTACHED)],
         expected_calls=[detach(V1, N1), attach(V2, N2)]),
    Case("safe detach waits while the node reports the volume in use",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}),
    Case("in use on a Ready node past the max wait: still waits",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, advance=MAX_WAIT + 1),
    Case("in use on a NotReady node before the max wait: waits",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, not_ready=(N1,), advance=MAX_WAIT - 1),
    Case("in use on a NotReady node past the max wait: force detach",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, not_ready=(N1,), advance=MAX_WAIT + 1,
         expected_calls=[detach(V1, N1, safe=False)], expected_forced=["timeout"]),
    Case("in use on an out-of-service node: force detach at once",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, out_of_service=(N1,),
         expected_calls=[detach(V1, N1, safe=False)], expected_forced=["out-of-service"]),
    Case("not in use past the max wait on a Ready node: detach without the check, counted as Kubernetes does",
         attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, advance=MAX_WAIT + 1,
         # the node stops reporting it only after the first pass (see the test body)
         expected_calls=[]),
    Case("detach pending: nothing", attached=[(V1, N1, AttachState.ATTACHED)], pending=((V1, ""),)),
    Case("detach backing off: nothing", attached=[(V1, N1, AttachState.ATTACHED)], backoff=((V1, N1, DETACH),)),
    Case("attach pending on another node of an RWO volume: nothing (one operation per volume)",
         desired=[(B, V1, N2)], pending=((V1, ""),)),
    Case("RWX attach pending on another node: attach here too", desired=[(A, SHARED, N1), (B, SHARED, N2)],
         pending=((SHARED, N2),), expected_calls=[attach(SHARED, N1)]),
    Case("RWO attached elsewhere, wanted by a pod there: Multi-Attach used by pod(s)",
         desired=[(A, V1, N1), (B, V1, N2)], attached=[(V1, N1, AttachState.ATTACHED)],
         expected_events=[multi_attach("web-b", V1, "Volume is already used by pod(s) web-a")]),
    Case("RWO attached elsewhere, nobody wants it there, still mounted there: exclusively attached",
         desired=[(B, V1, N2)], attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]},
         expected_events=[multi_attach("web-b", V1, EXCLUSIVE)]),
    Case("RWO attached elsewhere, nobody wants it there: detach starts, the attach waits for it",
         desired=[(B, V1, N2)], attached=[(V1, N1, AttachState.ATTACHED)], expected_calls=[detach(V1, N1)]),
    Case("RWO attached elsewhere, holders in another namespace are counted, not named",
         desired=[(A, V1, N1), (OTHER, V1, N1), (B, V1, N2)], attached=[(V1, N1, AttachState.ATTACHED)],
         expected_events=[multi_attach("web-b", V1, "Volume is already used by pod(s) web-a and 1 pod(s) in "
                                                    "different namespaces")]),
    Case("RWO only uncertain elsewhere: attach (uncertain does not hold it)",
         desired=[(B, V1, N2)], attached=[(V1, N1, AttachState.UNCERTAIN)], pending=(),
         expected_calls=[detach(V1, N1)]),
    Case("RWX attached elsewhere: attach here too", desired=[(A, SHARED, N1), (B, SHARED, N2)],
         attached=[(SHARED, N1, AttachState.ATTACHED)], expected_calls=[attach(SHARED, N2)]),
]


def build(case: Case) -> tuple[Reconciler, DesiredStateOfWorld, ActualStateOfWorld, FakeAttacherDetacher,
                               FakeRecorder, list[str], FakeClock]:
    clock = FakeClock(1000.0)
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld(clock=clock)
    for n in (N1, N2, N3):
        dsw.add_node(n)
    for p, v, n in case.desired:
        dsw.add_pod(p, v.spec_name, v, n)
    for v, n, state in case.attached:
        if state is AttachState.ATTACHED:
            asw.mark_attached(v, n, device_path="/dev/loop9", attachment=v.attachment_name(n))
        else:
            asw.mark_uncertain(v, n, attachment=v.attachment_name(n))
    for n, vols in case.in_use.items():
        asw.set_mount_report(NodeName(n), [v.name for v in vols])
    ops = FakeAttacherDetacher()
    for v, n in case.pending:
        ops.pending.add((v.name, n))
    for v, n, op in case.backoff:
        ops.backoff.add((v.name, n, op))
    recorder, forced = FakeRecorder(), []
    rc = Reconciler(dsw=dsw, asw=asw, operations=ops, nodes=FakeNodes(not_ready=case.not_ready,
                                                                      out_of_service=case.out_of_service),
                    recorder=recorder, max_wait_for_unmount=MAX_WAIT, on_forced_detach=forced.append)
    return rc, dsw, asw, ops, recorder, forced, clock


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reconcile(case: Case) -> None:
    rc, _dsw, _asw, ops, recorder, forced, clock = build(case)
    rc.reconcile()
    if case.advance is not None:
        clock.advance(case.advance)
        rc.reconcile()
    assert ops.calls == case.expected_calls
    assert recorder.events == case.expected_events
    assert forced == case.expected_forced


def test_timeout_detach_on_a_ready_node_skips_the_check_once_unmounted() -> None:
    # Kubernetes: once the wait expired, a detach skips verify-safe and counts as forced,
    # even on a Ready node whose kubelet has just unmounted the volume.
    case = Case("", attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]})
    rc, _dsw, asw, ops, _rec, forced, clock = build(case)
    rc.reconcile()
    clock.advance(MAX_WAIT + 1)
    rc.reconcile()
    assert ops.calls == []
    asw.set_mount_report(N1, [])
    rc.reconcile()
    assert ops.calls == [detach(V1, N1, safe=False)] and forced == ["timeout"]


def test_wanted_again_forgets_the_detach_request() -> None:
    case = Case("", attached=[(V1, N1, AttachState.ATTACHED)], in_use={N1: [V1]}, not_ready=(N1,))
    rc, dsw, asw, ops, _rec, forced, clock = build(case)
    rc.reconcile()  # detach requested, waits for unmount
    clock.advance(MAX_WAIT - 10)
    dsw.add_pod(A, V1.spec_name, V1, N1)
    rc.reconcile()  # wanted again: request forgotten
    dsw.delete_pod(A.uid)
    clock.advance(20)
    rc.reconcile()  # a new request: only 0 s old, so no force detach
    assert ops.calls == [] and forced == []
    assert asw.get_attached_volume(V1.name, N1).detach_requested_at == clock.now()  # type: ignore[union-attr]


def test_multi_attach_event_once_then_attach_when_the_first_node_lets_go() -> None:
    case = Case("", desired=[(A, V1, N1), (B, V1, N2)], attached=[(V1, N1, AttachState.ATTACHED)])
    rc, dsw, asw, ops, recorder, _forced, _clock = build(case)
    for _ in range(3):
        rc.reconcile()
    assert len(recorder.events) == 1 and ops.calls == []
    dsw.delete_pod(A.uid)  # the first pod goes
    rc.reconcile()
    assert ops.calls == [detach(V1, N1)]
    rc.reconcile()  # the detach still runs: one operation per volume, nothing else starts
    assert ops.calls == [detach(V1, N1)]
    ops.complete(asw)
    rc.reconcile()
    assert ops.calls == [detach(V1, N1), attach(V1, N2)]
    ops.complete(asw)
    rc.reconcile()
    assert asw.get_nodes_for_attached_volume(V1.name) == [N2] and len(ops.calls) == 2


def test_settles_a_pod_moving_nodes() -> None:
    """Run until settled: the RWO volume ends attached to the new node only, detached first."""
    case = Case("", desired=[(A, V1, N1), (A, V2, N1)])
    rc, dsw, asw, ops, _rec, _forced, _clock = build(case)
    for _ in range(3):
        rc.reconcile()
        ops.complete(asw)
    dsw.delete_pod(A.uid)
    dsw.add_pod(C, "data", V1, N2)
    dsw.add_pod(C, "other", V2, N2)
    for _ in range(5):
        rc.reconcile()
        ops.complete(asw)
    assert {(a.name, a.node) for a in asw.get_attached_volumes()} == {(V1.name, N2), (V2.name, N2)}
    for v in (V1, V2):
        calls = [c for c in ops.calls if c.volume == v.name]
        assert calls == [attach(v, N1), detach(v, N1), attach(v, N2)]
