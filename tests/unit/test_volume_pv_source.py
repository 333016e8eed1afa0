"""The PV spec of a provisioned volume, as tables (driver, handle, claim, class → spec), and the
way back from a PV to its pool volume."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kstore.api.defaults import apply_defaults
from kstore.api.kinds import lookup
from kstore.api.validation import validate_create
from kstore.controllers.pv.model import Driver
from kstore.volume.drivers import DriverMap
from kstore.volume.handle import VolumeHandle
from kstore.volume.pool import Pool
from kstore.volume.pv_source import csi_driver_name, handle_from_pv, provisioning_annotations, pv_spec_for

GI = 1 << 30
STATE = Path("/var/lib/kstore-test")
BLOCK = VolumeHandle("block", "pvc-1", STATE / "pool/block/pvc-1", 5 * GI)
SHARED = VolumeHandle("shared", "pvc-2", STATE / "pool/shared/pvc-2", 3 * GI // 2)
LOCAL = VolumeHandle("local", "pvc-3", STATE / "nodes/node-2/local/pvc-3", GI, "node-2")


def claim(modes: tuple[str, ...] = ("ReadWriteOnce",), mode: str | None = None, cls: str | None = "fast",
          beta_class: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default", "uid": "1"},
        "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": "1Gi"}}},
    }
    if mode is not None:
        obj["spec"]["volumeMode"] = mode
    if cls is not None:
        obj["spec"]["storageClassName"] = cls
    if beta_class is not None:
        obj["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": beta_class}
    return obj


def storage_class(provisioner: str, name: str = "fast", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
            "provisioner": provisioner, **fields}


def attrs(handle: VolumeHandle, provisioner: str) -> dict[str, str]:
    return {**handle.to_attributes(), "kstore.io/provisioner": provisioner}


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    driver: Driver
    handle: VolumeHandle
    claim: dict[str, Any]
    storage_class: dict[str, Any] | None
    expected: dict[str, Any]


def base(handle: VolumeHandle, **fields: Any) -> dict[str, Any]:
    return {"capacity": {"storage": {5 * GI: "5Gi", 3 * GI // 2: "1536Mi", GI: "1Gi"}[handle.size]},
            "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "fast", **fields}


RBD = "rook-ceph.rbd.csi.ceph.com"
CASES = [
    Case("csi block: ext4 by default", Driver(RBD, "block"), BLOCK, claim(), storage_class(RBD),
         base(BLOCK, csi={"driver": RBD, "volumeHandle": "block/pvc-1", "fsType": "ext4",
                          "volumeAttributes": attrs(BLOCK, RBD)})),
    Case("fsType from csi.storage.k8s.io/fstype", Driver(RBD, "block"), BLOCK, claim(),
         storage_class(RBD, parameters={"csi.storage.k8s.io/fstype": "xfs", "pool": "replicapool"}),
         base(BLOCK, csi={"driver": RBD, "volumeHandle": "block/pvc-1", "fsType": "xfs",
                          "volumeAttributes": attrs(BLOCK, RBD)})),
    Case("fsType from fsType, any case", Driver("ebs.csi.aws.com", "block"), BLOCK, claim(),
         storage_class("ebs.csi.aws.com", parameters={"FsType": "ext3"}),
         base(BLOCK, csi={"driver": "ebs.csi.aws.com", "volumeHandle": "block/pvc-1", "fsType": "ext3",
                          "volumeAttributes": attrs(BLOCK, "ebs.csi.aws.com")})),
    Case("volumeMode Block: no fsType", Driver(RBD, "block"), BLOCK, claim(mode="Block"),
         storage_class(RBD, parameters={"csi.storage.k8s.io/fstype": "ext4"}),
         base(BLOCK, volumeMode="Block", csi={"driver": RBD, "volumeHandle": "block/pvc-1",
                                             "volumeAttributes": attrs(BLOCK, RBD)})),
    Case("in-tree name: CSI shape with the migrated driver", Driver("kubernetes.io/aws-ebs", "block"), BLOCK,
         claim(), storage_class("kubernetes.io/aws-ebs", parameters={"type": "gp2"}),
         base(BLOCK, csi={"driver": "ebs.csi.aws.com", "volumeHandle": "block/pvc-1", "fsType": "ext4",
                          "volumeAttributes": attrs(BLOCK, "kubernetes.io/aws-ebs")})),
    Case("not a CSI name: rewritten, the original kept", Driver("k8s.io/minikube-hostpath", "block"), BLOCK,
         claim(), storage_class("k8s.io/minikube-hostpath"),
         base(BLOCK, csi={"driver": "k8s.io.minikube-hostpath", "volumeHandle": "block/pvc-1", "fsType": "ext4",
                          "volumeAttributes": attrs(BLOCK, "k8s.io/minikube-hostpath")})),
    Case("shared RWX: no fsType; class fields", Driver("rook-ceph.cephfs.csi.ceph.com", "shared"), SHARED,
         claim(modes=("ReadWriteMany",)),
         storage_class("rook-ceph.cephfs.csi.ceph.com", reclaimPolicy="Retain", mountOptions=["noatime"]),
         base(SHARED, accessModes=["ReadWriteMany"], persistentVolumeReclaimPolicy="Retain", mountOptions=["noatime"],
              csi={"driver": "rook-ceph.cephfs.csi.ceph.com", "volumeHandle": "shared/pvc-2",
                   "volumeAttributes": attrs(SHARED, "rook-ceph.cephfs.csi.ceph.com")})),
    Case("RWX on a block class served by shared", Driver(RBD, "block"), SHARED, claim(modes=("ReadWriteMany",)),
         storage_class(RBD),
         base(SHARED, accessModes=["ReadWriteMany"],
              csi={"driver": RBD, "volumeHandle": "shared/pvc-2", "volumeAttributes": attrs(SHARED, RBD)})),
    Case("shared: fsType only when the class names one", Driver("nfs.csi.k8s.io", "shared"), SHARED, claim(),
         storage_class("nfs.csi.k8s.io", parameters={"csi.storage.k8s.io/fstype": "nfs"}),
         base(SHARED, csi={"driver": "nfs.csi.k8s.io", "volumeHandle": "shared/pvc-2", "fsType": "nfs",
                           "volumeAttributes": attrs(SHARED, "nfs.csi.k8s.io")})),
    Case("local: path and node affinity", Driver("rancher.io/local-path", "local"), LOCAL,
         claim(), storage_class("rancher.io/local-path", volumeBindingMode="WaitForFirstConsumer"),
         base(LOCAL, local={"path": str(LOCAL.path)}, nodeAffinity={"required": {"nodeSelectorTerms": [
             {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}]}]}})),
    Case("no class object: the claim's class, reclaim Delete", Driver(RBD, "block"), BLOCK, claim(cls="gone"), None,
         base(BLOCK, storageClassName="gone", csi={"driver": RBD, "volumeHandle": "block/pvc-1", "fsType": "ext4",
                                                   "volumeAttributes": attrs(BLOCK, RBD)})),
    Case("no class object: the beta annotation", Driver(RBD, "block"), BLOCK, claim(cls=None, beta_class="old"), None,
         base(BLOCK, storageClassName="old", csi={"driver": RBD, "volumeHandle": "block/pvc-1", "fsType": "ext4",
                                                  "volumeAttributes": attrs(BLOCK, RBD)})),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pv_spec_for(case: Case) -> None:
    claim_before, class_before = copy.deepcopy(case.claim), copy.deepcopy(case.storage_class)
    spec = pv_spec_for(case.driver, case.handle, claim=case.claim, storage_class=case.storage_class)
    assert spec == case.expected
    assert case.claim == claim_before and case.storage_class == class_before  # inputs untouched


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_provisioned_pv_is_valid_and_leads_back(case: Case) -> None:
    spec = pv_spec_for(case.driver, case.handle, claim=case.claim, storage_class=case.storage_class)
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": case.handle.name},
          "spec": {**spec, "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data",
                                        "uid": "1"}}}
    info = lookup("v1", "PersistentVolume")
    assert info is not None
    apply_defaults(info, pv)
    assert [f"{c.field}: {c.message}" for c in validate_create(info, pv)] == []
    assert handle_from_pv(pv) == case.handle
    # ... and to the same driver and backend.
    driver = DriverMap.from_config({}).for_volume_source(pv["spec"])
    assert driver is not None and driver.backend == case.handle.backend


@pytest.mark.parametrize(("name", "expected"), [
    ("ebs.csi.aws.com", "ebs.csi.aws.com"),
    ("kubernetes.io/aws-ebs", "ebs.csi.aws.com"),
    ("kubernetes.io/gce-pd", "pd.csi.storage.gke.io"),
    ("kubernetes.io/azure-disk", "disk.csi.azure.com"),
    ("kubernetes.io/azure-file", "file.csi.azure.com"),
    ("kubernetes.io/cinder", "cinder.csi.openstack.org"),
    ("kubernetes.io/vsphere-volume", "csi.vsphere.vmware.com"),
    ("kubernetes.io/rbd", "rbd.csi.ceph.com"),
    ("kubernetes.io/nfs", "kubernetes.io.nfs"),
    ("rancher.io/local-path", "rancher.io.local-path"),
    ("Example.COM/Fast_Disk", "example.com.fast.disk"),
    ("k8s-sigs.io/nfs-subdir-external-provisioner", "k8s-sigs.io.nfs-subdir-external-provisioner"),
    ("a" * 70, "a" * 63),
    ("///", "kstore.io"),
])
def test_csi_driver_name(name: str, expected: str) -> None:
    assert csi_driver_name(name) == expected


def test_provisioning_annotations() -> None:
    assert provisioning_annotations("kubernetes.io/gce-pd") == {
        "pv.kubernetes.io/provisioned-by": "kubernetes.io/gce-pd",
        "pv.kubernetes.io/migrated-to": "pd.csi.storage.gke.io",
    }
    assert provisioning_annotations(RBD) == {"pv.kubernetes.io/provisioned-by": RBD}


# ---- handle_from_pv


def pv(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v"},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], **spec}}


HANDLES = [
    ("provisioned, expanded since: the PV's capacity",
     pv({"capacity": {"storage": "8Gi"}, "csi": {"driver": RBD, "volumeHandle": "block/pvc-1",
                                                 "volumeAttributes": attrs(BLOCK, RBD)}}), None,
     dataclasses.replace(BLOCK, size=8 * GI)),
    ("static csi PV naming a pool volume, state dir known",
     pv({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "block/pvc-1"}}), STATE, BLOCK),
    ("static csi PV naming a shared volume, state dir known",
     pv({"capacity": {"storage": "1536Mi"}, "csi": {"driver": "efs.csi.aws.com", "volumeHandle": "shared/pvc-2"}}),
     STATE, SHARED),
    ("static csi PV, state dir unknown", pv({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "block/pvc-1"}}),
     None, None),
    ("static csi PV of a real cloud volume", pv({"csi": {"driver": "ebs.csi.aws.com",
                                                        "volumeHandle": "vol-03c604538dd7d2f41"}}), STATE, None),
    ("csi volumeHandle escaping", pv({"csi": {"driver": "x", "volumeHandle": "block/../../etc"}}), STATE, None),
    ("broken attributes", pv({"csi": {"driver": RBD, "volumeHandle": "block/pvc-1",
                                      "volumeAttributes": {"kstore.io/backend": "block"}}}), None, None),
    ("hostPath into the pool", pv({"hostPath": {"path": str(STATE / "pool/block/pvc-1")}}), None, BLOCK),
    ("hostPath into the pool, state dir checked", pv({"hostPath": {"path": str(STATE / "pool/block/pvc-1")}}),
     STATE, BLOCK),
    ("hostPath into another state dir", pv({"hostPath": {"path": "/elsewhere/pool/block/pvc-1"}}), STATE, None),
    ("local on a node", pv({"capacity": {"storage": "1Gi"}, "local": {"path": str(LOCAL.path)}}), STATE, LOCAL),
    ("hostPath outside the pool", pv({"hostPath": {"path": "/mnt/data"}}), None, None),
    ("local outside the pool", pv({"local": {"path": "/mnt/disks/ssd1"}}), None, None),
    ("in-tree source", pv({"awsElasticBlockStore": {"volumeID": "vol-1"}}), STATE, None),
    ("capacity unreadable: size unknown", pv({"capacity": {"storage": "lots"},
                                              "hostPath": {"path": str(STATE / "pool/block/pvc-1")}}), None,
     dataclasses.replace(BLOCK, size=0)),
]


@pytest.mark.parametrize(("name", "volume", "state_dir", "expected"), HANDLES, ids=[h[0] for h in HANDLES])
def test_handle_from_pv(name: str, volume: dict[str, Any], state_dir: Path | None,
                        expected: VolumeHandle | None) -> None:
    assert handle_from_pv(volume, state_dir=state_dir) == expected


def test_provision_pv_delete_through_the_pool(state_dir: Path) -> None:
    """Provision, build the PV, find the volume again from the PV alone, delete it."""
    pool = Pool(state_dir)
    drivers = DriverMap.from_config({})
    for provisioner, modes, node in ((RBD, ("ReadWriteOnce",), None), (RBD, ("ReadWriteMany",), None),
                                     ("rancher.io/local-path", ("ReadWriteOnce",), "node-1")):
        driver = drivers.resolve(provisioner)
        assert driver is not None
        backend = drivers.backend_for(driver, modes, "Filesystem")
        handle = pool.provision(backend=backend, name=f"pvc-{backend}", size_bytes=GI, node=node)
        volume = pv(pv_spec_for(driver, handle, claim=claim(modes=modes), storage_class=storage_class(provisioner)))
        found = handle_from_pv(volume, state_dir=state_dir)
        assert found == handle and pool.exists(found)
        pool.delete(found)
        assert not handle.path.exists()
    assert pool.list_volumes() == []
