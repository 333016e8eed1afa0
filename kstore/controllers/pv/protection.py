"""Storage object in-use protection (Kubernetes' pvc-protection and pv-protection controllers).

A claim marked for deletion keeps `kubernetes.io/pvc-protection` while a scheduled pod that has
not terminated uses it (an unscheduled pod does not count: the kubelet refuses to start a pod
whose claim is being deleted). A volume marked for deletion keeps `kubernetes.io/pv-protection`
while it is Bound.
"""

from __future__ import annotations

from collections.abc import Iterable

from kstore.controllers.pv.model import Obj


def pod_uses_its_claims(pod: Obj) -> bool:
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def claim_in_use(pods: Iterable[Obj]) -> bool:
    return any(pod_uses_its_claims(p) for p in pods)


def volume_releasable(volume: Obj) -> bool:
    return (volume.get("status") or {}).get("phase") != "Bound"
