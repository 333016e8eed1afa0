"""The `pv-controller` process: Kubernetes' PersistentVolume controller (binding, provisioning
through StorageClasses, reclaim), the pvc/pv protection controllers and controller-side
expansion, over the emulated storage pool (see controller.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from prometheus_client import REGISTRY

from kstore.client.component import connected, heartbeat, start_informers
from kstore.controllers.pv.controller import PVController
from kstore.controllers.pv.metrics import PVCollector
from kstore.runtime import Runtime, run
from kstore.volume.drivers import DriverMap
from kstore.volume.pool import Pool

log = logging.getLogger(__name__)

DEFAULT_DRIVERS = Path(__file__).resolve().parents[3] / "configs" / "drivers.yaml"


async def serve(rt: Runtime) -> None:
    drivers = DriverMap.from_config(rt.cluster.raw, default_path=DEFAULT_DRIVERS)
    pool = Pool.from_config(rt.cluster)
    async with connected(rt) as client:
        ctl = PVController(client, drivers=drivers, pool=pool, resync=rt.cluster.periods.pv_resync)
        await start_informers(rt, ctl.informers)
        await ctl.sweep_orphans()
        REGISTRY.register(PVCollector(ctl.volumes.list, ctl.claims.list))
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(w) for w in ctl.workers()]
        tasks += [ctl.recorder.start(), heartbeat(rt, client)]
        rt.set_ready()
        log.info("pv-controller running: %d volumes, %d claims, %d classes", len(ctl.volumes.cache),
                 len(ctl.claims.cache), len(ctl.classes.cache))
        try:
            await asyncio.gather(*tasks)
        finally:
            ctl.shut_down()
            await asyncio.wait_for(ctl.recorder.close(), 2.0)
            for t in tasks:
                t.cancel()


def main(argv: list[str] | None = None) -> None:
    run("pv-controller", serve, argv)
