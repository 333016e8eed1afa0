"""emptyDir volumes (Kubernetes' `pkg/volume/emptydir`, read for behaviour).

A directory in the pod's volume dir (`kubernetes.io~empty-dir/<name>`, mode 0777), made at
set_up and removed with everything in it at tear_down. `medium: Memory` (and HugePages) is a
tmpfs mounted there, `sizeLimit` its size; the simulated mounter records the tmpfs.
"""

from __future__ import annotations

import os

from kstore.api.quantity import QuantityError, to_bytes
from kstore.volume.mount import INVALID, MountError
from kstore.volume.plugins.base import Obj, Spec, VolumeMounter, VolumePlugin, VolumeUnmounter, pod_uid
from kstore.volume.plugins.common import remove_tree

EMPTY_DIR_PLUGIN = "kubernetes.io/empty-dir"


class EmptyDirPlugin(VolumePlugin):
    name = EMPTY_DIR_PLUGIN

    def can_support(self, spec: Spec) -> bool:
        return spec.volume is not None and spec.source_of("emptyDir") is not None

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        return _Mounter(self, spec, pod)

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return _Unmounter(self, volume_name, pod_uid)


class _Mounter(VolumeMounter):
    def __init__(self, plugin: EmptyDirPlugin, spec: Spec, pod: Obj) -> None:
        self.plugin = plugin
        self.spec = spec
        self.path = plugin.host.pod_volume_dir(pod_uid(pod), plugin.name, spec.name)
        source = spec.source_of("emptyDir") or {}
        medium = str(source.get("medium") or "")
        self.memory = medium == "Memory" or medium.startswith("HugePages")
        self.size: int | None = None
        if source.get("sizeLimit") is not None:
            try:
                self.size = to_bytes(source["sizeLimit"])
            except (QuantityError, TypeError) as e:
                raise MountError(INVALID, f"emptyDir {spec.name}: invalid sizeLimit {source['sizeLimit']!r}") from e

    def set_up(self, *, fs_group: int | None = None) -> None:
        mounter = self.plugin.host.mounter
        with self.plugin.timer("volume_mount", self.spec):
            if self.memory:
                if not mounter.is_mount_point(self.path):
                    mounter.mount_tmpfs(self.path, size_bytes=self.size, mode=0o777)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
            os.chmod(self.path, 0o777)


class _Unmounter(VolumeUnmounter):
    def __init__(self, plugin: EmptyDirPlugin, volume_name: str, pod_uid: str) -> None:
        self.plugin = plugin
        self.path = plugin.host.pod_volume_dir(pod_uid, plugin.name, volume_name)

    def tear_down(self) -> None:
        with self.plugin.timer("volume_unmount"):
            remove_tree(self.plugin.host.mounter, self.plugin.host, self.path)
