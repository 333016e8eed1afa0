"""Informers: list + watch into a local cache, with indexes and event handlers (client-go's
SharedIndexInformer, for one kind).

Design:
- Subscribe first, then list: the list answer carries the (epoch, seq) of the topic at the
  instant it was read, and the subscriber applies only the events after it (bus/events.py).
- On a gap, a stall, a reconnect or a restarted store, the subscriber says so (`on_resync`)
  and the informer lists again, then reconciles its cache against the list: handlers see the
  adds, updates and deletes they missed, as if the events had arrived. Nothing is lost
  silently; a handler may see an update whose old and new objects are far apart.
- A kubelet informs on its node's topic only (`node=`), so what it receives does not grow
  with the number of nodes.
- Handlers run on the event loop and must not block; controllers only enqueue keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bus import codec
from bus.events import kind_topic, node_topic
from bus.metrics import RELISTS
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient, object_key

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]


@dataclass
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Cache:
    """Objects by key, plus named indexes (e.g. pods by node). Returns the stored dicts:
    callers must not mutate them (decode a copy first)."""

    def __init__(self) -> None:
        self._objs: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self._objs.items():
            for v in fn(obj):
                index.setdefault(v, set()).add(key)
        self._indexes[name] = index

    def get(self, key: str) -> Obj | None:
        return self._objs.get(key)

    def list(self) -> list[Obj]:
        return list(self._objs.values())

    def keys(self) -> list[str]:
        return list(self._objs)

    def __len__(self) -> int:
        return len(self._objs)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return [self._objs[k] for k in self._indexes[name].get(value, ())]

    def put(self, key: str, obj: Obj) -> Obj | None:
        old = self._objs.get(key)
        self._objs[key] = obj
        self._reindex(key, old, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._objs.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)
        return old

    def _reindex(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, fn in self._indexers.items():
            index = self._indexes[name]
            before = set(fn(old)) if old is not None else set()
            after = set(fn(new)) if new is not None else set()
            for v in before - after:
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]
            for v in after - before:
                index.setdefault(v, set()).add(key)


class Informer:
    def __init__(
        self, client: BusClient, kind: str, *, node: str | None = None, resync: float = 0.0,
        relist_backoff: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.kind = kind
        self.node = node
        self.cache = Cache()
        self._client = client
        self._topic = node_topic(kind, node) if node else kind_topic(kind)
        self._handlers: list[Handler] = []
        self._resync = resync
        self._backoff = relist_backoff
        self._synced = asyncio.Event()
        self._relist_task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self.relists = 0
        self.resource_version = "0"
        RELISTS.labels(kind)  # exposed at 0 from the start

    # ---- setup

    def add_handler(self, handler: Handler) -> None:
        """Handlers added after start() first receive an add for every cached object."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.cache.list():
                self._call(handler.on_add, obj)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.cache.add_indexer(name, fn)

    async def start(self) -> None:
        self._client.subscriber.subscribe(self._topic, self)
        self._schedule_relist("initial list")
        if self._resync > 0:
            self._resync_task = asyncio.get_running_loop().create_task(self._resync_loop())

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._synced.wait(), timeout)

    def stop(self) -> None:
        for t in (self._relist_task, self._resync_task):
            if t is not None:
                t.cancel()
        self._client.subscriber.unsubscribe(self._topic)

    # ---- reads

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def list(self) -> list[Obj]:
        return self.cache.list()

    # ---- TopicListener

    def on_event(self, etype: str, rv: int, body: bytes) -> None:
        try:
            obj = codec.decode(body)
        except codec.CodecError:
            log.warning("%s: undecodable event body dropped; re-listing", self.kind)
            self._schedule_relist("undecodable event")
            return
        self.resource_version = str(rv)
        key = object_key(obj)
        if etype == "DELETED":
            old = self.cache.remove(key)
            if old is not None:
                self._dispatch_delete(obj)
        else:
            old = self.cache.put(key, obj)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)

    def on_resync(self, reason: str) -> None:
        self._schedule_relist(reason)

    # ---- internals

    def _schedule_relist(self, reason: str) -> None:
        if self._relist_task is not None and not self._relist_task.done():
            return
        self._relist_task = asyncio.get_running_loop().create_task(self._relist(reason))

    async def _relist(self, reason: str) -> None:
        delay = self._backoff[0]
        while True:
            try:
                result = await self._client.list(self.kind, node=self.node)
                break
            except ApiError as e:
                log.warning("list %s failed (%s); retrying in %.1fs", self.kind, e.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
        if self._synced.is_set():
            self.relists += 1
            RELISTS.labels(self.kind).inc()
            log.info("re-listed %s (%s): %d objects", self.kind, reason, len(result.items))
        self._replace(result.items)
        self.resource_version = result.resource_version
        self._client.subscriber.resynced(self._topic, result.epoch, result.seq)
        self._synced.set()

    def _replace(self, items: list[Obj]) -> None:
        """Make the cache equal to a fresh list, telling handlers what changed."""
        seen = set()
        for obj in items:
            key = object_key(obj)
            seen.add(key)
            old = self.cache.get(key)
            if old is None:
                self.cache.put(key, obj)
                self._dispatch_add(obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get("resourceVersion"):
                self.cache.put(key, obj)
                self._dispatch_update(old, obj)
        for key in [k for k in self.cache.keys() if k not in seen]:
            old = self.cache.remove(key)
            if old is not None:
                self._dispatch_delete(old)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync)
            for obj in self.cache.list():
                self._dispatch_update(obj, obj)

    def _dispatch_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%s handler failed for %s", self.kind, object_key(args[-1]))
