"""The namespace controller's decision (Kubernetes' `pkg/controller/namespace/deletion/`;
read for behaviour, our code).

`kubectl delete namespace x` leaves the Namespace Terminating, with a deletionTimestamp and
`spec.finalizers: [kubernetes]`. `sync_namespace(ns, contents, now=...)` — `contents` is what
the worker listed from the store, kind by kind — then:
- deletes every object of the namespace that is not being deleted yet (background
  propagation), and reports what remains in the status conditions
  `NamespaceContentRemaining` ("Some resources are remaining: pods. has 2 resource
  instances") and `NamespaceFinalizersRemaining`, asking to look again shortly;
- once nothing is left, removes `kubernetes` from `spec.finalizers` (the `finalize`
  subresource's write) and the store deletes the Namespace.
Objects held by finalizers (a claim in use, a pod its stopped kubelet never finishes) keep the
namespace Terminating, as in Kubernetes.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping

from kstore.api.kinds import KINDS
from kstore.controllers.workloads.meta import finalizers, format_time, is_deleting, set_condition
from kstore.controllers.workloads.model import (
    NAMESPACE_FINALIZER,
    Action,
    Obj,
    RequeueAfter,
    Update,
    delete_of,
)

RECHECK = 2.0  # seconds between passes while content remains


def _condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict[str, str]:
    return {"type": ctype, "status": status, "lastTransitionTime": format_time(now), "reason": reason,
            "message": message}


def sync_namespace(ns: Obj, contents: Mapping[str, list[Obj]], *, now: float) -> list[Action]:
    """Decide the next step of a Terminating namespace; `now` is wall-clock seconds. No I/O."""
    spec_finalizers = list((ns.get("spec") or {}).get("finalizers") or [])
    if not is_deleting(ns) or NAMESPACE_FINALIZER not in spec_finalizers:
        return []
    actions: list[Action] = []
    remaining: Counter[str] = Counter()
    held: Counter[str] = Counter()
    for kind, objs in sorted(contents.items()):
        for obj in objs:
            remaining[KINDS[kind].resource if kind in KINDS else kind] += 1
            for f in finalizers(obj):
                held[f] += 1
            if not is_deleting(obj):
                actions.append(delete_of(obj, propagation="Background"))
    if not remaining:
        final = copy.deepcopy(ns)
        final["spec"]["finalizers"] = [f for f in spec_finalizers if f != NAMESPACE_FINALIZER]
        final.pop("status", None)
        return [Update(final)]
    status = copy.deepcopy(ns.get("status") or {})
    status["phase"] = "Terminating"
    content = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
    set_condition(status, _condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                                     f"Some resources are remaining: {content}", now))
    if held:
        which = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(held.items()))
        set_condition(status, _condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                                         f"Some content in the namespace has finalizers remaining: {which}", now))
    else:
        set_condition(status, _condition("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                                         "All content-preserving finalizers finished", now))
    if status != (ns.get("status") or {}):
        new = copy.deepcopy(ns)
        new["status"] = status
        actions.append(Update(new, status=True))
    actions.append(RequeueAfter(RECHECK))
    return actions
