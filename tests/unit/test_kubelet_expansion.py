"""Node-side expansion decisions and the claim status the node writes when it is done."""

from __future__ import annotations

from typing import Any

import pytest

from kstore.kubelet.volumemanager.expansion import finished_claim, resize_pending, resize_target

PV = {"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "2Gi"}}}


def claim(*, phase: str = "Bound", condition: bool = True, node_pending: bool = True) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "capacity": {"storage": "1Gi"}, "allocatedResources": {"storage": "2Gi"}}
    if condition:
        status["conditions"] = [{"type": "FileSystemResizePending", "status": "True"},
                                {"type": "ModifyVolumeError", "status": "True"}]
    if node_pending:
        status["allocatedResourceStatuses"] = {"storage": "NodeResizePending"}
    return {"metadata": {"name": "c", "namespace": "ns", "resourceVersion": "7"}, "status": status}


@pytest.mark.parametrize("c,expected", [
    (claim(), 2 << 30),
    (claim(condition=False), 2 << 30),  # allocatedResourceStatuses alone says it too
    (claim(node_pending=False), 2 << 30),
    (claim(condition=False, node_pending=False), None),
    (claim(phase="Pending"), None),
    (None, None),
], ids=["both", "status only", "condition only", "nothing pending", "not bound", "no claim"])
def test_resize_target(c: dict[str, Any] | None, expected: int | None) -> None:
    assert resize_target(c, PV) == expected
    assert resize_pending(c) == (expected is not None)


def test_finished_claim_takes_the_pv_capacity_and_clears_only_the_resize_state() -> None:
    before = claim()
    after = finished_claim(before, PV)
    assert after["status"]["capacity"] == {"storage": "2Gi"}
    assert after["status"]["conditions"] == [{"type": "ModifyVolumeError", "status": "True"}]
    assert "allocatedResourceStatuses" not in after["status"]
    assert after["status"]["allocatedResources"] == {"storage": "2Gi"}
    assert before["status"]["capacity"] == {"storage": "1Gi"}  # a copy
    assert "conditions" not in finished_claim(claim(condition=False), PV)["status"]
