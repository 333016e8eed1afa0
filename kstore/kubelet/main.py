"""The `kubelet` process for one emulated node.

Now: registers its Node and CSINode, posts node status and renews its node Lease, watches its
own pods and VolumeAttachments on the node-scoped topics, and finishes the graceful deletion
of its pods. The volume manager (issue 6) comes on top of these informers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.component import connected, start_informers
from kstore.client.informer import Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import run_worker
from kstore.kubelet.node_status import keep_posting, node_lease, register
from kstore.kubelet.pods import PodWorker
from kstore.runtime import Runtime, run

log = logging.getLogger(__name__)


async def ensure_csinode(client: BusClient, node_obj: dict[str, Any]) -> None:
    meta = node_obj["metadata"]
    try:
        await client.create({
            "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
            "metadata": {"name": meta["name"], "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}]},
            "spec": {"drivers": []},
        })
    except ApiError as e:
        if e.code != 409:
            raise


async def serve(rt: Runtime) -> None:
    assert rt.node is not None
    node = rt.cluster.node(rt.node)
    async with connected(rt) as client:
        node_obj = await register(client, node)
        await ensure_csinode(client, node_obj)
        pods = Informer(client, "Pod", node=node.name)
        attachments = Informer(client, "VolumeAttachment", node=node.name)
        recorder = EventRecorder(client, component="kubelet", host=node.name)
        worker = PodWorker(client, pods, recorder, node=node.name)
        await start_informers(rt, [pods, attachments])
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(keep_posting(client, node, rt.cluster.periods.node_status)),
            node_lease(client, node_obj, status_period=rt.cluster.periods.node_status),
            loop.create_task(run_worker(worker.queue, worker.sync)),
            recorder.start(),
        ]
        rt.set_ready()
        log.info("node %s registered; %d pods, %d volume attachments", node.name, len(pods.cache),
                 len(attachments.cache))
        try:
            await asyncio.Event().wait()
        finally:
            worker.queue.shut_down()
            await asyncio.wait_for(recorder.close(), 2.0)
            for t in tasks:
                t.cancel()
            pods.stop()
            attachments.stop()


def main(argv: list[str] | None = None) -> None:
    run("kubelet", serve, argv)
