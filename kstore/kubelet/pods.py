"""The kubelet's pod worker: run this node's pods as far as storage goes (Kubernetes'
`pod_workers.go` and `kubelet.go` SyncPod / SyncTerminatingPod, read for behaviour).

Level-triggered, keyed by pod uid (a pod recreated under the same name is another pod): pod
events, and the volume manager whenever a pod's volumes move, enqueue the uid; `sync` reads
the informer cache and acts.

- A live pod whose volumes are not all mounted is Pending, its containers waiting
  `ContainerCreating`; a pod the populator cannot process gets a FailedMount event "Unable to
  attach or mount volumes: unmounted volumes=[…], unattached volumes=[…], failed to process
  volumes=[…]: <why>", and every `mount_timeout` (2m3s, Kubernetes' podAttachAndMountTimeout)
  without progress one that ends "timed out waiting for the condition". The volume
  operations themselves record `MountVolume.SetUp failed for volume "x" : …`.
- Once mounted: the CRI step (containers.py) binds the volumes into the containers' paths,
  the pod gets Pulled / Created / Started events and turns Running (status.py). A
  CreateContainerConfigError (a bad subPath) keeps it Pending with that reason, retried
  with backoff.
- Terminating (deletionTimestamp) or gone: stop the containers (unmount the CRI bind mounts),
  which lets the populator drop the pod from the desired state; then wait until the volume
  manager has torn down its volumes, unmounted the devices nobody else uses and dropped them
  from volumesInUse; then delete the pod for good (grace period 0, uid precondition).
- Status is written only when what the kubelet owns changed since its last write (or, after
  a restart, differs from what is stored): the kubelet does not fight other writers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock, RealClock
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import WorkQueue
from kstore.kubelet.containers import ContainerConfigError, ContainerRuntime, RunningPod, plan_mounts
from kstore.kubelet.status import CONFIG_ERROR, PodState, build_status, fingerprint, pod_ip
from kstore.kubelet.volumemanager.manager import VolumeManager
from kstore.kubelet.volumemanager.populator import is_terminating, pod_uid_of
from kstore.kubelet.volumemanager.types import PodUID
from kstore.observe.metrics import E2E_LATENCY
from kstore.volume.mount import MountError

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
MOUNT_TIMEOUT = 123.0  # seconds: Kubernetes' podAttachAndMountTimeout (2m3s)
RECHECK = 2.0  # seconds between re-checks of a pod that waits (the volume manager also wakes it)
HOST_IP = "127.0.0.1"
WORKERS = 4


def rfc3339(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def parse_rfc3339(value: Any) -> float | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def container_ref(pod: Obj, container: str, key: str = "containers") -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return {"kind": "Pod", "apiVersion": "v1", "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""), "uid": str(meta.get("uid") or ""),
            "fieldPath": f"spec.{key}{{{container}}}"}


def started_at_of(pod: Obj) -> str | None:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
        if started:
            return str(started)
    return None


class PodWorker:
    def __init__(self, client: BusClient, pods: Informer, recorder: EventRecorder, *, node: str,
                 volumes: VolumeManager, runtime: ContainerRuntime, pool: Executor, node_index: int = 0,
                 clock: Clock | None = None, mount_timeout: float = MOUNT_TIMEOUT) -> None:
        self._client = client
        self._pods = pods
        self._recorder = recorder
        self._node = node
        self._volumes = volumes
        self._runtime = runtime
        self._pool = pool
        self._node_index = node_index
        self._clock: Clock = clock if clock is not None else RealClock()
        self._mount_timeout = mount_timeout
        self._written: dict[str, tuple[Any, ...]] = {}  # uid → fingerprint of our last status write
        self._waiting_since: dict[str, float] = {}
        self._reported_errors: dict[str, tuple[str, ...]] = {}
        self._observed: dict[str, set[str]] = {}  # uid → e2e stages already observed
        self.queue: WorkQueue[str] = WorkQueue(f"kubelet-pods-{node}")
        pods.add_indexer("uid", lambda p: [str(p["metadata"].get("uid") or "")])
        pods.add_handler(Handler(on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new),
                                 on_delete=self._enqueue))

    def _enqueue(self, pod: Obj) -> None:
        uid = pod_uid_of(pod)
        if uid:
            self.queue.add(uid)

    def enqueue(self, uid: PodUID) -> None:
        self.queue.add(uid)

    def _pod(self, uid: str) -> Obj | None:
        found = self._pods.cache.by_index("uid", uid)
        return found[0] if found else None

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args))

    # ---- sync

    async def sync(self, uid: str) -> None:
        pod = self._pod(uid)
        if pod is None or is_terminating(pod):
            await self._terminate(PodUID(uid), pod)
            return
        await self._run(pod)

    async def _run(self, pod: Obj) -> None:
        uid = pod_uid_of(pod)
        running = self._runtime.running.get(uid)
        if running is not None:
            if running.adopted and self._volumes.volumes_ready(pod):
                # found running at start-up: make any bind mount a crash left out (mounts nothing twice)
                await self._start_containers(pod, started_at=running.started_at or started_at_of(pod), events=False)
                return
            await self._write(pod, PodState(running=True, started_at=running.started_at or started_at_of(pod)))
            return
        problems = self._volumes.mount_problems(pod)
        if problems.unmounted:
            await self._write(pod, PodState(running=False))
            self._mount_events(pod, problems)
            self.queue.add_after(uid, RECHECK)
            return
        self._waiting_since.pop(uid, None)
        previously = started_at_of(pod) if (pod.get("status") or {}).get("phase") == "Running" else None
        if previously is not None:
            # it ran before this kubelet (re)started: start it again quietly, as it was
            await self._start_containers(pod, started_at=previously, events=False)
            return
        self.observe(pod, "volumes_mounted")
        await self._start_containers(pod, started_at=None, events=True)

    async def _start_containers(self, pod: Obj, *, started_at: str | None, events: bool) -> None:
        uid = pod_uid_of(pod)
        self._runtime.starting.add(uid)
        try:
            try:
                mounts = plan_mounts(pod, self._volumes.pod_volumes(uid), self._runtime.root)
                targets = await self._blocking(self._runtime.start, mounts)
            except (ContainerConfigError, MountError) as e:
                self._container_failed(pod, str(e))
                await self._write(pod, PodState(running=False, waiting_reason=CONFIG_ERROR, waiting_message=str(e)))
                raise
            started = started_at or rfc3339(self._clock.wall())
            self._runtime.running[uid] = RunningPod(uid=uid, started_at=started, targets=targets)
        finally:
            self._runtime.starting.discard(uid)
        if events:
            self._container_events(pod)
            log.info("pod %s/%s: containers started on %s (%d volume mounts)", pod["metadata"].get("namespace"),
                     pod["metadata"].get("name"), self._node, len(targets))
        await self._write(pod, PodState(running=True, started_at=started))
        if events:
            self.observe(pod, "pod_running")

    async def _terminate(self, uid: PodUID, pod: Obj | None) -> None:
        if self._runtime.is_running(uid):
            if pod is not None:
                for c in (pod.get("spec") or {}).get("containers") or []:
                    self._recorder.event(container_ref(pod, str(c.get("name"))), "Normal", "Killing",
                                         f"Stopping container {c.get('name')}")
            await self._blocking(self._runtime.stop, uid)
            self._runtime.running.pop(uid, None)
            self._volumes.wake()
            log.info("pod %s: containers stopped on %s", uid, self._node)
        if pod is None or not pod["metadata"].get("deletionTimestamp"):
            if pod is None and self._volumes.pod_cleaned_up(uid):
                self._forget(uid)
            elif pod is None:
                self.queue.add_after(uid, RECHECK)
            return
        if not self._volumes.pod_cleaned_up(uid):
            self.queue.add_after(uid, RECHECK)
            return
        meta = pod["metadata"]
        try:
            await self._client.delete("Pod", meta.get("namespace"), meta["name"], uid=uid, grace_period_seconds=0)
            log.info("pod %s/%s: deleted (volumes torn down on node %s)", meta.get("namespace"), meta["name"],
                     self._node)
        except ApiError as e:
            if not (e.code == 404 or (e.code == 409 and "Precondition failed: UID" in e.message)):
                raise
        self._forget(uid)

    def _forget(self, uid: str) -> None:
        self._volumes.forget_pod(PodUID(uid))
        for d in (self._written, self._waiting_since, self._reported_errors, self._observed):
            d.pop(uid, None)

    # ---- status and events

    async def _write(self, pod: Obj, state: PodState) -> None:
        uid = pod_uid_of(pod)
        status = build_status(pod, state, now=rfc3339(self._clock.wall()), host_ip=HOST_IP,
                              pod_ip=pod_ip(self._node_index, uid))
        mark = fingerprint(status)
        last = self._written.get(uid)
        if last == mark or (last is None and fingerprint(pod.get("status")) == mark):
            self._written[uid] = mark
            return
        new = dict(pod)  # the cached pod is only read: a new top level with the new status is enough
        new["status"] = status
        await self._client.update_status(new)
        self._written[uid] = mark

    def _mount_events(self, pod: Obj, problems: Any) -> None:
        uid = pod_uid_of(pod)
        now = self._clock.now()
        errors = tuple(problems.errors)
        if errors and self._reported_errors.get(uid) != errors:
            self._recorder.event(dict(pod), "Warning", "FailedMount",
                                 "Unable to attach or mount volumes: " + problems.message("; ".join(errors)))
        self._reported_errors[uid] = errors
        since = self._waiting_since.setdefault(uid, now)
        if now - since >= self._mount_timeout:
            self._recorder.event(dict(pod), "Warning", "FailedMount", "Unable to attach or mount volumes: "
                                 + problems.message("timed out waiting for the condition"))
            self._waiting_since[uid] = now

    def _container_failed(self, pod: Obj, message: str) -> None:
        for c in (pod.get("spec") or {}).get("containers") or []:
            self._recorder.event(container_ref(pod, str(c.get("name"))), "Warning", "Failed", f"Error: {message}")

    def _container_events(self, pod: Obj) -> None:
        for key in ("initContainers", "containers"):
            for c in (pod.get("spec") or {}).get(key) or []:
                name, image = str(c.get("name")), str(c.get("image") or "")
                ref = container_ref(pod, name, key)
                if c.get("imagePullPolicy") == "Always" or (not c.get("imagePullPolicy") and image.endswith(":latest")):
                    self._recorder.event(ref, "Normal", "Pulling", f'Pulling image "{image}"')
                    self._recorder.event(ref, "Normal", "Pulled", f'Successfully pulled image "{image}" in 0s '
                                                                  "(0s including waiting). Image size: 0 bytes.")
                else:
                    self._recorder.event(ref, "Normal", "Pulled",
                                         f'Container image "{image}" already present on machine')
                self._recorder.event(ref, "Normal", "Created", f"Created container: {name}")
                self._recorder.event(ref, "Normal", "Started", f"Started container {name}")

    def observe(self, pod: Obj, stage: str) -> None:
        """kstore_e2e_latency_seconds{stage}: pod created → stage (creationTimestamp has 1 s steps)."""
        uid = pod_uid_of(pod)
        seen = self._observed.setdefault(uid, set())
        if stage in seen:
            return
        seen.add(stage)
        created = parse_rfc3339((pod.get("metadata") or {}).get("creationTimestamp"))
        if created is not None:
            E2E_LATENCY.labels(stage).observe(max(0.0, self._clock.wall() - created))
