"""A rate-limited, de-duplicating asyncio work queue with client-go's semantics.

This is client-go's `RateLimitingQueue` (`util/workqueue/{queue,delaying_queue,
rate_limiting_queue}.go`) for one asyncio event loop. Controllers put object keys in it
from informer handlers and workers take them out; the queue guarantees that a key is
processed by at most one worker at a time and that no change is lost.

Design (three sets, one heap):
- `_dirty`: items that need processing. `_queue` (FIFO): the dirty items that are not being
  processed, in the order they became ready. `_processing`: items a worker holds between
  `get()` and `done()`.
- `add(x)`: if x is already dirty, nothing happens (adds while queued coalesce). Otherwise
  x becomes dirty and, unless a worker is processing it, is appended to the FIFO. An item
  added while processing therefore waits, dirty, until `done(x)` re-queues it: one item is
  never processed by two workers at once, and the change that arrived meanwhile is not lost.
- `get()` pops the FIFO head, moves it from dirty to processing, and waits if the FIFO is
  empty. `done(x)` takes x out of processing and re-queues it if it became dirty meanwhile.
- `add_after(x, delay)`: a heap of `(ready_time, seq, item)` on the injected `Clock`, plus
  `_waiting` mapping each item to its current entry; a second `add_after` for a waiting
  item only ever moves it *earlier* (client-go's `insert`), older heap entries are skipped
  lazily. `poll_delayed()` moves every due item into the queue with `add()`. In real use a
  timer (`loop.call_later`) wakes at the head's ready time, re-armed when an earlier item
  arrives, and at least every `MAX_WAIT` seconds as insurance (client-go's heartbeat);
  `get()` also polls. Tests use a `FakeClock` and call `poll_delayed()`: due-ness depends only
  on the fake time, so the outcome never depends on scheduling.
- `add_rate_limited(x)` is `add_after(x, rate_limiter.when(x))`; `forget(x)` clears the
  limiter's memory of x (call it on success); neither touches dirty/processing.
- `shut_down()`: later adds are ignored, delayed items are dropped, waiting getters wake.
  `get()` keeps handing out what is already queued and raises `ShutDown` once the FIFO is
  empty. `shut_down_with_drain()` also waits for in-flight items to be `done()`.

Invariants: every FIFO item is in `_dirty` and not in `_processing`; an item is in the FIFO at
most once; `len(queue)` is the FIFO length (ready items only). Not thread-safe: call every
method from the event loop's thread (sync methods may be called from sync callbacks on it).

Metrics (label `name`, client-go's names): `workqueue_adds_total` and `workqueue_depth`
count an item when it becomes dirty (so depth includes items dirty while processing, as in
client-go); `workqueue_queue_duration_seconds` from first add to `get()`;
`workqueue_work_duration_seconds` from `get()` to `done()`; `workqueue_retries_total` every
`add_after`/`add_rate_limited`; `workqueue_unfinished_work_seconds` and
`workqueue_longest_running_processor_seconds` are computed from the in-flight items whenever
the registry is scraped.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kstore.api.errors import ApiError
from kstore.client.clock import Clock, RealClock
from kstore.client.ratelimit import RateLimiter, default_controller_rate_limiter
from kstore.observe import metrics

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)

# Longest the delay timer sleeps before re-checking the heap (client-go's heartbeat, maxWait).
MAX_WAIT = 10.0


class ShutDown(Exception):
    """`get()` on a queue that is shut down and has nothing left to hand out."""


class WorkQueue(Generic[T]):
    """client-go's rate-limiting work queue for asyncio; see the module docstring.

    `name` labels the queue's metrics (e.g. `claims`, `volumes`); two live queues in one
    process should not share a name. `rate_limiter` defaults to
    `default_controller_rate_limiter(clock)`.
    """

    def __init__(
        self,
        name: str,
        *,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not name:
            raise ValueError("WorkQueue: name is required; it labels the queue's metrics")
        self.name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._limiter: RateLimiter = (
            rate_limiter if rate_limiter is not None else default_controller_rate_limiter(self._clock)
        )

        self._queue: collections.deque[T] = collections.deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None

        # Delayed items: heap entries are (ready_time, seq, item); `_waiting` holds each
        # item's live entry, so entries replaced by an earlier add_after are skipped.
        self._heap: list[tuple[float, int, T]] = []
        self._waiting: dict[T, tuple[float, int]] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

        # Metric state: when each dirty item was first added, when each in-flight item was taken.
        self._add_times: dict[T, float] = {}
        self._start_times: dict[T, float] = {}
        self._m_depth = metrics.WORKQUEUE_DEPTH.labels(name)
        self._m_adds = metrics.WORKQUEUE_ADDS.labels(name)
        self._m_queue_duration = metrics.WORKQUEUE_QUEUE_DURATION.labels(name)
        self._m_work_duration = metrics.WORKQUEUE_WORK_DURATION.labels(name)
        self._m_retries = metrics.WORKQUEUE_RETRIES.labels(name)
        # A new queue with the same name takes over the gauges (the series is per name).
        self._m_depth.set(0)
        ref = weakref.ref(self)
        metrics.WORKQUEUE_UNFINISHED_WORK.labels(name).set_function(lambda: _unfinished(ref, total=True))
        metrics.WORKQUEUE_LONGEST_RUNNING_PROCESSOR.labels(name).set_function(
            lambda: _unfinished(ref, total=False)
        )

    # --- the queue ------------------------------------------------------------------

    def add(self, item: T) -> None:
        """Mark `item` as needing processing.

        No-op if it is already dirty or the queue is shutting down. If a worker is
        processing it, it is queued again only when that worker calls `done()`.
        """
        if self._shutting_down or item in self._dirty:
            return
        self._m_adds.inc()
        self._m_depth.inc()
        self._add_times.setdefault(item, self._clock.now())
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    async def get(self) -> T:
        """Wait for the next item and mark it as being processed; call `done(item)` after.

        Raises `ShutDown` once the queue is shut down and no ready item is left.
        """
        while True:
            self.poll_delayed()
            if self._queue:
                return self._take()
            if self._shutting_down:
                raise ShutDown(f"work queue {self.name} is shut down")
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    # We were woken for an item but will not take it: pass the wake-up on.
                    self._wake_one()
                else:
                    self._remove_getter(waiter)
                raise

    def done(self, item: T) -> None:
        """Finish processing `item`; if it was added meanwhile, queue it again.

        No-op (with a warning) for an item that is not being processed.
        """
        if item not in self._processing:
            log.warning("%s: work queue %s: done() for an item that is not being processed", item, self.name)
            return
        self._processing.discard(item)
        started = self._start_times.pop(item, None)
        if started is not None:
            self._m_work_duration.observe(max(0.0, self._clock.now() - started))
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        if not self._processing and self._drained is not None:
            self._drained.set()

    def __len__(self) -> int:
        """Items ready to be handed out (not those delayed or being processed)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def processing(self) -> frozenset[T]:
        """A copy of the items workers currently hold."""
        return frozenset(self._processing)

    # --- delays and rate limiting ---------------------------------------------------

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` after `delay` seconds on the queue's clock (now if `delay <= 0`).

        If `item` is already waiting, it keeps the earlier of the two ready times.
        No-op once the queue is shutting down.
        """
        if self._shutting_down:
            return
        self._m_retries.inc()
        if delay <= 0:
            self.add(item)
            return
        ready = self._clock.now() + delay
        current = self._waiting.get(item)
        if current is not None and current[0] <= ready:
            return
        entry = (ready, next(self._seq))
        self._waiting[item] = entry
        heapq.heappush(self._heap, (entry[0], entry[1], item))
        self._arm_timer()

    def add_rate_limited(self, item: T) -> None:
        """Add `item` after the delay its rate limiter gives (one more failure counted)."""
        self.add_after(item, self._limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop rate-limit tracking of `item` (call on success). Does not replace `done()`."""
        self._limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many failures of `item` the rate limiter is tracking."""
        return self._limiter.num_requeues(item)

    def poll_delayed(self) -> int:
        """Move every delayed item whose time has come into the queue; return how many."""
        if self._shutting_down:
            return 0
        now = self._clock.now()
        moved = 0
        while True:
            head = self._live_head()
            if head is None or head[0] > now:
                break
            _, _, item = heapq.heappop(self._heap)
            del self._waiting[item]
            self.add(item)
            moved += 1
        self._arm_timer()
        return moved

    def delayed(self) -> dict[T, float]:
        """A copy of the waiting items and the clock time each becomes ready."""
        return {item: entry[0] for item, entry in self._waiting.items()}

    # --- shutting down --------------------------------------------------------------

    def shut_down(self) -> None:
        """Ignore new adds, drop delayed items and wake all getters.

        Getters still receive the items already queued, then `ShutDown`. Idempotent.
        """
        self._shutting_down = True
        self._heap.clear()
        self._waiting.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def shut_down_with_drain(self) -> None:
        """`shut_down()`, then wait until every in-flight item has been `done()`.

        Workers must keep calling `done()` (and `get()` to drain the queue), or this waits forever.
        """
        self.shut_down()
        if not self._processing:
            return
        if self._drained is None:
            self._drained = asyncio.Event()
        await self._drained.wait()

    # --- internals ------------------------------------------------------------------

    def _take(self) -> T:
        item = self._queue.popleft()
        now = self._clock.now()
        self._m_depth.dec()
        self._start_times[item] = now
        added = self._add_times.pop(item, None)
        if added is not None:
            self._m_queue_duration.observe(max(0.0, now - added))
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _remove_getter(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._getters.remove(waiter)
        except ValueError:
            pass

    def _live_head(self) -> tuple[float, int, T] | None:
        """The earliest heap entry still current for its item, dropping replaced ones."""
        while self._heap:
            ready, seq, item = self._heap[0]
            if self._waiting.get(item) == (ready, seq):
                return self._heap[0]
            heapq.heappop(self._heap)
        return None

    def _arm_timer(self) -> None:
        """Make sure a timer will wake us by the next ready time (or within MAX_WAIT)."""
        head = None if self._shutting_down else self._live_head()
        if head is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer_at <= head[0]:
            return  # already armed early enough
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (plain sync use): items move only on poll_delayed()/get()
        if self._timer is not None:
            self._timer.cancel()
        now = self._clock.now()
        delay = min(max(0.0, head[0] - now), MAX_WAIT)
        self._timer_at = now + delay
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.poll_delayed()

    def _unfinished_seconds(self, *, total: bool) -> float:
        now = self._clock.now()
        # Copy first: a scrape may run on another thread while the loop mutates the dict.
        ages = [max(0.0, now - started) for started in tuple(self._start_times.values())]
        if not ages:
            return 0.0
        return sum(ages) if total else max(ages)


def _unfinished(ref: weakref.ref[WorkQueue[T]], *, total: bool) -> float:
    queue = ref()
    return 0.0 if queue is None else queue._unfinished_seconds(total=total)


async def run_worker(queue: WorkQueue[T], handler: Callable[[T], Awaitable[None]]) -> None:
    """Process items until the queue shuts down: get -> handler -> forget or retry -> done.

    A handler that raises has its item re-added with `add_rate_limited` (backing off per
    item) and the error logged with the item's key; one that returns has its item
    forgotten by the rate limiter. `done()` is always called, so an item added while it was
    being processed comes back. Returns when `get()` raises `ShutDown`; cancellation
    propagates. Run several of these on one queue for parallelism: the queue never gives the
    same item to two workers at once.
    """
    while True:
        try:
            item = await queue.get()
        except ShutDown:
            return
        try:
            await handler(item)
        except Exception as err:
            queue.add_rate_limited(item)
            # Store errors are expected and say what happened; anything else is a bug: show where.
            log.warning(
                "%s: %s worker failed (requeue %d): %s",
                item,
                queue.name,
                queue.num_requeues(item),
                err,
                exc_info=not isinstance(err, ApiError),
            )
        else:
            queue.forget(item)
        finally:
            queue.done(item)
