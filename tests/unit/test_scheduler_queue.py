"""queue.py: active / backoff / unschedulable / gated, on a FakeClock (nothing sleeps)."""

from __future__ import annotations

import asyncio

import pytest

from kstore.client.clock import FakeClock
from kstore.scheduler import framework as fw
from kstore.scheduler.podinfo import pod_info
from kstore.scheduler.queue import SchedulingQueue
from kstore.scheduler.testing import make_pod


def queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock, initial_backoff=1.0, max_backoff=10.0, max_unschedulable=300.0)


def pod(name: str, **kw: object):  # noqa: ANN201
    return pod_info(make_pod(name, **kw))  # type: ignore[arg-type]


def pop_all(q: SchedulingQueue) -> list[str]:
    out = []
    while (qp := q.pop_nowait()) is not None:
        out.append(qp.pod.name)
    return out


def test_higher_priority_first_then_arrival_order() -> None:
    clock = FakeClock()
    q = queue(clock)
    for name, prio in (("a", 0), ("b", 10), ("c", 0), ("d", 10)):
        q.add(pod(name, priority=prio))
        clock.advance(1)
    assert pop_all(q) == ["b", "d", "a", "c"]
    assert q.sizes() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0, "in_flight": 4}


def test_unschedulable_pod_waits_for_an_event_then_backs_off() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a", claims=["data"]))
    qp = q.pop_nowait()
    q.requeue_unschedulable(qp, [fw.VOLUME_BINDING])
    clock.advance(60)
    assert q.pop_nowait() is None  # no busy retry: it waits for an event
    assert q.sizes()["unschedulable"] == 1
    # a Node-only event does not concern VolumeBinding's rejection ...
    assert q.move(frozenset({fw.NODE_AFFINITY})) == 0
    # ... a PV event does
    assert q.move(frozenset({fw.VOLUME_BINDING})) == 1
    assert [p.pod.name for p in [q.pop_nowait()]] == ["a"]


def test_a_moved_pod_still_backing_off_goes_to_the_backoff_queue() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a"))
    qp = q.pop_nowait()
    q.requeue_unschedulable(qp, [fw.NODE_AFFINITY])  # attempt 1: backoff 1 s
    q.move(None)
    assert q.sizes()["backoff"] == 1 and q.pop_nowait() is None
    clock.advance(1.0)
    assert pop_all(q) == ["a"]


@pytest.mark.parametrize(("attempts", "backoff"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)])
def test_backoff_doubles_up_to_the_max(attempts: int, backoff: float) -> None:
    assert queue(FakeClock()).backoff(attempts) == backoff


def test_errors_retry_after_backoff() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a"))
    for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        qp = q.pop_nowait()
        assert qp is not None and qp.attempts == attempt
        q.requeue_error(qp)
        clock.advance(wait - 0.01)
        assert q.pop_nowait() is None
        clock.advance(0.01)


def test_claim_event_moves_only_the_pods_using_that_claim() -> None:
    clock = FakeClock()
    q = queue(clock)
    for name, claim in (("a", "one"), ("b", "two")):
        q.add(pod(name, claims=[claim]))
    for qp in (q.pop_nowait(), q.pop_nowait()):
        q.requeue_unschedulable(qp, [fw.VOLUME_BINDING])
    clock.advance(30)
    assert q.move_claim("testns/two") == 1
    assert pop_all(q) == ["b"]
    assert q.unschedulable_keys() == ["testns/a"]


def test_a_move_during_the_attempt_sends_the_failure_to_backoff() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a"))
    qp = q.pop_nowait()
    q.move(None)  # an event arrives while the pod is being scheduled
    q.requeue_unschedulable(qp, [fw.NODE_RESOURCES_FIT])
    assert q.sizes()["backoff"] == 1 and q.sizes()["unschedulable"] == 0


def test_flush_moves_pods_stuck_for_five_minutes() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a"))
    q.requeue_unschedulable(q.pop_nowait(), [fw.NODE_AFFINITY])
    clock.advance(299)
    assert q.flush() == 0
    clock.advance(1)
    assert q.flush() == 1
    assert pop_all(q) == ["a"]


def test_pod_updates_that_matter_move_it_status_updates_do_not() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(pod("a"))
    q.requeue_unschedulable(q.pop_nowait(), [fw.NODE_AFFINITY])
    clock.advance(20)
    status_only = make_pod("a")
    status_only["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    q.update(pod_info(status_only))
    assert q.pop_nowait() is None
    q.update(pod("a", labels={"tier": "web"}))
    assert pop_all(q) == ["a"]


def test_gated_pods_wait_until_their_gates_are_removed() -> None:
    q = queue(FakeClock())
    q.add(pod("a", gates=["example.com/wait"]))
    assert q.pop_nowait() is None and q.sizes()["gated"] == 1
    q.update(pod("a"))
    assert pop_all(q) == ["a"]


def test_deleted_pods_leave_every_queue() -> None:
    clock = FakeClock()
    q = queue(clock)
    for name in "abc":
        q.add(pod(name))
    q.requeue_error(q.pop_nowait())  # a → backoff
    q.requeue_unschedulable(q.pop_nowait(), ["X"])  # b → unschedulable
    for key in ("testns/a", "testns/b", "testns/c"):
        q.delete(key)
    clock.advance(100)
    q.move(None)
    assert pop_all(q) == [] and q.sizes() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0,
                                              "in_flight": 0}
    q.requeue_error(type("Q", (), {"key": "testns/a"})())  # a late failure of a deleted pod is ignored


async def test_pop_waits_and_wakes_on_add_and_on_backoff_expiry() -> None:
    q = SchedulingQueue(initial_backoff=0.05, max_backoff=0.05)
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod("a"))
    qp = await asyncio.wait_for(waiter, 1.0)
    q.requeue_error(qp)
    again = await asyncio.wait_for(q.pop(), 1.0)  # woken by the backoff timer, not by polling
    assert again.pod.name == "a" and again.attempts == 2
