"""The kubelet's pod worker, as far as the foundation goes: finish the deletion of pods.

kube-apiserver deletes a pod bound to a node gracefully: it only sets deletionTimestamp, and
the pod's kubelet deletes it for good (grace period 0) once its containers have stopped and
its volumes are torn down. With no containers and no volumes yet, the kubelet can finish at
once; the volume manager (issue 6) will hold this step until teardown is done.

Level-triggered: every pod change enqueues the pod's key; the worker reads the cache and acts.
"""

from __future__ import annotations

import logging
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient, object_key
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import WorkQueue

log = logging.getLogger(__name__)


def needs_final_delete(pod: dict[str, Any] | None) -> bool:
    return bool(pod and pod["metadata"].get("deletionTimestamp"))


class PodWorker:
    def __init__(self, client: BusClient, pods: Informer, recorder: EventRecorder, *, node: str) -> None:
        self._client = client
        self._pods = pods
        self._recorder = recorder
        self._node = node
        self.queue: WorkQueue[str] = WorkQueue(f"kubelet-pods-{node}")
        pods.add_handler(Handler(
            on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new), on_delete=lambda _o: None,
        ))

    def _enqueue(self, pod: dict[str, Any]) -> None:
        self.queue.add(object_key(pod))

    async def sync(self, key: str) -> None:
        pod = self._pods.get(key)
        if not needs_final_delete(pod):
            return
        assert pod is not None
        meta = pod["metadata"]
        self._recorder.event(pod, "Normal", "Killing", "Stopping container(s)")
        try:
            await self._client.delete("Pod", meta.get("namespace"), meta["name"], uid=meta.get("uid"),
                                      grace_period_seconds=0)
            log.info("pod %s: deleted (terminated on node %s)", key, self._node)
        except ApiError as e:
            if e.code == 404 or (e.code == 409 and "Precondition failed: UID" in e.message):
                return  # already gone, or a new pod of the same name: nothing of ours left
            raise
