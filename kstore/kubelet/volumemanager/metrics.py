"""The volume manager's gauges, computed at scrape time (Kubernetes'
`volumemanager/metrics/metrics.go` and the kubelet's volume stats collector).

- `volume_manager_total_volumes{plugin_name,state}`: (volume, pod) pairs in the desired state
  (`desired_state_of_world`) and pod mounts in the actual state (`actual_state_of_world`),
  per plugin (`kubernetes.io/csi:<driver>` for CSI volumes, as Kubernetes labels them).
- `kubelet_volume_stats_{capacity,available,used}_bytes` and `..._inodes{,_free,_used}`
  `{namespace,persistentvolumeclaim}`: statvfs of each mounted claim's volume, from a cache
  the volume manager refreshes on a thread (statvfs never runs in a scrape);
  `kubelet_volume_stats_health_status_abnormal` (1 while the volume disappeared under its pod).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.volume.mount import FsStats

DESIRED = "desired_state_of_world"
ACTUAL = "actual_state_of_world"

STATS = (
    ("kubelet_volume_stats_capacity_bytes", "Capacity in bytes of the volume", "capacity_bytes"),
    ("kubelet_volume_stats_available_bytes", "Number of available bytes in the volume", "available_bytes"),
    ("kubelet_volume_stats_used_bytes", "Number of used bytes in the volume", "used_bytes"),
    ("kubelet_volume_stats_inodes", "Maximum number of inodes in the volume", "inodes"),
    ("kubelet_volume_stats_inodes_free", "Number of free inodes in the volume", "inodes_free"),
    ("kubelet_volume_stats_inodes_used", "Number of used inodes in the volume", "inodes_used"),
)


def volume_counts(dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> Counter[tuple[str, str]]:
    """(plugin_name, state) → count."""
    counts: Counter[tuple[str, str]] = Counter()
    for volume in dsw.get_volumes_to_mount():
        counts[(volume.metric_plugin, DESIRED)] += 1
    for mounted in asw.get_mounted_volumes():
        counts[(mounted.metric_plugin, ACTUAL)] += 1
    return counts


class TotalVolumesCollector(Collector):
    def __init__(self, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld) -> None:
        self._dsw = dsw
        self._asw = asw

    def collect(self) -> Iterable[GaugeMetricFamily]:
        counts = volume_counts(self._dsw, self._asw)
        for plugin, _ in list(counts):  # both states for every plugin seen, zeros included
            counts[(plugin, DESIRED)] += 0
            counts[(plugin, ACTUAL)] += 0
        g = GaugeMetricFamily("volume_manager_total_volumes", "Number of volumes in Volume Manager",
                              labels=["plugin_name", "state"])
        for (plugin, state), n in sorted(counts.items()):
            g.add_metric([plugin, state], n)
        yield g


class VolumeStatsCollector(Collector):
    def __init__(self, stats: Callable[[], Mapping[tuple[str, str], FsStats]],
                 abnormal: Callable[[], Mapping[tuple[str, str], bool]] = dict) -> None:
        self._stats = stats
        self._abnormal = abnormal

    def collect(self) -> Iterable[GaugeMetricFamily]:
        stats = sorted(self._stats().items())
        for name, doc, field in STATS:
            g = GaugeMetricFamily(name, doc, labels=["namespace", "persistentvolumeclaim"])
            for (namespace, claim), s in stats:
                g.add_metric([namespace, claim], float(getattr(s, field)))
            yield g
        g = GaugeMetricFamily("kubelet_volume_stats_health_status_abnormal",
                              "Abnormal volume health status. The count is either 1 or 0. 1 indicates the volume is "
                              "unhealthy, 0 indicates volume is healthy",
                              labels=["namespace", "persistentvolumeclaim"])
        for (namespace, claim), bad in sorted(self._abnormal().items()):
            g.add_metric([namespace, claim], 1.0 if bad else 0.0)
        yield g
