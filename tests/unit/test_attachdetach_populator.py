"""The desired-state populator (pods → claims → PVs → attachable volumes, through the real
PluginManager with a simulated mounter) and the start-up rebuild of the actual state from
VolumeAttachments and node status."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from kstore.client.clock import FakeClock
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachState, DesiredStateOfWorld
from kstore.controllers.attachdetach.populator import DesiredStateOfWorldPopulator, rebuild_actual_state
from kstore.controllers.attachdetach.testing import (
    RWO,
    RWOP,
    RWX,
    bound,
    claim,
    node,
    pod,
    pv,
)
from kstore.controllers.attachdetach.volumes import (
    ANN_VOLUME_NAME,
    NodeName,
    VolumeResolver,
    attach_relevant_change,
    attachment_name,
)
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import SimulatedMounter
from kstore.volume.plugins import PluginManager, VolumeHost

N1, N2 = NodeName("node-1"), NodeName("node-2")
CSI_BLOCK = "kubernetes.io/csi/kstore.io.block^block/"


class Objects:
    """The informer caches, as plain dicts: the plugins' ObjectGetter and the populator's source."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, *objs: dict[str, Any]) -> None:
        for obj in objs:
            meta = obj["metadata"]
            self.by_key[(obj["kind"], meta.get("namespace") or "", meta["name"])] = obj

    def remove(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.by_key.pop((obj["kind"], meta.get("namespace") or "", meta["name"]), None)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.by_key.get((kind, namespace or "", name))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for (k, _, _), o in self.by_key.items() if k == kind]

    # ClusterSource
    def pods(self) -> Iterable[dict[str, Any]]:
        return self.of("Pod")

    def pods_on_node(self, node_name: str) -> Iterable[dict[str, Any]]:
        return [p for p in self.of("Pod") if p["spec"].get("nodeName") == node_name]

    def pods_using_claim(self, namespace: str, name: str) -> Iterable[dict[str, Any]]:
        out = []
        for p in self.of("Pod"):
            for v in p["spec"].get("volumes") or []:
                if (v.get("persistentVolumeClaim") or {}).get("claimName") == name or \
                        (v.get("ephemeral") is not None and f"{p['metadata']['name']}-{v['name']}" == name):
                    out.append(p) if p["metadata"]["namespace"] == namespace else None
        return out

    def nodes(self) -> Iterable[dict[str, Any]]:
        return self.of("Node")


@dataclasses.dataclass
class Env:
    objects: Objects
    dsw: DesiredStateOfWorld
    asw: ActualStateOfWorld
    resolver: VolumeResolver
    populator: DesiredStateOfWorldPopulator

    def summary(self) -> set[tuple[str, str, tuple[str, ...]]]:
        return {(v.name.removeprefix(CSI_BLOCK), v.node, tuple(sorted(p.name for p in v.scheduled_pods)))
                for v in self.dsw.get_volumes_to_attach()}

    def add(self, *objs: dict[str, Any]) -> None:
        self.objects.add(*objs)
        for obj in objs:
            {"Node": self.populator.sync_node, "Pod": self.populator.sync_pod,
             "PersistentVolumeClaim": self.populator.sync_claim,
             "PersistentVolume": self.populator.sync_volume}[obj["kind"]](obj)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    objects = Objects()
    host = VolumeHost(tmp_path, SimulatedMounter(tmp_path), objects=objects, drivers=DriverMap.from_config({}))
    resolver = VolumeResolver(PluginManager(host))
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld(clock=FakeClock())
    populator = DesiredStateOfWorldPopulator(dsw=dsw, asw=asw, resolver=resolver, source=objects)
    e = Env(objects, dsw, asw, resolver, populator)
    e.add(node(N1), node(N2))
    return e


def bound_claim(name: str, modes: tuple[str, ...] = (RWO,), backend: str = "block",
                volume_mode: str = "Filesystem") -> list[dict[str, Any]]:
    c, v = bound(claim(name, volume=None), pv(f"pv-{name}", modes=modes, backend=backend, volume_mode=volume_mode))
    return [v, c]


def test_pod_with_a_bound_block_claim_wants_its_volume(env: Env) -> None:
    env.add(*bound_claim("data"), pod("web", N1, claims=["data"]))
    assert env.summary() == {("pv-data", N1, ("web",))}
    v = env.dsw.get_volumes_to_attach()[0].volume
    assert v.name == f"{CSI_BLOCK}pv-data"
    assert (v.attacher, v.volume_handle, v.pv_name, v.multi_attach_allowed) == \
        ("kstore.io.block", "block/pv-data", "pv-data", False)
    assert v.attachment_name(N1) == attachment_name("block/pv-data", "kstore.io.block", N1)
    assert v.attachment_name(N1).startswith("csi-") and len(v.attachment_name(N1)) == 4 + 64  # type: ignore[union-attr]


@pytest.mark.parametrize(("modes", "allowed"), [((RWO,), False), ((RWOP,), False), ((RWO, RWX), True)])
def test_multi_attach_follows_the_access_modes(env: Env, modes: tuple[str, ...], allowed: bool) -> None:
    # volumeMode Block: an RWX block volume stays on the block backend (a Filesystem one goes shared)
    env.add(*bound_claim("data", modes=modes, volume_mode="Block"), pod("web", N1, claims=["data"]))
    assert env.dsw.get_volumes_to_attach()[0].volume.multi_attach_allowed is allowed


def test_volumes_that_are_not_attachable(env: Env, tmp_path: Path) -> None:
    inline = [{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}},
              {"name": "host", "hostPath": {"path": "/srv"}}, {"name": "sec", "secret": {"secretName": "s"}}]
    local = pv("pv-local", source={"local": {"path": str(tmp_path / "nodes" / N1 / "local" / "x")}})
    c_local, local = bound(claim("local", volume=None), local)
    env.add(*bound_claim("files", modes=(RWX,), backend="shared"), local, c_local,
            pod("web", N1, claims=["files", "local"], volumes=inline))
    assert env.summary() == set()


def test_claim_bound_later_is_picked_up_by_the_claim_handler(env: Env) -> None:
    c = claim("late", volume=None)
    env.add(c, pod("web", N1, claims=["late"]))
    assert env.summary() == set()
    c2, v = bound(c, pv("pv-late"))
    env.add(v)  # the PV first: the claim still says Pending
    assert env.summary() == set()
    env.add(c2)
    assert env.summary() == {("pv-late", N1, ("web",))}


def test_generic_ephemeral_volume(env: Env) -> None:
    p = pod("job", N2, volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}])
    c, v = bound(claim("job-scratch", volume=None, owner=p), pv("pv-eph"))
    env.add(v, c, p)
    assert env.summary() == {("pv-eph", N2, ("job",))}


@pytest.mark.parametrize(("name", "kwargs", "wanted"), [
    ("running", {"phase": "Running"}, True),
    ("succeeded", {"phase": "Succeeded"}, False),
    ("failed", {"phase": "Failed"}, False),
    ("deleting, container still running", {"deleting": True, "running": True}, True),
    ("deleting, no container running", {"deleting": True}, False),
])
def test_terminated_pods_want_nothing(env: Env, name: str, kwargs: dict[str, Any], wanted: bool) -> None:
    env.add(*bound_claim("data"))
    uid = "pod-uid-1"
    env.add(pod("web", N1, claims=["data"], pod_uid=uid))
    env.add(pod("web", N1, claims=["data"], pod_uid=uid, **kwargs))
    assert (env.summary() == {("pv-data", N1, ("web",))}) is wanted


def test_unscheduled_pods_and_unmanaged_nodes(env: Env) -> None:
    env.add(*bound_claim("data"), *bound_claim("logs"))
    env.add(node("node-3", managed=False))
    env.add(pod("pending", claims=["data"]), pod("self-attaching", "node-3", claims=["logs"]))
    assert env.summary() == set()
    env.add(node("node-3"))  # its kubelet now asks the controller to attach: its pods are synced
    assert env.summary() == {("pv-logs", "node-3", ("self-attaching",))}


def test_a_volume_that_stops_resolving_is_kept(env: Env) -> None:
    objs = bound_claim("data")
    p = pod("web", N1, claims=["data"])
    env.add(*objs, p)
    env.objects.remove(objs[0])  # the PV vanishes from the cache for a moment
    env.populator.sync_pod(p)
    assert env.summary() == {("pv-data", N1, ("web",))}


def test_delete_and_full_pass(env: Env) -> None:
    env.add(*bound_claim("a"), *bound_claim("b"))
    pa, pb = pod("web-a", N1, claims=["a"]), pod("web-b", N2, claims=["b"])
    env.add(pa, pb)
    env.objects.remove(pa)
    env.populator.delete_pod(pa)
    assert env.summary() == {("pv-b", N2, ("web-b",))}
    env.objects.remove(pb)  # the delete event was missed: the full pass notices
    env.populator.full_pass()
    assert env.summary() == set()
    env.objects.remove(env.objects.get("Node", "", N2))  # type: ignore[arg-type]
    env.populator.full_pass()
    assert env.dsw.nodes() == [N1]


def test_node_updates_feed_the_mount_report(env: Env) -> None:
    env.add(node(N1, in_use=[f"{CSI_BLOCK}pv-data"]))
    assert env.asw.is_mounted_by_node(f"{CSI_BLOCK}pv-data", N1)  # type: ignore[arg-type]
    env.populator.delete_node(node(N1))
    assert not env.asw.is_mounted_by_node(f"{CSI_BLOCK}pv-data", N1)  # type: ignore[arg-type]


def test_attachment_deleted_under_an_attached_volume_makes_it_uncertain(env: Env) -> None:
    env.add(*bound_claim("data"), pod("web", N1, claims=["data"]))
    v = env.dsw.get_volumes_to_attach()[0].volume
    name = v.attachment_name(N1)
    env.asw.mark_attached(v, N1, device_path="/dev/loop-sim-0", attachment=name)
    env.populator.attachment_deleted({"metadata": {"name": "someone-elses"}})
    assert env.asw.get_attach_state(v.name, N1) is AttachState.ATTACHED
    env.populator.attachment_deleted({"metadata": {"name": name}})
    assert env.asw.get_attach_state(v.name, N1) is AttachState.UNCERTAIN


# ---- the actual state at start-up


def va(volume_pv: dict[str, Any] | None, node_name: str, *, attached: bool, device: str = "",
       annotated: str | None = None, pv_name: str | None = None) -> dict[str, Any]:
    name = pv_name or (volume_pv["metadata"]["name"] if volume_pv else "gone")
    obj: dict[str, Any] = {
        "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
        "metadata": {"name": f"csi-{name}-{node_name}", "annotations": {ANN_VOLUME_NAME: annotated} if annotated else {}},
        "spec": {"attacher": "kstore.io.block", "nodeName": node_name, "source": {"persistentVolumeName": name}},
        "status": {"attached": attached},
    }
    if device:
        obj["status"]["attachmentMetadata"] = {"devicePath": device}
    return obj


def test_rebuild_actual_state(env: Env) -> None:
    pv_a, pv_b = pv("pv-a"), pv("pv-b")
    env.objects.add(pv_a, pv_b)
    attachments = [
        va(pv_a, N1, attached=True, device="/dev/loop4"),
        va(pv_b, N2, attached=False),
        va(None, N1, attached=True, device="/dev/loop5", annotated=f"{CSI_BLOCK}pv-gone", pv_name="pv-gone"),
        va(None, N2, attached=True, pv_name="pv-unknown"),  # no PV, no annotation: cannot be identified
    ]
    nodes = [node(N1, in_use=[f"{CSI_BLOCK}pv-a"], attached=[(f"{CSI_BLOCK}pv-a", "/dev/loop4")]),
             node(N2, attached=[(f"{CSI_BLOCK}pv-inline", "/dev/loop6")])]
    report = rebuild_actual_state(env.asw, attachments=attachments, nodes=nodes, resolver=env.resolver,
                                  pv=lambda n: env.objects.get("PersistentVolume", "", n))
    got = {(a.name.removeprefix(CSI_BLOCK), a.node, a.state, a.device_path, a.mounted_by_node, a.volume.spec is None)
           for a in env.asw.get_attached_volumes()}
    assert got == {
        ("pv-a", N1, AttachState.ATTACHED, "/dev/loop4", True, False),
        ("pv-b", N2, AttachState.UNCERTAIN, "", False, False),
        ("pv-gone", N1, AttachState.ATTACHED, "/dev/loop5", False, True),
        ("pv-inline", N2, AttachState.UNCERTAIN, "/dev/loop6", False, True),
    }
    assert (report.attached, report.uncertain, len(report.skipped)) == (2, 2, 1)
    gone = env.asw.get_attached_volume(f"{CSI_BLOCK}pv-gone", N1)  # type: ignore[arg-type]
    assert gone is not None and gone.volume.plugin_name == "kubernetes.io/csi"
    assert gone.volume.plugin_volume_name == "kstore.io.block^block/pv-gone"
    assert gone.attachment == f"csi-pv-gone-{N1}"
    assert env.asw.get_volumes_to_report_attached(N1) == [(f"{CSI_BLOCK}pv-a", "/dev/loop4"),
                                                          (f"{CSI_BLOCK}pv-gone", "/dev/loop5")]
    assert env.asw.nodes_to_update_status_for() == [N1, N2]


def test_which_pod_updates_can_change_what_is_attached() -> None:
    def pod(node: str | None = "n1", volumes: list[Any] | None = None, phase: str = "Pending",
            deleting: bool = False, state: str = "waiting") -> dict[str, Any]:
        meta: dict[str, Any] = {"name": "p", "uid": "u"}
        if deleting:
            meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        return {"metadata": meta,
                "spec": {"nodeName": node, "volumes": volumes if volumes is not None else [{"name": "v"}]},
                "status": {"phase": phase, "containerStatuses": [{"state": {state: {}}}]}}

    cases = [
        (pod(), pod(phase="Running", state="running"), False),  # a status update
        (pod(node=None), pod(), True),  # scheduled
        (pod(), pod(volumes=[{"name": "v"}, {"name": "w"}]), True),
        (pod(phase="Running", state="running"), pod(phase="Succeeded", state="terminated"), True),
        (pod(state="running"), pod(state="running", deleting=True), False),  # still running
        (pod(state="running", deleting=True), pod(state="terminated", deleting=True), True),
    ]
    for old, new, want in cases:
        assert attach_relevant_change(old, new) is want, (old, new)
