"""The `apistore` process: the store core behind two front doors, the bus and the Kubernetes REST API."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import zmq
from aiohttp import web

from bus.events import Publisher
from bus.rpc import RpcServer
from kstore.api.errors import ApiError
from kstore.apistore.backends import open_backend
from kstore.apistore.rest.server import RestApi
from kstore.apistore.server import VERBS, BusApi, BusEvents
from kstore.apistore.store import Store
from kstore.runtime import Runtime, run, tune_gc

log = logging.getLogger(__name__)


async def bootstrap(store: Store, objects: list[Any]) -> None:
    """The objects a new cluster starts with (the config's `bootstrap:` list, e.g. a default
    StorageClass), through the same defaulting, admission and validation as any write."""
    for obj in objects:
        try:
            await store.create(copy.deepcopy(obj))
        except ApiError as e:
            log.error("bootstrap object %s/%s refused: %s", obj.get("kind") if isinstance(obj, dict) else "?",
                      (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else "?", e.message)


async def serve(rt: Runtime) -> None:
    cluster = rt.cluster
    ctx = zmq.Context.instance()
    backend = open_backend(cluster.backend, cluster.sqlite_path)
    publisher = Publisher(ctx, cluster.events_endpoint, heartbeat=cluster.periods.bus_heartbeat)
    events = BusEvents(publisher)
    store = Store(backend, events=events)
    fresh = store.load()
    tune_gc()  # the loaded objects live as long as the process: keep them out of collections
    log.info("loaded %s store at revision %d", cluster.backend, store.revision)
    api = BusApi(store, events)
    server = RpcServer(ctx, cluster.rpc_endpoint, api.handle, verbs=VERBS)
    rest = web.AppRunner(RestApi(store).app(), access_log=None, handle_signals=False)
    try:
        store.start()
        if fresh:
            await bootstrap(store, cluster.raw.get("bootstrap") or [])
        publisher.start()
        server.start()
        await rest.setup()
        await web.TCPSite(rest, cluster.http_host, cluster.http_port, reuse_address=True).start()
        rt.set_ready()
        log.info("serving the bus: rpc %s, events %s; Kubernetes API on http://%s:%d", server.endpoint,
                 publisher.endpoint, cluster.http_host, cluster.http_port)
        await asyncio.Event().wait()
    finally:
        # stop taking requests first, then let the writer finish what it holds, then the sockets
        await rest.cleanup()
        server.close()
        await store.close()
        publisher.close()


def main(argv: list[str] | None = None) -> None:
    run("apistore", serve, argv)
