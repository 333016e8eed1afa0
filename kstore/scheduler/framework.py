"""The scheduling framework's vocabulary: plugin names, status codes, reason strings, and the
FitError message kube-scheduler writes when a pod fits nowhere.

Design (Kubernetes' `pkg/scheduler/framework/{interface,types}.go`, `schedule_one.go` and the
`defaultpreemption` plugin; read for behaviour, our code):
- A filter answers per node with `None` (fits) or a `Status`: a code, the plugin, and one or
  more reasons. `UNSCHEDULABLE` means "another pod leaving could fix it" (resources, spreading,
  anti-affinity, attach limits, RWOP); `UNRESOLVABLE` (UnschedulableAndUnresolvable) means it
  cannot (taints, selectors, volume topology, …). `ERROR` aborts the attempt: the pod goes to
  the backoff queue with the error as its event message.
- Filters run in the default profile's order and a node gets the reasons of the *first*
  plugin that rejects it, as the framework's RunFilterPlugins does.
- `fit_error_message` renders kube-scheduler 1.32's text:
  `0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match
  Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not
  helpful for scheduling.` — reasons counted per node, rendered as "<count> <reason>" and
  sorted as strings (Go's sort.Strings); a PreFilter failure replaces the per-node histogram
  with its own message. The preemption part is what DefaultPreemption says when it finds no
  victims: nodes rejected as unresolvable are "not helpful", the others have no victim (kstore
  does not preempt: no pod is ever evicted to make room; see the scheduler's docstring).
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterable, Mapping

# Plugin names, as in the default profile (pkg/scheduler/framework/plugins/names).
NODE_UNSCHEDULABLE = "NodeUnschedulable"
TAINT_TOLERATION = "TaintToleration"
NODE_AFFINITY = "NodeAffinity"
NODE_RESOURCES_FIT = "NodeResourcesFit"
VOLUME_RESTRICTIONS = "VolumeRestrictions"
NODE_VOLUME_LIMITS = "NodeVolumeLimits"
VOLUME_BINDING = "VolumeBinding"
VOLUME_ZONE = "VolumeZone"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
INTER_POD_AFFINITY = "InterPodAffinity"

PROFILE = "default-scheduler"

# Reasons, word for word from the plugins.
ERR_NODE_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_TOO_MANY_PODS = "Too many pods"
ERR_INSUFFICIENT_CPU = "Insufficient cpu"
ERR_INSUFFICIENT_MEMORY = "Insufficient memory"
ERR_RWOP_CONFLICT = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
ERR_MAX_VOLUME_COUNT = "node(s) exceed max volume count"
ERR_VOLUME_ZONE = "node(s) had no available volume zone"
ERR_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_VOLUME_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_VOLUME_NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
ERR_VOLUME_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_SPREAD = "node(s) didn't match pod topology spread constraints"
ERR_SPREAD_MISSING_LABEL = ERR_SPREAD + " (missing required label)"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_NO_NODES = "no nodes available to schedule pods"

MSG_PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"
MSG_PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never"


def untolerated_taint(key: str, value: str) -> str:
    return f"node(s) had untolerated taint {{{key}: {value}}}"


class Code(enum.IntEnum):
    UNSCHEDULABLE = 2  # Kubernetes' Unschedulable: preemption might help
    UNRESOLVABLE = 3  # UnschedulableAndUnresolvable: it cannot
    ERROR = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """Why a plugin rejects a node (or the pod, at PreFilter)."""

    code: Code
    plugin: str
    reasons: tuple[str, ...]

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, plugin, reasons)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNRESOLVABLE, plugin, reasons)


def _histogram(counts: Counter[str]) -> str:
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def preemption_message(num_nodes: int, statuses: Iterable[Status], *, never: bool = False) -> str:
    """DefaultPreemption's PostFilter message when no node can be freed up."""
    if never:
        return f"preemption: {MSG_PREEMPTION_NEVER}."
    counts: Counter[str] = Counter()
    for status in statuses:
        counts[MSG_NO_VICTIMS if status.code == Code.UNSCHEDULABLE else MSG_PREEMPTION_NOT_HELPFUL] += 1
    return f"preemption: 0/{num_nodes} nodes are available: {_histogram(counts)}."


def fit_error_message(num_nodes: int, *, prefilter: Status | None = None,
                      statuses: Mapping[str, Status] | None = None, preemption_never: bool = False) -> str:
    """kube-scheduler's FitError text for a pod that fits on none of `num_nodes` nodes.

    `prefilter` is the PreFilter rejection (it then stands for every node); otherwise
    `statuses` holds the first rejecting plugin's status of every node.
    """
    if num_nodes == 0:
        return ERR_NO_NODES
    message = f"0/{num_nodes} nodes are available:"
    if prefilter is not None:
        message += f" {prefilter.message}."
        node_statuses: list[Status] = [prefilter] * num_nodes
    else:
        node_statuses = list((statuses or {}).values())
        counts: Counter[str] = Counter(reason for status in node_statuses for reason in status.reasons)
        if counts:
            message += f" {_histogram(counts)}."
    return f"{message} {preemption_message(num_nodes, node_statuses, never=preemption_never)}"


__all__ = [
    "Code",
    "Status",
    "fit_error_message",
    "preemption_message",
    "unresolvable",
    "unschedulable",
    "untolerated_taint",
]
