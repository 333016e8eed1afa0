"""Which PersistentVolume satisfies a claim: Kubernetes' `FindMatchingVolume` and friends.

Design (Kubernetes' `pv_helpers.go`, `index.go` and `checkVolumeSatisfyClaim`, our code):
- `find_best_match(claim, volumes, delay_binding=..., node=...)` is the PV controller's
  `findBestMatchForClaim` when `node` is None and the scheduler's `FindMatchingVolume` when it
  is a Node. Order of preference:
  1. a volume pre-bound to this claim (`spec.claimRef` names it, uid empty or equal), big
     enough, of the claim's volumeMode, not being deleted. Class, phase, selector and (on the
     controller path) access modes are not checked: the creator asked for this pairing. On the
     scheduler path a pre-bound volume whose node affinity rejects the node means "no match".
  2. with `delay_binding` and no node, nothing else: the scheduler picks unbound volumes.
  3. otherwise the unbound (`claimRef` unset), `Available` volume that matches class, label
     selector, volumeMode, access modes (a superset of the claim's) and, with a node, node
     affinity, with the smallest capacity ≥ the request. On the controller path volumes are
     grouped by their set of access modes and the groups with the fewest modes are tried
     first (Kubernetes' access-mode index): a ReadWriteOnce claim takes a 10Gi RWO volume
     before a 1Gi RWO+RWX one. Groups of the same size, which Kubernetes visits in map
     order, are taken together. On the scheduler path it is simply the smallest.
  Ties are broken by volume name, so the answer never depends on cache order.
- Deliberate difference: Kubernetes looks for a pre-bound volume only inside the access-mode
  group it is scanning, so an unbound volume in an earlier group can win over a volume the
  user pre-bound to this claim. Here the pre-bound volume always wins (what its comment says
  it means to do).
- A claim the apiserver should have refused (request missing, unparsable or not positive, an
  access mode that does not exist, a bad selector) matches nothing; `claim_problem` says why,
  with the apiserver's field wording, so the binder can put it in an event.
- `check_volume_satisfies_claim(volume, claim)` is the check for a claim that names its volume
  (`spec.volumeName`): None when the volume fits, else the reason, worded as Kubernetes'.
- Pure functions over plain dicts; nothing here mutates its arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.quantity import QuantityError, parse_quantity
from kstore.api.selectors import label_selector_from_dict, node_selector_matches
from kstore.controllers.pv.model import ANN_BETA_STORAGE_CLASS, Obj

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
VOLUME_MODES = ("Filesystem", "Block")
AVAILABLE = "Available"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def claim_key(claim: Mapping[str, Any]) -> str:
    meta = _meta(claim)
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def claim_class(claim: Mapping[str, Any]) -> str:
    """The claim's class: the beta annotation wins over `spec.storageClassName`, as in Kubernetes'
    `GetPersistentVolumeClaimClass`; "" means "no class" (only volumes without a class match)."""
    beta = annotations(claim).get(ANN_BETA_STORAGE_CLASS)
    if beta is not None:
        return str(beta)
    return str(_spec(claim).get("storageClassName") or "")


def volume_class(volume: Mapping[str, Any]) -> str:
    """The volume's class, with the same precedence as `claim_class`."""
    beta = annotations(volume).get(ANN_BETA_STORAGE_CLASS)
    if beta is not None:
        return str(beta)
    return str(_spec(volume).get("storageClassName") or "")


def volume_mode(obj: Mapping[str, Any]) -> str:
    """`spec.volumeMode`, Filesystem when unset (as the apiserver defaults it)."""
    return str(_spec(obj).get("volumeMode") or "Filesystem")


def requested_storage(claim: Mapping[str, Any]) -> Fraction | None:
    """`spec.resources.requests.storage` in bytes; None when missing or not a quantity."""
    raw = ((_spec(claim).get("resources") or {}).get("requests") or {}).get("storage")
    if raw is None:
        return None
    try:
        return parse_quantity(raw)
    except QuantityError:
        return None


def volume_capacity(volume: Mapping[str, Any]) -> Fraction:
    """`spec.capacity.storage` in bytes; 0 when missing or unparsable (Go's zero Quantity)."""
    raw = (_spec(volume).get("capacity") or {}).get("storage")
    if raw is None:
        return Fraction(0)
    try:
        return parse_quantity(raw)
    except QuantityError:
        return Fraction(0)


def is_volume_bound_to_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    """The volume is pre-bound or bound to this claim: its claimRef names the claim and, when the
    claimRef carries a uid, the uid is the claim's."""
    ref = _spec(volume).get("claimRef")
    if not ref:
        return False
    meta = _meta(claim)
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    uid = ref.get("uid") or ""
    return not uid or uid == meta.get("uid")


def access_modes_satisfied(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    """Every access mode the claim asks for is one the volume offers."""
    offered = set(_spec(volume).get("accessModes") or ())
    return all(mode in offered for mode in _spec(claim).get("accessModes") or ())


def volume_mode_mismatch(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    return volume_mode(claim) != volume_mode(volume)


def node_admits(volume: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """The volume's `nodeAffinity.required` admits the node (no affinity admits every node)."""
    required = (_spec(volume).get("nodeAffinity") or {}).get("required")
    meta = _meta(node)
    return node_selector_matches(required, meta.get("labels") or {}, {"metadata.name": meta.get("name", "")})


def _quoted(value: object) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def claim_problem(claim: Mapping[str, Any]) -> str | None:
    """Why no volume can ever satisfy this claim as written, in the apiserver's field wording;
    None for a well-formed claim. (The apiserver refuses such claims; this guards the binder
    against ones that got in anyway.)"""
    spec = _spec(claim)
    raw = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if raw is None:
        return "spec.resources[storage]: Required value"
    size = requested_storage(claim)
    if size is None:
        return f"spec.resources.requests[storage]: Invalid value: {_quoted(raw)}: quantities must be valid"
    if size <= 0:
        return f"spec.resources.requests[storage]: Invalid value: {_quoted(raw)}: must be greater than zero"
    modes = spec.get("accessModes") or []
    if not modes:
        return "spec.accessModes: Required value"
    for mode in modes:
        if mode not in ACCESS_MODES:
            supported = ", ".join(_quoted(m) for m in ACCESS_MODES)
            return f"spec.accessModes: Unsupported value: {_quoted(mode)}: supported values: {supported}"
    if volume_mode(claim) not in VOLUME_MODES:
        supported = ", ".join(_quoted(m) for m in VOLUME_MODES)
        return f"spec.volumeMode: Unsupported value: {_quoted(volume_mode(claim))}: supported values: {supported}"
    if spec.get("selector") is not None:
        try:
            label_selector_from_dict(spec["selector"])
        except ApiError as err:
            return f"spec.selector: Invalid value: {err}"
    return None


def check_volume_satisfies_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> str | None:
    """Whether the volume a claim names in `spec.volumeName` can serve it: None if it can, else
    the reason, as Kubernetes' `checkVolumeSatisfyClaim` words it. The label selector is not
    checked: naming the volume overrides it (binder_test 2-8)."""
    problem = claim_problem(claim)
    if problem is not None:
        return f"invalid claim: {problem}"
    if _meta(volume).get("deletionTimestamp"):
        return f"the volume is marked for deletion {_quoted(_meta(volume).get('name', ''))}"
    request = requested_storage(claim) or Fraction(0)
    if volume_capacity(volume) < request:
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if (_spec(claim).get("volumeAttributesClassName") or "") != (_spec(volume).get("volumeAttributesClassName") or ""):
        return "volumeAttributesClassName does not match"
    if volume_mode_mismatch(claim, volume):
        return "incompatible volumeMode"
    if not access_modes_satisfied(claim, volume):
        return "incompatible accessMode"
    return None


def unbound_volume_fits(
    volume: Obj, *, request: Fraction, wanted_class: str, wanted_modes: frozenset[str], selector: Any,
    claim: Obj, node: Obj | None,
) -> bool:
    """Whether an unbound volume can serve the claim (find_best_match's step 3 test)."""
    vspec = _spec(volume)
    if vspec.get("claimRef") or _meta(volume).get("deletionTimestamp"):
        return False
    if (volume.get("status") or {}).get("phase") != AVAILABLE:
        # Volumes not yet Available would be made so by syncVolume; binding them now
        # mostly earns conflicts (Kubernetes skips them for the same reason).
        return False
    if volume_capacity(volume) < request or volume_mode_mismatch(claim, volume):
        return False
    if volume_class(volume) != wanted_class:
        return False
    if selector is not None and not selector.matches(_meta(volume).get("labels") or {}):
        return False
    if node is not None and not node_admits(volume, node):
        return False
    return wanted_modes <= set(vspec.get("accessModes") or ())


def claim_wants(claim: Obj) -> tuple[Fraction, str, frozenset[str], Any]:
    """(request, class, access modes, label selector) of a well-formed claim."""
    spec = _spec(claim)
    selector = label_selector_from_dict(spec["selector"]) if spec.get("selector") is not None else None
    return (requested_storage(claim) or Fraction(0), claim_class(claim), frozenset(spec.get("accessModes") or ()),
            selector)


def find_best_match(
    claim: Obj,
    volumes: Iterable[Obj],
    *,
    delay_binding: bool,
    node: Obj | None = None,
    excluded: frozenset[str] = frozenset(),
) -> Obj | None:
    """The volume the claim should bind to, or None (see the module docstring for the rules).

    `node` is given on the scheduler path (and by the binder once a WaitForFirstConsumer claim
    has its selected node); `excluded` names volumes already chosen for other claims of the
    same pod. Returns one of the given dicts, unmodified.
    """
    if claim_problem(claim) is not None:
        return None
    request = requested_storage(claim) or Fraction(0)
    spec = _spec(claim)
    selector = label_selector_from_dict(spec["selector"]) if spec.get("selector") is not None else None
    wanted_class = claim_class(claim)
    wanted_modes = frozenset(spec.get("accessModes") or ())

    candidates = sorted(
        (v for v in volumes if _meta(v).get("name") not in excluded),
        key=lambda v: str(_meta(v).get("name", "")),
    )

    # 1. A volume pre-bound (or half-bound) to this very claim.
    for volume in candidates:
        if not is_volume_bound_to_claim(volume, claim):
            continue
        if volume_capacity(volume) < request or volume_mode_mismatch(claim, volume):
            continue
        if _meta(volume).get("deletionTimestamp"):
            continue
        if node is not None and not node_admits(volume, node):
            return None  # the pairing the user made does not fit the chosen node
        if node is None and not wanted_modes <= set(_spec(volume).get("accessModes") or ()):
            continue  # the controller's access-mode index never offers it
        return volume

    # 2. The controller does not pick unbound volumes for a claim whose binding is delayed.
    if delay_binding and node is None:
        return None

    # 3. The smallest fitting unbound volume.
    def fits(volume: Obj) -> bool:
        return unbound_volume_fits(volume, request=request, wanted_class=wanted_class, wanted_modes=wanted_modes,
                                   selector=selector, claim=claim, node=node)

    fitting = [v for v in candidates if fits(v)]
    if not fitting:
        return None
    if node is not None:
        return min(fitting, key=volume_capacity)  # min() keeps the first (by name) of equals
    # Controller path: the access-mode group with the fewest modes first, then the smallest.
    return min(fitting, key=lambda v: (len(set(_spec(v).get("accessModes") or ())), volume_capacity(v)))
