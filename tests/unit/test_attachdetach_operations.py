"""Attach and detach operations against an in-memory store and the simulated mounter (the
same plugins and state machine as real mounts): VolumeAttachment objects and their status,
events in Kubernetes' words, node.status.volumesAttached, the safe-detach check, a forced detach
of a device still mounted, and the executor's one-operation-per-volume rule and backoff."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kstore.client.clock import FakeClock
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachState, VolumeToAttach
from kstore.controllers.attachdetach.operationexecutor import (
    OperationError,
    OperationGenerator,
    OperationKey,
    PendingOperations,
    StartResult,
)
from kstore.controllers.attachdetach.statusupdater import NodeStatusUpdater, volumes_attached
from kstore.controllers.attachdetach.testing import FakeRecorder, FakeStore, node, pv
from kstore.controllers.attachdetach.volumes import (
    ANN_VOLUME_NAME,
    AttachableVolume,
    NodeName,
    PodRef,
    PodUID,
    VolumeResolver,
)
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import SimulatedMounter
from kstore.volume.plugins import DeviceMountablePlugin, PluginManager, Spec, VolumeHost
from kstore.volume.pool import Pool

N1 = NodeName("node-1")
POD = PodRef(PodUID("uid-web"), "default", "web")
WALL = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@dataclasses.dataclass
class Env:
    state: Path
    mounter: SimulatedMounter
    store: FakeStore
    asw: ActualStateOfWorld
    recorder: FakeRecorder
    generator: OperationGenerator
    resolver: VolumeResolver
    updater: NodeStatusUpdater

    def volume(self, pv_name: str, *, provision: bool = True) -> AttachableVolume:
        obj = pv(pv_name)
        self.store.put(obj)
        if provision:
            Pool(self.state).provision(backend="block", name=pv_name, size_bytes=16 << 20)
        v = self.resolver.for_pv(obj)
        assert v is not None
        return v

    def loops_of(self, pv_name: str) -> list[str]:
        return [lo.device for lo in self.mounter.loops_backing(self.state / "pool" / "block" / pv_name)]

    def va(self, v: AttachableVolume) -> dict[str, Any] | None:
        return self.store.obj("VolumeAttachment", v.attachment_name(N1) or "")


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    mounter = SimulatedMounter(tmp_path)
    store = FakeStore([node(N1)])
    manager = PluginManager(VolumeHost(tmp_path, mounter, drivers=DriverMap.from_config({})))
    asw = ActualStateOfWorld(clock=FakeClock())
    recorder = FakeRecorder()
    updater = NodeStatusUpdater(client=store, asw=asw, node=lambda n: store.obj("Node", n))
    generator = OperationGenerator(client=store, asw=asw, plugins=manager,
                                   attachments=lambda name: store.obj("VolumeAttachment", name),
                                   status_updater=updater, recorder=recorder, blocking=blocking,
                                   clock=FakeClock(epoch=WALL))
    return Env(tmp_path, mounter, store, asw, recorder, generator, VolumeResolver(manager), updater)


def to_attach(v: AttachableVolume) -> VolumeToAttach:
    return VolumeToAttach(v, N1, (POD,), False)


async def test_attach_creates_the_attachment_and_reports_it(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    va = env.va(v)
    assert va is not None
    assert va["spec"] == {"attacher": "kstore.io.block", "nodeName": N1,
                          "source": {"persistentVolumeName": "pv-data"}}
    assert va["metadata"]["annotations"] == {ANN_VOLUME_NAME: v.name}
    (device,) = env.loops_of("pv-data")
    assert va["status"] == {"attached": True, "attachmentMetadata": {"devicePath": device}}
    assert env.asw.get_attach_state(v.name, N1) is AttachState.ATTACHED
    assert env.recorder.events == [("web", "Normal", "SuccessfulAttachVolume",
                                    'AttachVolume.Attach succeeded for volume "pv-data"')]
    await env.updater.update_node_statuses()
    assert volumes_attached(env.store.obj("Node", N1)) == [{"name": v.name, "devicePath": device}]
    writes = len(env.store.writes)
    env.asw.set_node_status_update_needed(N1)
    await env.updater.update_node_statuses()
    assert len(env.store.writes) == writes  # unchanged: not written again


async def test_attach_again_attaches_nothing_twice(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    env.asw.mark_uncertain(v, N1, attachment=v.attachment_name(N1))  # e.g. after a restart
    await env.generator.attach(to_attach(v))()
    assert len(env.loops_of("pv-data")) == 1
    assert [w for w in env.store.writes if w[0] == "create"] == [("create", "VolumeAttachment", v.attachment_name(N1))]


async def test_attach_failure_is_reported_on_the_attachment_and_the_pod(env: Env) -> None:
    v = env.volume("pv-missing", provision=False)  # its image is not in the pool
    with pytest.raises(OperationError):
        await env.generator.attach(to_attach(v))()
    va = env.va(v)
    assert va is not None and va["status"]["attached"] is False
    error = va["status"]["attachError"]
    assert error["time"] == "2023-11-14T22:13:20Z"
    assert error["message"].startswith('AttachVolume.Attach failed for volume "pv-missing" : volume block/pv-missing '
                                       "no longer exists in the pool")
    assert [(e[1], e[2], e[3]) for e in env.recorder.events] == [("Warning", "FailedAttachVolume", error["message"])]
    # uncertain: detached (and its VolumeAttachment deleted) if nobody wants it any more
    assert env.asw.get_attach_state(v.name, N1) is AttachState.UNCERTAIN
    await env.generator.detach(env.asw.get_attached_volume(v.name, N1), verify_safe=True)()  # type: ignore[arg-type]
    assert env.va(v) is None and env.asw.get_attached_volumes() == []


async def test_detach_waits_for_the_node_to_stop_using_the_volume(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    await env.updater.update_node_statuses()
    env.store.put(dict(env.store.obj("Node", N1), status={
        **env.store.obj("Node", N1)["status"], "volumesInUse": [v.name]}))  # type: ignore[index]
    av = env.asw.get_attached_volume(v.name, N1)
    assert av is not None
    with pytest.raises(OperationError, match="still in use"):
        await env.generator.detach(av, verify_safe=True)()
    assert env.va(v) is not None and len(env.loops_of("pv-data")) == 1
    assert env.asw.get_volumes_to_report_attached(N1) == [(v.name, av.device_path)]  # reported again
    node_obj = env.store.obj("Node", N1)
    node_obj["status"]["volumesInUse"] = []  # type: ignore[index]
    env.store.put(node_obj)  # type: ignore[arg-type]
    await env.generator.detach(av, verify_safe=True)()
    assert env.va(v) is None and env.loops_of("pv-data") == []
    assert env.asw.get_attached_volumes() == []
    assert volumes_attached(env.store.obj("Node", N1)) == []


async def test_no_detach_when_the_node_status_cannot_be_written(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    await env.updater.update_node_statuses()
    env.store.fail_next("patch", "Node")
    with pytest.raises(OperationError, match="node status not updated"):
        await env.generator.detach(env.asw.get_attached_volume(v.name, N1), verify_safe=True)()  # type: ignore[arg-type]
    assert len(env.loops_of("pv-data")) == 1 and env.va(v) is not None
    assert env.asw.get_attach_state(v.name, N1) is AttachState.ATTACHED
    assert env.asw.nodes_to_update_status_for() == [N1]


async def test_forced_detach_of_a_mounted_device_lets_it_go_and_frees_it_later(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    # the node's kubelet mounted the device, then went away
    node_manager = PluginManager(VolumeHost(env.state, env.mounter, node=N1))
    plugin = node_manager.find(v.spec)  # type: ignore[arg-type]
    assert isinstance(plugin, DeviceMountablePlugin) and isinstance(v.spec, Spec)
    device = env.loops_of("pv-data")[0]
    mounter = plugin.new_device_mounter()
    global_path = mounter.device_mount_path(v.spec)
    mounter.mount_device(v.spec, device, global_path)
    av = env.asw.get_attached_volume(v.name, N1)
    with pytest.raises(OperationError, match="still mounted"):
        await env.generator.detach(av, verify_safe=False)()  # type: ignore[arg-type]
    assert env.va(v) is None  # released in the API
    assert env.asw.get_attach_state(v.name, N1) is AttachState.UNCERTAIN
    assert env.asw.get_nodes_for_attached_volume(v.name) == []  # no longer holds an RWO volume
    assert len(env.loops_of("pv-data")) == 1
    plugin.new_device_unmounter().unmount_device(global_path)  # the node comes back and unmounts
    await env.generator.detach(env.asw.get_attached_volume(v.name, N1), verify_safe=False)()  # type: ignore[arg-type]
    assert env.loops_of("pv-data") == [] and env.asw.get_attached_volumes() == []


async def test_verify_attached_finds_a_device_detached_behind_our_back(env: Env) -> None:
    v = env.volume("pv-data")
    await env.generator.attach(to_attach(v))()
    assert await env.generator.verify_attached(env.asw.get_attached_volumes()) == []
    env.mounter.detach_loop(env.loops_of("pv-data")[0])
    gone = await env.generator.verify_attached(env.asw.get_attached_volumes())
    assert [g.name for g in gone] == [v.name]


# ---- one operation per volume, with backoff


async def test_pending_operations_conflicts_and_backoff() -> None:
    clock = FakeClock()
    ops = PendingOperations(clock=clock, backoff=(0.5, 4.0))
    gate = asyncio.Event()
    results: list[str] = []

    async def held() -> None:
        await gate.wait()
        results.append("held")

    async def fail() -> None:
        raise OperationError("no")

    whole, on_n1, on_n2 = OperationKey("vol"), OperationKey("vol", "node-1"), OperationKey("vol", "node-2")
    assert ops.run(on_n1, "volume_attach", held) is StartResult.STARTED
    assert ops.run(on_n1, "volume_detach", held) is StartResult.PENDING  # same volume and node
    assert ops.run(whole, "volume_attach", held) is StartResult.PENDING  # the volume on every node
    assert ops.run(on_n2, "volume_attach", fail) is StartResult.STARTED  # another node: a multi-attach volume
    await asyncio.sleep(0)
    gate.set()
    await ops.wait_idle()
    assert results == ["held"]
    delays = []
    for _ in range(5):
        assert ops.run(on_n2, "volume_attach", fail) is StartResult.BACKOFF
        assert ops.is_safe_to_retry(on_n2, "volume_detach")  # backoff is per operation
        start = clock.now()
        while ops.in_backoff(on_n2, "volume_attach"):
            clock.advance(0.25)
        delays.append(clock.now() - start)
        assert ops.run(on_n2, "volume_attach", fail) is StartResult.STARTED
        await ops.wait_idle()
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]

    async def ok() -> None:
        pass

    clock.advance(10)
    assert ops.run(on_n2, "volume_attach", ok) is StartResult.STARTED
    await ops.wait_idle()
    assert not ops.in_backoff(on_n2, "volume_attach")
