"""Apply a sync's actions to the store: the thin, effectful half of every controller here.

Design (STYLE §2, as the PV controller's `apply`):
- Actions run in order; the first failed write raises (after recording its failure event),
  so the worker re-queues the key with backoff and the next sync starts from what was
  stored. Writes are idempotent from the sync's point of view: "already gone" (404 on a
  delete or an update) and "a namesake now" (uid precondition failed) are not errors.
- What a write returns goes straight into the informer cache when it is newer than the
  cached copy (client-go's "assume"); deletions go to `AssumedDeletes` only (a deleted
  object put back into the cache after its DELETED event would stay there as a ghost). The next sync
  therefore never acts on a state older than our own writes.
- Two Updates of one object in one list are chained: the later one carries the
  resourceVersion the earlier returned.
- `CreateBatch` runs Kubernetes' slow start: batches of 1, 2, 4, ... created concurrently;
  a batch with a failure ends it.
- Events ride on the actions; `{name}` and `{error}` in their messages are filled in here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.informer import Informer
from kstore.client.recorder import EventRecorder
from kstore.controllers.workloads.assume import AssumedDeletes
from kstore.controllers.workloads.model import (
    Action,
    Create,
    CreateBatch,
    Delete,
    Event,
    Obj,
    RequeueAfter,
    Update,
    key_of,
)

log = logging.getLogger(__name__)


def _record(recorder: EventRecorder, event: Event | None, *, name: str = "", error: str = "") -> None:
    if event is not None:
        recorder.event(event.obj, event.type, event.reason, event.message.replace("{name}", name)
                       .replace("{error}", error))


class Applier:
    def __init__(self, client: BusClient, informers: dict[str, Informer], assumed: AssumedDeletes) -> None:
        self._client = client
        self._informers = informers
        self._assumed = assumed

    def assume(self, stored: Obj) -> None:
        """Put a stored object into its informer's cache unless the cache has a newer copy."""
        informer = self._informers.get(stored.get("kind", ""))
        if informer is None:
            return
        key = key_of(stored)
        cached = informer.cache.get(key)
        try:
            newer = cached is None or int(cached["metadata"].get("resourceVersion") or 0) < int(
                stored["metadata"].get("resourceVersion") or 0)
        except ValueError:
            newer = True
        if newer:
            informer.cache.put(key, stored)

    async def apply(self, actions: Sequence[Action], recorder: EventRecorder) -> list[float]:
        """Apply in order; returns the RequeueAfter delays asked for. Raises on the first
        failed write."""
        requeue: list[float] = []
        written: dict[tuple[str, str], str] = {}
        for action in actions:
            if isinstance(action, Create):
                await self._create(action, recorder)
            elif isinstance(action, CreateBatch):
                await self._create_batch(action, recorder)
            elif isinstance(action, Update):
                ident = (action.obj.get("kind", ""), key_of(action.obj))
                if ident in written:
                    action.obj["metadata"]["resourceVersion"] = written[ident]
                stored = await self._update(action, recorder)
                if stored is not None:
                    written[ident] = stored["metadata"]["resourceVersion"]
            elif isinstance(action, Delete):
                await self._delete(action, recorder)
            elif isinstance(action, Event):
                _record(recorder, action)
            elif isinstance(action, RequeueAfter):
                requeue.append(action.seconds)
        return requeue

    async def _create(self, action: Create, recorder: EventRecorder) -> Obj:
        try:
            stored = await self._client.create(action.obj)
        except ApiError as e:
            _record(recorder, action.on_failure, name=action.obj["metadata"].get("name", ""), error=e.message)
            raise
        self.assume(stored)
        _record(recorder, action.on_success, name=stored["metadata"]["name"])
        log.info("%s %s: created", stored["kind"], key_of(stored))
        return stored

    async def _create_batch(self, action: CreateBatch, recorder: EventRecorder) -> None:
        remaining = list(action.creates)
        size = 1
        while remaining:
            batch, remaining = remaining[:size], remaining[size:]
            results = await asyncio.gather(*(self._create(c, recorder) for c in batch), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                if len(remaining):
                    log.info("slow start: %d creations skipped after %d failed", len(remaining), len(errors))
                raise errors[0]
            size *= 2

    async def _update(self, action: Update, recorder: EventRecorder) -> Obj | None:
        obj = action.obj
        try:
            stored = await (self._client.update_status(obj) if action.status else self._client.update(obj))
        except ApiError as e:
            if e.code == 404:
                return None  # gone meanwhile: nothing left to change
            raise
        self.assume(stored)
        _record(recorder, action.on_success, name=stored["metadata"]["name"])
        return stored

    async def _delete(self, action: Delete, recorder: EventRecorder) -> None:
        try:
            reply = await self._client.delete(action.kind, action.namespace or None, action.name, uid=action.uid or None,
                                              propagation_policy=action.propagation,
                                              grace_period_seconds=action.grace_period)
        except ApiError as e:
            if e.code == 404 or (e.code == 409 and "Precondition failed: UID" in e.message):
                return  # already gone, or a namesake now: nothing of ours left
            _record(recorder, action.on_failure, name=action.name, error=e.message)
            raise
        if isinstance(reply, dict) and reply.get("metadata"):
            # Not into the cache: if the DELETED event came first, that would bring back a ghost.
            self._assumed.record(reply)
        _record(recorder, action.on_success, name=action.name)
        # (a namespace's Events go by the hundred: not worth a line each)
        log.log(logging.DEBUG if action.kind == "Event" else logging.INFO, "%s %s/%s: deleted%s", action.kind,
                action.namespace, action.name, f" ({action.propagation})" if action.propagation else "")
