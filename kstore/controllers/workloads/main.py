"""The `controller-manager` process: the controllers of kube-controller-manager that the
storage story needs — Deployments, ReplicaSets, StatefulSets (volumeClaimTemplates), generic
ephemeral volumes, the garbage collector, the namespace controller and node lifecycle with
taint-based eviction (see manager.py)."""

from __future__ import annotations

import asyncio
import logging

from kstore.client.component import connected, heartbeat, start_informers
from kstore.controllers.workloads.manager import ControllerManager
from kstore.controllers.workloads.monitor import LifecycleSettings
from kstore.runtime import Runtime, run

log = logging.getLogger(__name__)


async def serve(rt: Runtime) -> None:
    periods = rt.cluster.periods
    settings = LifecycleSettings(node_grace=periods.node_grace, pod_eviction_timeout=periods.pod_eviction_timeout,
                                 monitor_period=min(1.0, periods.node_grace / 4))
    async with connected(rt) as client:
        mgr = ControllerManager(client, settings=settings)
        await start_informers(rt, mgr.informer_list)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(w) for w in mgr.workers()]
        tasks += mgr.recorder_tasks()
        tasks += [heartbeat(rt, client), loop.create_task(mgr.monitor.run())]
        rt.set_ready()
        log.info("controller-manager running: %s; node grace %.0fs, eviction after %.0fs",
                 ", ".join(f"{len(i.cache)} {i.kind}" for i in mgr.informer_list), settings.node_grace,
                 settings.pod_eviction_timeout)
        try:
            await asyncio.gather(*tasks)
        finally:
            # stop taking work, flush the events already recorded, then stop every task
            mgr.shut_down()
            try:
                await mgr.close_recorders()
            except TimeoutError:
                log.warning("events still buffered at shutdown were dropped")
            for t in tasks:
                t.cancel()


def main(argv: list[str] | None = None) -> None:
    run("controller-manager", serve, argv)
