"""REST watch: `GET <collection>?watch=true`, one JSON event per line.

Design:
- Start point: with no resourceVersion (or "0"), first an ADDED for every matching object;
  with one, the events after it from the store's bounded history, or a single ERROR event
  (410 Expired) and the end of the stream, as kube-apiserver does.
- The live watcher is registered in the same step as the replay is read (no await between),
  so nothing falls between the two.
- Selectors are applied to both the old and the new state of each change, so an object that
  starts matching arrives as ADDED and one that stops matching as DELETED (Kubernetes'
  watch filtering).
- A watcher that falls behind by more than its buffer is ended; clients re-list and watch again.
- Bookmarks (when allowed) every `BOOKMARK_INTERVAL` seconds carry the latest revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kstore.api.errors import ApiError
from kstore.apistore.rest.bodies import dumps
from kstore.apistore.rest.paths import Target
from kstore.apistore.rest.tables import table_for
from kstore.apistore.store import ADDED, DELETED, MODIFIED, Store, WatchEvent

log = logging.getLogger(__name__)

BUFFER = 10_000
BOOKMARK_INTERVAL = 10.0

Matcher = Callable[[dict[str, Any]], bool]


class _Overflow(Exception):
    pass


def _transition(ev: WatchEvent, match: Matcher) -> tuple[str, dict[str, Any]] | None:
    """The event a filtered watcher sees, or None."""
    now = match(ev.entry.obj)
    if ev.etype == ADDED:
        return (ADDED, ev.entry.obj) if now else None
    if ev.etype == DELETED:
        was = match(ev.prev.obj) if ev.prev is not None else now
        return (DELETED, ev.entry.obj) if (was or now) else None
    was = match(ev.prev.obj) if ev.prev is not None else now
    if was and now:
        return MODIFIED, ev.entry.obj
    if now:
        return ADDED, ev.entry.obj
    if was:
        return DELETED, ev.entry.obj
    return None


async def serve_watch(
    request: web.Request, store: Store, target: Target, *, match: Matcher, resource_version: str | None,
    table: bool, timeout: float | None, bookmarks: bool,
) -> web.StreamResponse:
    kind = target.info.kind
    queue: asyncio.Queue[WatchEvent] = asyncio.Queue(BUFFER)
    overflowed = False

    def on_event(ev: WatchEvent) -> None:
        nonlocal overflowed
        try:
            queue.put_nowait(ev)
        except asyncio.QueueFull:
            overflowed = True

    # Read the start point and register the live feed in one step: no await in between.
    initial: list[tuple[str, dict[str, Any]]] = []
    error: ApiError | None = None
    if resource_version in (None, "", "0"):
        items, _ = store.list(kind, namespace=target.namespace)
        initial = [(ADDED, e.obj) for e in items if match(e.obj)]
    else:
        try:
            rv = int(resource_version)
        except ValueError:
            raise ApiError(400, "BadRequest", f'invalid resource version "{resource_version}"') from None
        try:
            for ev in store.events_since(kind, rv, namespace=target.namespace):
                shown = _transition(ev, match)
                if shown:
                    initial.append(shown)
        except ApiError as e:
            error = e
    remove = store.add_watcher(kind, on_event) if error is None else None

    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    first_table = True

    def frame(etype: str, obj: dict[str, Any]) -> bytes:
        nonlocal first_table
        if table and etype in (ADDED, MODIFIED, DELETED):
            obj = table_for(kind, [obj], now=time.time(), resource_version=obj["metadata"].get("resourceVersion", ""),
                            with_column_definitions=first_table)
            first_table = False
        return dumps({"type": etype, "object": obj}) + b"\n"

    try:
        await resp.prepare(request)
        if error is not None:
            await resp.write(dumps({"type": "ERROR", "object": error.to_status()}) + b"\n")
            return resp
        if initial:
            await resp.write(b"".join(frame(t, o) for t, o in initial))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            wait = BOOKMARK_INTERVAL if bookmarks else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    break
            try:
                ev = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if bookmarks and (deadline is None or loop.time() < deadline):
                    await resp.write(dumps({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": target.info.api_version,
                        "metadata": {"resourceVersion": str(store.revision)}}}) + b"\n")
                continue
            if overflowed:
                raise _Overflow
            chunk = []
            while True:
                if target.namespace is None or ev.namespace == target.namespace:
                    shown = _transition(ev, match)
                    if shown:
                        chunk.append(frame(*shown))
                if queue.empty():
                    break
                ev = queue.get_nowait()
            if chunk:
                await resp.write(b"".join(chunk))
    except _Overflow:
        log.warning("watch %s from %s fell %d events behind: closing it", kind, request.remote, BUFFER)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if remove is not None:
            remove()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp
