"""The attach/detach reconciler: compare the desired and actual states and start operations
(Kubernetes' `attachdetach/reconciler/reconciler.go`, read for behaviour).

One pass (`reconcile`), run every `periods.ad_reconcile` (100 ms):
1. Detach first — volumes in the actual state that no pod on that node wants — so a volume
   whose pod moved to another node is let go before it is attached there:
   - skipped while an operation on it runs or backs off (expected, not an error);
   - the first time, the detach request is stamped; a volume the node still lists in
     `status.volumesInUse` is not detached (safe-detach handshake) unless
     * the wait passed `max_wait_for_unmount` and the node is not Ready (force detach,
       reason "timeout"), or
     * the node carries the `node.kubernetes.io/out-of-service` taint (force detach at once,
       reason "out-of-service");
     as Kubernetes does. A detach started after the wait expired skips the in-use check
     (Kubernetes' verifySafeToDetach), and is counted in
     `attachdetach_controller_forced_detaches{reason}`, as Kubernetes counts it.
2. Then attach — volumes the desired state has on a node and the actual state does not:
   - skipped while an operation on it runs;
   - already attached: the detach request (if any) is forgotten;
   - an RWO/RWOP volume confirmed attached to another node is not attached here: a Warning
     `FailedAttachVolume` "Multi-Attach error for volume …" event, once per (volume, node), on
     the pods waiting for it, naming the pods that hold it when they are in the same namespace
     (Kubernetes' wording); it attaches once the other node lets go.
Node status is written by the caller after the pass (statusupdater).

Pure with respect to I/O: it reads the caches and the node view, starts operations through the
injected AttacherDetacher and emits events through the injected sink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from kstore.controllers.attachdetach.cache import (
    ActualStateOfWorld,
    AttachedVolume,
    AttachState,
    DesiredStateOfWorld,
    VolumeToAttach,
)
from kstore.controllers.attachdetach.operationexecutor import DETACH, AttacherDetacher, EventSink, StartResult
from kstore.controllers.attachdetach.volumes import NodeName

log = logging.getLogger(__name__)

REASON_TIMEOUT = "timeout"
REASON_OUT_OF_SERVICE = "out-of-service"
FORCE_DETACH_REASONS = (REASON_TIMEOUT, REASON_OUT_OF_SERVICE)

MULTI_ATTACH_PREFIX = "Multi-Attach error"
EXCLUSIVELY_ATTACHED = "Volume is already exclusively attached to one node and can't be attached to another"


class NodeView(Protocol):
    def is_healthy(self, node: NodeName) -> bool:
        """Ready; False for a node that is gone."""
        ...

    def has_out_of_service_taint(self, node: NodeName) -> bool: ...


def volume_message(prefix: str, volume_name: str, suffix: str) -> str:
    """Kubernetes' GenerateMsg: `<prefix> for volume "<name>" <suffix>`."""
    return f'{prefix} for volume "{volume_name}" {suffix}'.rstrip()


class Reconciler:
    def __init__(self, *, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, operations: AttacherDetacher,
                 nodes: NodeView, recorder: EventSink, max_wait_for_unmount: float,
                 on_forced_detach: Callable[[str], None] | None = None) -> None:
        self.dsw = dsw
        self.asw = asw
        self.operations = operations
        self.nodes = nodes
        self.recorder = recorder
        self.max_wait_for_unmount = max_wait_for_unmount
        self._on_forced_detach = on_forced_detach

    def reconcile(self) -> None:
        self.detach_undesired()
        self.attach_desired()

    # ---- detach

    def detach_undesired(self) -> None:
        for av in self.asw.get_attached_volumes():
            if self.dsw.volume_exists(av.name, av.node):
                continue
            self._maybe_detach(av)

    def _maybe_detach(self, av: AttachedVolume) -> None:
        if not self.operations.is_safe_to_retry(av.volume, av.node, DETACH):
            return  # operation already pending, or backing off: expected
        if self.asw.get_attach_state(av.name, av.node) is AttachState.DETACHED:
            return
        elapsed = self.asw.set_detach_request_time(av.name, av.node)
        timeout = elapsed > self.max_wait_for_unmount
        healthy = self.nodes.is_healthy(av.node)
        out_of_service = self.nodes.has_out_of_service_taint(av.node)
        force = timeout and not healthy
        if av.mounted_by_node and not force and not out_of_service:
            log.debug("detach %s from %s: still in use by the node; waiting (%.0fs of %.0fs)", av.name, av.node,
                      elapsed, self.max_wait_for_unmount)
            return
        verify_safe = not (timeout or out_of_service)
        result = self.operations.detach_volume(av, verify_safe=verify_safe)
        if result is not StartResult.STARTED:
            return
        if verify_safe:
            log.info("detach %s from %s: started", av.name, av.node)
            return
        reason = REASON_TIMEOUT if timeout else REASON_OUT_OF_SERVICE
        if self._on_forced_detach is not None:
            self._on_forced_detach(reason)
        if timeout:
            log.warning("detach %s from %s: not safe to detach, but max wait for unmount (%.0fs) expired on a node "
                        "that is %s: force detaching", av.name, av.node, self.max_wait_for_unmount,
                        "Ready" if healthy else "not Ready")
        else:
            log.warning("detach %s from %s: node has the out-of-service taint: force detaching", av.name, av.node)

    # ---- attach

    def attach_desired(self) -> None:
        for v in self.dsw.get_volumes_to_attach():
            if self.operations.is_operation_pending(v.volume, v.node):
                continue  # operation already pending: expected
            state = self.asw.get_attach_state(v.name, v.node)
            if state is AttachState.ATTACHED:
                self.asw.reset_detach_request_time(v.name, v.node)
                continue
            if not v.volume.multi_attach_allowed:
                others = [n for n in self.asw.get_nodes_for_attached_volume(v.name) if n != v.node]
                if others:
                    if not v.multi_attach_error_reported:
                        self.report_multi_attach_error(v, others)
                        self.dsw.set_multi_attach_error(v.name, v.node)
                    continue
            if self.operations.attach_volume(v) is StartResult.STARTED:
                log.info("attach %s to %s: started (pods %s)", v.name, v.node,
                         ", ".join(p.key for p in v.scheduled_pods))

    def report_multi_attach_error(self, v: VolumeToAttach, others: list[NodeName]) -> None:
        holders = self.dsw.get_volume_pods_on_nodes(others, v.name)
        name = v.volume.spec_name
        if not holders:
            # nobody wants it there any more (the pod is gone): it is being detached
            message = volume_message(MULTI_ATTACH_PREFIX, name, EXCLUSIVELY_ATTACHED)
            for pod in v.scheduled_pods:
                self.recorder.event(pod.as_object(), "Warning", "FailedAttachVolume", message)
            log.info("attach %s to %s: Multi-Attach error: attached exclusively to %s", v.name, v.node,
                     ", ".join(others))
            return
        for pod in v.scheduled_pods:
            # each pod its own message: pods of other namespaces are counted, not named
            local = [p.name for p in holders if p.namespace == pod.namespace]
            elsewhere = len(holders) - len(local)
            if local:
                suffix = f"Volume is already used by pod(s) {', '.join(local)}"
                if elsewhere:
                    suffix += f" and {elsewhere} pod(s) in different namespaces"
            else:
                suffix = f"Volume is already used by {elsewhere} pod(s) in different namespaces"
            self.recorder.event(pod.as_object(), "Warning", "FailedAttachVolume",
                                volume_message(MULTI_ATTACH_PREFIX, name, suffix))
        log.info("attach %s to %s: Multi-Attach error: used by %s on %s", v.name, v.node,
                 ", ".join(p.key for p in holders), ", ".join(others))
