"""One operation per volume at a time, with exponential backoff after failures (Kubernetes'
`nestedpendingoperations` and `goroutinemap/exponentialbackoff`, read for behaviour).

Design:
- An operation runs under a key (volume, node). The node is "" for a volume that may be
  attached to one node only: then the key covers the volume on every node, so an attach on
  node-2 never overlaps the detach from node-1. Two keys conflict when they name the same
  volume and either has node "" or both name the same node.
- `run` starts the operation as a task on the running loop and returns at once: `STARTED`,
  or `PENDING` (a conflicting operation runs) or `BACKOFF` (the same operation on the same key
  failed recently) — both expected, not errors: the reconciler comes back next pass.
- Backoff is per (key, operation name): a failed attach does not delay a detach. The first
  retry waits 0.5 s, doubling up to 2 min 2 s (Kubernetes' values); a success forgets it.
- The operation records its own outcome (in the actual state of the world, in the store); the
  executor only logs a failure and arms the backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable

from kstore.client.clock import Clock, RealClock

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 122.0


class StartResult(enum.Enum):
    STARTED = "started"
    PENDING = "pending"  # a conflicting operation runs: operation already pending, expected
    BACKOFF = "backoff"  # it failed recently and waits for its backoff, expected


@dataclasses.dataclass(frozen=True)
class OperationKey:
    volume: str
    node: str = ""  # "" = the volume on every node

    def conflicts(self, other: OperationKey) -> bool:
        return self.volume == other.volume and (not self.node or not other.node or self.node == other.node)

    def __str__(self) -> str:
        return f"{self.volume} on {self.node}" if self.node else self.volume


@dataclasses.dataclass
class _Backoff:
    failures: int
    not_before: float


class PendingOperations:
    def __init__(self, *, clock: Clock | None = None, backoff: tuple[float, float] = (INITIAL_BACKOFF, MAX_BACKOFF)
                 ) -> None:
        self._clock = clock if clock is not None else RealClock()
        self._initial, self._max = backoff
        self._running: dict[OperationKey, tuple[str, asyncio.Task[None]]] = {}
        self._by_volume: dict[str, set[str]] = {}  # volume → nodes of its running keys ("" = every node)
        self._backoff: dict[tuple[OperationKey, str], _Backoff] = {}

    def is_pending(self, key: OperationKey) -> bool:
        """O(1): a conflicting key runs (see OperationKey.conflicts)."""
        nodes = self._by_volume.get(key.volume)
        if not nodes:
            return False
        return not key.node or "" in nodes or key.node in nodes

    def in_backoff(self, key: OperationKey, operation: str) -> bool:
        b = self._backoff.get((key, operation))
        return b is not None and self._clock.now() < b.not_before

    def is_safe_to_retry(self, key: OperationKey, operation: str) -> bool:
        return not self.is_pending(key) and not self.in_backoff(key, operation)

    def run(self, key: OperationKey, operation: str, body: Callable[[], Awaitable[None]]) -> StartResult:
        if self.is_pending(key):
            return StartResult.PENDING
        if self.in_backoff(key, operation):
            return StartResult.BACKOFF

        async def wrapped() -> None:
            await body()

        task = asyncio.get_running_loop().create_task(wrapped(), name=f"{operation} {key}")
        self._running[key] = (operation, task)
        self._by_volume.setdefault(key.volume, set()).add(key.node)
        task.add_done_callback(lambda t: self._done(key, operation, t))
        return StartResult.STARTED

    def _done(self, key: OperationKey, operation: str, task: asyncio.Task[None]) -> None:
        if self._running.get(key, (None, None))[1] is task:
            del self._running[key]
            nodes = self._by_volume.get(key.volume)
            if nodes is not None:
                nodes.discard(key.node)
                if not nodes:
                    del self._by_volume[key.volume]
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self._backoff.pop((key, operation), None)
            return
        previous = self._backoff.get((key, operation))
        failures = previous.failures + 1 if previous is not None else 1
        delay = min(self._initial * 2 ** (failures - 1), self._max)
        self._backoff[(key, operation)] = _Backoff(failures, self._clock.now() + delay)
        log.warning("%s %s failed (attempt %d), no retry for %.1fs: %s", operation, key, failures, delay, error,
                    exc_info=not isinstance(error, OperationError))

    def running(self) -> list[tuple[OperationKey, str]]:
        return [(k, op) for k, (op, _) in self._running.items()]

    async def wait_idle(self) -> None:
        """Until no operation runs (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*(t for _, t in list(self._running.values())), return_exceptions=True)

    def cancel_all(self) -> None:
        for _, task in self._running.values():
            task.cancel()


class OperationError(Exception):
    """An operation failed in a way it has already reported (event, status): logged without a
    traceback."""
