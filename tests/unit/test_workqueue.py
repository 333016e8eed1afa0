"""Tests for kstore.client.workqueue and kstore.client.ratelimit, on a FakeClock.

Queue semantics are a table of scripts (the cases of client-go's queue_test.go and
delaying_queue_test.go): each step is an operation and, where it returns something, the
exact expected result. Time moves only via
`advance`, delayed items move only via `poll`, so nothing depends on scheduling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from kstore.api.errors import conflict
from kstore.client.clock import FakeClock, RealClock
from kstore.client.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)
from kstore.client.workqueue import ShutDown, WorkQueue, run_worker

_names = itertools.count()


def new_queue(clock: FakeClock | None = None, **kwargs: Any) -> WorkQueue[str]:
    """A queue with a name no other test uses, so metric series start at zero."""
    return WorkQueue(f"test-wq-{next(_names)}", clock=clock or FakeClock(), **kwargs)


async def settle() -> None:
    """Let every ready task run until it blocks again (no wall-clock waiting)."""
    for _ in range(10):
        await asyncio.sleep(0)


def sample(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


# --- queue semantics: scripted table --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    script: str  # steps separated by ";", see `run_step`


CASES = [
    Case("adds while queued coalesce", "add a; add a; add b; add a; len 2; get a; get b; len 0"),
    Case("FIFO order", "add c; add a; add b; get c; get a; get b"),
    Case(
        "added while processing: not queued until done",
        "add a; get a; add a; len 0; processing a; done a; len 1; processing -; get a",
    ),
    Case(
        "several adds while processing give one re-queue",
        "add a; get a; add a; add a; done a; len 1; get a; done a; len 0",
    ),
    Case("done without an add does not re-queue", "add a; get a; done a; len 0"),
    Case("done for an item not being processed is a no-op", "add a; done a; len 1; get a"),
    Case(
        "add_after: ready items come out in ready-time order",
        "after a 3; after b 1; after c 2; delayed a=3 b=1 c=2; poll 0; len 0; "
        "advance 1; poll 1; get b; advance 1.5; poll 1; get c; advance 0.5; poll 1; get a; delayed -",
    ),
    Case(
        "add_after: all due items move at once, in ready-time order",
        "after a 2; after b 1; advance 5; poll 2; get b; get a",
    ),
    Case(
        "add_after: an earlier time replaces a later one",
        "after a 5; after a 1; delayed a=1; advance 1; poll 1; get a; advance 10; poll 0; len 0",
    ),
    Case("add_after: a later time does not postpone", "after a 1; after a 5; delayed a=1; advance 1; poll 1"),
    Case("add_after with no delay adds now", "after a 0; len 1; delayed -"),
    Case(
        "add_after of a queued item coalesces when due",
        "add a; after a 1; advance 1; poll 1; len 1; get a; len 0",
    ),
    Case(
        "shut_down: ignores adds, drains what is queued, then raises",
        "add a; add b; shut_down; add c; len 2; get a; get b; get ShutDown; get ShutDown",
    ),
    Case(
        "shut_down: drops delayed items",
        "after a 1; shut_down; after b 0; advance 2; poll 0; delayed -; get ShutDown",
    ),
    Case(
        "shut_down: an item dirty before shut down comes back after done",
        "add a; get a; add a; shut_down; done a; get a; done a; get ShutDown",
    ),
]


async def run_step(q: WorkQueue[str], clock: FakeClock, step: str) -> None:
    """One step: `add x`, `after x delay`, `get x` / `get ShutDown`, `done x`, `len n`,
    `advance dt`, `poll moved`, `delayed x=t ...` / `delayed -`, `processing x ...` / `processing -`,
    `shut_down`. Steps that return something assert the exact value."""
    op, *args = step.split()
    if op == "add":
        q.add(args[0])
    elif op == "after":
        q.add_after(args[0], float(args[1]))
    elif op == "get" and args == ["ShutDown"]:
        with pytest.raises(ShutDown):
            await asyncio.wait_for(q.get(), timeout=1)
    elif op == "get":
        assert await asyncio.wait_for(q.get(), timeout=1) == args[0]
    elif op == "done":
        q.done(args[0])
    elif op == "len":
        assert len(q) == int(args[0])
    elif op == "advance":
        clock.advance(float(args[0]))
    elif op == "poll":
        assert q.poll_delayed() == int(args[0])
    elif op == "delayed":
        pairs = [a.split("=") for a in args if a != "-"]
        assert q.delayed() == {item: float(t) for item, t in pairs}
    elif op == "processing":
        assert q.processing() == frozenset(a for a in args if a != "-")
    elif op == "shut_down":
        q.shut_down()
    else:
        raise AssertionError(f"unknown step {step!r}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_queue_script(case: Case) -> None:
    clock = FakeClock()
    q = new_queue(clock)
    for i, step in enumerate(case.script.split(";")):
        try:
            await run_step(q, clock, step)
        except AssertionError as err:
            raise AssertionError(f"{case.name}: step {i} {step.strip()!r}: {err}") from err
    q.shut_down()


# --- waiting and waking ---------------------------------------------------------------------


async def test_get_waits_for_add() -> None:
    q = new_queue()
    getter = asyncio.create_task(q.get())
    await settle()
    assert not getter.done()
    q.add("a")
    assert await asyncio.wait_for(getter, timeout=1) == "a"


async def test_shut_down_wakes_waiting_getters_with_shutdown() -> None:
    q = new_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await settle()
    q.shut_down()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), timeout=1)
    assert [type(r) for r in results] == [ShutDown, ShutDown, ShutDown]


async def test_cancelled_getter_passes_its_wake_up_on() -> None:
    q = new_queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await settle()
    q.add("a")  # wakes `first`, which is cancelled before it can take the item
    first.cancel()
    assert await asyncio.wait_for(second, timeout=1) == "a"
    assert first.cancelled()


async def test_get_polls_due_delayed_items() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add_after("a", 2.0)
    clock.advance(2.0)
    assert await asyncio.wait_for(q.get(), timeout=1) == "a"


async def test_shut_down_with_drain_waits_for_in_flight_items() -> None:
    q = new_queue()
    q.add("a")
    item = await asyncio.wait_for(q.get(), timeout=1)
    drain = asyncio.create_task(q.shut_down_with_drain())
    await settle()
    assert not drain.done()
    q.done(item)
    await asyncio.wait_for(drain, timeout=1)


async def test_real_timer_moves_delayed_items_and_rearms_for_earlier_ones() -> None:
    # Real clock and loop timer: `b` (10 ms) must come out although `a` (60 s) armed the timer first.
    q: WorkQueue[str] = WorkQueue(f"test-wq-{next(_names)}", clock=RealClock())
    q.add_after("a", 60.0)
    q.add_after("b", 0.01)
    assert await asyncio.wait_for(q.get(), timeout=5) == "b"
    assert list(q.delayed()) == ["a"]
    q.shut_down()


# --- workers ----------------------------------------------------------------------------------


async def test_one_item_is_never_processed_by_two_workers() -> None:
    q = new_queue()
    release = asyncio.Event()
    active: set[str] = set()
    calls: list[str] = []

    async def handler(item: str) -> None:
        assert item not in active, f"{item} processed twice at once"
        active.add(item)
        calls.append(item)
        if len(calls) == 1:
            await release.wait()
        active.discard(item)

    workers = [asyncio.create_task(run_worker(q, handler)) for _ in range(2)]
    q.add("a")
    await settle()
    assert calls == ["a"] and q.processing() == {"a"}
    q.add("a")  # dirty while processing: the idle worker must not get it
    await settle()
    assert calls == ["a"] and len(q) == 0
    release.set()
    await settle()
    assert calls == ["a", "a"]
    q.shut_down()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=1)


async def test_worker_retries_with_backoff_then_forgets(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    q = new_queue(clock, rate_limiter=ItemExponentialFailureRateLimiter(0.005, 1000.0))
    outcomes = [conflict("persistentvolumeclaims", "data"), RuntimeError("boom"), None]
    seen: list[tuple[str, float]] = []

    async def handler(item: str) -> None:
        seen.append((item, clock.now()))
        err = outcomes.pop(0)
        if err is not None:
            raise err

    worker = asyncio.create_task(run_worker(q, handler))
    with caplog.at_level(logging.WARNING, logger="kstore.client.workqueue"):
        q.add("default/data")
        await settle()
        assert q.delayed() == {"default/data": 0.005}
        assert q.num_requeues("default/data") == 1

        clock.advance(0.005)
        assert q.poll_delayed() == 1
        await settle()
        assert q.delayed() == {"default/data": pytest.approx(0.005 + 0.010)}
        assert q.num_requeues("default/data") == 2

        clock.advance(0.010)
        q.poll_delayed()
        await settle()
    assert seen == [("default/data", 0.0), ("default/data", 0.005), ("default/data", pytest.approx(0.015))]
    assert q.num_requeues("default/data") == 0  # forgotten on success
    assert q.delayed() == {} and q.processing() == frozenset() and len(q) == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all(m.startswith("default/data: ") for m in messages)
    # A store error is expected and logged without a traceback; anything else shows one.
    assert [bool(r.exc_info) for r in caplog.records] == [False, True]

    q.shut_down()
    await asyncio.wait_for(worker, timeout=1)
    assert worker.result() is None


# --- rate limiters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "cap", "expected"),
    [
        (0.005, 1000.0, [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]),
        (1.0, 5.0, [1.0, 2.0, 4.0, 5.0, 5.0]),
        (0.001, 0.001, [0.001, 0.001]),
    ],
    ids=["client-go default 5ms doubling", "capped at max", "base equals max"],
)
def test_exponential_failure_delays(base: float, cap: float, expected: list[float]) -> None:
    limiter = ItemExponentialFailureRateLimiter(base, cap)
    assert [limiter.when("x") for _ in expected] == pytest.approx(expected)
    assert limiter.num_requeues("x") == len(expected)


def test_exponential_per_item_and_forget_resets() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    assert [limiter.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    assert limiter.when("b") == 0.005  # independent per item
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005
    limiter.forget("never-seen")  # no-op


def test_exponential_does_not_overflow() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [limiter.when("x") for _ in range(2000)]
    assert delays[-1] == 1000.0 and limiter.num_requeues("x") == 2000


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # burst of 3 is free, then each reservation waits one more 1/qps
        ([0, 0, 0, 0, 0], [0.0, 0.0, 0.0, 0.1, 0.2]),
        # the deficit refills at qps: after 0.2 s the bucket is back to 0 tokens
        ([0, 0, 0, 0, 0, 0.2, 0], [0.0, 0.0, 0.0, 0.1, 0.2, 0.1, 0.2]),
        # a long pause refills to burst, never beyond
        ([0, 0, 0, 100, 0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.2]),
    ],
    ids=["burst then qps spacing", "refill pays the deficit", "refill capped at burst"],
)
def test_bucket_limiter(steps: list[float], expected: list[float]) -> None:
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=3, clock=clock)
    delays = []
    for dt in steps:
        clock.advance(dt)
        delays.append(limiter.when("any"))
    assert delays == pytest.approx(expected)
    assert limiter.num_requeues("any") == 0


def test_token_bucket_try_accept_takes_only_whole_tokens() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=1.0, burst=2, clock=clock)
    assert [bucket.try_accept() for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert bucket.try_accept() is False and bucket.tokens() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.try_accept() is True


def test_max_of_limiter_takes_worst_case_and_fans_out() -> None:
    clock = FakeClock()
    limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(1.0, 100.0), BucketRateLimiter(1.0, 1, clock)
    )
    assert [limiter.when("a"), limiter.when("a"), limiter.when("a")] == [1.0, 2.0, 4.0]
    assert limiter.when("b") == pytest.approx(3.0)  # bucket deficit of 3 tokens at 1 qps beats b's 1 s
    assert limiter.num_requeues("a") == 3
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_controller_rate_limiter() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    first = [limiter.when(f"item-{i}") for i in range(100)]
    assert first == [0.005] * 100  # within the burst of 100: per-item backoff only
    assert limiter.when("item-100") == pytest.approx(0.1)  # bucket at 10 qps takes over


# --- metrics ----------------------------------------------------------------------------------


async def test_queue_metrics() -> None:
    clock = FakeClock()
    q = new_queue(clock, rate_limiter=ItemExponentialFailureRateLimiter())
    n = {"name": q.name}

    def value(metric: str) -> float:
        return sample(metric, n)

    q.add("a")
    q.add("a")  # coalesced: not counted
    q.add("b")
    assert (value("workqueue_adds_total"), value("workqueue_depth")) == (2.0, 2.0)

    clock.advance(1.0)
    assert await q.get() == "a"
    assert value("workqueue_depth") == 1.0
    assert value("workqueue_queue_duration_seconds_count") == 1.0
    assert value("workqueue_queue_duration_seconds_sum") == 1.0
    assert sample("workqueue_queue_duration_seconds_bucket", {**n, "le": "0.1"}) == 0.0
    assert sample("workqueue_queue_duration_seconds_bucket", {**n, "le": "1.0"}) == 1.0

    clock.advance(2.0)
    assert await q.get() == "b"
    clock.advance(1.0)
    # in flight: a for 3 s, b for 1 s
    assert value("workqueue_unfinished_work_seconds") == 4.0
    assert value("workqueue_longest_running_processor_seconds") == 3.0

    q.done("a")
    assert value("workqueue_work_duration_seconds_count") == 1.0
    assert value("workqueue_work_duration_seconds_sum") == 3.0
    assert value("workqueue_longest_running_processor_seconds") == 1.0
    q.done("b")
    assert value("workqueue_unfinished_work_seconds") == 0.0

    q.add_after("c", 1.0)
    q.add_rate_limited("c")
    q.add_after("d", 0.0)  # counted as a retry too, as in client-go
    assert value("workqueue_retries_total") == 3.0
    assert value("workqueue_adds_total") == 3.0  # d only; c is still waiting
    q.shut_down()
