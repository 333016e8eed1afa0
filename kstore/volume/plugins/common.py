"""Pieces several plugins share: bind set-up / tear-down, removing a pod's volume directory
safely, per-volume locks, host path confinement, block-device mapping, PoolError translation.

Safety: removal never crosses a mount point (a directory with a mount below it is Busy), never
follows symlinks, and only happens inside the state dir; an unmounted volume directory that
still holds files is left alone (Busy), since those files are a volume's data.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import posixpath
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from kstore.volume.mount import BUSY, FAILED, INVALID, NOT_FOUND, Mounter, MountError, UnsafePath
from kstore.volume.plugins.base import (
    BlockVolumeMapper,
    BlockVolumeUnmapper,
    Spec,
    VolumeHost,
    VolumeMounter,
    VolumePlugin,
    VolumeUnmounter,
    plain_name,
)
from kstore.volume.pool import INVALID as POOL_INVALID
from kstore.volume.pool import NOT_FOUND as POOL_NOT_FOUND
from kstore.volume.pool import UNSAFE as POOL_UNSAFE
from kstore.volume.pool import PoolError


def pool_error(e: PoolError) -> MountError:
    """A PoolError as a MountError (NoSpace, PermissionDenied, IOError: Failed)."""
    if e.reason == POOL_UNSAFE:
        return UnsafePath(e.message)
    return MountError({POOL_NOT_FOUND: NOT_FOUND, POOL_INVALID: INVALID}.get(e.reason, FAILED), e.message)


def inside_state(host: VolumeHost, path: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(host.state_dir))


def _check_inside(host: VolumeHost, path: Path) -> None:
    resolved = Path(os.path.realpath(path.parent)) / path.name
    if not resolved.is_relative_to(os.path.realpath(host.state_dir)):
        raise UnsafePath(f"{path} is outside the state dir {host.state_dir}: refusing to remove it")


def remove_mount_dir(mounter: Mounter, host: VolumeHost, path: Path) -> None:
    """Unmount `path` if it is a mount point, then remove the (now empty) directory or file.

    A directory that still holds files after unmounting is Busy: they are a volume's data.
    """
    _check_inside(host, path)
    if mounter.is_mount_point(path):
        mounter.unmount(path)
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            os.rmdir(path)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise MountError(BUSY, f"{path} is not empty after unmounting: refusing to delete what is in it") from e
        raise MountError(FAILED, f"cannot remove {path}: {e.strerror}") from e


def remove_tree(mounter: Mounter, host: VolumeHost, path: Path) -> None:
    """Remove a directory the plugin filled itself (emptyDir, projected files): unmount its
    tmpfs first; Busy if anything else is mounted below it."""
    _check_inside(host, path)
    if not os.path.lexists(path):
        return
    itself = {Path(os.path.normpath(os.path.abspath(path))), Path(os.path.realpath(path))}
    below = [m.target for m in mounter.mounts_under(path) if m.target not in itself]
    if below:
        raise MountError(BUSY, f"{path}: still mounted below it: {', '.join(map(str, below))}")
    if mounter.is_mount_point(path):
        mounter.unmount(path)
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise MountError(FAILED, f"cannot remove {path}: {e.strerror or e}") from e


@contextlib.contextmanager
def volume_lock(host: VolumeHost, backend: str, name: str) -> Iterator[None]:
    """An exclusive lock on one pool volume, across threads and processes (flock)."""
    locks = host.state_dir / "run" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / f"{plain_name(backend, 'backend')}~{plain_name(name, 'volume')}.lock",
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ---- host paths


DEVICE_PREFIX = PurePosixPath("/dev")


def confine(host: VolumeHost, path: object, what: str) -> Path:
    """Where a host path of a pod or PV lives in the emulator.

    A path inside the state dir is used as it is (volumes kstore made); any other absolute
    path is confined under the node's root: `/etc` → `<state>/nodes/<node>/root/etc`, never
    the real one. A path naming a host device (`/dev/...`) is refused (UnsafePath), as is one
    whose confined place resolves out of the node root through a symlink.
    """
    if not isinstance(path, str) or not path:
        raise MountError(INVALID, f"invalid {what} {path!r}: must be a non-empty path")
    if ".." in PurePosixPath(path).parts:
        raise MountError(INVALID, f"invalid {what} `{path}`: must not contain '..'")
    normal = PurePosixPath(posixpath.normpath(posixpath.join("/", path)))
    if normal == DEVICE_PREFIX or normal.is_relative_to(DEVICE_PREFIX):
        raise UnsafePath(f"{what} {path} names a host device: the emulator never hands a device of this machine "
                         "to a pod; refused")
    if normal.is_absolute() and Path(os.path.realpath(normal)).is_relative_to(os.path.realpath(host.state_dir)):
        return Path(os.path.realpath(normal))
    root = host.node_root()
    target = root / normal.relative_to("/")
    root.mkdir(parents=True, exist_ok=True)
    resolved = Path(os.path.realpath(target))
    if not resolved.is_relative_to(os.path.realpath(root)):
        raise UnsafePath(f"{what} {path}: {target} resolves to {resolved}, outside the node root {root}: "
                         "refusing to use it")
    return target


# ---- bind set-up and tear-down


class BindMounter(VolumeMounter):
    """set_up = bind `source()` at the pod's volume dir (read-only when asked)."""

    def __init__(self, plugin: VolumePlugin, spec: Spec, path: Path, source: Callable[[], Path | str],
                 *, read_only: bool) -> None:
        self.plugin = plugin
        self.spec = spec
        self.path = path
        self._source = source
        self.read_only = read_only

    def set_up(self, *, fs_group: int | None = None) -> None:
        host = self.plugin.host
        with self.plugin.timer("volume_mount", self.spec):
            if host.mounter.is_mount_point(self.path):
                return
            source = self._source()
            created = not os.path.lexists(self.path)
            try:
                host.mounter.bind_mount(source, self.path, read_only=self.read_only)
            except BaseException:
                if created:
                    with contextlib.suppress(OSError):
                        os.rmdir(self.path)
                raise


class BindUnmounter(VolumeUnmounter):
    def __init__(self, plugin: VolumePlugin, path: Path) -> None:
        self.plugin = plugin
        self.path = path

    def tear_down(self) -> None:
        with self.plugin.timer("volume_unmount"):
            remove_mount_dir(self.plugin.host.mounter, self.plugin.host, self.path)


# ---- volumeMode Block

DEVICE_MARKER = ".kstore-device"  # in a global map dir: the loop device set_up_device attached


class DeviceMapper(BlockVolumeMapper):
    """Hands a loop device to a pod (see BlockVolumeMapper): `<global map>/<pod-uid>` gets the
    device bind-mounted on it, the pod path is a symlink to the device. `attach_image`, when
    given, is a node-local image this mapper attaches itself in set_up_device (and records, so
    the unmapper detaches it once no pod maps it)."""

    def __init__(self, plugin: VolumePlugin, spec: Spec, pod_uid: str, volume: str,
                 image: Callable[[], Path], *, attach_here: bool) -> None:
        host = plugin.host
        self.plugin = plugin
        self.spec = spec
        self.pod_uid = pod_uid
        self.pod_device_path = host.pod_device_dir(pod_uid, plugin.name, volume)
        self.global_map_path = host.plugin_dir(plugin.name) / "volumeDevices" / plain_name(volume, "volume name")
        self._image = image
        self._attach_here = attach_here

    def set_up_device(self, device_path: str) -> str:
        if not self._attach_here:
            return device_path
        host = self.plugin.host
        image = self._image()
        device = host.mounter.attach_loop(image)
        self.global_map_path.mkdir(parents=True, exist_ok=True)
        write_json(self.global_map_path / DEVICE_MARKER, {"device": device, "image": str(image)})
        return device

    def map_pod_device(self, device_path: str) -> Path:
        host = self.plugin.host
        with self.plugin.timer("map_volume", self.spec):
            image = Path(os.path.realpath(self._image()))
            backing = host.mounter.loop_backing_file(device_path)
            if backing is None or Path(os.path.realpath(backing)) != image:
                raise MountError(FAILED, f"{device_path} is not the device of {image} (it is backed by {backing}): "
                                         "not mapping it")
            ref = self.global_map_path / self.pod_uid
            if not host.mounter.is_mount_point(ref):
                host.mounter.bind_mount(device_path, ref)
            link = self.pod_device_path
            link.parent.mkdir(parents=True, exist_ok=True)
            if os.path.islink(link):
                if os.readlink(link) == device_path:
                    return link
                os.unlink(link)
            elif os.path.lexists(link):
                raise MountError(BUSY, f"{link} exists and is not a device link: not replacing it")
            os.symlink(device_path, link)
            return link


class DeviceUnmapper(BlockVolumeUnmapper):
    def __init__(self, plugin: VolumePlugin, pod_uid: str, volume: str) -> None:
        host = plugin.host
        self.plugin = plugin
        self.pod_uid = plain_name(pod_uid, "pod uid")
        self.pod_device_path = host.pod_device_dir(pod_uid, plugin.name, volume)
        self.global_map_path = host.plugin_dir(plugin.name) / "volumeDevices" / plain_name(volume, "volume name")

    def unmap_pod_device(self) -> None:
        host = self.plugin.host
        with self.plugin.timer("unmap_volume"):
            if os.path.islink(self.pod_device_path):
                os.unlink(self.pod_device_path)
            elif os.path.lexists(self.pod_device_path):
                raise MountError(BUSY, f"{self.pod_device_path} is not a device link: not removing it")
            ref = self.global_map_path / self.pod_uid
            if os.path.lexists(ref):
                remove_mount_dir(host.mounter, host, ref)

    def tear_down_device(self) -> None:
        host = self.plugin.host
        with self.plugin.timer("unmap_device"):
            if not self.global_map_path.is_dir():
                return
            if any(e.name != DEVICE_MARKER for e in os.scandir(self.global_map_path)):
                return  # other pods still map it
            marker = read_json(self.global_map_path / DEVICE_MARKER)
            if marker is not None:
                device = str(marker.get("device") or "")
                if device and host.mounter.loop_backing_file(device) is not None:
                    host.mounter.detach_loop(device)
                os.unlink(self.global_map_path / DEVICE_MARKER)
            with contextlib.suppress(OSError):
                os.rmdir(self.global_map_path)


def write_json(path: Path, data: dict[str, object]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, sort_keys=True))
    os.replace(temp, path)


def read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

