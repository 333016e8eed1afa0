"""The protection decisions, as table tests."""

from __future__ import annotations

import pytest

from kstore.controllers.pv.protection import claim_in_use, volume_releasable


def pod(node: str = "", phase: str = "Running") -> dict:
    return {"metadata": {"name": "p"}, "spec": {"nodeName": node} if node else {}, "status": {"phase": phase}}


@pytest.mark.parametrize("pods,in_use", [
    ([], False),
    ([pod()], False),  # not scheduled: the kubelet will refuse it anyway
    ([pod("node-1")], True),
    ([pod("node-1", "Pending")], True),
    ([pod("node-1", "Succeeded")], False),
    ([pod("node-1", "Failed"), pod()], False),
    ([pod("node-1", "Failed"), pod("node-2")], True),
])
def test_claim_in_use(pods: list[dict], in_use: bool) -> None:
    assert claim_in_use(pods) is in_use


@pytest.mark.parametrize("phase,releasable", [
    ("Bound", False), ("Released", True), ("Available", True), ("Failed", True), (None, True)])
def test_volume_releasable(phase: str | None, releasable: bool) -> None:
    assert volume_releasable({"status": {"phase": phase} if phase else {}}) is releasable
