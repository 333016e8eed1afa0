"""Node-side expansion decisions (Kubernetes' `volumeRequiresFSResize` and
`MarkFSResizeFinished`, read for behaviour). Pure: no I/O.

The pv-controller grows the image and the PV's capacity, then asks the node to finish: the
claim gets the `FileSystemResizePending` condition and `allocatedResourceStatuses.storage:
NodeResizePending`. The node whose pod has the volume mounted grows the filesystem, then
writes the claim's status: `capacity` = the PV's, the condition and the resize status gone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kstore.api.quantity import QuantityError, to_bytes

Obj = Mapping[str, Any]
RESIZE_PENDING = "FileSystemResizePending"
NODE_RESIZE_PENDING = "NodeResizePending"


def resize_pending(claim: Obj | None) -> bool:
    if claim is None:
        return False
    status = claim.get("status") or {}
    if status.get("phase") != "Bound":
        return False
    if any(c.get("type") == RESIZE_PENDING and c.get("status") == "True" for c in status.get("conditions") or []):
        return True
    return (status.get("allocatedResourceStatuses") or {}).get("storage") == NODE_RESIZE_PENDING


def pv_capacity(pv: Obj | None) -> int | None:
    if pv is None:
        return None
    try:
        return to_bytes(((pv.get("spec") or {}).get("capacity") or {}).get("storage"))
    except (QuantityError, TypeError, ValueError):
        return None


def resize_target(claim: Obj | None, pv: Obj | None) -> int | None:
    """Bytes the node should grow the claim's filesystem to, or None when nothing waits."""
    if not resize_pending(claim):
        return None
    return pv_capacity(pv)


def finished_claim(claim: Obj, pv: Obj) -> dict[str, Any]:
    """The claim with its node-side resize done: a copy to write with update_status."""
    new = copy.deepcopy(dict(claim))
    status = new.setdefault("status", {})
    storage = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
    status["capacity"] = dict(status.get("capacity") or {}, storage=storage)
    conditions = [c for c in status.get("conditions") or [] if c.get("type") not in (RESIZE_PENDING, "Resizing")]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    statuses = dict(status.get("allocatedResourceStatuses") or {})
    statuses.pop("storage", None)
    if statuses:
        status["allocatedResourceStatuses"] = statuses
    else:
        status.pop("allocatedResourceStatuses", None)
    return new
