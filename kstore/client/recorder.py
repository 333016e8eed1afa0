"""An event recorder with client-go's semantics (`tools/record/event.go`, `events_cache.go`).

Controllers call `recorder.event(obj, "Warning", "ProvisioningFailed", "...")` and move on;
the recorder turns that into core/v1 Event objects in the store, as Kubernetes' do.

Design:
- `event()` never blocks and never raises into the caller: it builds the Event dict (name
  `<involved name>.<16 hex digits of the wall time in ns>`, namespace of the involved object
  or `default` for cluster-scoped ones, `count` 1, first = last timestamp) and appends it to
  a bounded buffer (`buffer_size`, 1000 like client-go's `maxQueuedEvents`). A full
  buffer drops the new event.
- One background task (`start()` or `await run()`) takes events in order, correlates them,
  and writes them to the `EventSink`. Writing one at a time means the second of two
  identical events always sees the name the first was stored under.
- Correlation is client-go's `EventCorrelator`, in its order:
  1. aggregate: if one source emits more than `aggregate_max_events` (10) distinct messages
     with the same object, type and reason within `aggregate_interval` (600 s), later ones
     are folded into one event whose message is `(combined from similar events): <msg>`;
  2. observe (dedup): an event identical in source, involvedObject, type, reason and message
     to one already in the LRU cache (`cache_size`, 4096 keys, no time limit, as client-go)
     is not created again: the stored one is patched with a JSON merge patch
     `{count: n+1, lastTimestamp, message}`. A patch that gets 404 (the Event expired) falls
     back to creating it;
  3. spam filter: a token bucket per source+object (burst 25, refill one per 300 s) drops
     whatever is over the rate. Dedup runs first, so `count` still counts dropped repeats.
- A sink error (or a write slower than `sink_timeout`) is logged with the object's key and
  the event dropped; client-go retries transport errors, we leave that to the next
  occurrence. Every drop is counted in `kstore_events_dropped_total{cause}`.
- `flush()` writes everything buffered so far; `close()` also stops accepting events and
  stops the writer task. Whoever drains holds one lock, so events are written in order
  even when `flush()` races the writer.

Invariants: at most `buffer_size` events wait in memory; the caches hold at most
`cache_size` keys each; only the background task touches the caches and the sink. Not
thread-safe: call `event()` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import Hashable
from typing import Any, Generic, Protocol, TypeVar

from kstore.api.errors import ApiError
from kstore.client.clock import Clock, RealClock
from kstore.client.ratelimit import TokenBucket
from kstore.observe.metrics import EVENTS_DROPPED

log = logging.getLogger(__name__)

EVENT_TYPES = ("Normal", "Warning")
AGGREGATE_MESSAGE_PREFIX = "(combined from similar events): "


class EventSink(Protocol):
    """Where events are written (the store client implements it)."""

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the Event and return it as stored."""
        ...

    async def patch(
        self, kind: str, namespace: str, name: str, patch: dict[str, Any], patch_type: str = "merge"
    ) -> dict[str, Any]:
        """Patch the named object; raise `ApiError` with code 404 if it does not exist."""
        ...


# --- event construction -----------------------------------------------------------------


def rfc3339(wall: float) -> str:
    """Epoch seconds as Kubernetes' `metav1.Time` JSON: `2026-01-02T03:04:05Z` (UTC, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def object_reference(obj: dict[str, Any]) -> dict[str, str]:
    """A core/v1 ObjectReference for `obj` (an object, or already a reference).

    Empty fields are left out, as Kubernetes' `omitempty` does. Raises ValueError if `obj`
    has no kind or no name.
    """
    if "metadata" in obj:
        meta = obj.get("metadata") or {}
        ref = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
    else:
        keys = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        ref = {k: obj.get(k, "") for k in keys}
    if not ref["kind"] or not ref["name"]:
        raise ValueError(f"cannot reference object without kind and name: {ref}")
    return {k: str(v) for k, v in ref.items() if v}


def make_event(
    ref: dict[str, str],
    type: str,
    reason: str,
    message: str,
    *,
    component: str,
    host: str,
    wall: float,
) -> dict[str, Any]:
    """A new core/v1 Event about `ref`, stamped at epoch time `wall`, with count 1."""
    stamp = rfc3339(wall)
    source = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{ref['name']}.{round(wall * 1e9):016x}",
            "namespace": ref.get("namespace") or "default",
        },
        "involvedObject": dict(ref),
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }


def _ref_key(ref: dict[str, str]) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects: how log lines start."""
    return f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else ref["name"]


def _source_object(event: dict[str, Any]) -> tuple[str, ...]:
    src, ref = event.get("source", {}), event["involvedObject"]
    return (
        src.get("component", ""),
        src.get("host", ""),
        ref.get("kind", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
        ref.get("uid", ""),
        ref.get("apiVersion", ""),
    )


def copy_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to change: events are flat but for their metadata, involvedObject and source
    (a deepcopy costs ten times as much, and every event is copied)."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in event.items()}


def event_key(event: dict[str, Any]) -> tuple[str, ...]:
    """Identity for dedup: source, involvedObject (with fieldPath), type, reason, message."""
    ref = event["involvedObject"]
    return (
        *_source_object(event),
        ref.get("fieldPath", ""),
        event.get("type", ""),
        event.get("reason", ""),
        event.get("message", ""),
    )


def spam_key(event: dict[str, Any]) -> tuple[str, ...]:
    """Identity for the spam filter: source and involvedObject."""
    return _source_object(event)


def aggregate_key(event: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """(group, local key): events that differ only in message share a group."""
    group = (
        *_source_object(event),
        event.get("type", ""),
        event.get("reason", ""),
        event.get("reportingComponent", ""),
        event.get("reportingInstance", ""),
    )
    return group, event.get("message", "")


# --- correlation (client-go's EventCorrelator) -------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A bounded mapping that evicts the least recently used key."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: collections.OrderedDict[K, V] = collections.OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclasses.dataclass
class _Aggregate:
    local_keys: set[str]
    last_seen: float  # monotonic


@dataclasses.dataclass(frozen=True)
class _Observation:
    count: int
    first_timestamp: str
    name: str
    resource_version: str


@dataclasses.dataclass(frozen=True)
class Correlation:
    """What to write for one event: `patch` set means patch the stored event, else create."""

    event: dict[str, Any]
    key: Hashable
    patch: dict[str, Any] | None = None
    skip: bool = False


@dataclasses.dataclass(frozen=True)
class CorrelatorOptions:
    cache_size: int = 4096
    spam_burst: int = 25
    spam_qps: float = 1.0 / 300.0
    aggregate_max_events: int = 10
    aggregate_interval: float = 600.0


class EventCorrelator:
    """Aggregates, de-duplicates and spam-filters events; no I/O.

    `correlate()` says what to write; `update_state()` records what the store returned so the
    next identical event patches the right name.
    """

    def __init__(self, clock: Clock, options: CorrelatorOptions | None = None) -> None:
        self._clock = clock
        self._opts = options if options is not None else CorrelatorOptions()
        self._aggregates: _LRU[tuple[str, ...], _Aggregate] = _LRU(self._opts.cache_size)
        self._observed: _LRU[Hashable, _Observation] = _LRU(self._opts.cache_size)
        self._spam: _LRU[tuple[str, ...], TokenBucket] = _LRU(self._opts.cache_size)

    def correlate(self, event: dict[str, Any]) -> Correlation:
        event, key = self._aggregate(event)
        event, patch = self._observe(event, key)
        if not self._allow(event):
            return Correlation(event=event, key=key, skip=True)
        return Correlation(event=event, key=key, patch=patch)

    def update_state(self, stored: dict[str, Any], key: Hashable) -> None:
        """Remember the stored event (name, resourceVersion, count) under `key`."""
        meta = stored.get("metadata", {})
        self._observed.put(
            key,
            _Observation(
                count=int(stored.get("count", 1)),
                first_timestamp=stored.get("firstTimestamp", ""),
                name=meta.get("name", ""),
                resource_version=str(meta.get("resourceVersion", "")),
            ),
        )

    def _aggregate(self, event: dict[str, Any]) -> tuple[dict[str, Any], Hashable]:
        now = self._clock.now()
        group, local = aggregate_key(event)
        record = self._aggregates.get(group)
        if record is None or now - record.last_seen > self._opts.aggregate_interval:
            record = _Aggregate(local_keys=set(), last_seen=now)
        record.local_keys.add(local)
        record.last_seen = now
        self._aggregates.put(group, record)
        if len(record.local_keys) < self._opts.aggregate_max_events:
            return event, event_key(event)
        # Too many distinct messages: fold them into one event keyed by the group, so that
        # later ones patch it. Keep the set from growing past the threshold.
        record.local_keys.pop()
        combined = make_event(
            event["involvedObject"],
            event["type"],
            event["reason"],
            AGGREGATE_MESSAGE_PREFIX + event["message"],
            component=event["source"].get("component", ""),
            host=event["source"].get("host", ""),
            wall=self._clock.wall(),
        )
        return combined, group

    def _observe(self, event: dict[str, Any], key: Hashable) -> tuple[dict[str, Any], dict[str, Any] | None]:
        event = copy_event(event)
        last = self._observed.get(key)
        patch = None
        if last is not None:
            event["metadata"]["name"] = last.name
            if last.resource_version:
                event["metadata"]["resourceVersion"] = last.resource_version
            event["firstTimestamp"] = last.first_timestamp
            event["count"] = last.count + 1
            patch = {
                "count": event["count"],
                "lastTimestamp": event["lastTimestamp"],
                "message": event["message"],
            }
        self.update_state(event, key)
        return event, patch

    def _allow(self, event: dict[str, Any]) -> bool:
        key = spam_key(event)
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = TokenBucket(self._opts.spam_qps, self._opts.spam_burst, self._clock)
        self._spam.put(key, bucket)
        return bucket.try_accept()


# --- the recorder -------------------------------------------------------------------------


class EventRecorder:
    """Records core/v1 Events for one component; see the module docstring.

    `component` and `host` become `source` and `reportingComponent`/`reportingInstance`.
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        component: str,
        host: str = "",
        clock: Clock | None = None,
        buffer_size: int = 1000,
        sink_timeout: float = 10.0,
        options: CorrelatorOptions | None = None,
    ) -> None:
        if not component:
            raise ValueError("EventRecorder: component is required (e.g. persistentvolume-controller)")
        self.component = component
        self.host = host
        self._sink = sink
        self._clock: Clock = clock if clock is not None else RealClock()
        self._buffer_size = buffer_size
        self._sink_timeout = sink_timeout
        self._correlator = EventCorrelator(self._clock, options)
        self._buffer: collections.deque[dict[str, Any]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        """Queue an event about `obj` for writing. Never blocks, never raises.

        `type` is "Normal" or "Warning"; `reason` is UpperCamelCase and short; `message`
        is for humans. Dropped (and counted) if invalid, after `close()`, or if the buffer is full.
        """
        try:
            ref = object_reference(obj)
        except (ValueError, AttributeError, TypeError) as err:
            log.error("event %s dropped: %s", reason, err)
            EVENTS_DROPPED.labels("invalid").inc()
            return
        key = _ref_key(ref)
        if type not in EVENT_TYPES:
            log.error(
                "%s: event %s dropped: type %r is not one of %s", key, reason, type, ", ".join(EVENT_TYPES)
            )
            EVENTS_DROPPED.labels("invalid").inc()
            return
        if self._closed:
            log.warning("%s: event %s dropped: recorder is closed", key, reason)
            EVENTS_DROPPED.labels("closed").inc()
            return
        if len(self._buffer) >= self._buffer_size:
            log.error("%s: event %s dropped: %d events already waiting", key, reason, len(self._buffer))
            EVENTS_DROPPED.labels("buffer_full").inc()
            return
        self._buffer.append(
            make_event(
                ref, type, reason, message, component=self.component, host=self.host, wall=self._clock.wall()
            )
        )
        self._wakeup.set()

    def pending(self) -> int:
        """Events buffered and not yet written."""
        return len(self._buffer)

    def start(self) -> asyncio.Task[None]:
        """Run the writer as a background task (on the running loop); returns the task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"event-recorder-{self.component}"
            )
            self._task.add_done_callback(_log_crash)
        return self._task

    async def run(self) -> None:
        """Write buffered events as they come until `close()`, then return."""
        while True:
            await self.flush()
            if self._closed:
                return
            self._wakeup.clear()
            if not self._buffer:
                await self._wakeup.wait()

    async def flush(self) -> None:
        """Write every event buffered so far, in order (waits for a write in progress)."""
        # One drainer at a time (the writer task, close(), a test), so order is kept.
        async with self._drain_lock:
            while self._buffer:
                await self._record(self._buffer.popleft())

    async def close(self) -> None:
        """Stop accepting events, write everything already buffered, stop the writer."""
        self._closed = True
        self._wakeup.set()
        await self.flush()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _record(self, event: dict[str, Any]) -> None:
        result = self._correlator.correlate(event)
        key = _ref_key(result.event["involvedObject"])
        if result.skip:
            log.debug("%s: event %s dropped by the spam filter", key, event["reason"])
            EVENTS_DROPPED.labels("spam_filter").inc()
            return
        try:
            async with asyncio.timeout(self._sink_timeout):
                stored = await self._write(result)
        except Exception as err:
            log.warning(
                "%s: event %s dropped: writing it failed: %s", key, event["reason"], str(err) or repr(err)
            )
            EVENTS_DROPPED.labels("sink_error").inc()
            return
        self._correlator.update_state(
            stored if isinstance(stored, dict) and stored else result.event, result.key
        )

    async def _write(self, result: Correlation) -> dict[str, Any]:
        event = result.event
        if result.patch is not None:
            meta = event["metadata"]
            try:
                return await self._sink.patch("Event", meta["namespace"], meta["name"], result.patch, "merge")
            except ApiError as err:
                if err.code != 404:
                    raise
                # The stored event is gone (expired or deleted): create it again, count kept.
        event = copy_event(event)
        event["metadata"].pop("resourceVersion", None)
        return await self._sink.create(event)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event recorder crashed; events are no longer written", exc_info=task.exception())
