"""The `ad-controller` process: Kubernetes' attach/detach controller over the emulated storage
(see controller.py). It attaches block-backend volumes to the nodes whose pods use them (real
loop devices when privileged; recorded ones with `simulate_mounts: true` in the cluster config
or when not privileged), keeps VolumeAttachments and `node.status.volumesAttached`, and
detaches what nobody uses any more, once the node has unmounted it."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import REGISTRY

from kstore.client.component import connected, heartbeat, start_informers
from kstore.controllers.attachdetach.controller import AttachDetachController
from kstore.controllers.attachdetach.metrics import AttachDetachCollector
from kstore.runtime import Runtime, run
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import make_mounter

log = logging.getLogger(__name__)


async def serve(rt: Runtime) -> None:
    cluster = rt.cluster
    mounter = make_mounter(cluster.state_dir, True if cluster.raw.get("simulate_mounts") is True else None)
    drivers = DriverMap.from_config(cluster.raw)
    async with connected(rt) as client:
        ctl = AttachDetachController(client, state_dir=cluster.state_dir, mounter=mounter, drivers=drivers,
                                     periods=cluster.periods)
        await start_informers(rt, ctl.informers)
        rt.set_ready(False, "rebuilding the actual state of the world")
        await ctl.start()
        collector = AttachDetachCollector(ctl.dsw, ctl.asw)
        REGISTRY.register(collector)
        tasks = [*ctl.loops(), ctl.recorder.start(), heartbeat(rt, client)]
        rt.set_ready()
        log.info("ad-controller running (%s mounts): %d pods, %d nodes, %d volume attachments",
                 "simulated" if getattr(mounter, "simulated", False) else "real", len(ctl.pods.cache),
                 len(ctl.nodes.cache), len(ctl.attachments.cache))
        try:
            await asyncio.gather(*tasks)
        finally:
            # operations stop where they are (each is idempotent; a restart finishes them), events flush
            await ctl.shut_down()
            await asyncio.wait_for(ctl.recorder.close(), 2.0)
            for t in tasks:
                t.cancel()
            REGISTRY.unregister(collector)


def main(argv: list[str] | None = None) -> None:
    run("ad-controller", serve, argv)
