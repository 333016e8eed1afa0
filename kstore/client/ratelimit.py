"""Rate limiters for work queues, with client-go's semantics (`util/workqueue/default_rate_limiters.go`).

A rate limiter answers one question for a work queue: "this item failed; how long until it
may be retried?" (`when`). It is told when an item stops failing (`forget`) and reports how
many failures it is tracking (`num_requeues`).

Design:
- `ItemExponentialFailureRateLimiter`: per item, `base * 2**failures`, capped at `max`.
  Every `when()` counts one failure, so the n-th consecutive retry waits 5 ms, 10 ms,
  20 ms, ... with the defaults. `forget()` resets the item to zero.
- `BucketRateLimiter`: one token bucket shared by all items (golang.org/x/time/rate's
  `Reserve().Delay()`): the bucket starts full with `burst` tokens and refills at `qps`.
  Every `when()` takes a token *even if none is left*, and the deficit becomes the delay, so
  after a burst the retries are spaced exactly 1/qps apart. It tracks no items.
- `MaxOfRateLimiter`: asks every limiter (so each records the failure) and returns the
  longest delay; `forget` and `num_requeues` fan out the same way.
- `default_controller_rate_limiter()`: client-go's `DefaultControllerRateLimiter`, the max
  of per-item exponential (5 ms .. 1000 s) and an overall bucket (10 qps, burst 100).

`TokenBucket` is the bucket itself, shared with the event recorder's spam filter, which
uses `try_accept()` (take a token only if one is available) rather than `reserve()`.

Invariants: delays are seconds (float) and never negative; limiters are not thread-safe and
are used from one event loop, like the queue that owns them.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from kstore.client.clock import Clock, RealClock


class RateLimiter(Protocol):
    """What a work queue needs from a rate limiter (client-go's `RateLimiter`)."""

    def when(self, item: Hashable) -> float:
        """Record a failure of `item` and return how many seconds it should wait."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking `item` (it succeeded or was given up on). Unknown items: no-op."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many failures of `item` are being tracked (0 if none)."""
        ...


class TokenBucket:
    """A token bucket of `burst` tokens refilled at `qps` per second, read on a `Clock`.

    The bucket starts full. Tokens are fractional and the count may go negative after
    `reserve()`, which is what turns a deficit into a delay.
    """

    def __init__(self, qps: float, burst: int, clock: Clock | None = None) -> None:
        if qps <= 0:
            raise ValueError(f"TokenBucket: qps must be > 0, got {qps}")
        if burst < 1:
            raise ValueError(f"TokenBucket: burst must be >= 1, got {burst}")
        self.qps = float(qps)
        self.burst = int(burst)
        self._clock = clock if clock is not None else RealClock()
        self._tokens = float(burst)
        self._last = self._clock.now()

    def _refill(self) -> float:
        now = self._clock.now()
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._last = now
        return now

    def reserve(self) -> float:
        """Take one token now, borrowing from the future if empty; return the wait in seconds."""
        self._refill()
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def try_accept(self) -> bool:
        """Take one token if a whole one is available; otherwise change nothing and say no."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def tokens(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        self._refill()
        return self._tokens


class ItemExponentialFailureRateLimiter:
    """Per-item exponential backoff: `base * 2**failures` seconds, capped at `max`."""

    def __init__(self, base: float = 0.005, max: float = 1000.0) -> None:
        if base <= 0 or max <= 0:
            raise ValueError(
                f"ItemExponentialFailureRateLimiter: base and max must be > 0, got {base}, {max}"
            )
        self.base = float(base)
        self.max_delay = float(max)
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        try:
            backoff = self.base * 2.0**exp
        except OverflowError:
            return self.max_delay
        return min(backoff, self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall token bucket (`qps` refill, `burst` size) shared by all items; tracks no items."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self.bucket = TokenBucket(qps, burst, clock)

    def when(self, item: Hashable) -> float:
        return self.bucket.reserve()

    def forget(self, item: Hashable) -> None:
        """No-op: the bucket is not per item."""

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """Consults every limiter and returns the worst case (longest delay, most requeues)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter: give at least one limiter")
        self.limiters: tuple[RateLimiter, ...] = limiters

    def when(self, item: Hashable) -> float:
        # Every limiter must see the failure (each keeps its own count), so no short-circuit.
        return max([limiter.when(item) for limiter in self.limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """client-go's default: per-item 5 ms .. 1000 s exponential, overall 10 qps with burst 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        # The bucket only limits overall retry speed, not per item.
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )
