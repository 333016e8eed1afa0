"""What every controller process does before its own work: connect to the store, start its
informers, wait until they have listed, keep a heartbeat Lease, and say it is ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

from kstore.client.bus_client import BusClient
from kstore.client.informer import Informer
from kstore.client.lease import keep_renewing
from kstore.runtime import Runtime

log = logging.getLogger(__name__)

LEASE_DURATION = 15  # seconds, as kube-controller-manager's leader election
LEASE_RENEW = 2.0


@contextlib.asynccontextmanager
async def connected(rt: Runtime) -> AsyncIterator[BusClient]:
    """A BusClient to the cluster's store, ready to answer; closed on exit."""
    client = BusClient(rt.cluster.rpc_endpoint, rt.cluster.events_endpoint,
                       stall_timeout=max(3.0, rt.cluster.periods.bus_heartbeat * 6))
    try:
        rt.set_ready(False, "waiting for the apistore")
        await client.wait_ready(timeout=60.0)
        yield client
    finally:
        client.close()


async def start_informers(rt: Runtime, informers: list[Informer], *, timeout: float = 60.0) -> None:
    rt.set_ready(False, "listing " + ", ".join(i.kind for i in informers))
    for inf in informers:
        await inf.start()
    await asyncio.gather(*(inf.wait_synced(timeout) for inf in informers))


def holder_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}"


def heartbeat(rt: Runtime, client: BusClient) -> asyncio.Task[None]:
    """The component's Lease in kube-system, renewed every 2 s (its leader-election record)."""
    return asyncio.get_running_loop().create_task(keep_renewing(
        client, name=f"kstore-{rt.component}", namespace="kube-system", holder=holder_identity(),
        duration=LEASE_DURATION, period=LEASE_RENEW,
    ))

