"""`pv_collector_*`: Kubernetes' PV controller gauges, computed from the caches at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kstore.controllers.pv.model import Obj


def _class(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("storageClassName") or "")


class PVCollector(Collector):
    def __init__(self, volumes: Callable[[], Iterable[Obj]], claims: Callable[[], Iterable[Obj]]) -> None:
        self._volumes = volumes
        self._claims = claims

    def collect(self) -> Iterable[GaugeMetricFamily]:
        bound_pv: Counter[str] = Counter()
        unbound_pv: Counter[str] = Counter()
        for v in self._volumes():
            (bound_pv if (v.get("spec") or {}).get("claimRef") and (v.get("status") or {}).get("phase") == "Bound"
             else unbound_pv)[_class(v)] += 1
        bound_pvc: Counter[tuple[str, str]] = Counter()
        unbound_pvc: Counter[tuple[str, str]] = Counter()
        for c in self._claims():
            key = (c["metadata"].get("namespace", ""), _class(c))
            (bound_pvc if (c.get("status") or {}).get("phase") == "Bound" else unbound_pvc)[key] += 1
        # Every class seen gets both series, zeros included, so a dashboard never shows "no data".
        for cls in set(bound_pv) | set(unbound_pv):
            bound_pv[cls] += 0
            unbound_pv[cls] += 0
        for key in set(bound_pvc) | set(unbound_pvc):
            bound_pvc[key] += 0
            unbound_pvc[key] += 0
        for name, doc, counts in (("pv_collector_bound_pv_count", "Gauge measuring number of persistent volume "
                                   "currently bound", bound_pv),
                                  ("pv_collector_unbound_pv_count", "Gauge measuring number of persistent volume "
                                   "currently unbound", unbound_pv)):
            g = GaugeMetricFamily(name, doc, labels=["storage_class"])
            for sc, n in sorted(counts.items()):
                g.add_metric([sc], n)
            yield g
        for name, doc, pcounts in (("pv_collector_bound_pvc_count", "Gauge measuring number of persistent volume "
                                    "claim currently bound", bound_pvc),
                                   ("pv_collector_unbound_pvc_count", "Gauge measuring number of persistent "
                                    "volume claim currently unbound", unbound_pvc)):
            g = GaugeMetricFamily(name, doc, labels=["namespace", "storage_class"])
            for (ns, sc), n in sorted(pcounts.items()):
                g.add_metric([ns, sc], n)
            yield g
