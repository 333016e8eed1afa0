"""The operation executor: one operation per key, "already pending" and backoff as quiet
refusals, Kubernetes' backoff doubling from 500 ms, on an injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from kstore.client.clock import FakeClock
from kstore.kubelet.volumemanager.executor import OperationExecutor


@dataclasses.dataclass
class Result:
    failed: bool


async def run_now(fn: Callable[[], Any]) -> Any:
    return fn()


async def test_one_operation_per_key_and_already_pending_is_a_quiet_no() -> None:
    gate = asyncio.Event()
    done: list[str] = []

    async def run_gated(fn: Callable[[], Any]) -> Any:
        await gate.wait()
        return fn()

    ex = OperationExecutor(run_gated, clock=FakeClock())
    assert ex.start("v1", lambda: Result(False), lambda r: done.append("first"))
    assert not ex.start("v1", lambda: Result(False), lambda r: done.append("second"))
    assert ex.start("v2", lambda: Result(False), lambda r: done.append("other"))
    assert ex.is_pending("v1")
    gate.set()
    await ex.wait_idle()
    assert sorted(done) == ["first", "other"] and not ex.is_pending("v1")


async def test_failures_back_off_doubling_and_success_resets() -> None:
    clock = FakeClock()
    ex = OperationExecutor(run_now, clock=clock, backoff=(0.5, 2.0))
    seen: list[bool] = []
    waits = []
    for _ in range(4):
        while ex.in_backoff("v"):
            clock.advance(0.25)
        waits.append(clock.now())
        assert ex.start("v", lambda: Result(True), lambda r: seen.append(r.failed))
        await ex.wait_idle()
    assert [round(b - a, 2) for a, b in zip(waits, waits[1:], strict=False)] == [0.5, 1.0, 2.0]  # capped at 2.0
    assert ex.failures("v") == 4
    clock.advance(2.0)
    assert ex.start("v", lambda: Result(False), lambda r: seen.append(r.failed))
    await ex.wait_idle()
    assert ex.failures("v") == 0 and not ex.in_backoff("v")
    assert seen == [True, True, True, True, False]


async def test_a_crashing_operation_counts_as_a_failure_and_does_not_kill_the_loop() -> None:
    ex = OperationExecutor(run_now, clock=FakeClock())

    def boom() -> Result:
        raise RuntimeError("plugin bug")

    called: list[Any] = []
    assert ex.start("v", boom, called.append)
    await ex.wait_idle()
    assert called == [] and ex.in_backoff("v")
