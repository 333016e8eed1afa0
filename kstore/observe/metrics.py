"""The metric objects shared across kstore processes, with DESIGN §6 names, types and labels.

Design:
- Kubernetes' own name, type, labels and buckets wherever Kubernetes has the metric, so
  existing dashboards and alerts work unchanged; the emulator's own metrics are prefixed
  `kstore_`. Everything lives on prometheus_client's default REGISTRY: each kstore process
  is its own OS process and serves that registry on `/metrics`.
- Defined once, here, at import: a component imports the object and uses `.labels(...)`;
  it never creates a metric with a name listed here (prometheus_client would refuse the
  duplicate). Counters are created without `_total`; prometheus_client appends it.
- `_created` series are turned off for the whole process (`disable_created_metrics()`):
  Kubernetes does not expose them, and they would double the series count of every
  counter and histogram.

Invariants (what `promtool check metrics` checks, and `tests/unit/test_metrics_names.py`
asserts on the exposition text): every metric has HELP text; units are base units spelled
as suffixes (`_seconds`); counters, and only counters, end in `_total`; names and labels are
snake_case.
"""

from __future__ import annotations

import time
import types
from collections.abc import Awaitable, Callable
from typing import Final

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

from kstore.client.clock import Clock, RealClock

# Kubernetes does not expose `_created` series; neither do we (process-wide setting).
prometheus_client.disable_created_metrics()

# --- storage operations (pkg/volume/util/metrics.go) ------------------------------------

STATUS_SUCCESS: Final = "success"
STATUS_FAIL_UNKNOWN: Final = "fail-unknown"

OPERATION_NAMES: Final = (
    "volume_provision",
    "volume_delete",
    "volume_attach",
    "volume_detach",
    "volume_mount",
    "volume_unmount",
    "unmount_device",
    "volume_fs_resize",
    "verify_controller_attached_volume",
)

# Kubernetes' buckets (.1 .. 600) plus finer ones below .1 for the emulator's fast paths.
STORAGE_OPERATION_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600,
)  # fmt: skip

STORAGE_OPERATION_DURATION = Histogram(
    "storage_operation_duration_seconds",
    "Storage operation duration",
    ["volume_plugin", "operation_name", "status", "migrated"],
    buckets=STORAGE_OPERATION_BUCKETS,
)

# --- kstore's own loops and end-to-end latencies ------------------------------------------

# One reconcile pass of an in-memory loop takes microseconds to milliseconds.
RECONCILE_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
)  # fmt: skip

RECONCILE_DURATION = Histogram(
    "kstore_reconcile_duration_seconds",
    "Duration of one pass of a kstore reconcile loop",
    ["component", "loop"],
    buckets=RECONCILE_BUCKETS,
)

E2E_STAGES: Final = ("pvc_bound", "pod_scheduled", "volumes_attached", "volumes_mounted", "pod_running")

E2E_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600,
)  # fmt: skip

E2E_LATENCY = Histogram(
    "kstore_e2e_latency_seconds",
    "Time from creating an object to it reaching a stage: PVC created to pvc_bound; "
    "pod created to pod_scheduled, volumes_attached, volumes_mounted, pod_running",
    ["stage"],
    buckets=E2E_BUCKETS,
)

# --- work queues (client-go util/workqueue, label `name` = the queue's name) ---------------

# client-go: ExponentialBuckets(10e-9, 10, 10), i.e. 1e-8 .. 10 by powers of 10.
WORKQUEUE_BUCKETS: Final = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

WORKQUEUE_DEPTH = Gauge("workqueue_depth", "Current depth of workqueue", ["name"])
WORKQUEUE_ADDS = Counter("workqueue_adds", "Total number of adds handled by workqueue", ["name"])
WORKQUEUE_QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    ["name"],
    buckets=WORKQUEUE_BUCKETS,
)
WORKQUEUE_WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes",
    ["name"],
    buckets=WORKQUEUE_BUCKETS,
)
WORKQUEUE_UNFINISHED_WORK = Gauge(
    "workqueue_unfinished_work_seconds",
    "How many seconds of work has been done that is in progress and hasn't been observed by "
    "work_duration. Large values indicate stuck threads",
    ["name"],
)
WORKQUEUE_LONGEST_RUNNING_PROCESSOR = Gauge(
    "workqueue_longest_running_processor_seconds",
    "How many seconds has the longest running processor for workqueue been running",
    ["name"],
)
WORKQUEUE_RETRIES = Counter("workqueue_retries", "Total number of retries handled by workqueue", ["name"])

# --- events -----------------------------------------------------------------------------

EVENT_DROP_CAUSES: Final = ("buffer_full", "spam_filter", "sink_error", "closed", "invalid")

EVENTS_DROPPED = Counter(
    "kstore_events_dropped",
    "Events not written to the store, by cause: buffer_full (recorder buffer full), "
    "spam_filter (source+object over its rate), sink_error (store write failed), "
    "closed (recorded after close), invalid (bad type or object without kind and name)",
    ["cause"],
)
for _cause in EVENT_DROP_CAUSES:
    EVENTS_DROPPED.labels(_cause)  # exposed at 0 from the start


# --- helpers ----------------------------------------------------------------------------

CSI_PLUGIN_PREFIX: Final = "kubernetes.io/csi:"


def plugin_label(driver: str) -> str:
    """The `volume_plugin` label value for a driver, as Kubernetes writes it.

    In-tree plugin names (`kubernetes.io/host-path`), FlexVolume plugin names
    (`flexvolume-<vendor>/<driver>`, as Kubernetes names them) and already-prefixed CSI names are
    returned unchanged; any other name is a CSI driver: `ebs.csi.aws.com` becomes
    `kubernetes.io/csi:ebs.csi.aws.com`. The function is idempotent.
    """
    if not driver:
        raise ValueError("plugin_label: driver name is empty; pass the CSI driver or in-tree plugin name")
    if driver.startswith(("kubernetes.io/", "flexvolume-")):
        return driver
    return CSI_PLUGIN_PREFIX + driver


class OperationTimer:
    """Times one storage operation into `storage_operation_duration_seconds`.

    Usable as `with` and `async with`. On exit the duration is observed with status
    `success`, or `fail-unknown` if the body raised an `Exception` or called
    `mark_failed()` (for operations that report failure by return value). A body ended by
    cancellation or another `BaseException` is not observed: it neither succeeded nor failed.
    """

    def __init__(
        self, plugin: str, operation: str, *, migrated: bool = False, clock: Clock | None = None
    ) -> None:
        self.plugin = plugin_label(plugin)
        self.operation = operation
        self.migrated = "true" if migrated else "false"
        self._clock = clock if clock is not None else RealClock()
        self._start: float | None = None
        self._failed = False

    def mark_failed(self) -> None:
        """Record this operation as `fail-unknown` even if the body does not raise."""
        self._failed = True

    def __enter__(self) -> OperationTimer:
        self._start = self._clock.now()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._start is None:
            raise RuntimeError("OperationTimer exited without being entered")
        if exc is not None and not isinstance(exc, Exception):
            return
        status = STATUS_FAIL_UNKNOWN if (self._failed or exc is not None) else STATUS_SUCCESS
        STORAGE_OPERATION_DURATION.labels(self.plugin, self.operation, status, self.migrated).observe(
            max(0.0, self._clock.now() - self._start)
        )

    async def __aenter__(self) -> OperationTimer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def time_operation(
    plugin: str, operation: str, *, migrated: bool = False, clock: Clock | None = None
) -> OperationTimer:
    """Time a storage operation: `with time_operation("ebs.csi.aws.com", "volume_attach"): ...`.

    `plugin` goes through `plugin_label()`, so a CSI driver name or a full plugin name both
    work. `operation` is one of `OPERATION_NAMES`. Works with `with` and `async with`.
    """
    return OperationTimer(plugin, operation, migrated=migrated, clock=clock)


def timed_sync(component: str, loop: str, fn: Callable[[str], Awaitable[None]]) -> Callable[[str], Awaitable[None]]:
    """Wrap a worker's sync function so every pass is observed in
    `kstore_reconcile_duration_seconds{component, loop}` (failed passes included)."""
    child = RECONCILE_DURATION.labels(component, loop)

    async def run(key: str) -> None:
        start = time.perf_counter()
        try:
            await fn(key)
        finally:
            child.observe(time.perf_counter() - start)

    return run
