"""The CRI step's mount planning (pure: subPath, readOnly, devices, Kubernetes' errors) and the
subPath preparation on a real directory (no mounts)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from kstore.kubelet.containers import (
    ContainerConfigError,
    container_id,
    plan_mounts,
    prepare_sub_path,
)
from kstore.kubelet.volumemanager.types import PodVolume

ROOT = Path("/s/nodes/n1/containers")
VOLUMES = {
    "data": PodVolume(outer_names=("data",), path=Path("/s/pods/u1/volumes/kubernetes.io~csi/pv1")),
    "cfg": PodVolume(outer_names=("cfg",), path=Path("/s/pods/u1/volumes/kubernetes.io~configmap/cfg"), read_only=True),
    "raw": PodVolume(outer_names=("raw",), path=Path("/s/pods/u1/volumeDevices/kubernetes.io~csi/pv2"),
                     device="/dev/loop7"),
}


def pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"uid": "u1", "name": "p", "namespace": "ns"},
            "spec": {"containers": list(containers), "initContainers": [{"name": "init", "image": "x",
                                                                          "volumeMounts": [{"name": "data",
                                                                                            "mountPath": "/i"}]}]}}


@dataclasses.dataclass
class Case:
    name: str
    container: dict[str, Any]
    expected: list[tuple[str, str, str, bool]] | None = None  # (target, source, sub_path, read_only)
    error: str | None = None


CASES = [
    Case("plain mount", {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}]},
         expected=[("/s/nodes/n1/containers/u1/app/var/lib/registry", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "",
                    False)]),
    Case("readOnly from the volumeMount",
         {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/d", "readOnly": True}]},
         expected=[("/s/nodes/n1/containers/u1/app/d", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "", True)]),
    Case("read-only because the plugin's volume is (configMap)",
         {"name": "app", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]},
         expected=[("/s/nodes/n1/containers/u1/app/etc/cfg", "/s/pods/u1/volumes/kubernetes.io~configmap/cfg", "",
                    True)]),
    Case("subPath, and shallow targets before deep ones",
         {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/a/b/c", "subPath": "x/y"},
                                          {"name": "data", "mountPath": "/a"}]},
         expected=[("/s/nodes/n1/containers/u1/app/a", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "", False),
                   ("/s/nodes/n1/containers/u1/app/a/b/c", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "x/y", False)]),
    Case("subPathExpr from the env and the downward API",
         {"name": "app", "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                 {"name": "K", "value": "logs"}],
          "volumeMounts": [{"name": "data", "mountPath": "/l", "subPathExpr": "$(K)/$(POD)"}]},
         expected=[("/s/nodes/n1/containers/u1/app/l", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "logs/p", False)]),
    Case("a mountPath cannot climb out of the container dir",
         {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/../../etc"}]},
         expected=[("/s/nodes/n1/containers/u1/app/etc", "/s/pods/u1/volumes/kubernetes.io~csi/pv1", "", False)]),
    Case("volumeDevices: the device itself",
         {"name": "app", "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}]},
         expected=[("/s/nodes/n1/containers/u1/app/dev/xvda", "/dev/loop7", "", False)]),
    Case("missing volume", {"name": "app", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]},
         error='cannot find volume "nope" to mount into container "app"'),
    Case("absolute subPath", {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "/etc"}]},
         error="error SubPath `/etc` must not be an absolute path"),
    Case("subPath with ..", {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "a/../../b"}]},
         error="unable to provision SubPath `a/../../b`: must not contain '..'"),
    Case("undefined variable in subPathExpr",
         {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPathExpr": "$(NOPE)"}]},
         error="variable NOPE is not defined"),
    Case("a block volume is not mounted", {"name": "app", "volumeMounts": [{"name": "raw", "mountPath": "/x"}]},
         error='cannot find volume "raw" to mount into container "app"'),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_mounts(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(ContainerConfigError, match=re.escape(case.error)):
            plan_mounts(pod(case.container), VOLUMES, ROOT)
        return
    got = plan_mounts(pod(case.container), VOLUMES, ROOT)
    assert [(str(m.target), m.source, m.sub_path, m.read_only) for m in got] == case.expected
    assert all(m.container == case.container["name"] for m in got)


def test_init_containers_get_no_lasting_mounts() -> None:
    got = plan_mounts(pod({"name": "app"}), VOLUMES, ROOT)
    assert got == []


def test_container_ids_are_stable_and_distinct() -> None:
    assert container_id("u1", "a") == container_id("u1", "a") != container_id("u1", "b")
    assert container_id("u1", "a").startswith("kstore://")


def test_prepare_sub_path_makes_missing_dirs_inside_the_volume(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir(mode=0o770)
    got = prepare_sub_path(volume, "a/b", container="app", mount="data")
    assert got == volume / "a" / "b" and got.is_dir()
    assert prepare_sub_path(volume, "a/b", container="app", mount="data") == got  # exists: fine


def test_prepare_sub_path_refuses_a_symlink_out_of_the_volume(tmp_path: Path) -> None:
    volume, outside = tmp_path / "vol", tmp_path / "outside"
    volume.mkdir()
    outside.mkdir()
    os.symlink(outside, volume / "escape")
    with pytest.raises(ContainerConfigError, match='failed to prepare subPath for volumeMount "data" of container "app"'):
        prepare_sub_path(volume, "escape/x", container="app", mount="data")
    assert not (outside / "x").exists()


def test_prepare_sub_path_follows_a_symlink_that_stays_inside(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    (volume / "real").mkdir(parents=True)
    os.symlink("real", volume / "alias")
    assert prepare_sub_path(volume, "alias/y", container="app", mount="data") == volume / "real" / "y"
