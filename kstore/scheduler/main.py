"""The `scheduler` process: kube-scheduler's placement of pods on nodes, with the storage
plugins at its heart (VolumeBinding, NodeVolumeLimits, VolumeRestrictions, VolumeZone) — see
scheduler.py for the loop and algorithm.py for one decision."""

from __future__ import annotations

import asyncio
import logging

from kstore.client.component import connected, heartbeat, start_informers
from kstore.runtime import Runtime, run, tune_gc
from kstore.scheduler.config import SchedulerConfig
from kstore.scheduler.scheduler import Scheduler
from kstore.volume.drivers import DEFAULT_DRIVERS_FILE, DriverMap

log = logging.getLogger(__name__)


async def serve(rt: Runtime) -> None:
    drivers = DriverMap.from_config(rt.cluster.raw, default_path=DEFAULT_DRIVERS_FILE)
    config = SchedulerConfig.from_raw(rt.cluster.raw)
    limits = {n.name: n.attach_limit for n in rt.cluster.nodes if n.attach_limit is not None}
    async with connected(rt) as client:
        sched = Scheduler(client, drivers=drivers, node_attach_limits=limits, config=config)
        # startup: every informer synced before the first decision, so none is made on half a cluster
        await start_informers(rt, list(sched.informers.values()))
        tune_gc()  # the listed objects are long-lived: keep them out of every future collection
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(sched.run(), name="schedule"), loop.create_task(sched.flush_loop()),
                 loop.create_task(sched.recheck_loop()),
                 sched.recorder.start(), heartbeat(rt, client)]
        rt.set_ready()
        log.info("scheduler running: %d nodes, %d pending pods", len(sched.snapshot.nodes),
                 sum(sched.queue.sizes().values()))
        try:
            await asyncio.gather(*tasks)
        finally:
            # shutdown: stop scheduling, cancel binding cycles (their assumptions die with us),
            # write the events already recorded, then stop the rest
            await sched.shut_down()
            await asyncio.wait_for(sched.recorder.close(), 2.0)
            for t in tasks:
                t.cancel()


def main(argv: list[str] | None = None) -> None:
    run("scheduler", serve, argv)
