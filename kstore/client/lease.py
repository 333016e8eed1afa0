"""Lease renewal (coordination.k8s.io/v1): node heartbeats and controller leadership records."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient

log = logging.getLogger(__name__)


def micro_time(now: float | None = None) -> str:
    """RFC 3339 with microseconds, as Kubernetes' MicroTime."""
    dt = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def renew_once(client: BusClient, *, name: str, namespace: str, holder: str, duration: int,
                     owner: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create the Lease or move its renewTime forward; returns the stored Lease."""
    now = micro_time()
    try:
        lease = await client.get("Lease", namespace, name)
    except ApiError as e:
        if e.code != 404:
            raise
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if owner:
            meta["ownerReferences"] = [owner]
        return await client.create({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": now,
                     "renewTime": now, "leaseTransitions": 0},
        })
    spec = lease.setdefault("spec", {})
    if spec.get("holderIdentity") != holder:
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["acquireTime"] = now
    spec.update(holderIdentity=holder, leaseDurationSeconds=duration, renewTime=now)
    return await client.update(lease)


async def keep_renewing(client: BusClient, *, name: str, namespace: str, holder: str, duration: int,
                        period: float, owner: dict[str, Any] | None = None) -> None:
    """Renew every `period` seconds until cancelled; failures are logged and retried next period."""
    while True:
        try:
            await renew_once(client, name=name, namespace=namespace, holder=holder, duration=duration, owner=owner)
        except ApiError as e:
            log.warning("lease %s/%s: renew failed: %s", namespace, name, e.message)
        await asyncio.sleep(period)
