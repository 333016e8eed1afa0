"""Driver mappings as tables: a name (or a PV's volume source) in → the driver that serves it out,
and every config mistake a ConfigError naming the key."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from kstore.config import ConfigError
from kstore.controllers.pv.model import Driver
from kstore.volume.drivers import DEFAULT_DRIVERS_FILE, DriverEntry, DriverMap
from kstore.volume.latency import Distribution, LatencyProfile
from tests.seed import MANIFESTS

EXTERNAL = "external"  # expected value for names left to an external provisioner


@pytest.fixture(scope="module")
def drivers() -> DriverMap:
    return DriverMap.from_config({}, default_path=DEFAULT_DRIVERS_FILE)


# ---- names → backend, with the shipped configs/drivers.yaml

RESOLVE = [
    # block
    ("rook-ceph.rbd.csi.ceph.com", "block"),
    ("my-cluster.rbd.csi.ceph.com", "block"),  # any *.rbd.csi.ceph.com
    ("rbd.csi.ceph.com", "block"),
    ("kubernetes.io/rbd", "block"),
    ("ebs.csi.aws.com", "block"),
    ("kubernetes.io/aws-ebs", "block"),
    ("pd.csi.storage.gke.io", "block"),
    ("kubernetes.io/gce-pd", "block"),
    ("disk.csi.azure.com", "block"),
    ("kubernetes.io/azure-disk", "block"),
    ("hostpath.csi.k8s.io", "block"),
    ("driver.longhorn.io", "block"),
    ("k8s.io/minikube-hostpath", "block"),
    ("kubernetes.io/cinder", "block"),
    ("cinder.csi.openstack.org", "block"),
    ("csi.vsphere.vmware.com", "block"),
    ("kubernetes.io/iscsi", "block"),
    # local: node-local
    ("rancher.io/local-path", "local"),
    ("openebs.io/local", "local"),
    ("topolvm.io", "local"),
    ("local.csi.openebs.io", "local"),
    # shared
    ("rook-ceph.cephfs.csi.ceph.com", "shared"),
    ("my-cluster.cephfs.csi.ceph.com", "shared"),  # any *.cephfs.csi.ceph.com
    ("efs.csi.aws.com", "shared"),
    ("nfs.csi.k8s.io", "shared"),
    ("kubernetes.io/nfs", "shared"),
    ("kubernetes.io/cephfs", "shared"),
    ("file.csi.azure.com", "shared"),
    ("kubernetes.io/azure-file", "shared"),
    ("filestore.csi.storage.gke.io", "shared"),
    # never provisions
    ("kubernetes.io/no-provisioner", None),
    ("", None),
    # anything else: the fallback
    ("csi-driver.example-vendor.example", "block"),
    ("example.com/whatever", "block"),
    ("rbd.csi.ceph.com.evil.example", "block"),  # patterns match whole names only
]


@pytest.mark.parametrize(("name", "backend"), RESOLVE, ids=[n or "<empty>" for n, _ in RESOLVE])
def test_resolve(drivers: DriverMap, name: str, backend: str | None) -> None:
    driver = drivers.resolve(name)
    if backend is None:
        assert driver is None
    else:
        assert driver == Driver(name=name, backend=backend)


# Every StorageClass provisioner in the manifest corpus, and what it must resolve to.
MANIFEST_PROVISIONERS = {
    "rook-ceph.rbd.csi.ceph.com": "block",
    "rook-ceph.cephfs.csi.ceph.com": "shared",
    "ebs.csi.aws.com": "block",
    "hostpath.csi.k8s.io": "block",
    "kubernetes.io/no-provisioner": None,
    "csi-driver.example-vendor.example": "block",  # unknown: the fallback
}


def manifest_docs(kind: str) -> list[dict[str, Any]]:
    if not MANIFESTS.is_dir():
        pytest.skip(f"{MANIFESTS} is missing")
    return [
        doc
        for path in sorted(MANIFESTS.glob("*/*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == kind
    ]


def test_every_manifest_provisioner_resolves_as_the_issue_says(drivers: DriverMap) -> None:
    provisioners = {doc["provisioner"] for doc in manifest_docs("StorageClass")}
    assert provisioners == set(MANIFEST_PROVISIONERS), "a new provisioner in the corpus: add it to the table"
    got = {}
    for name in sorted(provisioners):
        driver = drivers.resolve(name)
        got[name] = None if driver is None else driver.backend
    assert got == MANIFEST_PROVISIONERS


def test_manifest_static_volumes_map_to_a_backend(drivers: DriverMap) -> None:
    got = {}
    for pv in manifest_docs("PersistentVolume"):
        driver = drivers.for_volume_source(pv["spec"])
        got[pv["metadata"]["name"]] = None if driver is None else (driver.name, driver.backend)
    assert got == {
        "test-pv": ("ebs.csi.aws.com", "block"),
        "task-pv-volume": ("kubernetes.io/host-path", "hostpath"),
        "mysql-pv-volume": ("kubernetes.io/host-path", "hostpath"),
    }


# ---- configured: external, fallback, patterns, order


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    section: dict[str, Any]
    resolve: dict[str, str | None]  # name → backend, EXTERNAL or None


CONFIGURED = [
    Case("external names and patterns are left to an external provisioner",
         {"external": ["ebs.csi.aws.com", "*.example.com"]},
         {"ebs.csi.aws.com": EXTERNAL, "disk.example.com": EXTERNAL, "kubernetes.io/aws-ebs": "block",
          "kubernetes.io/no-provisioner": None}),
    Case("external wins over a mapping of the cluster config too",
         {"external": ["topolvm.io"], "mappings": [{"backend": "shared", "names": ["topolvm.io"]}]},
         {"topolvm.io": EXTERNAL}),
    Case("fallback is configurable",
         {"fallback": "shared"},
         {"unknown.example": "shared", "ebs.csi.aws.com": "block"}),
    Case("the cluster config's mappings come before the file's",
         {"mappings": [{"backend": "shared", "names": ["ebs.csi.aws.com", "*.cephfs.csi.ceph.com"]}]},
         {"ebs.csi.aws.com": "shared", "pd.csi.storage.gke.io": "block"}),
    Case("an exact name beats an earlier pattern",
         {"mappings": [{"backend": "local", "names": ["*.csi.ceph.com"]}]},
         {"rook-ceph.rbd.csi.ceph.com": "block", "other.rbd.csi.ceph.com": "local"}),
    Case("an empty section keeps the file",
         {},
         {"rancher.io/local-path": "local", "csi-driver.example-vendor.example": "block"}),
]


@pytest.mark.parametrize("case", CONFIGURED, ids=lambda c: c.name)
def test_configured(case: Case) -> None:
    drivers = DriverMap.from_config({"drivers": case.section})
    got = {}
    for name in case.resolve:
        driver = drivers.resolve(name)
        got[name] = None if driver is None else EXTERNAL if driver.external else driver.backend
        if driver is not None and driver.external:
            assert driver == Driver(name=name, backend="", external=True)
    assert got == case.resolve


def test_entries_carry_attach_limit_and_latency() -> None:
    drivers = DriverMap.from_config({"drivers": {"mappings": [{
        "backend": "block", "names": ["ebs.csi.aws.com"], "attach_limit": 25,
        "latency": {"attach": {"lognormal": {"median": 5.0, "sigma": 0.4}}, "mount": {"fixed": 0.05},
                    "provision": {"uniform": [0.5, 2]}},
    }]}})
    driver = drivers.resolve("ebs.csi.aws.com")
    assert driver is not None
    assert driver.attach_limit == 25
    assert driver.latency == LatencyProfile(
        attach=Distribution("lognormal", 5.0, 0.4), mount=Distribution("fixed", 0.05),
        provision=Distribution("uniform", 0.5, 2.0),
    )
    # Defaults: no limit, no delay.
    assert drivers.resolve("pd.csi.storage.gke.io") == Driver("pd.csi.storage.gke.io", "block")


def test_latency_samples_are_deterministic_and_in_range() -> None:
    profile = LatencyProfile(attach=Distribution("lognormal", 0.5, 0.3), mount=Distribution("fixed", 0.05),
                             provision=Distribution("uniform", 0.01, 0.2))
    a, b = random.Random(7), random.Random(7)
    attach = [profile.sample("attach", a) for _ in range(200)]
    assert attach == [profile.sample("attach", b) for _ in range(200)]
    assert all(x > 0 for x in attach)
    assert 0.4 < sorted(attach)[100] < 0.6  # the median
    assert {profile.sample("mount", a) for _ in range(5)} == {0.05}
    assert all(0.01 <= profile.sample("provision", a) <= 0.2 for _ in range(100))
    assert profile.sample("detach", a) == 0.0  # not configured: no delay
    with pytest.raises(ValueError, match="unknown volume operation"):
        profile.sample("format", a)


def test_lookups_are_memoized(drivers: DriverMap) -> None:
    assert drivers.resolve("ebs.csi.aws.com") is drivers.resolve("ebs.csi.aws.com")


# ---- access modes: backend_for

BACKEND_FOR = [
    # (driver backend, access modes, volume mode, expected)
    ("block", ["ReadWriteOnce"], "Filesystem", "block"),
    ("block", ["ReadWriteOncePod"], "Filesystem", "block"),
    ("block", ["ReadWriteMany"], "Filesystem", "shared"),
    ("block", ["ReadOnlyMany"], None, "shared"),
    ("block", ["ReadWriteOnce", "ReadWriteMany"], "Filesystem", "shared"),
    ("block", ["ReadWriteMany"], "Block", "block"),  # a raw device cannot be a directory
    ("shared", ["ReadWriteOnce"], "Filesystem", "shared"),
    ("shared", ["ReadWriteMany"], "Filesystem", "shared"),
    ("local", ["ReadWriteOnce"], "Filesystem", "local"),
    ("local", ["ReadWriteMany"], "Filesystem", "local"),  # no override configured for local
    ("", ["ReadWriteMany"], "Filesystem", ""),  # external
]


@pytest.mark.parametrize(("backend", "modes", "mode", "expected"), BACKEND_FOR)
def test_backend_for(drivers: DriverMap, backend: str, modes: list[str], mode: str | None, expected: str) -> None:
    driver = Driver("x.example", backend, external=not backend)
    assert drivers.backend_for(driver, modes, mode) == expected


def test_access_mode_override_is_configurable() -> None:
    drivers = DriverMap.from_config({"drivers": {"access_mode_override": {"local": {"ReadWriteMany": "shared"}}}})
    assert drivers.backend_for(Driver("a", "block"), ["ReadWriteMany"], "Filesystem") == "block"
    assert drivers.backend_for(Driver("a", "local"), ["ReadWriteMany"], "Filesystem") == "shared"


# ---- in-tree and CSI volume sources: for_volume_source

SOURCES = [
    ("rbd", {"rbd": {"monitors": ["10.0.0.1:6789"], "image": "foo"}}, ("kubernetes.io/rbd", "block")),
    ("rbd RWX", {"rbd": {"monitors": ["m"], "image": "foo"}, "accessModes": ["ReadWriteMany"]},
     ("kubernetes.io/rbd", "shared")),
    ("cephfs", {"cephfs": {"monitors": ["m"]}}, ("kubernetes.io/cephfs", "shared")),
    ("nfs", {"nfs": {"server": "nfs.example", "path": "/exports"}}, ("kubernetes.io/nfs", "shared")),
    ("awsElasticBlockStore", {"awsElasticBlockStore": {"volumeID": "vol-1"}}, ("kubernetes.io/aws-ebs", "block")),
    ("gcePersistentDisk", {"gcePersistentDisk": {"pdName": "d"}}, ("kubernetes.io/gce-pd", "block")),
    ("azureDisk", {"azureDisk": {"diskName": "d", "diskURI": "u"}}, ("kubernetes.io/azure-disk", "block")),
    ("azureFile", {"azureFile": {"secretName": "s", "shareName": "x"}}, ("kubernetes.io/azure-file", "shared")),
    ("iscsi", {"iscsi": {"targetPortal": "p", "iqn": "q", "lun": 0}}, ("kubernetes.io/iscsi", "block")),
    ("fc", {"fc": {"wwids": ["w"]}}, ("kubernetes.io/fc", "block")),
    ("cinder", {"cinder": {"volumeID": "v"}}, ("kubernetes.io/cinder", "block")),
    ("csi by its driver", {"csi": {"driver": "efs.csi.aws.com", "volumeHandle": "fs-1"}},
     ("efs.csi.aws.com", "shared")),
    ("csi unknown driver: fallback", {"csi": {"driver": "x.example", "volumeHandle": "h"}}, ("x.example", "block")),
    ("csi Block mode RWX stays block",
     {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "h"}, "accessModes": ["ReadWriteMany"],
      "volumeMode": "Block"}, ("ebs.csi.aws.com", "block")),
    ("csi provisioned by kstore: backend and provisioner from the attributes",
     {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "shared/pvc-1",
              "volumeAttributes": {"kstore.io/backend": "shared", "kstore.io/provisioner": "kubernetes.io/aws-ebs"}},
      "accessModes": ["ReadWriteOnce"]}, ("ebs.csi.aws.com", "shared")),
    ("flexVolume by its driver", {"flexVolume": {"driver": "example/lvm"}}, ("example/lvm", "block")),
    ("hostPath", {"hostPath": {"path": "/mnt/data"}}, ("kubernetes.io/host-path", "hostpath")),
    ("local", {"local": {"path": "/mnt/disks/ssd1"}}, ("kubernetes.io/local-volume", "local")),
    ("no source", {"capacity": {"storage": "1Gi"}}, None),
]


@pytest.mark.parametrize(("name", "spec", "expected"), SOURCES, ids=[s[0] for s in SOURCES])
def test_for_volume_source(drivers: DriverMap, name: str, spec: dict[str, Any],
                           expected: tuple[str, str] | None) -> None:
    driver = drivers.for_volume_source(spec)
    assert (None if driver is None else (driver.name, driver.backend)) == expected


def test_for_volume_source_of_an_external_driver() -> None:
    drivers = DriverMap.from_config({"drivers": {"external": ["ebs.csi.aws.com"]}})
    assert drivers.for_volume_source({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "v"}}) == Driver(
        "ebs.csi.aws.com", "", external=True)


# ---- config errors name the key

BAD = [
    ("not a mapping", ["block"], "drivers: invalid value"),
    ("unknown key", {"fallbak": "block"}, "drivers.fallbak: unknown key"),
    ("bad fallback", {"fallback": "tape"}, "drivers.fallback: unsupported value 'tape'"),
    ("external not a list", {"external": "ebs.csi.aws.com"}, "drivers.external: invalid value"),
    ("external empty name", {"external": [""]}, "drivers.external[0]: invalid value"),
    ("mappings not a list", {"mappings": {"block": ["a"]}}, "drivers.mappings: invalid value"),
    ("mapping without backend", {"mappings": [{"names": ["a"]}]}, "drivers.mappings[0].backend: Required value"),
    ("mapping without names", {"mappings": [{"backend": "block"}]}, "drivers.mappings[0].names: Required value"),
    ("bad backend", {"mappings": [{"backend": "blok", "names": ["a"]}]},
     "drivers.mappings[0].backend: unsupported value 'blok': must be one of block, shared, local"),
    ("unknown mapping key", {"mappings": [{"backend": "block", "names": ["a"], "zone": "x"}]},
     "drivers.mappings[0].zone: unknown key"),
    ("name not a string", {"mappings": [{"backend": "block", "names": ["a", 3]}]},
     "drivers.mappings[0].names[1]: invalid value 3"),
    ("duplicate name", {"mappings": [{"backend": "block", "names": ["a"]}, {"backend": "shared", "names": ["a"]}]},
     "drivers.mappings[1].names[0]: Duplicate value: 'a'"),
    ("no-provisioner cannot be mapped", {"mappings": [{"backend": "block", "names": ["kubernetes.io/no-provisioner"]}]},
     "drivers.mappings[0].names[0]: kubernetes.io/no-provisioner never provisions"),
    ("negative attach limit", {"mappings": [{"backend": "block", "names": ["a"], "attach_limit": -1}]},
     "drivers.mappings[0].attach_limit: invalid value -1"),
    ("unknown operation", {"mappings": [{"backend": "block", "names": ["a"], "latency": {"format": {"fixed": 1}}}]},
     "drivers.mappings[0].latency.format: unknown operation"),
    ("unknown distribution", {"mappings": [{"backend": "block", "names": ["a"], "latency": {"attach": {"normal": 1}}}]},
     "drivers.mappings[0].latency.attach: invalid value"),
    ("negative fixed", {"mappings": [{"backend": "block", "names": ["a"], "latency": {"attach": {"fixed": -1}}}]},
     "drivers.mappings[0].latency.attach.fixed: invalid value -1: must be 0 or more"),
    ("uniform low > high",
     {"mappings": [{"backend": "block", "names": ["a"], "latency": {"mount": {"uniform": [2, 1]}}}]},
     "drivers.mappings[0].latency.mount.uniform: invalid value [2, 1]"),
    ("lognormal without sigma",
     {"mappings": [{"backend": "block", "names": ["a"], "latency": {"mount": {"lognormal": {"median": 1}}}}]},
     "drivers.mappings[0].latency.mount.lognormal: invalid value"),
    ("lognormal zero median",
     {"mappings": [{"backend": "block", "names": ["a"],
                    "latency": {"mount": {"lognormal": {"median": 0, "sigma": 1}}}}]},
     "drivers.mappings[0].latency.mount.lognormal.median: invalid value 0"),
    ("latency seconds not a number",
     {"mappings": [{"backend": "block", "names": ["a"], "latency": {"mount": {"fixed": "1s"}}}]},
     "drivers.mappings[0].latency.mount.fixed: invalid value '1s': must be a number of seconds"),
    ("override of an unknown backend", {"access_mode_override": {"tape": {}}},
     "drivers.access_mode_override.tape: unsupported value 'tape'"),
    ("override of an unknown access mode", {"access_mode_override": {"block": {"ReadWriteAll": "shared"}}},
     "drivers.access_mode_override.block.ReadWriteAll: unknown access mode"),
    ("override to an unknown backend", {"access_mode_override": {"block": {"ReadWriteMany": "nfs"}}},
     "drivers.access_mode_override.block.ReadWriteMany: unsupported value 'nfs'"),
]


@pytest.mark.parametrize(("name", "section", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_config(name: str, section: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        DriverMap.from_config({"drivers": section})
    assert str(e.value).startswith(message), str(e.value)


def test_bad_default_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=f"driver mappings {missing}: cannot read it"):
        DriverMap.from_config({}, default_path=missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("drivers:\n  fallback: tape\n")
    with pytest.raises(ConfigError, match=f"driver mappings {bad}: drivers.fallback: unsupported value"):
        DriverMap.from_config({}, default_path=bad)
    bad.write_text("fallback: block\n")
    with pytest.raises(ConfigError, match="want a top-level `drivers:` mapping"):
        DriverMap.from_config({}, default_path=bad)


def test_other_default_file(tmp_path: Path) -> None:
    path = tmp_path / "drivers.yaml"
    path.write_text("drivers:\n  fallback: shared\n  mappings:\n  - {backend: local, names: [a.example]}\n")
    drivers = DriverMap.from_config({}, default_path=path)
    assert drivers.resolve("a.example") == Driver("a.example", "local")
    assert drivers.resolve("ebs.csi.aws.com") == Driver("ebs.csi.aws.com", "shared")


def test_parse_a_section_alone_and_build_directly() -> None:
    drivers = DriverMap.parse({"mappings": [{"backend": "shared", "names": ["*.nfs.example"]}]})
    assert drivers.resolve("a.nfs.example") == Driver("a.nfs.example", "shared")
    assert drivers.resolve("ebs.csi.aws.com") == Driver("ebs.csi.aws.com", "block")  # no file underneath
    built = DriverMap(mappings=(DriverEntry(("a",), "local"), DriverEntry(("a",), "shared")))
    assert built.resolve("a") == Driver("a", "local")  # the first mapping of a name wins
