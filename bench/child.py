"""What every load process shares: its command line, the bus client, and its stdout protocol.

A load process is `python -m bench.<name> --cluster <state>/cluster.json ...`. It reports to
the parent with one JSON object per line on stdout (`emit`) and logs to stderr, which the
parent sends to a file in the state dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from prometheus_client import REGISTRY

from kstore.client.bus_client import BusClient
from kstore.config import read_cluster_file


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--cluster", type=Path, required=True, help="the apistore's cluster.json")
    return p


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def connect(cluster_file: Path) -> BusClient:
    cluster = read_cluster_file(cluster_file)
    client = BusClient(cluster.rpc_endpoint, cluster.events_endpoint)
    await client.wait_ready()
    return client


async def wait_subscribed(timeout: float = 10.0) -> None:
    """Wait for the first frame on this process's event socket (a heartbeat at the latest).

    Until then the publisher may not know the subscription yet (ZeroMQ's slow joiner) and
    would drop the first events: the informer would recover by re-listing, but the benchmark
    would measure the recovery, not the stream.
    """
    deadline = time.monotonic() + timeout
    labels = {"direction": "in", "channel": "events"}
    while not REGISTRY.get_sample_value("kstore_bus_messages_total", labels):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no event frame (not even a heartbeat) in {timeout}s")
        await asyncio.sleep(0.02)


def run(main: Callable[[], Awaitable[None]]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(main())
