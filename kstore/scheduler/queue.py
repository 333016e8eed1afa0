"""The scheduling queue: active, backoff and unschedulable pods, as kube-scheduler's
PriorityQueue (`pkg/scheduler/backend/queue/scheduling_queue.go`, our code).

Design:
- Every pending pod this scheduler owns is in exactly one place: `active` (a heap: higher
  `spec.priority` first, then the earlier arrival — PrioritySort), `backoff` (a heap by the time
  its backoff ends), `unschedulable` (waiting for a cluster event), `gated` (non-empty
  `spec.schedulingGates`: never tried until they are removed) or *in flight* (popped, being
  scheduled or bound). `pop()` waits for an active pod; due backoff pods move to active first.
- A pod that did not fit goes to `unschedulable` with the plugins that rejected it and a
  backoff of 1 s doubling per attempt up to 10 s. It leaves only when an event could help it:
  `move(plugins)` (kube-scheduler's MoveAllToActiveOrBackoffQueue with its per-event plugin
  check: a Node or PV change moves the pods that a node or volume plugin rejected, and so on;
  `plugins=None` moves all) or `move_claim(key)` (a PVC change moves the pods that use that
  claim, like VolumeBinding's queueing hint). A moved pod still backing off goes to `backoff`,
  else to `active`. So a failed pod is retried on change, never in a busy loop.
- If a move happened while the pod was in flight, a failure sends it to `backoff` rather than
  `unschedulable` (the event may already have fixed it: moveRequestCycle). Errors (a failed
  binding, a plugin error) always go to `backoff`.
- `flush()` (called periodically, every 30 s by the scheduler) moves pods that have waited in
  `unschedulable` longer than `max_unschedulable` (5 min, podMaxInUnschedulablePodsDuration),
  so a missed event cannot strand a pod.
- Updating a waiting pod in a way that matters to scheduling (spec, labels, annotations — not
  status, so our own PodScheduled condition does not wake it) moves it too; an ungated pod
  leaves `gated`.
- `scheduler_pending_pods{queue}` follows the sizes. Time comes from an injected `Clock`.
  Not thread-safe: event-loop use only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
from collections.abc import Iterable

from kstore.client.clock import Clock, RealClock
from kstore.scheduler.metrics import PENDING_PODS
from kstore.scheduler.podinfo import PodInfo

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE = 300.0


@dataclasses.dataclass(eq=False)
class QueuedPod:
    key: str
    pod: PodInfo
    added: float  # when the pod first entered the queue
    timestamp: float  # when it last entered `active`
    attempts: int = 0
    plugins: frozenset[str] = frozenset()  # plugins that rejected it last time
    backoff_until: float = 0.0
    unschedulable_since: float = 0.0
    move_seq: int = 0  # moves seen when it was popped


def _relevant(pod: PodInfo) -> tuple[object, ...]:
    """What a pod update must change to be worth another attempt (not status)."""
    meta = pod.pod.get("metadata") or {}
    return (pod.pod.get("spec"), meta.get("labels"), meta.get("annotations"))


class SchedulingQueue:
    def __init__(self, *, clock: Clock | None = None, initial_backoff: float = INITIAL_BACKOFF,
                 max_backoff: float = MAX_BACKOFF, max_unschedulable: float = MAX_UNSCHEDULABLE) -> None:
        self._clock: Clock = clock if clock is not None else RealClock()
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._active_keys: set[str] = set()
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_keys: set[str] = set()
        self._unschedulable: dict[str, QueuedPod] = {}
        self._gated: set[str] = set()
        self._in_flight: set[str] = set()
        self._by_claim: dict[str, set[str]] = {}
        self._seq = itertools.count()
        self._moves = 0
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._gauges = {q: PENDING_PODS.labels(q) for q in ("active", "backoff", "unschedulable", "gated")}
        self._publish()

    # ---- pods come and go

    def add(self, pod: PodInfo) -> None:
        """A pending pod to schedule; an already known pod is updated instead."""
        if pod.key in self._pods:
            self.update(pod)
            return
        now = self._clock.now()
        qp = QueuedPod(pod.key, pod, added=now, timestamp=now)
        self._pods[pod.key] = qp
        for claim in pod.claim_keys:
            self._by_claim.setdefault(claim, set()).add(pod.key)
        if pod.gated:
            self._gated.add(pod.key)
        else:
            self._to_active(qp)
        self._publish()

    def update(self, pod: PodInfo) -> None:
        qp = self._pods.get(pod.key)
        if qp is None:
            self.add(pod)
            return
        changed = _relevant(qp.pod) != _relevant(pod)
        qp.pod = pod
        if pod.key in self._gated:
            if not pod.gated:
                self._gated.discard(pod.key)
                self._to_active(qp)
        elif changed and pod.key in self._unschedulable:
            self._move_one(qp)
        self._publish()

    def delete(self, key: str) -> QueuedPod | None:
        """Forget a pod (deleted, or scheduled by someone else). Heap entries go lazily."""
        qp = self._pods.pop(key, None)
        if qp is None:
            return None
        self._active_keys.discard(key)
        self._backoff_keys.discard(key)
        self._unschedulable.pop(key, None)
        self._gated.discard(key)
        self._in_flight.discard(key)
        for claim in qp.pod.claim_keys:
            users = self._by_claim.get(claim)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_claim[claim]
        self._publish()
        return qp

    def get(self, key: str) -> QueuedPod | None:
        return self._pods.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._pods

    # ---- the scheduling loop's side

    def pop_nowait(self) -> QueuedPod | None:
        """The next active pod (due backoff pods first join the active heap), or None."""
        self._flush_backoff()
        while self._active:
            _, _, _, key = heapq.heappop(self._active)
            if key in self._active_keys:
                self._active_keys.discard(key)
                qp = self._pods[key]
                self._in_flight.add(key)
                qp.attempts += 1
                qp.move_seq = self._moves
                self._publish()
                return qp
        return None

    async def pop(self) -> QueuedPod:
        """Wait for the next active pod and mark it in flight."""
        while True:
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            if self._closed:
                raise asyncio.CancelledError("scheduling queue closed")
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            self._arm_timer(loop)
            try:
                await self._waiter
            finally:
                self._waiter = None

    def done(self, key: str) -> None:
        """The pod was bound: it leaves the queue."""
        self.delete(key)

    def requeue_unschedulable(self, qp: QueuedPod, plugins: Iterable[str]) -> None:
        """The pod fits nowhere for now: wait for an event (or backoff, see the docstring)."""
        if qp.key not in self._pods:
            return  # deleted meanwhile
        self._in_flight.discard(qp.key)
        now = self._clock.now()
        qp.plugins = frozenset(plugins)
        qp.backoff_until = now + self.backoff(qp.attempts)
        if self._moves != qp.move_seq:
            self._to_backoff(qp)
        else:
            qp.unschedulable_since = now
            self._unschedulable[qp.key] = qp
        self._publish()

    def requeue_error(self, qp: QueuedPod) -> None:
        """Scheduling or binding failed with an error: retry after the backoff."""
        if qp.key not in self._pods:
            return
        self._in_flight.discard(qp.key)
        qp.plugins = frozenset()
        qp.backoff_until = self._clock.now() + self.backoff(qp.attempts)
        self._to_backoff(qp)
        self._publish()

    def backoff(self, attempts: int) -> float:
        return min(self.initial_backoff * 2 ** max(attempts - 1, 0), self.max_backoff)

    # ---- events

    def move(self, plugins: frozenset[str] | None = None) -> int:
        """Move the unschedulable pods an event may help: those rejected by one of `plugins`
        (all when None, and always the pods with no recorded plugin). Returns how many."""
        self._moves += 1
        moved = [qp for qp in self._unschedulable.values()
                 if plugins is None or not qp.plugins or qp.plugins & plugins]
        for qp in moved:
            self._move_one(qp)
        if moved:
            self._publish()
        return len(moved)

    def move_claim(self, claim_key: str) -> int:
        """A claim changed: move the unschedulable pods that use it."""
        self._moves += 1
        keys = [k for k in self._by_claim.get(claim_key, ()) if k in self._unschedulable]
        for key in keys:
            self._move_one(self._unschedulable[key])
        if keys:
            self._publish()
        return len(keys)

    def flush(self) -> int:
        """Move pods stuck in `unschedulable` for longer than `max_unschedulable`."""
        now = self._clock.now()
        stuck = [qp for qp in self._unschedulable.values() if now - qp.unschedulable_since >= self.max_unschedulable]
        for qp in stuck:
            self._move_one(qp)
        self._flush_backoff()
        if stuck:
            self._publish()
        return len(stuck)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._wake()

    # ---- sizes

    def sizes(self) -> dict[str, int]:
        return {"active": len(self._active_keys), "backoff": len(self._backoff_keys),
                "unschedulable": len(self._unschedulable), "gated": len(self._gated),
                "in_flight": len(self._in_flight)}

    def unschedulable_keys(self) -> list[str]:
        return list(self._unschedulable)

    # ---- internals

    def _move_one(self, qp: QueuedPod) -> None:
        self._unschedulable.pop(qp.key, None)
        if self._clock.now() < qp.backoff_until:
            self._to_backoff(qp)
        else:
            self._to_active(qp)

    def _to_active(self, qp: QueuedPod) -> None:
        qp.timestamp = self._clock.now()
        self._backoff_keys.discard(qp.key)
        self._active_keys.add(qp.key)
        heapq.heappush(self._active, (-qp.pod.priority, qp.timestamp, next(self._seq), qp.key))
        self._wake()

    def _to_backoff(self, qp: QueuedPod) -> None:
        self._backoff_keys.add(qp.key)
        heapq.heappush(self._backoff, (qp.backoff_until, next(self._seq), qp.key))
        self._wake()  # re-arm the waiter's timer for the new earliest backoff

    def _flush_backoff(self) -> None:
        now = self._clock.now()
        while self._backoff and self._backoff[0][0] <= now:
            until, _, key = heapq.heappop(self._backoff)
            qp = self._pods.get(key)
            if key in self._backoff_keys and qp is not None and qp.backoff_until == until:
                self._backoff_keys.discard(key)
                self._to_active(qp)
        while self._backoff and self._backoff[0][2] not in self._backoff_keys:
            heapq.heappop(self._backoff)  # drop entries of pods that left the backoff queue

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._backoff:
            delay = max(0.0, self._backoff[0][0] - self._clock.now())
            self._timer = loop.call_later(delay + 0.001, self._wake)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _publish(self) -> None:
        g = self._gauges
        g["active"].set(len(self._active_keys))
        g["backoff"].set(len(self._backoff_keys))
        g["unschedulable"].set(len(self._unschedulable))
        g["gated"].set(len(self._gated))


__all__ = ["QueuedPod", "SchedulingQueue"]
