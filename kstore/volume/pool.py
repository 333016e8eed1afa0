"""The emulated storage pool: the volumes behind provisioned PVs, as real files.

Design (DESIGN §4):
- Layout under the state dir:
      <state>/pool/block/<name>            sparse image file of exactly the volume's size
      <state>/pool/shared/<name>/          directory, with a `.kstore-volume` marker (JSON)
      <state>/nodes/<node>/local/<name>/   directory on one node (an image file when the
                                           claim asks for volumeMode Block)
  A directory's marker records its size (and when it was made); an image's size is its own.
- Operations are blocking (callers run them on an executor) and idempotent where Kubernetes'
  are: provisioning a name that exists with the same size returns it (a retry after a crash
  between "image made" and "PV written"), deleting a missing volume succeeds.
- Atomic: a volume appears under its final name only complete. An image is made under a
  hidden temporary name and hard-linked into place (no-clobber); a directory is made and
  marked under a temporary name and renamed into place; a directory is deleted by renaming
  it away first. A crash leaves at most a hidden `.tmp-*` / `.del-*` entry, which
  `list_volumes` ignores and `clean_temp` removes. No fsync: this guards against a killed
  process, not a power cut.
- Safety: the emulator never deletes outside its state dir. Every operation recomputes where
  the volume must live from (backend, name, node) — names must be plain file names — and
  refuses (`PoolError("Unsafe")`) a handle whose path says otherwise, a symlink in its place,
  or a pool directory that resolves outside the state dir. Handles come from PVs: user input.
- Capacity: `pool: {capacity: 100Gi}` in the cluster config bounds the sum of the sizes of all
  volumes (pool and node-local), to emulate a full disk. The sum is counted once from the disk,
  then kept in memory under a lock: one Pool per process that provisions (the pv-controller).
  Provisioning or growing past it raises `PoolError("NoSpace")` before anything is made.
- Failures are `PoolError(reason, message)`; the message says what failed and why, for a
  Warning event. A real ENOSPC or EACCES from the disk maps to the same reasons.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kstore.api.quantity import QuantityError, format_quantity, to_bytes
from kstore.config import ClusterConfig, ConfigError
from kstore.volume.handle import BACKENDS, BLOCK, LOCAL, SHARED, VolumeHandle

MARKER = ".kstore-volume"

# PoolError reasons.
NO_SPACE = "NoSpace"
PERMISSION_DENIED = "PermissionDenied"
NOT_FOUND = "NotFound"
UNSAFE = "Unsafe"
INVALID = "Invalid"
ALREADY_EXISTS = "AlreadyExists"
IO_ERROR = "IOError"

# A volume or node name is one plain path component; a leading dot is reserved for the pool's
# own temporary entries.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_TEMP = re.compile(r"\.(tmp|del)-[0-9a-f]+-")


class PoolError(Exception):
    """A pool operation failed. `reason` is one of the constants above; `str()` is the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


def _os_error(e: OSError, what: str) -> PoolError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = NO_SPACE
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = PERMISSION_DENIED
    elif e.errno == errno.ENOENT:
        reason = NOT_FOUND
    else:
        reason = IO_ERROR
    return PoolError(reason, f"{what}: {e.strerror or e}")


def _temp_name(kind: str, name: str) -> str:
    return f".{kind}-{secrets.token_hex(6)}-{name[:64]}"


@dataclasses.dataclass(frozen=True)
class _Found:
    """What is on disk at a volume's path."""

    is_image: bool
    size: int


class Pool:
    """The volumes under one state dir. Thread-safe; methods block."""

    def __init__(self, state_dir: Path, *, capacity: int | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.pool_root = self.state_dir / "pool"
        self.nodes_root = self.state_dir / "nodes"
        self.capacity = capacity
        self._lock = threading.Lock()
        self._used: int | None = None  # counted lazily from the disk

    @classmethod
    def from_config(cls, config: ClusterConfig | Mapping[str, Any], *, state_dir: Path | None = None) -> Pool:
        """From a ClusterConfig (its state dir and the `pool:` section of its `raw`), or from a
        raw config dict and a state dir. `pool: {capacity: 100Gi}`; default unlimited."""
        if isinstance(config, ClusterConfig):
            raw: Mapping[str, Any] = config.raw
            state_dir = config.state_dir if state_dir is None else state_dir
        else:
            raw = config
        if state_dir is None:
            raise TypeError("Pool.from_config: a raw config needs state_dir")
        section = raw.get("pool")
        if section is None:
            return cls(state_dir)
        if not isinstance(section, dict):
            raise ConfigError(f"pool: invalid value {section!r}: must be a mapping")
        for key in section:
            if key != "capacity":
                raise ConfigError(f"pool.{key}: unknown key (known: capacity)")
        value = section.get("capacity")
        if value is None:
            return cls(state_dir)
        try:
            capacity = to_bytes(value) if not isinstance(value, bool) else -1
        except QuantityError:
            capacity = -1
        if capacity < 0:
            raise ConfigError(f"pool.capacity: invalid value {value!r}: must be a quantity of bytes like 100Gi")
        return cls(state_dir, capacity=capacity)

    # ---- where volumes live

    def path_for(self, backend: str, name: str, node: str | None = None) -> Path:
        """Where the volume lives. Raises PoolError Invalid / Unsafe for a bad backend, name or node."""
        if backend not in BACKENDS:
            raise PoolError(INVALID, f"unknown pool backend {backend!r}: want one of {', '.join(BACKENDS)}")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise PoolError(UNSAFE, f"volume name {name!r} is not a plain file name: refusing to touch "
                                    "anything outside the pool")
        if backend != LOCAL:
            return self.pool_root / backend / name
        if node is None:
            raise PoolError(INVALID, f"local volume {name}: no node given: a local volume lives on one node, "
                                     "so its class needs volumeBindingMode WaitForFirstConsumer")
        if not _NAME.fullmatch(node):
            raise PoolError(UNSAFE, f"node name {node!r} is not a plain file name: refusing to touch "
                                    "anything outside the node's root")
        return self.nodes_root / node / "local" / name

    def _checked(self, handle: VolumeHandle) -> Path:
        """The path of a handle's volume, after the safety checks of the module docstring."""
        expected = self.path_for(handle.backend, handle.name, handle.node)
        parent = Path(os.path.realpath(expected.parent))
        root = Path(os.path.realpath(self.nodes_root if handle.backend == LOCAL else self.pool_root))
        if not parent.is_relative_to(root):
            raise PoolError(UNSAFE, f"volume {handle.volume_id}: {expected.parent} resolves to {parent}, "
                                    f"outside {root}: refusing to touch it")
        given = Path(handle.path)
        if given.name != expected.name or Path(os.path.realpath(given.parent)) != parent:
            raise PoolError(UNSAFE, f"volume {handle.volume_id}: path {str(given)!r} is not where the pool "
                                    f"keeps it ({expected}): refusing to touch it")
        if expected.is_symlink():
            raise PoolError(UNSAFE, f"volume {handle.volume_id}: {expected} is a symbolic link: refusing to "
                                    "touch it")
        return expected

    def _inspect(self, path: Path, volume_id: str) -> _Found | None:
        """What is at `path`: an image, a marked directory, nothing (None); anything else is Unsafe."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise _os_error(e, f"volume {volume_id}: cannot inspect {path}") from e
        if stat.S_ISREG(st.st_mode):
            return _Found(is_image=True, size=st.st_size)
        if stat.S_ISDIR(st.st_mode):
            marker = _read_marker(path)
            if marker is not None:
                return _Found(is_image=False, size=marker["size"])
        raise PoolError(UNSAFE, f"volume {volume_id}: {path} exists but is not a kstore volume: "
                                "refusing to touch it")

    # ---- capacity

    def used_bytes(self) -> int:
        """The sum of the sizes of all volumes (counted from the disk on first use)."""
        with self._lock:
            return self._count_used()

    def _count_used(self) -> int:  # call with the lock held
        if self._used is None:
            self._used = sum(h.size for h in self.list_volumes())
        return self._used

    def _reserve(self, volume_id: str, size: int) -> None:
        with self._lock:
            if self.capacity is None:
                if self._used is not None:
                    self._used += size
                return
            used = self._count_used()
            if used + size > self.capacity:
                free = max(0, self.capacity - used)
                raise PoolError(NO_SPACE, f"volume {volume_id}: the pool is full: {format_quantity(size)} "
                                          f"wanted, {format_quantity(free)} of {format_quantity(self.capacity)} "
                                          "free (raise pool.capacity in the cluster config, or delete volumes)")
            self._used = used + size

    def _release(self, size: int) -> None:
        with self._lock:
            if self._used is not None:
                self._used = max(0, self._used - size)

    # ---- operations

    def provision(self, *, backend: str, name: str, size_bytes: int, node: str | None = None,
                  volume_mode: str = "Filesystem", params: Mapping[str, str] | None = None,
                  source: VolumeHandle | None = None) -> VolumeHandle:
        """Make a volume of `size_bytes`, or return it when it exists with that size.

        With `source` (a claim's dataSource), the new volume starts as a copy of it (a clone:
        holes stay holes); the copy is made under the temporary name, so a half-made clone is
        never seen under the final name.

        `params` (the class parameters) are accepted for drivers that will want them; the
        emulated backends ignore them. Raises PoolError: Invalid (backend, size, mode),
        Unsafe (name, node), AlreadyExists (same name, other size or kind), NoSpace,
        PermissionDenied, IOError. On failure nothing is left behind.
        """
        del params
        volume_id = f"{backend}/{name}"
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
            raise PoolError(INVALID, f"volume {volume_id}: invalid size {size_bytes!r}: must be a positive "
                                     "number of bytes")
        path = self.path_for(backend, name, node)
        image = backend == BLOCK or (backend == LOCAL and volume_mode == "Block")
        if backend == SHARED and volume_mode == "Block":
            raise PoolError(INVALID, f"volume {volume_id}: a shared volume is a directory and cannot be "
                                     "volumeMode Block; use a block storage class")
        handle = VolumeHandle(backend, name, path, size_bytes, node if backend == LOCAL else None)
        self._checked(handle)
        found = self._inspect(path, volume_id)
        if found is not None:
            return self._existing(handle, found, image)
        self._reserve(volume_id, size_bytes)
        try:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise _os_error(e, f"volume {volume_id}: cannot create {path.parent}") from e
            self._checked(handle)  # again, now that the parents exist
            src = None
            if source is not None:
                src = self._checked(source)
                found_src = self._inspect(src, source.volume_id)
                if found_src is None:
                    raise PoolError(NOT_FOUND, f"clone source {source.volume_id} does not exist")
                if found_src.is_image != image:
                    raise PoolError(INVALID, f"cannot clone {source.volume_id} into {volume_id}: one is an image "
                                             "and the other a directory")
            made = self._make_image(path, size_bytes, src) if image else self._make_directory(handle, src)
        except BaseException:
            self._release(size_bytes)
            raise
        if not made:  # someone made it in the meantime
            self._release(size_bytes)
            found = self._inspect(path, volume_id)
            if found is None:
                raise PoolError(IO_ERROR, f"volume {volume_id}: {path} vanished while it was being made")
            return self._existing(handle, found, image)
        return handle

    @staticmethod
    def _existing(handle: VolumeHandle, found: _Found, image: bool) -> VolumeHandle:
        if found.is_image != image or found.size != handle.size:
            kind = "an image" if found.is_image else "a directory"
            raise PoolError(ALREADY_EXISTS, f"volume {handle.volume_id} already exists as {kind} of "
                                            f"{format_quantity(found.size)}; wanted "
                                            f"{'an image' if image else 'a directory'} of "
                                            f"{format_quantity(handle.size)}")
        return handle

    def _make_image(self, path: Path, size: int, source: Path | None = None) -> bool:
        """A sparse image under a temporary name, linked into place. False if `path` appeared."""
        temp = path.parent / _temp_name("tmp", path.name)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.ftruncate(fd, size)
                if source is not None:
                    _copy_sparse(source, fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, path)  # no-clobber, unlike rename
            except FileExistsError:
                return False
            return True
        except OSError as e:
            raise _os_error(e, f"volume {path.parent.name}/{path.name}: cannot create image {path}") from e
        finally:
            _unlink_quietly(temp)

    def _make_directory(self, handle: VolumeHandle, source: Path | None = None) -> bool:
        """A marked directory under a temporary name, renamed into place. False if it appeared."""
        path = handle.path
        temp = path.parent / _temp_name("tmp", path.name)
        try:
            if source is not None:
                shutil.copytree(source, temp, symlinks=True)
                (temp / MARKER).unlink(missing_ok=True)
            else:
                os.mkdir(temp, 0o700)
            _write_marker(temp, {"backend": handle.backend, "name": handle.name, "size": handle.size,
                                 "node": handle.node, "created": time.time()})
            os.chmod(temp, 0o777)  # like local-path and nfs-subdir provisioners: any pod user may write
            if os.path.lexists(path):
                return False
            try:
                os.rename(temp, path)
            except OSError as e:
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                    return False
                raise
            return True
        except OSError as e:
            raise _os_error(e, f"volume {handle.volume_id}: cannot create directory {path}") from e
        finally:
            if os.path.lexists(temp):
                shutil.rmtree(temp, ignore_errors=True)

    def delete(self, handle: VolumeHandle) -> None:
        """Remove the volume and everything in it. Deleting a missing volume succeeds."""
        path = self._checked(handle)
        found = self._inspect(path, handle.volume_id)
        if found is None:
            return
        try:
            if found.is_image:
                os.unlink(path)
            else:
                doomed = path.parent / _temp_name("del", path.name)
                os.rename(path, doomed)  # gone from its name at once; the rest may take a while
                shutil.rmtree(doomed)
        except FileNotFoundError:
            return
        except OSError as e:
            raise _os_error(e, f"volume {handle.volume_id}: cannot delete {path}") from e
        self._release(found.size)

    def recycle(self, handle: VolumeHandle) -> None:
        """Scrub the contents, keep the volume: a directory is emptied, an image zeroed."""
        path = self._checked(handle)
        found = self._require(path, handle)
        try:
            if found.is_image:
                os.truncate(path, 0)
                os.truncate(path, found.size)
                return
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name == MARKER:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
        except OSError as e:
            raise _os_error(e, f"volume {handle.volume_id}: cannot scrub {path}") from e

    def expand(self, handle: VolumeHandle, new_size_bytes: int) -> VolumeHandle:
        """Grow the volume to `new_size_bytes` (an image grows, a directory records the size).

        Growing to the size it has is a no-op; shrinking is Invalid.
        """
        path = self._checked(handle)
        found = self._require(path, handle)
        if isinstance(new_size_bytes, bool) or not isinstance(new_size_bytes, int) \
                or new_size_bytes < found.size:
            raise PoolError(INVALID, f"volume {handle.volume_id}: cannot shrink or resize to {new_size_bytes!r} "
                                     f"bytes: it has {found.size}")
        grown = dataclasses.replace(handle, path=path, size=new_size_bytes)
        delta = new_size_bytes - found.size
        if delta == 0:
            return grown
        self._reserve(handle.volume_id, delta)
        try:
            if found.is_image:
                os.truncate(path, new_size_bytes)
            else:
                marker = _read_marker(path) or {}
                _write_marker(path, {**marker, "size": new_size_bytes, "expanded": time.time()})
        except OSError as e:
            self._release(delta)
            raise _os_error(e, f"volume {handle.volume_id}: cannot grow {path}") from e
        return grown

    def exists(self, handle: VolumeHandle) -> bool:
        return self._inspect(self._checked(handle), handle.volume_id) is not None

    def usage(self, handle: VolumeHandle) -> int:
        """Bytes the volume takes on disk (allocated blocks; an image's holes do not count)."""
        path = self._checked(handle)
        found = self._require(path, handle)
        try:
            if found.is_image:
                return os.lstat(path).st_blocks * 512
            total = 0
            for dirpath, dirnames, filenames in os.walk(path):
                for name in dirnames + filenames:
                    if dirpath == str(path) and name == MARKER:
                        continue
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            return total
        except OSError as e:
            raise _os_error(e, f"volume {handle.volume_id}: cannot measure {path}") from e

    def _require(self, path: Path, handle: VolumeHandle) -> _Found:
        found = self._inspect(path, handle.volume_id)
        if found is None:
            raise PoolError(NOT_FOUND, f"volume {handle.volume_id} not found at {path}")
        return found

    # ---- listing and start-up

    def list_volumes(self) -> list[VolumeHandle]:
        """Every volume on disk, pool and node-local; temporary entries are not volumes."""
        places: list[tuple[str, Path, str | None]] = [(b, self.pool_root / b, None) for b in (BLOCK, SHARED)]
        if self.nodes_root.is_dir():
            for node_dir in sorted(self.nodes_root.iterdir()):
                if _NAME.fullmatch(node_dir.name):
                    places.append((LOCAL, node_dir / "local", node_dir.name))
        handles = []
        for backend, directory, node in places:
            try:
                names = sorted(os.listdir(directory))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                if not _NAME.fullmatch(name):
                    continue
                path = directory / name
                try:
                    found = self._inspect(path, f"{backend}/{name}")
                except PoolError:
                    continue
                if found is not None and (backend == LOCAL or found.is_image == (backend == BLOCK)):
                    handles.append(VolumeHandle(backend, name, path, found.size, node))
        return handles

    def clean_temp(self) -> list[Path]:
        """Remove what a crash left half-made or half-deleted (hidden `.tmp-*` / `.del-*`
        entries). Call at start-up, before any operation runs."""
        removed = []
        directories = [self.pool_root / BLOCK, self.pool_root / SHARED]
        if self.nodes_root.is_dir():
            directories += [d / "local" for d in self.nodes_root.iterdir()]
        for directory in directories:
            try:
                names = os.listdir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                if not _TEMP.match(name):
                    continue
                path = directory / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    _unlink_quietly(path)
                removed.append(path)
        return removed


def _read_marker(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or isinstance(data.get("size"), bool) or not isinstance(data.get("size"), int):
        return None
    return data


def _write_marker(directory: Path, data: dict[str, Any]) -> None:
    """Write the marker atomically (temporary file, then rename)."""
    temp = directory / f"{MARKER}.tmp"
    temp.write_text(json.dumps(data, sort_keys=True) + "\n")
    os.replace(temp, directory / MARKER)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _copy_sparse(source: Path, out_fd: int) -> None:
    """Copy the data extents of `source` into `out_fd` at the same offsets; holes stay holes."""
    with open(source, "rb") as src:
        fd = src.fileno()
        end = os.fstat(fd).st_size
        offset = 0
        while offset < end:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    return  # only a hole remains
                raise
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            while start < stop:
                chunk = os.pread(fd, min(4 << 20, stop - start), start)
                if not chunk:
                    return
                os.pwrite(out_fd, chunk, start)
                start += len(chunk)
            offset = stop
