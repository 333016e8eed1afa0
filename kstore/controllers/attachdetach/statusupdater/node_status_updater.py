"""`node.status.volumesAttached` from the actual state of the world (Kubernetes'
`attachdetach/statusupdater/node_status_updater.go`, read for behaviour).

Design:
- The actual state flags the nodes whose report changed; `update_node_statuses` writes those,
  `update_node_status(node)` one node now (a detach writes before it detaches, so the kubelet
  stops trusting the device first).
- A write happens only when the node's cached `status.volumesAttached` differs from what the
  actual state reports: a merge patch of the status subresource naming only that field (the
  kubelet owns the rest of the status; we own this list whole). The patched Node goes into the
  informer cache at once (assume), so the next pass does not write it again.
- A pass writes the flagged nodes concurrently (one round trip, not one per node: the
  reconciler waits for the pass before attaching more); writes of one node are serialized, and
  each computes its list inside that node's lock, so a late write never puts back an old list.
- The flag is cleared before the write and set again when the write fails, so a change made
  while a write is in flight is never lost. A node that is gone is not written (nothing to
  report to); a 404 on write likewise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from kstore.api.errors import ApiError
from kstore.controllers.attachdetach.cache import ActualStateOfWorld
from kstore.controllers.attachdetach.volumes import NodeName, Obj

log = logging.getLogger(__name__)


class NodePatcher(Protocol):
    async def patch(self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
                    subresource: str | None = None) -> dict[str, Any]: ...


def volumes_attached(node: Obj | None) -> list[dict[str, str]]:
    """A node's `status.volumesAttached`, normalised (sorted by name, two keys)."""
    if node is None:
        return []
    entries = (node.get("status") or {}).get("volumesAttached") or []
    return sorted(({"name": str(e.get("name") or ""), "devicePath": str(e.get("devicePath") or "")}
                   for e in entries if isinstance(e, dict)), key=lambda e: e["name"])


class NodeStatusUpdater:
    def __init__(self, *, client: NodePatcher, asw: ActualStateOfWorld, node: Callable[[str], Obj | None],
                 assume: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.client = client
        self.asw = asw
        self._node = node
        self._assume = assume
        self._locks: dict[NodeName, asyncio.Lock] = {}

    async def update_node_statuses(self) -> None:
        """Write every flagged node; failures are logged and stay flagged for the next pass."""
        nodes = self.asw.nodes_to_update_status_for()
        results = await asyncio.gather(*(self.update_node_status(n) for n in nodes), return_exceptions=True)
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, ApiError):
                log.warning("node %s: could not update status.volumesAttached: %s", node, result.message)
            elif isinstance(result, BaseException):
                raise result

    async def update_node_status(self, node: NodeName) -> bool:
        """Write one node's `status.volumesAttached` if it differs; True when written. Raises
        ApiError (the node stays flagged)."""
        lock = self._locks.setdefault(node, asyncio.Lock())
        async with lock:
            return await self._update(node)

    async def _update(self, node: NodeName) -> bool:
        self.asw.set_node_status_updated(node)
        current = self._node(node)
        if current is None:
            return False
        want = [{"name": name, "devicePath": device} for name, device in self.asw.get_volumes_to_report_attached(node)]
        if volumes_attached(current) == want:
            return False
        try:
            stored = await self.client.patch("Node", None, node, {"status": {"volumesAttached": want or None}},
                                             "merge", subresource="status")
        except ApiError as e:
            if e.code == 404:
                return False
            self.asw.set_node_status_update_needed(node)
            raise
        except BaseException:
            self.asw.set_node_status_update_needed(node)
            raise
        if self._assume is not None:
            self._assume(stored)
        log.info("node %s: status.volumesAttached now lists %d volume(s)", node, len(want))
        return True
