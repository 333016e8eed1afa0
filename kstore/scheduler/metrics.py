"""kube-scheduler's metrics, with Kubernetes' names, labels and buckets
(`pkg/scheduler/metrics/metrics.go`, `volumebinding/metrics/metrics.go`).

The end-to-end `kstore_e2e_latency_seconds{stage="pod_scheduled"}` is the shared
`kstore.observe.metrics.E2E_LATENCY`. Defined once, at import (prometheus_client refuses
duplicates); only the scheduler process imports this module.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# metrics.ExponentialBuckets(0.001, 2, 15), as kube-scheduler.
ATTEMPT_BUCKETS = tuple(0.001 * 2**i for i in range(15))

SCHEDULING_ATTEMPT_DURATION = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=ATTEMPT_BUCKETS,
)
SCHEDULE_ATTEMPTS = Counter(
    "scheduler_schedule_attempts",
    "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
    "scheduled, while 'error' means an internal scheduler problem.",
    ["result", "profile"],
)
PENDING_PODS = Gauge(
    "scheduler_pending_pods",
    "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means "
    "number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler "
    "attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never "
    "attempted to schedule because they are gated.",
    ["queue"],
)
BINDER_CACHE_REQUESTS = Counter(
    "scheduler_volume_binder_cache_requests",
    "Total number for request volume binding cache",
    ["operation"],
)
VOLUME_SCHEDULING_STAGE_ERRORS = Counter(
    "scheduler_volume_scheduling_stage_error",
    "Volume scheduling stage error count",
    ["operation"],
)

RESULT_SCHEDULED, RESULT_UNSCHEDULABLE, RESULT_ERROR = "scheduled", "unschedulable", "error"
QUEUES = ("active", "backoff", "unschedulable", "gated")
