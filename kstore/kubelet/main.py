"""The `kubelet` process for one emulated node.

Registers its Node and CSINode, posts node status and renews its node Lease, and runs the
node's pods as far as storage goes: the volume manager (volumemanager/: desired and actual
state, populator, reconciler, reconstruction, volumesInUse, node-side expansion), the CRI step
(containers.py: bind mounts per container volumeMount) and the pod worker (pods.py: pod
phase and events, final deletion once the volumes are torn down).

Informers: its own pods and VolumeAttachments on the node-scoped topics, and — cluster-wide
for now — PersistentVolumeClaims and PersistentVolumes (claim → PV resolution, expansion).

Start-up order, as the kubelet: informers listed, then the volume manager reconstructs what
is mounted on disk and populates the desired state, and only then does the kubelet serve
(the reconciler, the pod worker, readiness): a restarted kubelet never mounts twice and
never reports an empty volumesInUse in between.

Config (top-level keys of the cluster config, optional): `simulate_mounts: true` records
mounts instead of making them (the ad-controller reads the same key); `kubelet:
{mount_timeout: <seconds>}` how long a pod waits for its volumes before the "timed out
waiting for the condition" FailedMount event (default 123, Kubernetes' 2m3s).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.component import connected, start_informers
from kstore.client.informer import Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import run_worker
from kstore.config import ConfigError, NodeConfig
from kstore.kubelet.containers import ContainerRuntime
from kstore.kubelet.node_status import keep_posting, node_lease, register
from kstore.kubelet.objects import KubeletObjects
from kstore.kubelet.pods import MOUNT_TIMEOUT, WORKERS, PodWorker
from kstore.kubelet.volumemanager.manager import Periods, VolumeManager
from kstore.kubelet.volumemanager.metrics import TotalVolumesCollector, VolumeStatsCollector
from kstore.runtime import Runtime, run
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import make_mounter
from kstore.volume.plugins import PluginManager, VolumeHost

log = logging.getLogger(__name__)

DEFAULT_DRIVERS = Path(__file__).resolve().parents[2] / "configs" / "drivers.yaml"
THREADS = 8  # plugin operations at once on one node (losetup, mkfs, mount, FlexVolume drivers)


_CSI_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def csinode_drivers(node: NodeConfig, drivers: DriverMap) -> list[dict[str, Any]]:
    """The CSI drivers this emulated node registers, as node-driver-registrar would: every
    attachable (block) driver of the driver map named like a CSI driver, with its attach limit
    (the node's `attach_limit` from the cluster config, else the driver's) as allocatable count."""
    out = []
    for driver in sorted(drivers.named(), key=lambda d: d.name):
        if driver.backend != "block" or "." not in driver.name or not _CSI_NAME.fullmatch(driver.name):
            continue
        entry: dict[str, Any] = {"name": driver.name, "nodeID": node.name,
                                 "topologyKeys": ["topology.kubernetes.io/zone"] if node.zone else []}
        limit = node.attach_limit if node.attach_limit is not None else driver.attach_limit
        if limit is not None:
            entry["allocatable"] = {"count": limit}
        out.append(entry)
    return out


async def ensure_csinode(client: BusClient, node_obj: dict[str, Any], drivers: list[dict[str, Any]]) -> None:
    """Create the node's CSINode, or bring its drivers up to date (a restart with another config)."""
    meta = node_obj["metadata"]
    try:
        await client.create({
            "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
            "metadata": {"name": meta["name"], "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}]},
            "spec": {"drivers": drivers},
        })
    except ApiError as e:
        if e.code != 409:
            raise
        existing = await client.get("CSINode", None, meta["name"])
        if (existing.get("spec") or {}).get("drivers") != drivers:
            existing["spec"] = {"drivers": drivers}
            await client.update(existing)


def simulate_mounts(raw: Mapping[str, Any]) -> bool | None:
    """`simulate_mounts: true` → True (record mounts); absent or false → None (real when privileged)."""
    value = raw.get("simulate_mounts")
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"simulate_mounts: invalid value {value!r}: must be true or false")
    return True if value else None


def mount_timeout(raw: Mapping[str, Any]) -> float:
    section = raw.get("kubelet")
    if section is None:
        return MOUNT_TIMEOUT
    if not isinstance(section, Mapping):
        raise ConfigError(f"kubelet: invalid value {section!r}: must be a mapping")
    for key in section:
        if key != "mount_timeout":
            raise ConfigError(f"kubelet.{key}: unknown key (known: mount_timeout)")
    value = section.get("mount_timeout", MOUNT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"kubelet.mount_timeout: invalid value {value!r}: must be a positive number of seconds")
    return float(value)


async def serve(rt: Runtime) -> None:
    assert rt.node is not None
    node = rt.cluster.node(rt.node)
    node_index = [n.name for n in rt.cluster.nodes].index(node.name)
    state_dir = rt.cluster.state_dir
    mounter = make_mounter(state_dir, simulate_mounts(rt.cluster.raw))
    drivers = DriverMap.from_config(rt.cluster.raw, default_path=DEFAULT_DRIVERS)
    timeout = mount_timeout(rt.cluster.raw)
    pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=f"kubelet-{node.name}")
    async with connected(rt) as client:
        node_obj = await register(client, node)
        await ensure_csinode(client, node_obj, csinode_drivers(node, drivers))
        pods = Informer(client, "Pod", node=node.name)
        attachments = Informer(client, "VolumeAttachment", node=node.name)
        claims = Informer(client, "PersistentVolumeClaim")
        volumes = Informer(client, "PersistentVolume")
        recorder = EventRecorder(client, component="kubelet", host=node.name)
        loop = asyncio.get_running_loop()
        host = VolumeHost(state_dir, mounter, node=node.name, drivers=drivers,
                          objects=KubeletObjects(client, loop, claims=claims, volumes=volumes))
        runtime = ContainerRuntime(mounter, host.node_dir() / "containers")
        vm = VolumeManager(client=client, host=host, plugins=PluginManager(host), runtime=runtime, pods=pods,
                           claims=claims, volumes=volumes, attachments=attachments, recorder=recorder, pool=pool,
                           periods=Periods(reconcile=rt.cluster.periods.vm_reconcile))
        worker = PodWorker(client, pods, recorder, node=node.name, volumes=vm, runtime=runtime, pool=pool,
                           node_index=node_index, mount_timeout=timeout)
        vm.notify = worker.enqueue
        vm.on_volumes_attached = functools.partial(worker.observe, stage="volumes_attached")
        await start_informers(rt, [pods, attachments, claims, volumes])
        rt.set_ready(False, "reconstructing volumes")
        await vm.start()
        for uid in list(runtime.running):
            worker.enqueue(uid)  # found running at start-up: its pod may be gone, then it is stopped
        REGISTRY.register(TotalVolumesCollector(vm.dsw, vm.asw))
        REGISTRY.register(VolumeStatsCollector(lambda: vm.stats, lambda: vm.abnormal))
        tasks = [
            loop.create_task(keep_posting(client, node, rt.cluster.periods.node_status)),
            node_lease(client, node_obj, status_period=rt.cluster.periods.node_status),
            loop.create_task(vm.run()),
            *(loop.create_task(run_worker(worker.queue, worker.sync)) for _ in range(WORKERS)),
            recorder.start(),
        ]
        rt.set_ready()
        log.info("node %s registered (%s mounts); %d pods, %d volume attachments", node.name,
                 "simulated" if mounter.simulated else "real", len(pods.cache), len(attachments.cache))
        try:
            await asyncio.Event().wait()
        finally:
            # stop taking work, then stop what runs, then let go of the store
            worker.queue.shut_down()
            await vm.stop()
            await asyncio.wait_for(recorder.close(), 2.0)
            for t in tasks:
                t.cancel()
            for informer in (pods, attachments, claims, volumes):
                informer.stop()
            pool.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> None:
    run("kubelet", serve, argv)
