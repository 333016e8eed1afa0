"""The `ad-controller` process. The attach/detach controller: issue 6 adds the behaviour.

For now it connects, lists and watches what it will act on, renews its Lease and serves
metrics and readiness.
"""

from __future__ import annotations

from kstore.client.component import watch_kinds
from kstore.runtime import Runtime, run

KINDS = ["Pod", "Node", "PersistentVolume", "PersistentVolumeClaim", "VolumeAttachment", "CSINode"]


async def serve(rt: Runtime) -> None:
    await watch_kinds(rt, KINDS)


def main(argv: list[str] | None = None) -> None:
    run("ad-controller", serve, argv)
