"""Injectable clocks, so that anything that waits or stamps times can be tested without sleeping.

Design:
- `Clock` is a Protocol with two readings that must not be confused:
  `now()` is *monotonic* seconds, for measuring intervals and scheduling (delays, token
  buckets, durations); it never goes backwards and has no meaning as a date.
  `wall()` is *epoch* seconds, only for timestamps that users read (event
  `firstTimestamp`, object `creationTimestamp`).
- `RealClock` reads `time.monotonic()` / `time.time()`; it is stateless, so one instance can
  be shared freely.
- `FakeClock` moves only when a test calls `advance()` or `set()`. Code under test computes
  "is it due yet?" from `now()`, so a test that advances the clock and then polls gets the
  same answer on every run.

Invariants: `FakeClock.now()` never decreases (`set()` to an earlier time is refused), and
`FakeClock.wall()` is always `epoch + now()`, so both readings move together.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of time: monotonic seconds for intervals, epoch seconds for timestamps."""

    def now(self) -> float:
        """Monotonic seconds; only differences between two readings are meaningful."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (UTC), for timestamps shown to users."""
        ...


class RealClock:
    """The process's clocks: `time.monotonic()` and `time.time()`."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "RealClock()"


class FakeClock:
    """A clock that only moves when told to, for deterministic tests.

    `now()` starts at `start`; `wall()` is `epoch + now()` (so with the defaults both read
    0.0, i.e. 1970-01-01T00:00:00Z; pass `epoch` to get realistic timestamps).
    """

    def __init__(self, start: float = 0.0, *, epoch: float = 0.0) -> None:
        self._t = float(start)
        self._epoch = float(epoch)

    def now(self) -> float:
        return self._t

    def wall(self) -> float:
        return self._epoch + self._t

    def advance(self, dt: float) -> None:
        """Move the clock forward by `dt` seconds; a negative `dt` is refused."""
        if dt < 0:
            raise ValueError(f"FakeClock.advance: dt must be >= 0, got {dt}")
        self._t += dt

    def set(self, t: float) -> None:
        """Move the clock to monotonic time `t`; moving it backwards is refused."""
        if t < self._t:
            raise ValueError(f"FakeClock.set: time cannot go backwards (now {self._t}, asked {t})")
        self._t = float(t)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._t}, epoch={self._epoch})"
