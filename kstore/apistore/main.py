"""The `apistore` process: the store core behind the bus (and, later, the REST front door)."""

from __future__ import annotations

import asyncio
import logging

import zmq

from bus.events import Publisher
from bus.rpc import RpcServer
from kstore.apistore.backends import open_backend
from kstore.apistore.server import VERBS, BusApi, BusEvents
from kstore.apistore.store import Store
from kstore.runtime import Runtime, run

log = logging.getLogger(__name__)


async def serve(rt: Runtime) -> None:
    cluster = rt.cluster
    ctx = zmq.Context.instance()
    backend = open_backend(cluster.backend, cluster.sqlite_path)
    publisher = Publisher(ctx, cluster.events_endpoint, heartbeat=cluster.periods.bus_heartbeat)
    events = BusEvents(publisher)
    store = Store(backend, events=events)
    store.load()
    log.info("loaded %s store at revision %d", cluster.backend, store.revision)
    api = BusApi(store, events)
    server = RpcServer(ctx, cluster.rpc_endpoint, api.handle, verbs=VERBS)
    try:
        store.start()
        publisher.start()
        server.start()
        rt.set_ready()
        log.info("serving the bus: rpc %s, events %s", server.endpoint, publisher.endpoint)
        await asyncio.Event().wait()
    finally:
        # stop taking requests first, then let the writer finish what it holds, then the sockets
        server.close()
        await store.close()
        publisher.close()


def main(argv: list[str] | None = None) -> None:
    run("apistore", serve, argv)
