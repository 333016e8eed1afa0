"""What the pod worker reads from the volume manager (pure): why a pod's volumes are not
mounted, in Kubernetes' words, and when a deleted pod's storage is all gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.podvolumes import cleaned_up, expected_volumes, mount_problems, pod_volumes
from kstore.kubelet.volumemanager.types import PodUID, VolumeName
from kstore.volume.plugins.base import Spec

UID = PodUID("u1")
PVC, CM = VolumeName("kubernetes.io/csi/d^block/pv1"), VolumeName("kubernetes.io/configmap/u1-cfg")
POD: dict[str, Any] = {
    "metadata": {"uid": UID},
    "spec": {"containers": [{"name": "app", "volumeMounts": [{"name": n, "mountPath": f"/{n}"}
                                                              for n in ("data", "cfg", "broken")]}],
             "volumes": [{"name": "data"}, {"name": "cfg"}, {"name": "broken"}, {"name": "unused"}]},
}


def states() -> tuple[DesiredStateOfWorld, ActualStateOfWorld]:
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld()
    for name, outer, attachable in ((PVC, "data", True), (CM, "cfg", False)):
        dsw.add_pod_to_volume(volume_name=name, pod_uid=UID, pod=POD, outer_name=outer, plugin_name="p",
                              metric_plugin="p", spec=Spec.from_volume({"name": outer}), attachable=attachable,
                              device_mountable=attachable, block=False)
    dsw.set_pod_errors(UID, ["error processing PVC ns/broken: PVC is not bound"])
    return dsw, asw


def test_mount_problems_in_kubernetes_words() -> None:
    dsw, asw = states()
    asw.mark_volume_attached(CM, plugin_name="p", metric_plugin="p", spec=None, dir_name="cfg")
    asw.mark_pod_mounted(CM, UID, dir_name="cfg", path=Path("/p/cfg"), read_only=True, now=0.0)
    problems = mount_problems(POD, dsw, asw, waiting_for_attach={PVC})
    assert expected_volumes(POD) == ["broken", "cfg", "data"]
    assert (problems.unmounted, problems.unattached, problems.failed_to_process) == (["broken", "data"], ["data"],
                                                                                      ["broken"])
    assert "Unable to attach or mount volumes: " + problems.message("timed out waiting for the condition") == (
        "Unable to attach or mount volumes: unmounted volumes=[broken data], unattached volumes=[data], "
        "failed to process volumes=[broken]: timed out waiting for the condition")
    assert problems.errors == ["error processing PVC ns/broken: PVC is not bound"]
    assert list(pod_volumes(UID, dsw, asw)) == ["cfg"] and pod_volumes(UID, dsw, asw)["cfg"].read_only


def test_a_deleted_pod_is_cleaned_up_only_once_its_volumes_are_gone_and_no_longer_reported() -> None:
    dsw, asw = states()
    had = set(dsw.get_volume_names_for_pod(UID).values())
    assert not cleaned_up(UID, dsw, asw, had=had, reported=[])  # still desired
    dsw.delete_pod(UID)
    asw.mark_volume_attached(PVC, plugin_name="p", metric_plugin="p", spec=None, dir_name="pv1", attachable=True)
    assert not cleaned_up(UID, dsw, asw, had=had, reported=[PVC])  # still attached in the node's view
    asw.mark_volume_detached(PVC)
    assert not cleaned_up(UID, dsw, asw, had=had, reported=[PVC])  # still listed in volumesInUse
    assert cleaned_up(UID, dsw, asw, had=had, reported=[])


def test_a_volume_another_pod_still_wants_does_not_hold_the_deleted_one() -> None:
    dsw, asw = states()
    had = set(dsw.get_volume_names_for_pod(UID).values())
    dsw.delete_pod(UID)
    dsw.add_pod_to_volume(volume_name=PVC, pod_uid=PodUID("u2"), pod={}, outer_name="data", plugin_name="p",
                          metric_plugin="p", spec=Spec.from_volume({"name": "data"}), attachable=True,
                          device_mountable=True, block=False)
    asw.mark_volume_attached(PVC, plugin_name="p", metric_plugin="p", spec=None, dir_name="pv1", attachable=True)
    assert cleaned_up(UID, dsw, asw, had=had, reported=[PVC])
