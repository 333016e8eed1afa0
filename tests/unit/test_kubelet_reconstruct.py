"""Reconstruction's matching (pure): what was found on disk against the desired state — adopt,
orphan, or wait while the pod is alive but not desired yet."""

from __future__ import annotations

from pathlib import Path

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.reconstruct import (
    Found,
    FoundDeviceMount,
    FoundPodVolume,
    PluginInfo,
    Reconstruction,
    orphan_name,
    plugin_name_of_global_dir,
)
from kstore.kubelet.volumemanager.types import RECONSTRUCTED, PodUID, VolumeName
from kstore.volume.plugins.base import Spec

CSI = PluginInfo(name="kubernetes.io/csi", dir_name="kubernetes.io~csi")
EMPTY = PluginInfo(name="kubernetes.io/empty-dir", dir_name="kubernetes.io~empty-dir")
PLUGINS = {p.name: p for p in (CSI, EMPTY)}
UNIQUE = VolumeName("kubernetes.io/csi/d^block/pv1")


def found() -> Found:
    pods = Path("/s/nodes/n/kubelet/pods")
    return Found(
        pod_volumes=[FoundPodVolume(PodUID("live"), "kubernetes.io~csi", "pv1", pods / "live/volumes/kubernetes.io~csi/pv1",
                                    block=False),
                     FoundPodVolume(PodUID("gone"), "kubernetes.io~empty-dir", "t",
                                    pods / "gone/volumes/kubernetes.io~empty-dir/t", block=False),
                     FoundPodVolume(PodUID("later"), "kubernetes.io~empty-dir", "x",
                                    pods / "later/volumes/kubernetes.io~empty-dir/x", block=False)],
        device_mounts=[FoundDeviceMount("kubernetes.io/csi", "pv1", Path("/s/g/pv1"), "/dev/loop2")])


def adopt(r: Reconstruction, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, live: set[str]) -> list[PodUID]:
    return r.adopt(dsw, asw, live=lambda uid: uid in live,
                   plugin_by_dir=lambda d: next((p for p in PLUGINS.values() if p.dir_name == d), None),
                   plugin_by_name=PLUGINS.get,
                   global_volume=lambda d: (UNIQUE, True, Spec.from_pv({"metadata": {"name": d.name}})))


def test_adopt_orphan_and_wait() -> None:
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld()
    dsw.add_pod_to_volume(volume_name=UNIQUE, pod_uid=PodUID("live"), pod={"metadata": {"uid": "live"}},
                          outer_name="data", plugin_name="kubernetes.io/csi", metric_plugin="kubernetes.io/csi:d",
                          spec=Spec.from_pv({"metadata": {"name": "pv1"}}), attachable=True, device_mountable=True,
                          block=False)
    r = Reconstruction(found())
    touched = adopt(r, dsw, asw, live={"live", "later"})
    assert sorted(touched) == ["gone", "live"]
    attached = asw.get_volume(UNIQUE)
    assert attached is not None and attached.device_mounted and attached.device_path == "/dev/loop2"
    mounted = asw.get_mounted_volume(PodUID("live"), UNIQUE)
    assert mounted is not None and mounted.mounted_at == RECONSTRUCTED and mounted.outer_names == ("data",)
    orphan = asw.get_mounted_volume(PodUID("gone"), orphan_name("kubernetes.io/empty-dir", "gone", "t"))
    assert orphan is not None and orphan.dir_name == "t"
    assert [f.pod_uid for f in r.pending] == ["later"] and not r.done  # alive, not desired: waits
    adopt(r, dsw, asw, live=set())
    assert r.done


def test_flex_global_dirs_map_back_to_the_plugin_name() -> None:
    assert plugin_name_of_global_dir("kubernetes.io/csi") == "kubernetes.io/csi"
    assert plugin_name_of_global_dir("kubernetes.io/flexvolume/acme/fancy") == "flexvolume-acme/fancy"


def test_flex_drivers_found_on_disk_are_discovered_before_matching() -> None:
    f = found()
    f.pod_volumes.append(FoundPodVolume(PodUID("x"), "acme~fancy", "v", Path("/p"), block=False))
    f.device_mounts.append(FoundDeviceMount("flexvolume-acme/other", "v", Path("/g"), "/dev/loop1"))
    assert f.flex_drivers() == {"acme/fancy", "acme/other"}
