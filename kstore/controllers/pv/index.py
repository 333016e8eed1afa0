"""An index of PersistentVolumes that keeps claim matching cheap at scale.

`find_best_match` over every volume costs O(volumes) per claim: binding 10⁴ claims to 10⁴
volumes would be 10⁸ checks. Kubernetes keeps an index by access modes; this one keeps, per
storage class, the unbound Available volumes in preference order — (number of access modes,
capacity, name), the very order `find_best_match` chooses by — plus the volumes whose claimRef
names each claim. `candidates(claim)` returns the volumes pre-bound to the claim and, for each
access-mode group, the first unbound volume that fits: the best match among all volumes is
always among them, so `find_best_match(claim, index.candidates(claim))` gives the same answer as
over all volumes, at the cost of a binary search and the few volumes skipped on the way.

Not thread-safe; fed by the PV informer's handlers on the event loop.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from fractions import Fraction

from kstore.controllers.pv.matching import (
    AVAILABLE,
    claim_problem,
    claim_wants,
    unbound_volume_fits,
    volume_capacity,
    volume_class,
)
from kstore.controllers.pv.model import Obj

_Key = tuple[int, Fraction, str]  # (number of access modes, capacity, name)


def _unbound(volume: Obj) -> bool:
    return (not (volume.get("spec") or {}).get("claimRef") and not volume["metadata"].get("deletionTimestamp")
            and (volume.get("status") or {}).get("phase") == AVAILABLE)


def _claim_ref_key(volume: Obj) -> str | None:
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


class VolumeIndex:
    def __init__(self) -> None:
        self._volumes: dict[str, Obj] = {}
        self._order: dict[str, list[_Key]] = {}  # class → sorted keys of unbound volumes
        self._key_of: dict[str, tuple[str, _Key]] = {}  # name → (class, key) while unbound
        self._by_claim: dict[str, set[str]] = {}  # "ns/name" of claimRef → volume names
        self._ref_of: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._volumes)

    def put(self, volume: Obj) -> None:
        name = volume["metadata"]["name"]
        self.remove(name)
        self._volumes[name] = volume
        if _unbound(volume):
            cls = volume_class(volume)
            key = (len(set((volume.get("spec") or {}).get("accessModes") or ())), volume_capacity(volume), name)
            bisect.insort(self._order.setdefault(cls, []), key)
            self._key_of[name] = (cls, key)
        ref = _claim_ref_key(volume)
        if ref is not None:
            self._by_claim.setdefault(ref, set()).add(name)
            self._ref_of[name] = ref

    def remove(self, name: str) -> None:
        if self._volumes.pop(name, None) is None:
            return
        placed = self._key_of.pop(name, None)
        if placed is not None:
            cls, key = placed
            keys = self._order[cls]
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]
        ref = self._ref_of.pop(name, None)
        if ref is not None:
            names = self._by_claim.get(ref)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_claim[ref]

    def candidates(self, claim: Obj, node: Obj | None = None) -> list[Obj]:
        key = f"{claim['metadata'].get('namespace', '')}/{claim['metadata'].get('name', '')}"
        out = [self._volumes[n] for n in sorted(self._by_claim.get(key, ()))]
        if claim_problem(claim) is not None:
            return out
        request, wanted_class, wanted_modes, selector = claim_wants(claim)
        keys = self._order.get(wanted_class, [])
        # One walk per access-mode group, from the first volume big enough.
        for modes in sorted({k[0] for k in keys}) if len(keys) < 64 else range(1, 5):
            i = bisect.bisect_left(keys, (modes, request, ""))
            while i < len(keys) and keys[i][0] == modes:
                volume = self._volumes[keys[i][2]]
                if unbound_volume_fits(volume, request=request, wanted_class=wanted_class, wanted_modes=wanted_modes,
                                       selector=selector, claim=claim, node=node):
                    out.append(volume)
                    break
                i += 1
        return out

    def all(self) -> Iterable[Obj]:
        return self._volumes.values()
