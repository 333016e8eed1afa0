"""The `controller-manager` process. The controller-manager (workloads, GC, node lifecycle): issue 5 adds the behaviour.

For now it connects, lists and watches what it will act on, renews its Lease and serves
metrics and readiness.
"""

from __future__ import annotations

from kstore.client.component import watch_kinds
from kstore.runtime import Runtime, run

KINDS = ["Deployment", "ReplicaSet", "StatefulSet", "Pod", "Node", "Lease"]


async def serve(rt: Runtime) -> None:
    await watch_kinds(rt, KINDS)


def main(argv: list[str] | None = None) -> None:
    run("controller-manager", serve, argv)
