"""`local` PersistentVolumes (Kubernetes' `pkg/volume/local`, read for behaviour).

Design:
- `local.path` inside the state dir (what kstore's local backend provisions:
  `<state>/nodes/<node>/local/<name>`) is used as it is; any other path is confined under the
  node's root like a hostPath (`common.confine`), and a path naming a device (`/dev/vda`) is
  refused (UnsafePath).
- Filesystem: set_up binds the directory into the pod dir
  (`kubernetes.io~local-volume/<pv>`), read-only when asked. A confined path that does not
  exist yet is made (a local PV from a real cluster names its disk's mount point); a path
  inside the state dir must exist (NotFound: the volume was deleted).
- Block: the volume is an image file; the node attaches its loop device itself in
  set_up_device (a local volume is never attached by the controller), maps it into the pod
  (common.DeviceMapper), and detaches it when the last pod unmaps it.
"""

from __future__ import annotations

import os
from pathlib import Path

from kstore.volume.mount import INVALID, NOT_FOUND, MountError
from kstore.volume.plugins.base import (
    BlockMappablePlugin,
    BlockVolumeMapper,
    BlockVolumeUnmapper,
    Obj,
    Spec,
    VolumeMounter,
    VolumePlugin,
    VolumeUnmounter,
    pod_uid,
)
from kstore.volume.plugins.common import (
    BindMounter,
    BindUnmounter,
    DeviceMapper,
    DeviceUnmapper,
    confine,
    inside_state,
)

LOCAL_PLUGIN = "kubernetes.io/local-volume"


class LocalPlugin(VolumePlugin, BlockMappablePlugin):
    name = LOCAL_PLUGIN

    def can_support(self, spec: Spec) -> bool:
        return spec.pv is not None and spec.source_of("local") is not None

    def local_path(self, spec: Spec) -> tuple[Path, bool]:
        """(the path, whether it lies in the state dir as written)."""
        written = (spec.source_of("local") or {}).get("path")
        path = confine(self.host, written, "local volume path")
        return path, isinstance(written, str) and inside_state(self.host, Path(written))

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        if spec.is_block:
            raise MountError(INVALID, f"volume {spec.name} is volumeMode Block: map it, do not mount it")
        path, as_written = self.local_path(spec)

        def source() -> Path:
            if not os.path.exists(path):
                if as_written:
                    raise MountError(NOT_FOUND, f"local volume {spec.name}: path {path} does not exist")
                path.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                raise MountError(INVALID, f"local volume {spec.name}: {path} is not a directory")
            return path

        target = self.host.pod_volume_dir(pod_uid(pod), self.name, spec.name)
        return BindMounter(self, spec, target, source, read_only=spec.is_read_only("local"))

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return BindUnmounter(self, self.host.pod_volume_dir(pod_uid, self.name, volume_name))

    def new_block_mapper(self, spec: Spec, pod: Obj) -> BlockVolumeMapper:
        if not spec.is_block:
            raise MountError(INVALID, f"volume {spec.name} is volumeMode Filesystem: mount it, do not map it")
        path, _ = self.local_path(spec)

        def image() -> Path:
            if not path.is_file():
                raise MountError(NOT_FOUND, f"local volume {spec.name}: {path} is not an image file")
            return path

        return DeviceMapper(self, spec, pod_uid(pod), spec.name, image, attach_here=True)

    def new_block_unmapper(self, volume_name: str, pod_uid: str) -> BlockVolumeUnmapper:
        return DeviceUnmapper(self, pod_uid, volume_name)
