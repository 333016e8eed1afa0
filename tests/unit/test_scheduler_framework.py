"""framework.py: kube-scheduler 1.32's FitError text, word for word."""

from __future__ import annotations

import pytest

from kstore.scheduler import framework as fw
from kstore.scheduler.framework import fit_error_message, unresolvable, unschedulable

AFFINITY = unresolvable(fw.NODE_AFFINITY, fw.ERR_NODE_AFFINITY)
VOLUME_CONFLICT = unresolvable(fw.VOLUME_BINDING, fw.ERR_VOLUME_NODE_CONFLICT)
CPU = unschedulable(fw.NODE_RESOURCES_FIT, fw.ERR_INSUFFICIENT_CPU)
CPU_MEM = unschedulable(fw.NODE_RESOURCES_FIT, fw.ERR_INSUFFICIENT_CPU, fw.ERR_INSUFFICIENT_MEMORY)


@pytest.mark.parametrize(("name", "statuses", "expected"), [
    ("the issue's example", {"node-1": VOLUME_CONFLICT, "node-2": AFFINITY, "node-3": AFFINITY},
     "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node "
     "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."),
    ("all the same", {"a": AFFINITY, "b": AFFINITY, "c": AFFINITY},
     "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
     "available: 3 Preemption is not helpful for scheduling."),
    ("resolvable reasons have no preemption victims", {"a": CPU, "b": AFFINITY},
     "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector. "
     "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not "
     "helpful for scheduling."),
    ("a node counts once per reason", {"a": CPU_MEM, "b": CPU},
     "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu. preemption: 0/2 nodes are available: "
     "2 No preemption victims found for incoming pod."),
    ("sorted as strings, as Go's sort.Strings", {**{f"n{i}": AFFINITY for i in range(10)}, "x": CPU, "y": CPU},
     "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. "
     "preemption: 0/12 nodes are available: 10 Preemption is not helpful for scheduling, 2 No preemption victims "
     "found for incoming pod."),
])
def test_fit_error_counts_and_sorts_reasons(name: str, statuses: dict, expected: str) -> None:
    assert fit_error_message(len(statuses), statuses=statuses) == expected


def test_prefilter_rejection_stands_for_every_node() -> None:
    pre = unresolvable(fw.VOLUME_BINDING, 'persistentvolumeclaim "data" not found')
    assert fit_error_message(3, prefilter=pre) == (
        '0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/3 nodes are available: '
        "3 Preemption is not helpful for scheduling.")
    pre = unresolvable(fw.VOLUME_BINDING, fw.ERR_UNBOUND_IMMEDIATE)
    assert fit_error_message(1, prefilter=pre) == (
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are "
        "available: 1 Preemption is not helpful for scheduling.")


def test_preemption_policy_never_and_no_nodes() -> None:
    assert fit_error_message(1, statuses={"a": CPU}, preemption_never=True) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")
    assert fit_error_message(0, statuses={}) == "no nodes available to schedule pods"


def test_untolerated_taint_reason_names_key_and_value() -> None:
    assert fw.untolerated_taint("dedicated", "gpu") == "node(s) had untolerated taint {dedicated: gpu}"
    assert fw.untolerated_taint("node.kubernetes.io/not-ready", "") == (
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
