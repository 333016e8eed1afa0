"""The operation executor: runs the volume manager's blocking operations, one per key (volume)
at a time, with exponential backoff after a failure (Kubernetes' `nestedpendingoperations`
and `exponentialbackoff`: 500 ms, doubling, at most 2 m 2 s).

`start(key, fn, on_done)` returns False without doing anything when an operation for the key
is still running ("operation already pending") or the key is backing off after a failure:
both are expected, the reconciler simply asks again on a later pass. Otherwise `fn` runs
through `run` (in production: a thread pool; in tests: at once) and `on_done(result)` is
called on the event loop with its result. `fn` must not raise: operations return an outcome
whose `failed` says whether to back off; anything raised anyway is logged and counts as a
failure (`on_done` is then not called).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol, TypeVar

from kstore.client.clock import Clock, RealClock

log = logging.getLogger(__name__)

BACKOFF = (0.5, 122.0)  # first delay and cap, seconds (Kubernetes' 500ms … 2m2s)

R = TypeVar("R")


class Outcome(Protocol):
    @property
    def failed(self) -> bool: ...


Runner = Callable[[Callable[[], Any]], Awaitable[Any]]


class OperationExecutor:
    def __init__(self, run: Runner, *, clock: Clock | None = None, backoff: tuple[float, float] = BACKOFF) -> None:
        self._run = run
        self._clock: Clock = clock if clock is not None else RealClock()
        self._backoff = backoff
        self._pending: dict[Hashable, asyncio.Task[None]] = {}
        self._failures: dict[Hashable, tuple[int, float]] = {}  # key → (failures, not before)

    def is_pending(self, key: Hashable) -> bool:
        return key in self._pending

    def in_backoff(self, key: Hashable) -> bool:
        failed = self._failures.get(key)
        return failed is not None and self._clock.now() < failed[1]

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, (0, 0.0))[0]

    def start(self, key: Hashable, fn: Callable[[], R], on_done: Callable[[R], None]) -> bool:
        if key in self._pending or self.in_backoff(key):
            return False
        task = asyncio.get_running_loop().create_task(self._execute(key, fn, on_done))
        self._pending[key] = task
        return True

    async def _execute(self, key: Hashable, fn: Callable[[], R], on_done: Callable[[R], None]) -> None:
        failed = True
        try:
            result = await self._run(fn)
            failed = bool(getattr(result, "failed", False))
            on_done(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("operation %s crashed", key)
        finally:
            self._pending.pop(key, None)
            if failed:
                count = self.failures(key) + 1
                delay = min(self._backoff[0] * 2 ** (count - 1), self._backoff[1])
                self._failures[key] = (count, self._clock.now() + delay)
            else:
                self._failures.pop(key, None)

    async def wait_idle(self) -> None:
        """Until no operation runs (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    def cancel_all(self) -> None:
        for task in self._pending.values():
            task.cancel()
