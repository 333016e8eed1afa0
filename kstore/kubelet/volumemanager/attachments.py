"""Is a volume attached to this node, and as which device? (Kubernetes'
VerifyControllerAttachedVolume, read for behaviour.)

The attach/detach controller says so twice: a VolumeAttachment of (PV, node) with
`status.attached` and `status.attachmentMetadata.devicePath`, and `node.status.volumesAttached`
(unique name, devicePath). PV-backed volumes are looked up in the node's VolumeAttachment
informer; a volume without a PV (an inline FlexVolume) in the Node's status, read from the
store while such a volume waits (at most every `poll_period` seconds: Nodes have no
node-scoped topic to watch).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from kstore.kubelet.volumemanager.desired import VolumeToMount

Obj = Mapping[str, Any]
POLL_PERIOD = 1.0


def attached_device(volume: VolumeToMount, attachments: Iterable[Obj], node: str) -> str | None:
    """The device path ("" when the attachment names none) once a VolumeAttachment of the
    volume's PV to `node` says attached; None otherwise (also while it is being deleted)."""
    if not volume.pv_name:
        return None
    for va in attachments:
        spec = va.get("spec") or {}
        if (spec.get("source") or {}).get("persistentVolumeName") != volume.pv_name:
            continue
        if spec.get("nodeName") != node or (va.get("metadata") or {}).get("deletionTimestamp"):
            continue
        status = va.get("status") or {}
        if status.get("attached"):
            return str((status.get("attachmentMetadata") or {}).get("devicePath") or "")
    return None


class Attachments:
    def __init__(self, *, node: str, attachments: Callable[[], Iterable[Obj]],
                 get_node: Callable[[], Awaitable[Obj | None]], clock: Callable[[], float],
                 poll_period: float = POLL_PERIOD) -> None:
        self.node = node
        self._attachments = attachments
        self._get_node = get_node
        self._clock = clock
        self._poll_period = poll_period
        self._from_node: dict[str, str] = {}  # node.status.volumesAttached: unique name → devicePath
        self._polled = -1e18

    def device(self, volume: VolumeToMount) -> str | None:
        found = attached_device(volume, self._attachments(), self.node)
        return found if found is not None else self._from_node.get(volume.volume_name)

    def poll_due(self, waiting: Collection[VolumeToMount]) -> bool:
        """True (and the poll counted as started) when a volume without a PV waits and the last
        read of the Node is older than the poll period."""
        if not any(not v.pv_name for v in waiting):
            return False
        now = self._clock()
        if now - self._polled < self._poll_period:
            return False
        self._polled = now
        return True

    async def poll(self) -> None:
        node = await self._get_node()
        if node is not None:
            self._from_node = {str(a.get("name")): str(a.get("devicePath") or "")
                               for a in (node.get("status") or {}).get("volumesAttached") or []}
