"""hostPath volumes (Kubernetes' `pkg/volume/hostpath`, read for behaviour).

Design:
- The path is confined under the node's root (`common.confine`): a hostPath of `/` or `/etc`
  is `<state>/nodes/<node>/root/` or `.../root/etc`, never this machine's. A path inside the
  state dir is used as it is. A path under `/dev`, or a type of BlockDevice or CharDevice,
  is refused (UnsafePath): the emulator hands no device of this machine to a pod.
- As in Kubernetes nothing is mounted and there is no pod volume dir: the mounter's `path` is
  the (confined) host path itself, which the CRI step binds into containers; set_up runs
  Kubernetes' type check (DirectoryOrCreate / FileOrCreate create; Directory, File, Socket
  check; "" checks nothing), with Kubernetes' messages: `hostPath type check failed: <path>
  is not a directory, it's a File`, `hostPath <path> doesn't exist`.
- tear_down does nothing (the host path is not the pod's).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kstore.volume.mount import INVALID, MountError, UnsafePath
from kstore.volume.plugins.base import Obj, Spec, VolumeMounter, VolumePlugin, VolumeUnmounter
from kstore.volume.plugins.common import confine

HOST_PATH_PLUGIN = "kubernetes.io/host-path"
TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
DEVICE_TYPES = ("CharDevice", "BlockDevice")


def _file_type(path: Path) -> str:
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        return "Directory"
    if stat.S_ISREG(mode):
        return "File"
    if stat.S_ISSOCK(mode):
        return "Socket"
    if stat.S_ISCHR(mode):
        return "CharDevice"
    if stat.S_ISBLK(mode):
        return "BlockDevice"
    return "Unknown"


def check_type(path: Path, shown: str, path_type: str) -> None:
    """Kubernetes' hostPath checkType, on the confined path; messages name the pod's path."""
    if path_type == "DirectoryOrCreate":
        if not os.path.exists(path):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        path_type = "Directory"
    elif path_type == "FileOrCreate":
        if not os.path.exists(path):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)  # under the node root: the node's disk
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                os.close(fd)
            except OSError as e:
                raise MountError(INVALID, f"hostPath {shown}: cannot create it: {e.strerror}") from e
        path_type = "File"
    descriptions = {"Directory": "directory", "File": "file", "Socket": "socket file"}
    if path_type not in descriptions:
        raise MountError(INVALID, f"{path_type} is an invalid volume type")
    if not os.path.exists(path):
        raise MountError(INVALID, f"hostPath {shown} doesn't exist")
    actual = _file_type(path)
    if actual != path_type:
        raise MountError(INVALID, f"hostPath type check failed: {shown} is not a {descriptions[path_type]}, "
                                  f"it's a {actual}")


class HostPathPlugin(VolumePlugin):
    name = HOST_PATH_PLUGIN

    def can_support(self, spec: Spec) -> bool:
        return spec.source_of("hostPath") is not None

    def host_path(self, spec: Spec) -> tuple[Path, str, str]:
        """(confined path, the path as written, type)."""
        source = spec.source_of("hostPath") or {}
        written = source.get("path")
        path_type = source.get("type") or ""
        if path_type in DEVICE_TYPES:
            raise UnsafePath(f"hostPath {written} of type {path_type}: the emulator never hands a device of this "
                             "machine to a pod; refused")
        if path_type not in TYPES:
            raise MountError(INVALID, f"{path_type} is an invalid volume type")
        return confine(self.host, written, "hostPath"), str(written), path_type

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        return _Mounter(self, spec)

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return _Unmounter(self.host.pod_volume_dir(pod_uid, self.name, volume_name))


class _Mounter(VolumeMounter):
    def __init__(self, plugin: HostPathPlugin, spec: Spec) -> None:
        self.plugin = plugin
        self.spec = spec
        self.path, self.written, self.path_type = plugin.host_path(spec)
        self.read_only = spec.is_read_only("hostPath")

    def set_up(self, *, fs_group: int | None = None) -> None:
        with self.plugin.timer("volume_mount", self.spec):
            if self.path_type:
                check_type(self.path, self.written, self.path_type)


class _Unmounter(VolumeUnmounter):
    """Nothing to undo: the host path is the node's, not the pod's. `path` is where a pod
    volume dir would be (it never exists for a hostPath)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def tear_down(self) -> None:
        return None
