"""The attach/detach controller's metrics, with Kubernetes' names and labels
(`attachdetach/metrics/metrics.go`, read for behaviour).

- `attachdetach_controller_total_volumes{plugin_name,state}` (gauge): volumes in the desired
  state (`desired_state_of_world`: one per volume and node) and in the actual state
  (`actual_state_of_world`, uncertain attachments included, as Kubernetes counts them),
  computed from the caches at scrape time. Every plugin seen gets both states, zeros included.
- `storage_count_attachable_volumes_in_use{node,volume_plugin}` (gauge): per node, the
  attachable volumes its pods use, one per (pod, volume) — from the desired state, at scrape.
- `attachdetach_controller_forced_detaches{reason}` (counter; reason `timeout` or
  `out-of-service`, as Kubernetes ≥ 1.30 labels it). Kubernetes' own exposition has no
  `_total` suffix (component-base does not add one); kstore's exposition follows the OpenMetrics
  rule every kstore endpoint follows and promtool checks (counters end in `_total`), so the
  sample is `attachdetach_controller_forced_detaches_total`. Both reasons are exposed at 0
  from the start.
- Reconcile pass latency is `kstore_reconcile_duration_seconds{component="ad-controller",
  loop=...}` (kstore/observe/metrics.py). `storage_operation_duration_seconds` comes from the
  plugins' own timers.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kstore.controllers.attachdetach.cache import ActualStateOfWorld, DesiredStateOfWorld
from kstore.controllers.attachdetach.reconciler import FORCE_DETACH_REASONS

DESIRED = "desired_state_of_world"
ACTUAL = "actual_state_of_world"

FORCED_DETACHES = Counter(
    "attachdetach_controller_forced_detaches",
    "Number of times the A/D Controller performed a forced detach",
    ["reason"],
)
for _reason in FORCE_DETACH_REASONS:
    FORCED_DETACHES.labels(_reason)


def record_forced_detach(reason: str) -> None:
    FORCED_DETACHES.labels(reason).inc()


class AttachDetachCollector(Collector):
    def __init__(self, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> None:
        self.dsw = dsw
        self.asw = asw

    def collect(self) -> Iterable[GaugeMetricFamily]:
        desired = self.dsw.get_volumes_to_attach()
        totals: Tally[tuple[str, str]] = Tally()
        in_use: Tally[tuple[str, str]] = Tally()
        for v in desired:
            label = v.volume.metric_label or v.volume.plugin_name
            totals[(label, DESIRED)] += 1
            in_use[(v.node, label)] += len(v.scheduled_pods)
        for av in self.asw.get_attached_volumes():
            totals[(av.volume.metric_label or av.volume.plugin_name, ACTUAL)] += 1
        for plugin in {p for p, _ in totals}:
            totals[(plugin, DESIRED)] += 0
            totals[(plugin, ACTUAL)] += 0
        g = GaugeMetricFamily("attachdetach_controller_total_volumes", "Number of volumes in A/D Controller",
                              labels=["plugin_name", "state"])
        for (plugin, state), n in sorted(totals.items()):
            g.add_metric([plugin, state], n)
        yield g
        u = GaugeMetricFamily("storage_count_attachable_volumes_in_use", "Measure number of volumes in use",
                              labels=["node", "volume_plugin"])
        for (node, plugin), n in sorted(in_use.items()):
            u.add_metric([node, plugin], n)
        yield u
