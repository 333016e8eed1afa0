"""What the scheduler needs to know about a pod, computed once per pod version.

Design (Kubernetes' `framework.PodInfo` and `noderesources` request helpers, our code):
- `pod_info(pod)` reads the pod dict once and keeps what filters and scores read in the hot
  loop as plain attributes: requests in millicores and bytes, the node-level constraints
  (nodeSelector, required node affinity, tolerations) and their `static_sig`, the claims it
  names, its controller owner, its required (anti-)affinity terms and its DoNotSchedule spread
  constraints. The same object describes a pod waiting in the queue and a pod assigned to a
  node (NodeInfo keeps them), so a node's accounting and the filters agree on what a pod asks.
- Requests follow `computePodResourceRequest`: the sum over containers plus restartable
  (sidecar) init containers, at least the largest regular init container, plus the pod
  overhead. `nz_cpu` / `nz_mem` are the "non-zero" requests scoring uses (100m, 200Mi for a
  container that asks nothing), as `GetNonzeroRequests` does.
- `static_sig` is None for a pod with no nodeSelector, no required node affinity and no
  tolerations — the common case — so node-static filters can use a per-node precomputed answer;
  otherwise it is a string identifying those constraints, the key of a per-node memo.
- An unparsable quantity counts as 0, an invalid label selector in an affinity term selects
  nothing: the apiserver refuses such pods, this only keeps a bad object from crashing us.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.quantity import QuantityError, parse_quantity
from kstore.api.selectors import (
    EQUALS,
    NOT_IN,
    NOTHING,
    LabelSelector,
    label_selector_from_dict,
    new_requirement,
)

Obj = dict[str, Any]

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_MILLI_CPU = 100  # GetNonzeroRequests' defaults
DEFAULT_MEMORY = 200 * 1024 * 1024
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"


@functools.lru_cache(maxsize=1024)
def milli_cpu(value: str | int | float) -> int:
    try:
        return math.ceil(parse_quantity(value) * 1000)
    except QuantityError:
        return 0


@functools.lru_cache(maxsize=1024)
def quantity_int(value: str | int | float) -> int:
    try:
        return math.ceil(parse_quantity(value))
    except QuantityError:
        return 0


@dataclasses.dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A required pod (anti-)affinity term, resolved: which pods it selects and over what domain."""

    selector: LabelSelector
    namespaces: frozenset[str] | None  # None: every namespace
    topology_key: str

    def matches(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return (self.namespaces is None or namespace in self.namespaces) and self.selector.matches(labels)


@dataclasses.dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int
    honor_node_affinity: bool  # nodeAffinityPolicy Honor (default)
    honor_taints: bool  # nodeTaintsPolicy Honor (default Ignore)


@dataclasses.dataclass(slots=True, eq=False)
class PodInfo:
    uid: str
    namespace: str
    name: str
    key: str
    labels: Mapping[str, str]
    node_name: str
    scheduler_name: str
    priority: int
    preemption_never: bool
    gated: bool
    terminal: bool
    cpu: int
    mem: int
    nz_cpu: int
    nz_mem: int
    node_selector: Mapping[str, str] | None
    required_node_affinity: Mapping[str, Any] | None
    preferred_node_affinity: tuple[Mapping[str, Any], ...]
    tolerations: tuple[Mapping[str, Any], ...]
    static_sig: str | None
    claims: tuple[str, ...]  # claim names, in volume order
    ephemeral: frozenset[str]  # which of them are generic ephemeral volumes
    owner: str | None  # controller ownerReference uid
    affinity: tuple[AffinityTerm, ...]
    anti_affinity: tuple[AffinityTerm, ...]
    spread: tuple[SpreadConstraint, ...]  # DoNotSchedule constraints
    pod: Obj  # the pod as last seen

    @property
    def claim_keys(self) -> tuple[str, ...]:
        return tuple(f"{self.namespace}/{c}" for c in self.claims)


def _requests(container: Mapping[str, Any]) -> tuple[int, int, int, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = milli_cpu(requests["cpu"]) if "cpu" in requests else 0
    mem = quantity_int(requests["memory"]) if "memory" in requests else 0
    return cpu, mem, (cpu if "cpu" in requests else DEFAULT_MILLI_CPU), (mem if "memory" in requests else DEFAULT_MEMORY)


def pod_requests(spec: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(cpu millicores, memory bytes, non-zero cpu, non-zero memory) the pod asks for."""
    cpu = mem = nz_cpu = nz_mem = 0
    for c in spec.get("containers") or ():
        a, b, c2, d = _requests(c)
        cpu, mem, nz_cpu, nz_mem = cpu + a, mem + b, nz_cpu + c2, nz_mem + d
    sidecar_cpu = sidecar_mem = 0
    init_cpu = init_mem = 0
    for c in spec.get("initContainers") or ():
        a, b, _, _ = _requests(c)
        if c.get("restartPolicy") == "Always":  # a sidecar runs beside the containers
            sidecar_cpu, sidecar_mem = sidecar_cpu + a, sidecar_mem + b
        else:
            init_cpu, init_mem = max(init_cpu, sidecar_cpu + a), max(init_mem, sidecar_mem + b)
    cpu, mem = max(cpu + sidecar_cpu, init_cpu), max(mem + sidecar_mem, init_mem)
    nz_cpu, nz_mem = max(nz_cpu + sidecar_cpu, init_cpu), max(nz_mem + sidecar_mem, init_mem)
    overhead = spec.get("overhead") or {}
    if overhead:
        extra_cpu = milli_cpu(overhead["cpu"]) if "cpu" in overhead else 0
        extra_mem = quantity_int(overhead["memory"]) if "memory" in overhead else 0
        cpu, mem, nz_cpu, nz_mem = cpu + extra_cpu, mem + extra_mem, nz_cpu + extra_cpu, nz_mem + extra_mem
    return cpu, mem, nz_cpu, nz_mem


def claims_of(pod: Mapping[str, Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The claim names a pod's volumes use (PVC volumes and generic ephemeral volumes, whose
    claim is `<pod>-<volume>`), and which of them are ephemeral."""
    names: list[str] = []
    ephemeral: set[str] = set()
    pod_name = (pod.get("metadata") or {}).get("name", "")
    for v in (pod.get("spec") or {}).get("volumes") or ():
        if v.get("persistentVolumeClaim"):
            names.append(str(v["persistentVolumeClaim"].get("claimName", "")))
        elif v.get("ephemeral"):
            name = f"{pod_name}-{v.get('name', '')}"
            names.append(name)
            ephemeral.add(name)
    return tuple(names), frozenset(ephemeral)


def controller_owner(meta: Mapping[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or f"{ref.get('kind')}/{ref.get('name')}")
    return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError):
        return default


def _selector(raw: Any, labels: Mapping[str, str], match_keys: Any, mismatch_keys: Any = ()) -> LabelSelector:
    """A term's label selector, with matchLabelKeys / mismatchLabelKeys folded in from the pod's
    own labels (MatchLabelKeysInPodAffinity, MatchLabelKeysInPodTopologySpread)."""
    try:
        selector = label_selector_from_dict(raw)
        extra = [new_requirement(k, EQUALS, [labels[k]]) for k in match_keys or () if k in labels]
        extra += [new_requirement(k, NOT_IN, [labels[k]]) for k in mismatch_keys or () if k in labels]
    except (ApiError, ValueError):
        return NOTHING
    if not extra or selector.nothing:
        return selector
    return LabelSelector(tuple(sorted((*selector.requirements, *extra), key=lambda r: r.key)))


def _affinity_terms(terms: Any, namespace: str, labels: Mapping[str, str]) -> tuple[AffinityTerm, ...]:
    out = []
    for term in terms or ():
        if not isinstance(term, Mapping):
            continue
        namespaces: frozenset[str] | None = frozenset(term.get("namespaces") or ())
        ns_selector = term.get("namespaceSelector")
        if ns_selector is not None and not ns_selector.get("matchLabels") and not ns_selector.get("matchExpressions"):
            namespaces = None  # `namespaceSelector: {}` selects every namespace
        elif not namespaces and ns_selector is None:
            namespaces = frozenset((namespace,))
        # A non-empty namespaceSelector needs Namespace labels, which kstore's scheduler does not
        # watch: such a term selects pods only in the namespaces it lists.
        out.append(AffinityTerm(
            selector=_selector(term.get("labelSelector"), labels, term.get("matchLabelKeys"),
                               term.get("mismatchLabelKeys")),
            namespaces=namespaces,
            topology_key=str(term.get("topologyKey") or ""),
        ))
    return tuple(out)


def _spread(constraints: Any, labels: Mapping[str, str]) -> tuple[SpreadConstraint, ...]:
    out = []
    for c in constraints or ():
        if not isinstance(c, Mapping) or c.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
            continue
        out.append(SpreadConstraint(
            max_skew=_int(c.get("maxSkew"), 1),
            topology_key=str(c.get("topologyKey") or ""),
            selector=_selector(c.get("labelSelector"), labels, c.get("matchLabelKeys")),
            min_domains=_int(c.get("minDomains"), 1),
            honor_node_affinity=c.get("nodeAffinityPolicy", "Honor") != "Ignore",
            honor_taints=c.get("nodeTaintsPolicy", "Ignore") == "Honor",
        ))
    return tuple(out)


def pod_info(pod: Obj) -> PodInfo:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = str(meta.get("namespace") or "")
    name = str(meta.get("name") or "")
    labels = meta.get("labels") or {}
    cpu, mem, nz_cpu, nz_mem = pod_requests(spec)
    affinity = spec.get("affinity") or {}
    node_affinity = affinity.get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    node_selector = spec.get("nodeSelector") or None
    tolerations = tuple(t for t in spec.get("tolerations") or () if isinstance(t, Mapping))
    static_sig = None
    if node_selector or required is not None or tolerations:
        static_sig = json.dumps([node_selector, required, tolerations], sort_keys=True, default=str)
    claims, ephemeral = claims_of(pod)
    pod_affinity = affinity.get("podAffinity") or {}
    pod_anti = affinity.get("podAntiAffinity") or {}
    phase = (pod.get("status") or {}).get("phase")
    return PodInfo(
        uid=str(meta.get("uid") or f"{namespace}/{name}"),
        namespace=namespace,
        name=name,
        key=f"{namespace}/{name}",
        labels=labels,
        node_name=str(spec.get("nodeName") or ""),
        scheduler_name=str(spec.get("schedulerName") or DEFAULT_SCHEDULER),
        priority=_int(spec.get("priority"), 0),
        preemption_never=spec.get("preemptionPolicy") == "Never",
        gated=bool(spec.get("schedulingGates")),
        terminal=phase in ("Succeeded", "Failed"),
        cpu=cpu,
        mem=mem,
        nz_cpu=nz_cpu,
        nz_mem=nz_mem,
        node_selector=node_selector,
        required_node_affinity=required,
        preferred_node_affinity=tuple(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()),
        tolerations=tolerations,
        static_sig=static_sig,
        claims=claims,
        ephemeral=ephemeral,
        owner=controller_owner(meta),
        affinity=_affinity_terms(pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace,
                                 labels),
        anti_affinity=_affinity_terms(pod_anti.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace,
                                      labels),
        spread=_spread(spec.get("topologySpreadConstraints"), labels),
        pod=pod,
    )


__all__ = ["AffinityTerm", "PodInfo", "SpreadConstraint", "claims_of", "pod_info", "pod_requests"]
