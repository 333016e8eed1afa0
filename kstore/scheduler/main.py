"""The `scheduler` process: issue 5 adds placement; for now it lists and watches what it will
decide on, renews its Lease and serves metrics and readiness."""

from __future__ import annotations

from kstore.client.component import watch_kinds
from kstore.runtime import Runtime, run

KINDS = ["Pod", "Node", "PersistentVolume", "PersistentVolumeClaim", "StorageClass", "CSINode"]


async def serve(rt: Runtime) -> None:
    await watch_kinds(rt, KINDS)


def main(argv: list[str] | None = None) -> None:
    run("scheduler", serve, argv)
