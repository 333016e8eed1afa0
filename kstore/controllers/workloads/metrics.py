"""The controller-manager's own metrics, with Kubernetes' names (its work queues and reconcile
passes use the shared `workqueue_*` and `kstore_reconcile_duration_seconds`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# pkg/controller/volume/ephemeral/metrics
EPHEMERAL_CREATE = Counter("ephemeral_volume_controller_create",
                           "Number of PersistentVolumeClaim creation requests for generic ephemeral volumes")
EPHEMERAL_CREATE_FAILURES = Counter("ephemeral_volume_controller_create_failures",
                                    "Number of failed PersistentVolumeClaim creation requests for generic "
                                    "ephemeral volumes")

# pkg/controller/nodelifecycle/metrics.go
ZONE_SIZE = Gauge("node_collector_zone_size", "Gauge measuring number of registered Nodes per zones.", ["zone"])
UNHEALTHY_NODES = Gauge("node_collector_unhealthy_nodes_in_zone",
                        "Gauge measuring number of not Ready Nodes per zones.", ["zone"])

# pkg/controller/tainteviction/metrics
POD_DELETIONS = Counter("taint_eviction_controller_pod_deletions",
                        "Total number of Pods deleted by TaintEvictionController since its start.")

# pkg/controller/garbagecollector/metrics (ours: what it deleted, by propagation)
GC_DELETIONS = Counter("kstore_garbage_collector_deletions",
                       "Objects the garbage collector deleted, by the propagation policy it used",
                       ["propagation"])
