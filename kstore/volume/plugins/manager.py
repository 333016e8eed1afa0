"""The PluginManager: which plugin serves a volume (Kubernetes' VolumePluginMgr
`FindPluginBySpec`, and the kubelet's claim → PV resolution of its desired-state populator).

Design:
- Built-in plugins, keyed by Kubernetes' plugin name: emptyDir, configMap, secret,
  downwardAPI, projected, hostPath, local, `kubernetes.io/csi` and one PoolPlugin per in-tree
  source (`kubernetes.io/rbd`, `kubernetes.io/nfs`, ... from drivers.IN_TREE_PLUGINS); the
  backend each volume gets is the driver mapping's business (pool_volume.py). FlexVolume
  drivers are discovered on first use (`init` run then) and cached; a driver whose init
  failed is retried only once its executable changes, so a broken driver costs one timeout,
  not one per reconcile pass.
- Claims: a pod volume naming a `persistentVolumeClaim`, or a generic `ephemeral` volume
  (the claim `<pod>-<volume>`, which must be owned by the pod), is first turned into its PV's
  Spec by `resolve(spec, pod)` through a `VolumeResolver` (default: ObjectVolumeResolver over
  the host's ObjectGetter), with Kubernetes' errors ("PVC is not bound", ...). `find(spec)`
  then picks the plugin of the PV's source. `find` on an unresolved claim is an error rather
  than a silent lookup, so a caller always holds the Spec the plugin acts on.
- `find` raises MountError NotFound "no volume plugin matched ..." when nothing serves the
  spec (Kubernetes' wording).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from kstore.volume.drivers import IN_TREE_PLUGINS
from kstore.volume.mount import INVALID, NOT_FOUND, MountError
from kstore.volume.plugins.base import (
    Obj,
    ObjectGetter,
    ResolvedClaim,
    Spec,
    VolumeHost,
    VolumePlugin,
    VolumeResolver,
)
from kstore.volume.plugins.emptydir import EmptyDirPlugin
from kstore.volume.plugins.flexvolume import FlexVolumePlugin, executable_for
from kstore.volume.plugins.hostpath import HostPathPlugin
from kstore.volume.plugins.local import LocalPlugin
from kstore.volume.plugins.pool_volume import CSI_PLUGIN, PoolPlugin
from kstore.volume.plugins.projection import ConfigMapPlugin, DownwardAPIPlugin, ProjectedPlugin, SecretPlugin


class ObjectVolumeResolver:
    """VolumeResolver over an ObjectGetter: claim → bound PV, checked both ways."""

    def __init__(self, objects: ObjectGetter) -> None:
        self.objects = objects

    def resolve_claim(self, namespace: str, claim_name: str) -> ResolvedClaim:
        key = f"{namespace}/{claim_name}"
        claim = self.objects.get("PersistentVolumeClaim", namespace, claim_name)
        if claim is None:
            raise MountError(NOT_FOUND, f'error processing PVC {key}: failed to fetch PVC from API server: '
                                        f'persistentvolumeclaims "{claim_name}" not found')
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            raise MountError(INVALID, f"error processing PVC {key}: can't start pod because PVC is being deleted")
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if (claim.get("status") or {}).get("phase") != "Bound" or not volume_name:
            raise MountError(NOT_FOUND, f"error processing PVC {key}: PVC is not bound")
        pv = self.objects.get("PersistentVolume", "", str(volume_name))
        if pv is None:
            raise MountError(NOT_FOUND, f'error processing PVC {key}: failed to fetch PV "{volume_name}" from API '
                                        f'server: persistentvolumes "{volume_name}" not found')
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        claim_uid = (claim.get("metadata") or {}).get("uid")
        if ref.get("name") != claim_name or ref.get("namespace", namespace) != namespace or \
                (ref.get("uid") and claim_uid and ref.get("uid") != claim_uid):
            raise MountError(INVALID, f'error processing PVC {key}: PV "{volume_name}" is bound to another claim '
                                      f"({ref.get('namespace')}/{ref.get('name')})")
        return ResolvedClaim(claim=claim, pv=pv)


class PluginManager:
    def __init__(self, host: VolumeHost, *, resolver: VolumeResolver | None = None) -> None:
        self.host = host
        if resolver is None and host.objects is not None:
            resolver = ObjectVolumeResolver(host.objects)
        self.resolver = resolver
        pool_plugins = [PoolPlugin(host, CSI_PLUGIN, "csi")]
        pool_plugins += [PoolPlugin(host, name, key) for key, name in IN_TREE_PLUGINS.items()]
        self._plugins: list[VolumePlugin] = [
            EmptyDirPlugin(host), ConfigMapPlugin(host), SecretPlugin(host), DownwardAPIPlugin(host),
            ProjectedPlugin(host), HostPathPlugin(host), LocalPlugin(host), *pool_plugins,
        ]
        self._by_name = {p.name: p for p in self._plugins}
        self._flex: dict[str, FlexVolumePlugin] = {}
        self._flex_failed: dict[str, tuple[float | None, MountError]] = {}
        self._flex_lock = threading.Lock()

    @property
    def plugins(self) -> list[VolumePlugin]:
        """The built-in plugins and the FlexVolume drivers discovered so far."""
        return [*self._plugins, *self._flex.values()]

    # ---- claims

    def resolve(self, spec: Spec, pod: Obj | None = None) -> Spec:
        """A claim volume of `pod` as its bound PV's Spec; any other spec unchanged."""
        if not spec.is_claim:
            return spec
        if pod is None:
            raise MountError(INVALID, f"volume {spec.name} names a claim: resolving it needs its pod")
        if self.resolver is None:
            raise MountError(INVALID, f"volume {spec.name} names a claim, and this volume host cannot read claims")
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        volume = spec.volume or {}
        claim_source = volume.get("persistentVolumeClaim")
        if isinstance(claim_source, Mapping):
            resolved = self.resolver.resolve_claim(namespace, str(claim_source.get("claimName") or ""))
            read_only = bool(claim_source.get("readOnly"))
        else:
            claim_name = f"{meta.get('name')}-{volume.get('name')}"
            resolved = self.resolver.resolve_claim(namespace, claim_name)
            owners = (resolved.claim.get("metadata") or {}).get("ownerReferences") or []
            if not any(o.get("controller") and o.get("uid") == meta.get("uid") for o in owners):
                raise MountError(INVALID, f"error processing PVC {namespace}/{claim_name}: PVC {namespace}/{claim_name} "
                                          f"was not created for pod {namespace}/{meta.get('name')} (pod is not owner)")
            read_only = False
        return Spec.from_pv(resolved.pv, read_only=read_only, pod_volume_name=spec.pod_volume_name)

    # ---- plugins

    def find(self, spec: Spec) -> VolumePlugin:
        """The plugin serving `spec` (resolve claims first)."""
        if spec.is_claim:
            raise MountError(INVALID, f"volume {spec.name} names a claim: resolve it to its PersistentVolume first "
                                      "(PluginManager.resolve)")
        flex = spec.source_of("flexVolume")
        if flex is not None:
            return self.flex_plugin(str(flex.get("driver") or ""))
        matches = [p for p in self._plugins if p.can_support(spec)]
        if not matches:
            keys = ", ".join(k for k, v in spec.source.items() if isinstance(v, Mapping)) or "none"
            raise MountError(NOT_FOUND, f'no volume plugin matched volume "{spec.name}" (sources: {keys})')
        return matches[0]

    def for_pod_volume(self, volume: Obj, pod: Obj) -> tuple[VolumePlugin, Spec]:
        """Resolve and find in one step: (plugin, the Spec it acts on)."""
        spec = self.resolve(Spec.from_volume(volume), pod)
        return self.find(spec), spec

    def find_by_name(self, name: str) -> VolumePlugin | None:
        """By Kubernetes' plugin name (`kubernetes.io/csi`, `flexvolume-vendor/driver`), e.g. to
        tear down what a restart found on disk."""
        if name.startswith("flexvolume-"):
            try:
                return self.flex_plugin(name.removeprefix("flexvolume-"))
            except MountError:
                return None
        return self._by_name.get(name)

    def find_by_dir_name(self, dir_name: str) -> VolumePlugin | None:
        """By the pod volume dir's name (`kubernetes.io~csi`, `vendor~driver`)."""
        for plugin in self.plugins:
            if plugin.dir_name == dir_name:
                return plugin
        if "~" in dir_name and not dir_name.startswith("kubernetes.io~"):
            try:
                return self.flex_plugin(dir_name.replace("~", "/", 1))
            except MountError:
                return None
        return None

    # ---- FlexVolume

    def flex_plugin(self, driver: str) -> FlexVolumePlugin:
        if not driver:
            raise MountError(INVALID, "flexVolume source without a driver")
        assert self.host.flex_dir is not None
        executable = executable_for(self.host.flex_dir, driver)
        with self._flex_lock:
            plugin = self._flex.get(driver)
            if plugin is not None:
                return plugin
            mtime = _mtime(executable)
            failed = self._flex_failed.get(driver)
            if failed is not None and failed[0] == mtime:
                raise failed[1]
            if mtime is None:
                error = MountError(NOT_FOUND, f'no volume plugin matched: FlexVolume driver "{driver}" is not '
                                              f"installed (no executable at {executable})")
                self._flex_failed[driver] = (mtime, error)
                raise error
            plugin = FlexVolumePlugin(self.host, driver)
            try:
                plugin.init()
            except Exception as e:
                error = MountError(getattr(e, "reason", NOT_FOUND),
                                   f'FlexVolume driver "{driver}": init failed: {e}')
                self._flex_failed[driver] = (mtime, error)
                raise error from e
            self._flex_failed.pop(driver, None)
            self._flex[driver] = plugin
            return plugin

    def probe_flex(self) -> list[str]:
        """Discover every driver in the plugin dir (running init); the drivers now usable."""
        assert self.host.flex_dir is not None
        try:
            entries = sorted(os.listdir(self.host.flex_dir))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            if "~" not in entry or entry.startswith("."):
                continue
            driver = entry.replace("~", "/", 1)
            try:
                self.flex_plugin(driver)
                found.append(driver)
            except MountError:
                continue
        return found


def _mtime(path: Path) -> float | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime if os.access(path, os.X_OK) else None



