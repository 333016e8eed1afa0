"""The `pv-controller` process. The PersistentVolume controller (binding, provisioning, reclaim): issue 4 adds the behaviour.

For now it connects, lists and watches what it will act on, renews its Lease and serves
metrics and readiness.
"""

from __future__ import annotations

from kstore.client.component import watch_kinds
from kstore.runtime import Runtime, run

KINDS = ["PersistentVolume", "PersistentVolumeClaim", "StorageClass", "Pod"]


async def serve(rt: Runtime) -> None:
    await watch_kinds(rt, KINDS, resync=rt.cluster.periods.pv_resync)


def main(argv: list[str] | None = None) -> None:
    run("pv-controller", serve, argv)
