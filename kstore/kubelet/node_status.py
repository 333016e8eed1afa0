"""The kubelet's Node: registration, status heartbeats and the node Lease.

As the kubelet does: register the Node (create, or adopt the existing one), post status with
a Ready condition every `node_status` period, and renew `kube-node-lease/<node>` every 10 s —
the node lifecycle controller judges liveness by that Lease.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.lease import keep_renewing
from kstore.config import NodeConfig

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.32.0"
NODE_LEASE_DURATION = 40
NODE_LEASE_RENEW = 10.0
CONFLICT_RETRIES = 3  # status posts racing the volume manager's volumesInUse patches


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_labels(node: NodeConfig) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    if node.zone:
        labels["topology.kubernetes.io/zone"] = node.zone
    labels.update(node.labels)
    return labels


def ready_conditions(now: str, since: str) -> list[dict[str, Any]]:
    def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since,
                "reason": reason, "message": message}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def node_object(node: NodeConfig, now: str) -> dict[str, Any]:
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": node_labels(node),
                     "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": ready_conditions(now, now),
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": node.name}],
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "operatingSystem": "linux", "architecture": "amd64", "containerRuntimeVersion": "kstore://0.1",
                         "osImage": "kstore emulated node", "kernelVersion": "", "machineID": node.name,
                         "systemUUID": node.name, "bootID": ""},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


async def register(client: BusClient, node: NodeConfig) -> dict[str, Any]:
    """Create the Node, or take over the one a previous run of this kubelet registered."""
    now = _now()
    try:
        return await client.create(node_object(node, now))
    except ApiError as e:
        if e.code != 409:
            raise
    existing = await client.get("Node", None, node.name)
    existing["metadata"].setdefault("labels", {}).update(node_labels(node))
    existing = await client.update(existing)
    return await post_status(client, existing, now)


async def post_status(client: BusClient, node_obj: dict[str, Any], now: str | None = None) -> dict[str, Any]:
    now = now or _now()
    status = node_obj.setdefault("status", {})
    since = now
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            since = c.get("lastTransitionTime") or now
    status["conditions"] = ready_conditions(now, since)
    return await client.update_status(node_obj)


async def keep_posting(client: BusClient, node: NodeConfig, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            for attempt in range(CONFLICT_RETRIES):
                current = await client.get("Node", None, node.name)
                try:
                    await post_status(client, current)
                    break
                except ApiError as e:
                    # the volume manager patched volumesInUse in between: read again, post again
                    if e.code != 409 or attempt == CONFLICT_RETRIES - 1:
                        raise
        except ApiError as e:
            if e.code == 404:
                log.warning("node %s: Node object gone; registering again", node.name)
                try:
                    await register(client, node)
                except ApiError as e2:
                    log.warning("node %s: register failed: %s", node.name, e2.message)
            else:
                log.warning("node %s: status update failed: %s", node.name, e.message)


def node_lease(client: BusClient, node_obj: dict[str, Any], *, status_period: float = NODE_LEASE_RENEW
               ) -> asyncio.Task[None]:
    """Renew `kube-node-lease/<node>` every 10 s, or as often as node status is posted when that
    is configured shorter (test and scale configs shorten the node grace period too)."""
    meta = node_obj["metadata"]
    owner = {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}
    return asyncio.get_running_loop().create_task(keep_renewing(
        client, name=meta["name"], namespace="kube-node-lease", holder=meta["name"],
        duration=NODE_LEASE_DURATION, period=min(NODE_LEASE_RENEW, status_period), owner=owner,
    ))
