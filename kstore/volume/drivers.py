"""Driver mappings: which emulated backend serves a provisioner, CSI driver or in-tree source.

Design:
- Users bring manifests from real clusters, so every name is served: well-known names map by
  what they are (`configs/drivers.yaml`: block, local or shared), any other name goes to the
  `fallback` backend. `kubernetes.io/no-provisioner` never provisions (`resolve` returns
  None), and names the config lists as `external` are left to a real external provisioner
  (`Driver(external=True)`, backend "").
- Order of resolution: no-provisioner → external (names or fnmatch patterns) → exact
  mapping names → mapping patterns in file order → fallback. The first match wins, so a
  cluster can hand a well-known name to an external provisioner without editing the file.
- `backend_for` applies `access_mode_override`: a backend that cannot serve a claim's access
  modes hands it to another one (an RWX claim on a block class is served by `shared`).
  Filesystem volumes only: a raw block device cannot be a directory.
- In-tree volume sources resolve by their Kubernetes plugin name (`IN_TREE_PLUGINS`: `rbd`
  → `kubernetes.io/rbd`), `csi` and `flexVolume` by their driver. hostPath and local sources
  are always node directories (backends "hostpath" and "local").
- `from_config` reads the cluster config's `drivers:` section laid over `configs/drivers.yaml`
  (the section's mappings first; its `fallback`, `external`, `access_mode_override` replace
  the file's). Every mistake is a `ConfigError` naming the key.
- Pure: reading the config file is the only I/O, at start-up.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from kstore.api.validation.volumes import ACCESS_MODES
from kstore.config import REPO_ROOT, ConfigError
from kstore.controllers.pv.model import NO_PROVISIONER, Driver
from kstore.volume.handle import ATTR_BACKEND, BACKENDS, BLOCK, LOCAL, SHARED
from kstore.volume.latency import LatencyProfile

DEFAULT_DRIVERS_FILE = REPO_ROOT / "configs" / "drivers.yaml"
HOSTPATH = "hostpath"  # the backend of hostPath sources: a directory under the node's root

# Kubernetes' plugin name of each in-tree PV source (`pkg/volume/*/`); `csi` and `flexVolume`
# resolve by their driver instead.
IN_TREE_PLUGINS: dict[str, str] = {
    "awsElasticBlockStore": "kubernetes.io/aws-ebs",
    "gcePersistentDisk": "kubernetes.io/gce-pd",
    "azureDisk": "kubernetes.io/azure-disk",
    "azureFile": "kubernetes.io/azure-file",
    "cinder": "kubernetes.io/cinder",
    "vsphereVolume": "kubernetes.io/vsphere-volume",
    "portworxVolume": "kubernetes.io/portworx-volume",
    "rbd": "kubernetes.io/rbd",
    "cephfs": "kubernetes.io/cephfs",
    "nfs": "kubernetes.io/nfs",
    "iscsi": "kubernetes.io/iscsi",
    "fc": "kubernetes.io/fc",
    "glusterfs": "kubernetes.io/glusterfs",
    "quobyte": "kubernetes.io/quobyte",
    "flocker": "kubernetes.io/flocker",
    "photonPersistentDisk": "kubernetes.io/photon-pd",
    "scaleIO": "kubernetes.io/scaleio",
    "storageos": "kubernetes.io/storageos",
}
HOST_PATH_PLUGIN = "kubernetes.io/host-path"
LOCAL_PLUGIN = "kubernetes.io/local-volume"

# CSI migration (`k8s.io/csi-translation-lib`): the CSI driver that took over each in-tree plugin.
MIGRATED_CSI_DRIVERS: dict[str, str] = {
    "kubernetes.io/aws-ebs": "ebs.csi.aws.com",
    "kubernetes.io/gce-pd": "pd.csi.storage.gke.io",
    "kubernetes.io/azure-disk": "disk.csi.azure.com",
    "kubernetes.io/azure-file": "file.csi.azure.com",
    "kubernetes.io/cinder": "cinder.csi.openstack.org",
    "kubernetes.io/vsphere-volume": "csi.vsphere.vmware.com",
    "kubernetes.io/portworx-volume": "pxd.portworx.com",
    "kubernetes.io/rbd": "rbd.csi.ceph.com",
}

# The attribute a provisioned PV carries when its CSI driver name had to differ from the
# provisioner's (pv_source.csi_driver_name), so the volume still resolves to the same driver.
ATTR_PROVISIONER = "kstore.io/provisioner"

DEFAULT_ACCESS_MODE_OVERRIDE: Mapping[str, Mapping[str, str]] = {
    BLOCK: {"ReadWriteMany": SHARED, "ReadOnlyMany": SHARED},
}
_CACHE_LIMIT = 4096


def is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


@dataclasses.dataclass(frozen=True)
class DriverEntry:
    """One mapping of `configs/drivers.yaml`: names (exact or fnmatch patterns) → backend."""

    names: tuple[str, ...]
    backend: str
    attach_limit: int | None = None
    latency: LatencyProfile | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class DriverMap:
    """Resolves names to `Driver`s. Immutable once built; `resolve` memoizes its answers."""

    mappings: tuple[DriverEntry, ...] = ()
    fallback: str = BLOCK
    external: tuple[str, ...] = ()
    access_mode_override: Mapping[str, Mapping[str, str]] = dataclasses.field(
        default_factory=lambda: DEFAULT_ACCESS_MODE_OVERRIDE
    )
    _exact: dict[str, DriverEntry] = dataclasses.field(init=False, repr=False)
    _patterns: tuple[tuple[str, DriverEntry], ...] = dataclasses.field(init=False, repr=False)
    _cache: dict[str, Driver | None] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        exact: dict[str, DriverEntry] = {}
        patterns: list[tuple[str, DriverEntry]] = []
        for entry in self.mappings:  # earlier mappings win
            for name in entry.names:
                if is_pattern(name):
                    patterns.append((name, entry))
                else:
                    exact.setdefault(name, entry)
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_patterns", tuple(patterns))
        object.__setattr__(self, "_cache", {})

    # ---- names

    def resolve(self, name: str) -> Driver | None:
        """The driver serving a provisioner / CSI driver / plugin name.

        None for `kubernetes.io/no-provisioner` (and the empty name): never provisions.
        """
        try:
            return self._cache[name]
        except KeyError:
            pass
        driver = self._resolve(name)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[name] = driver
        return driver

    def _resolve(self, name: str) -> Driver | None:
        if not name or name == NO_PROVISIONER:
            return None
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.external):
            return Driver(name=name, backend="", external=True)
        entry = self._exact.get(name)
        if entry is None:
            entry = next((e for pattern, e in self._patterns if fnmatch.fnmatchcase(name, pattern)), None)
        if entry is None:
            return Driver(name=name, backend=self.fallback)
        return Driver(name=name, backend=entry.backend, attach_limit=entry.attach_limit, latency=entry.latency)

    def named(self) -> list[Driver]:
        """Every driver listed by exact name (patterns and the fallback name no one), resolved."""
        return [d for d in (self.resolve(n) for n in self._exact) if d is not None]

    def backend_for(self, driver: Driver, access_modes: Sequence[str], volume_mode: str | None) -> str:
        """The backend that serves a claim with these access modes on `driver`.

        `access_mode_override` moves a Filesystem claim off a backend that cannot serve one
        of its modes (first override found, in the claim's order). External drivers have no
        backend ("").
        """
        if driver.external or not driver.backend or (volume_mode or "Filesystem") == "Block":
            return driver.backend
        overrides = self.access_mode_override.get(driver.backend) or {}
        for mode in access_modes:
            if mode in overrides:
                return overrides[mode]
        return driver.backend

    # ---- volume sources

    def for_volume_source(self, pv_spec: Mapping[str, Any]) -> Driver | None:
        """The driver serving a PV spec's volume source, with the backend this volume uses.

        A PV kstore provisioned carries its backend and provisioner name in
        `spec.csi.volumeAttributes`; any other spec gets `backend_for` its access modes and
        volume mode. For a CSI source the driver is named as `spec.csi.driver` (the
        VolumeAttachment attacher), even when it resolved through the provisioner name. None
        when the spec names no volume source or a name that never provisions.
        """
        if pv_spec.get("hostPath") is not None:
            return Driver(name=HOST_PATH_PLUGIN, backend=HOSTPATH)
        if pv_spec.get("local") is not None:
            return Driver(name=LOCAL_PLUGIN, backend=LOCAL)
        attributes: Mapping[str, Any] = {}
        name = csi_name = ""
        if isinstance(pv_spec.get("csi"), Mapping):
            csi = pv_spec["csi"]
            attributes = csi.get("volumeAttributes") if isinstance(csi.get("volumeAttributes"), Mapping) else {}
            csi_name = str(csi.get("driver") or "")
            name = str(attributes.get(ATTR_PROVISIONER) or csi_name)
        elif isinstance(pv_spec.get("flexVolume"), Mapping):
            name = str(pv_spec["flexVolume"].get("driver") or "")
        else:
            name = next((plugin for key, plugin in IN_TREE_PLUGINS.items() if pv_spec.get(key) is not None), "")
        driver = self.resolve(name)
        if driver is None:
            return None
        if csi_name and csi_name != driver.name:  # in-tree class, served by its migrated CSI driver
            driver = dataclasses.replace(driver, name=csi_name)
        if driver.external:
            return driver
        backend = attributes.get(ATTR_BACKEND)
        if backend not in BACKENDS:
            backend = self.backend_for(driver, pv_spec.get("accessModes") or (), pv_spec.get("volumeMode"))
        return driver if backend == driver.backend else dataclasses.replace(driver, backend=backend)

    # ---- config

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], *, default_path: Path = DEFAULT_DRIVERS_FILE) -> DriverMap:
        """From the cluster config (`ClusterConfig.raw`): its `drivers:` section over the file.

        Raises ConfigError naming the key (prefixed with the file for mistakes in the file).
        """
        base = _read_file(default_path)
        section = raw.get("drivers")
        over = _Layer.parse(section, "drivers") if section is not None else _Layer()
        return cls(
            mappings=over.mappings + base.mappings,
            fallback=over.fallback or base.fallback or BLOCK,
            external=over.external if over.external is not None else (base.external or ()),
            access_mode_override=(
                over.access_mode_override if over.access_mode_override is not None
                else base.access_mode_override if base.access_mode_override is not None
                else DEFAULT_ACCESS_MODE_OVERRIDE
            ),
        )

    @classmethod
    def parse(cls, section: Any, prefix: str = "drivers") -> DriverMap:
        """One `drivers:` section on its own (no file underneath)."""
        layer = _Layer.parse(section, prefix)
        return cls(
            mappings=layer.mappings,
            fallback=layer.fallback or BLOCK,
            external=layer.external or (),
            access_mode_override=(
                layer.access_mode_override if layer.access_mode_override is not None
                else DEFAULT_ACCESS_MODE_OVERRIDE
            ),
        )


# ---- parsing


def _read_file(path: Path) -> _Layer:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"driver mappings {path}: cannot read it ({e.strerror})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"driver mappings {path}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or "drivers" not in data:
        raise ConfigError(f"driver mappings {path}: want a top-level `drivers:` mapping")
    try:
        return _Layer.parse(data["drivers"], "drivers")
    except ConfigError as e:
        raise ConfigError(f"driver mappings {path}: {e}") from e


_SECTION_KEYS = ("fallback", "external", "access_mode_override", "mappings")
_ENTRY_KEYS = ("names", "backend", "attach_limit", "latency")


def _unknown_keys(section: Mapping[str, Any], prefix: str, known: tuple[str, ...]) -> None:
    for key in section:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown key (known: {', '.join(known)})")


def _backend(value: Any, key: str) -> str:
    if value not in BACKENDS:
        raise ConfigError(f"{key}: unsupported value {value!r}: must be one of {', '.join(BACKENDS)}")
    return str(value)


def _names(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: invalid value {value!r}: must be a list of names or patterns")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{key}[{i}]: invalid value {name!r}: must be a non-empty name or pattern")
        if name == NO_PROVISIONER:
            raise ConfigError(f"{key}[{i}]: {NO_PROVISIONER} never provisions and cannot be mapped")
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class _Layer:
    """One `drivers:` section as written; None where a key was not given."""

    mappings: tuple[DriverEntry, ...] = ()
    fallback: str | None = None
    external: tuple[str, ...] | None = None
    access_mode_override: Mapping[str, Mapping[str, str]] | None = None

    @classmethod
    def parse(cls, section: Any, prefix: str) -> _Layer:
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError(f"{prefix}: invalid value {section!r}: must be a mapping")
        _unknown_keys(section, prefix, _SECTION_KEYS)
        fallback = section.get("fallback")
        if fallback is not None:
            fallback = _backend(fallback, f"{prefix}.fallback")
        external = section.get("external")
        if external is not None:
            external = _names(external, f"{prefix}.external")
        return cls(
            mappings=_mappings(section.get("mappings"), f"{prefix}.mappings"),
            fallback=fallback,
            external=external,
            access_mode_override=_overrides(section.get("access_mode_override"), f"{prefix}.access_mode_override"),
        )


def _mappings(value: Any, prefix: str) -> tuple[DriverEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{prefix}: invalid value {value!r}: must be a list of {{backend, names}} mappings")
    entries = []
    seen: dict[str, str] = {}
    for i, item in enumerate(value):
        key = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: invalid value {item!r}: must be a mapping with backend and names")
        _unknown_keys(item, key, _ENTRY_KEYS)
        if "backend" not in item:
            raise ConfigError(f"{key}.backend: Required value")
        if "names" not in item:
            raise ConfigError(f"{key}.names: Required value")
        names = _names(item["names"], f"{key}.names")
        for j, name in enumerate(names):
            if name in seen:
                raise ConfigError(f"{key}.names[{j}]: Duplicate value: {name!r} (already in {seen[name]})")
            seen[name] = key
        limit = item.get("attach_limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ConfigError(f"{key}.attach_limit: invalid value {limit!r}: must be a non-negative integer")
        entries.append(DriverEntry(
            names=names,
            backend=_backend(item["backend"], f"{key}.backend"),
            attach_limit=limit,
            latency=LatencyProfile.parse(item.get("latency"), f"{key}.latency"),
        ))
    return tuple(entries)


def _overrides(value: Any, prefix: str) -> Mapping[str, Mapping[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix}: invalid value {value!r}: must map a backend to {{access mode: backend}}")
    result: dict[str, dict[str, str]] = {}
    for backend, modes in value.items():
        key = f"{prefix}.{backend}"
        _backend(backend, key)
        if modes is None:
            modes = {}
        if not isinstance(modes, dict):
            raise ConfigError(f"{key}: invalid value {modes!r}: must map an access mode to a backend")
        for mode, target in modes.items():
            if mode not in ACCESS_MODES:
                raise ConfigError(f"{key}.{mode}: unknown access mode (known: {', '.join(ACCESS_MODES)})")
            _backend(target, f"{key}.{mode}")
        result[backend] = dict(modes)
    return result
