"""Mount utilities: the one module that runs losetup, mkfs.ext4, resize2fs, e2fsck and blkid and
makes mount(2) / umount2(2) calls (DESIGN §4, STYLE §4). Volume plugins (kstore/volume/plugins)
call it; nothing else does.

Design:
- `Mounter` is the interface. `RealMounter` runs the commands (root with CAP_SYS_ADMIN and
  /dev/loop-control) and mounts with the system calls themselves (`LibcMounts`; mount(8)'s
  options split into flags and the filesystem's data as libmount does: `mount_flags`), asks
  statx(2) whether a path is a mount point (`MountRoots`), and attaches a loop device with
  losetup's two ioctls (`configure_loop`, one attach at a time; losetup where they fail);
  `SimulatedMounter` keeps the same state machine and directories but records mounts and
  loop devices under the state dir (unprivileged runs, `--simulate-mounts`).
  `make_mounter(state_dir, simulate)` picks one.
- Safety (issue 6 item 6, DESIGN §4): the emulator never formats, mounts or detaches anything
  it did not create under its state dir. Every method checks its own arguments, so no caller
  can talk it into more:
  * a mount or unmount target, and a bind source, resolves (symlinks followed) inside the
    state dir and is not the state dir itself;
  * an image to attach is a regular file, not a symlink, inside <state>/pool or <state>/nodes;
  * a loop device is probed, refreshed, mounted, bind-mounted or detached only when its
    backing file lies inside the state dir; `mkfs.ext4` and `resize2fs` run only on a loop
    device backed by an image in <state>/pool or a node's `local` dir, and mkfs only when
    blkid finds no signature at all (nothing is ever reformatted).
  A refusal is `UnsafePath` (a MountError with reason Unsafe) saying what and why.
- Growing a mounted ext4 online needs CAP_SYS_RESOURCE, which containers often lack: then
  `resize_filesystem` takes the filesystem's mounts down (all inside the state dir; emulated
  pods hold nothing open), runs `e2fsck -f -p` and `resize2fs` offline, and mounts them again
  as they were, so the pod's path shows the new size as with an online resize.
- Errors are `MountError(reason, message)`: NotFound, Busy, Failed, Timeout, Unsafe, Invalid.
  The message names the command and carries its stderr, for a FailedMount event.
- Every method blocks (subprocesses, file I/O): asyncio callers run them on an executor.
  `run_command` runs a command in a process group of its own, with a deadline and an output
  cap; at the deadline (or past the cap) the whole group is killed, so a hung or chatty child
  never hangs its caller. The FlexVolume plugin runs its drivers through it too.
- Simulated state lives in `<state>/simulated/`: one small JSON file per mount, at
  `mounts/<the target's path relative to the state dir>/.kstore-mount.json` (a tree mirroring
  the targets), with `refs/<filesystem>/` indexing the mounts of each filesystem; one per loop
  device (`loops/loop-sim-<n>.json`, with `images/<sha256 of the image>.json` naming the
  device that backs an image; attaching or detaching one image holds `images/<sha>.lock`, an
  flock, so two attaches never give one image two devices). Each record is written atomically (temporary file, then rename;
  a no-clobber `link` where two writers may race), so the state survives a `kill -9` and a
  restarted process reconstructs from it as from /proc/self/mountinfo. One file per record
  rather than one JSON file: the ad-controller and one kubelet per node write at once, and a
  per-record write needs no global lock; every operation reads only the records it concerns
  (is-mounted, mounts below a target, the mounts of one filesystem), so costs stay flat at
  thousands of volumes. Device names are `/dev/loop-sim-<n>`.
- Simulated data flows like real data: a simulated bind mount turns its (empty) target into a
  symlink to the resolved source, and a simulated ext4 mount links its target to the
  directory that holds that image's "filesystem" (`<state>/simulated/fs/<id>/`). Simulated
  mkfs writes a signature (id and size) into the image's first bytes, which real ext4 leaves
  unused, so "format only if blank" and "the file is still there after a remount" hold in
  both modes. Unmount turns the symlink back into an empty directory. A simulated read-only
  bind is recorded with `ro` but does not stop writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

# MountError reasons.
NOT_FOUND = "NotFound"
BUSY = "Busy"
FAILED = "Failed"
TIMEOUT = "Timeout"
UNSAFE = "Unsafe"
INVALID = "Invalid"

DEFAULT_TIMEOUT = 60.0  # seconds, per command
MKFS_TIMEOUT = 300.0
MAX_OUTPUT = 1 << 20  # bytes kept of a command's stdout and of its stderr

EXT4 = "ext4"
_REAL_LOOP = re.compile(r"/dev/loop([0-9]+)")
_SIM_LOOP = re.compile(r"/dev/loop-sim-([0-9]+)")
_EXT_MAGIC_OFFSET = 1080  # s_magic of an ext2/3/4 superblock (1024 + 0x38)
_EXT_MAGIC = b"\x53\xef"
CAP_SYS_ADMIN = 21


class MountError(Exception):
    """A mount operation failed. `reason` is one of the constants above; `str()` is the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnsafePath(MountError):
    """A path or device outside what the emulator made under its state dir: refused."""

    def __init__(self, message: str) -> None:
        super().__init__(UNSAFE, message)


# ---- values


@dataclasses.dataclass(frozen=True)
class MountPoint:
    """One mount, as /proc/self/mountinfo (or the simulated record) describes it."""

    target: Path
    source: str  # the device, "tmpfs", or for a simulated bind the resolved source path
    fstype: str
    options: tuple[str, ...] = ()
    root: str = "/"  # the subtree of the filesystem mounted here (a bind of a subdirectory)
    device_id: str = ""  # major:minor of the filesystem (real); the filesystem id (simulated)

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


@dataclasses.dataclass(frozen=True)
class LoopDevice:
    device: str  # /dev/loopN or /dev/loop-sim-N
    backing_file: Path
    deleted: bool = False  # the image was deleted while attached


@dataclasses.dataclass(frozen=True)
class FsStats:
    """statvfs of a mounted volume, in bytes and inodes (kubelet_volume_stats_*)."""

    capacity_bytes: int
    available_bytes: int
    used_bytes: int
    inodes: int
    inodes_free: int
    inodes_used: int


@dataclasses.dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stderr, else stdout, stripped: what a failure message quotes."""
        return (self.stderr.strip() or self.stdout.strip())[:2000]


Runner = Callable[..., CommandResult]


# ---- running commands


def run_command(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
                max_output: int = MAX_OUTPUT) -> CommandResult:
    """Run `argv` in its own process group and wait for it, at most `timeout` seconds.

    At the deadline, or when stdout or stderr passes `max_output` bytes, the whole group is
    killed and MountError Timeout / Failed raised: a child that forks a sleeper, or prints
    forever, never hangs the caller. A command that cannot start raises NotFound / Failed.
    A non-zero exit is returned, not raised (callers decide what it means).
    """
    argv = tuple(str(a) for a in argv)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=env, close_fds=True)
    except OSError as e:
        reason = NOT_FOUND if e.errno == errno.ENOENT else FAILED
        raise MountError(reason, f"cannot run {argv[0]}: {e.strerror or e}") from e
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    buffers = {out_fd: bytearray(), err_fd: bytearray()}
    timed_out = too_much = False
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        try:
            while selector.get_map() and not too_much:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffers[key.fd] += chunk
                    if len(buffers[key.fd]) > max_output:
                        too_much = True
            if not timed_out and not too_much:
                try:
                    proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            if timed_out or too_much or proc.returncode is None:
                _kill_group(proc)
            proc.stdout.close()
            proc.stderr.close()
            proc.wait()
    text_out = buffers[out_fd][:max_output].decode(errors="replace")
    text_err = buffers[err_fd][:max_output].decode(errors="replace")
    what = " ".join(argv[:2])
    if timed_out:
        so_far = text_out or text_err
        raise MountError(TIMEOUT, f"{what}: timed out after {timeout:g}s (killed)"
                                  + (f"; output so far: {_quote(so_far)}" if so_far.strip() else ""))
    if too_much:
        raise MountError(FAILED, f"{what}: printed more than {max_output} bytes (killed); "
                                 f"output starts: {_quote(text_out or text_err)}")
    return CommandResult(argv, proc.returncode, text_out, text_err)


def _quote(text: str, limit: int = 300) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


# ---- the interface


@runtime_checkable
class Mounter(Protocol):
    """What volume plugins may do to the machine. Every method blocks; see the module docstring
    for the safety rules each one enforces."""

    state_dir: Path
    simulated: bool

    # loop devices
    def attach_loop(self, image: Path) -> str:
        """A loop device backed by `image` (an existing one is reused): its path."""
        ...

    def find_loop(self, image: Path) -> str | None:
        """The loop device backed by `image` now (not a deleted earlier file of that name)."""
        ...

    def list_loops(self) -> list[LoopDevice]:
        """Loop devices whose backing file lies inside the state dir."""
        ...

    def loops_backing(self, image: Path) -> list[LoopDevice]:
        """Every loop device backed by `image`'s path, also one whose file was deleted since."""
        ...

    def loop_backing_file(self, device: str) -> Path | None:
        """The backing file of an attached loop device, None when it is not attached."""
        ...

    def detach_loop(self, device: str) -> None:
        """Detach; Busy while the device is mounted, NotFound when it is not attached."""
        ...

    def refresh_loop_capacity(self, device: str) -> None:
        """`losetup -c`: the device takes the image's new size."""
        ...

    def device_size(self, device: str) -> int: ...

    # filesystems and mounts
    def filesystem_type(self, device: str) -> str | None:
        """The filesystem on the device (blkid), None when blank."""
        ...

    def ensure_filesystem(self, device: str, fstype: str = EXT4) -> bool:
        """mkfs.ext4 only when the device is blank; True when it formatted now."""
        ...

    def mount(self, device: str, target: Path, fstype: str, options: Sequence[str] = ()) -> None: ...

    def bind_mount(self, source: Path | str, target: Path, *, read_only: bool = False) -> None:
        """Bind `source` (a directory, a file, or one of our loop devices) at `target`, which is
        created to match (directory or empty file)."""
        ...

    def mount_tmpfs(self, target: Path, *, size_bytes: int | None = None, mode: int = 0o755) -> None: ...

    def unmount(self, target: Path) -> None:
        """NotFound when `target` is not a mount point, Busy when it is in use."""
        ...

    def is_mount_point(self, path: Path) -> bool: ...

    def mount_at(self, path: Path) -> MountPoint | None:
        """The (topmost) mount at `path`, None when it is not a mount point."""
        ...

    def mounts_under(self, directory: Path) -> list[MountPoint]:
        """Mounts at or under `directory`, deepest first (the order to unmount them)."""
        ...

    def mount_refs(self, path: Path) -> list[Path]:
        """Other mount points of the filesystem mounted at `path` (bind mounts of it)."""
        ...

    def resize_filesystem(self, device: str) -> None:
        """`resize2fs` of the (mounted) filesystem on the device to the device's size."""
        ...

    def statvfs(self, path: Path) -> FsStats: ...

    def mount_health(self, path: Path) -> str | None:
        """Why what was mounted at `path` is no longer usable (unmounted, its directory or image
        deleted, its device gone), or None when it is fine. Never changes anything."""
        ...

    def device_health(self, device: str) -> str | None:
        """Why one of our loop devices is no longer usable (detached, its image deleted), or None."""
        ...


# ---- safety checks shared by both mounters


class _Guard:
    """Where the emulator may act: paths checked against the resolved state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.root = Path(os.path.realpath(state_dir))
        self.pool = self.root / "pool"
        self.nodes = self.root / "nodes"

    def inside(self, path: Path | str) -> bool:
        return Path(os.path.realpath(path)).is_relative_to(self.root)

    def target(self, path: Path | str, what: str = "mount target") -> Path:
        """The resolved target; Unsafe unless strictly inside the state dir."""
        resolved = Path(os.path.realpath(path))
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise UnsafePath(f"{what} {path} resolves to {resolved}, outside the state dir {self.root}: "
                             "refusing to touch it")
        return resolved

    def image(self, image: Path | str) -> Path:
        """A regular file (not a symlink) in <state>/pool or <state>/nodes."""
        path = Path(image)
        resolved = Path(os.path.realpath(path))
        if not (resolved.is_relative_to(self.pool) or resolved.is_relative_to(self.nodes)):
            raise UnsafePath(f"image {image} resolves to {resolved}, outside {self.pool} and {self.nodes}: "
                             "refusing to attach it")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise MountError(NOT_FOUND, f"image {image} does not exist") from None
        except OSError as e:
            raise MountError(FAILED, f"image {image}: {e.strerror}") from e
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"image {image} is not a regular file: refusing to attach it")
        return resolved

    def formattable(self, device: str, backing: Path | None) -> Path:
        """The backing image of a device we may mkfs / resize2fs: in the pool or a local dir."""
        if backing is None:
            raise MountError(NOT_FOUND, f"{device} is not attached")
        ok = backing.is_relative_to(self.pool) or (
            backing.is_relative_to(self.nodes) and len(backing.relative_to(self.nodes).parts) == 3
            and backing.relative_to(self.nodes).parts[1] == "local")
        if not ok:
            raise UnsafePath(f"{device} is backed by {backing}, not an image of the emulated pool: "
                             "refusing to format or resize it")
        return backing


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    temp.write_text(json.dumps(data, sort_keys=True))
    os.replace(temp, path)


def _create_exclusive(path: Path, data: dict[str, Any]) -> bool:
    """Create `path` with `data`, atomically and without clobbering: False if it exists."""
    temp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    temp.write_text(json.dumps(data, sort_keys=True))
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def _flock(path: Path, *, remove: bool = False) -> Iterator[None]:
    """An exclusive flock on `path` (created), across threads and processes. `remove` deletes
    the file before letting go; a waiter that then gets the lock of the deleted file sees it
    is gone and locks the path anew, so no two holders ever overlap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.close(fd)


def _prepare_target(target: Path, *, as_file: bool) -> None:
    """Create a mount target: a directory, or an empty file for a file or device bind."""
    if as_file:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.close(fd)
    else:
        target.mkdir(parents=True, exist_ok=True)


def _stats_from_statvfs(path: Path) -> FsStats:
    try:
        st = os.statvfs(path)
    except OSError as e:
        raise MountError(NOT_FOUND if e.errno == errno.ENOENT else FAILED, f"statvfs {path}: {e.strerror}") from e
    return FsStats(
        capacity_bytes=st.f_blocks * st.f_frsize,
        available_bytes=st.f_bavail * st.f_frsize,
        used_bytes=(st.f_blocks - st.f_bfree) * st.f_frsize,
        inodes=st.f_files,
        inodes_free=st.f_ffree,
        inodes_used=st.f_files - st.f_ffree,
    )


# ---- real


FULL_BELOW = 1 << 20  # bytes free under which the filesystem holding an image counts as full


def _full_filesystem(image: Path) -> str | None:
    """Why writes to `image` fail when the filesystem holding it is (nearly) full, else None:
    a loop device on a full pool reports only an I/O error."""
    try:
        st = os.statvfs(image.parent)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    if free >= FULL_BELOW:
        return None
    return (f"no space left in the pool: the filesystem holding {image} has {free} bytes free "
            "(the image is sparse: its blocks are allocated as they are written)")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _escape(path: str) -> str:
    """A path as mountinfo prints it."""
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def _mount_point(line: str) -> MountPoint | None:
    """One line of a mountinfo text, None when it is not one."""
    fields = line.split()
    if len(fields) < 10 or "-" not in fields[6:]:
        return None
    sep = fields.index("-", 6)
    if len(fields) < sep + 3:
        return None
    return MountPoint(
        target=Path(_unescape(fields[4])),
        source=_unescape(fields[sep + 2]),
        fstype=fields[sep + 1],
        options=tuple(fields[5].split(",")),  # per-mount options: ro/rw of a bind show here
        root=_unescape(fields[3]),
        device_id=fields[2],
    )


def parse_mountinfo(text: str) -> list[MountPoint]:
    """The mounts of a /proc/<pid>/mountinfo text, in mount order."""
    return [m for line in text.splitlines() if (m := _mount_point(line)) is not None]


def find_mount(text: str, target: str) -> MountPoint | None:
    """The topmost mount at `target` (a resolved path) in a mountinfo text, found by searching
    the text from its end for the escaped path: no parse of the other lines, so asking costs
    the same with thousands of mounts."""
    needle = f" {_escape(target)} "
    end = len(text)
    while (hit := text.rfind(needle, 0, end)) >= 0:
        start = text.rfind("\n", 0, hit) + 1
        stop = text.find("\n", hit)
        m = _mount_point(text[start:stop if stop >= 0 else len(text)])
        if m is not None and str(m.target) == target:
            return m
        end = start
    return None


def _deepest_first(mounts: list[MountPoint]) -> list[MountPoint]:
    indexed = list(enumerate(mounts))
    indexed.sort(key=lambda im: (-len(im[1].target.parts), -im[0]))
    return [m for _, m in indexed]


# ---- mount(2) and umount2(2)

# <sys/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT = 1, 2, 4, 8, 16, 32
MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 128, 1024, 2048, 4096, 16384
MS_RELATIME, MS_STRICTATIME, MS_LAZYTIME = 1 << 21, 1 << 24, 1 << 25
UMOUNT_NOFOLLOW = 8  # the target's last component is not followed if it is a symlink

# mount(8)'s VFS options (libmount's table): name → (flags set, flags cleared). Any other
# option is the filesystem's own and goes to the kernel in the data string.
_VFS_OPTIONS: dict[str, tuple[int, int]] = {
    "defaults": (0, 0), "rw": (0, MS_RDONLY), "ro": (MS_RDONLY, 0),
    "suid": (0, MS_NOSUID), "nosuid": (MS_NOSUID, 0), "dev": (0, MS_NODEV), "nodev": (MS_NODEV, 0),
    "exec": (0, MS_NOEXEC), "noexec": (MS_NOEXEC, 0), "sync": (MS_SYNCHRONOUS, 0), "async": (0, MS_SYNCHRONOUS),
    "dirsync": (MS_DIRSYNC, 0), "atime": (0, MS_NOATIME), "noatime": (MS_NOATIME, 0),
    "diratime": (0, MS_NODIRATIME), "nodiratime": (MS_NODIRATIME, 0), "relatime": (MS_RELATIME, 0),
    "norelatime": (0, MS_RELATIME), "strictatime": (MS_STRICTATIME, 0), "nostrictatime": (0, MS_STRICTATIME),
    "lazytime": (MS_LAZYTIME, 0), "nolazytime": (0, MS_LAZYTIME),
    "bind": (MS_BIND, 0), "rbind": (MS_BIND | MS_REC, 0), "remount": (MS_REMOUNT, 0),
}


def mount_flags(options: Sequence[str]) -> tuple[int, str]:
    """mount(8) options → (mount(2) flags, the filesystem's data string)."""
    flags, data = 0, []
    for option in options:
        known = _VFS_OPTIONS.get(option)
        if known is None:
            data.append(option)
            continue
        flags = (flags | known[0]) & ~known[1]
    return flags, ",".join(data)


class MountSyscalls(Protocol):
    """mount(2) and umount2(2); raise OSError with the errno."""

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None: ...

    def umount(self, target: str) -> None: ...


class LibcMounts:
    """The system calls themselves, through libc (no mount(8) process per mount: a kubelet
    makes three mounts per pod volume, and spawning mount(8), which parses the whole mount
    table each time, cost more than everything else the kubelet does for a pod)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._mount = libc.mount
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        self._mount.restype = ctypes.c_int
        self._umount2 = libc.umount2
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._umount2.restype = ctypes.c_int

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        if self._mount(os.fsencode(source), os.fsencode(target), os.fsencode(fstype) if fstype else None,
                       flags, os.fsencode(data) if data else None) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    def umount(self, target: str) -> None:
        if self._umount2(os.fsencode(target), UMOUNT_NOFOLLOW) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))


class _Statx(ctypes.Structure):
    """The head of struct statx (256 bytes in all) up to stx_attributes_mask."""

    _fields_ = [("mask", ctypes.c_uint32), ("blksize", ctypes.c_uint32), ("attributes", ctypes.c_uint64),
                ("nlink", ctypes.c_uint32), ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32),
                ("mode", ctypes.c_uint16), ("spare0", ctypes.c_uint16), ("ino", ctypes.c_uint64),
                ("size", ctypes.c_uint64), ("blocks", ctypes.c_uint64), ("attributes_mask", ctypes.c_uint64),
                ("rest", ctypes.c_uint8 * 192)]


AT_FDCWD, AT_NO_AUTOMOUNT, STATX_TYPE, STATX_ATTR_MOUNT_ROOT = -100, 0x800, 0x1, 0x2000


class MountRoots:
    """"Is this path the root of a mount?" in one statx(2) (STATX_ATTR_MOUNT_ROOT, Linux 5.8),
    instead of reading the whole mount table - which the kernel formats anew for every read,
    about 1.5 ms of system time with a few hundred mounts, several times per pod volume.
    `is_mount_root` answers None where the kernel or libc cannot tell: then read the table."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._statx = getattr(libc, "statx", None)
        if self._statx is not None:
            self._statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                                    ctypes.POINTER(_Statx)]
            self._statx.restype = ctypes.c_int

    def is_mount_root(self, path: str) -> bool | None:
        if self._statx is None:
            return None
        buf = _Statx()
        if self._statx(AT_FDCWD, os.fsencode(path), AT_NO_AUTOMOUNT, STATX_TYPE, ctypes.byref(buf)) != 0:
            code = ctypes.get_errno()
            return False if code in (errno.ENOENT, errno.ENOTDIR) else None
        if not buf.attributes_mask & STATX_ATTR_MOUNT_ROOT:
            return None
        return bool(buf.attributes & STATX_ATTR_MOUNT_ROOT)


LOOP_CTL_GET_FREE, LOOP_CONFIGURE = 0x4C82, 0x4C0A  # <linux/loop.h>
LOOP_MAJOR = 7
_LO_NAME_SIZE = 64


class _LoopInfo64(ctypes.Structure):
    _fields_ = [("device", ctypes.c_uint64), ("inode", ctypes.c_uint64), ("rdevice", ctypes.c_uint64),
                ("offset", ctypes.c_uint64), ("sizelimit", ctypes.c_uint64), ("number", ctypes.c_uint32),
                ("encrypt_type", ctypes.c_uint32), ("encrypt_key_size", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("file_name", ctypes.c_char * _LO_NAME_SIZE), ("crypt_name", ctypes.c_char * _LO_NAME_SIZE),
                ("encrypt_key", ctypes.c_uint8 * 32), ("init", ctypes.c_uint64 * 2)]


class _LoopConfig(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_uint32), ("block_size", ctypes.c_uint32), ("info", _LoopInfo64),
                ("reserved", ctypes.c_uint64 * 8)]


def configure_loop(image: str, control: str = "/dev/loop-control") -> str | None:
    """What `losetup --find --show image` does, in two ioctls (LOOP_CTL_GET_FREE, then
    LOOP_CONFIGURE, Linux 5.8): the device's path. None when this kernel or /dev cannot do it
    this way (no LOOP_CONFIGURE, no device node for the free number): then run losetup. A
    device another process took first (EBUSY) is passed over for the next number."""
    try:
        backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None  # losetup reports it in its words
    config = _LoopConfig(fd=backing)
    config.info.file_name = os.fsencode(image)[:_LO_NAME_SIZE - 1]
    try:
        ctl = os.open(control, os.O_RDWR | os.O_CLOEXEC)
        try:
            number = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
            for _ in range(64):
                device = f"/dev/loop{number}"
                try:
                    fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                except FileNotFoundError:
                    return None
                try:
                    fcntl.ioctl(fd, LOOP_CONFIGURE, config)
                    return device
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        return None
                finally:
                    os.close(fd)
                # taken meanwhile by another attach: the next number, or a fresh free one
                number = max(number + 1, fcntl.ioctl(ctl, LOOP_CTL_GET_FREE))
            return None
        finally:
            os.close(ctl)
    except OSError:
        return None
    finally:
        os.close(backing)


def _syscall_error(what: str, e: OSError, device: str | None = None) -> MountError:
    """A failed mount(2) / umount2(2) as mount(8) would word it, with the errno."""
    name = errno.errorcode.get(e.errno or 0, str(e.errno))
    if e.errno == errno.EBUSY:
        return MountError(BUSY, f"{what}: target is busy ({name})")
    if e.errno == errno.EINVAL and device is not None:
        return MountError(FAILED, f"{what}: wrong fs type, bad option, bad superblock on {device}, or other error "
                                  f"({name}: {e.strerror})")
    if e.errno in (errno.ENOENT, errno.ENODEV):
        return MountError(NOT_FOUND, f"{what}: {e.strerror} ({name})")
    return MountError(FAILED, f"{what}: {e.strerror} ({name})")


class RealMounter:
    """Real loop devices and mounts (root with CAP_SYS_ADMIN). `runner`, `mountinfo` and
    `sys_block` are injectable so the command lines and parsing are testable without root."""

    simulated = False

    def __init__(self, state_dir: Path, *, runner: Runner = run_command, timeout: float = DEFAULT_TIMEOUT,
                 mountinfo: Path = Path("/proc/self/mountinfo"), sys_block: Path = Path("/sys/block"),
                 syscalls: MountSyscalls | None = None, mount_roots: MountRoots | None = None,
                 loop_configure: Callable[[str], str | None] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self._guard = _Guard(self.state_dir)
        self._run = runner
        self._timeout = timeout
        self._mountinfo = mountinfo
        self._sys_block = sys_block
        self._parsed: tuple[str, list[MountPoint]] | None = None  # (mountinfo text, its mounts)
        self._sys = syscalls if syscalls is not None else LibcMounts()
        # statx and the loop ioctls only act on the real machine: with a fake mount table and
        # sysfs (tests), read the table and run the (fake) losetup
        real = mountinfo == Path("/proc/self/mountinfo") and sys_block == Path("/sys/block")
        self._roots = mount_roots if mount_roots is not None else (MountRoots() if real else None)
        self._configure_loop = loop_configure if loop_configure is not None else (configure_loop if real else None)

    def _mount2(self, source: str, target: Path, fstype: str, options: Sequence[str], what: str,
                device: str | None = None) -> None:
        flags, data = mount_flags(options)
        try:
            self._sys.mount(source, str(target), fstype, flags, data)
        except OSError as e:
            raise _syscall_error(what, e, device) from e

    def _umount2(self, target: Path, what: str) -> None:
        try:
            self._sys.umount(str(target))
        except OSError as e:
            if e.errno == errno.EINVAL:
                raise MountError(NOT_FOUND, f"{target} is not a mount point") from e
            raise _syscall_error(what, e) from e

    def _bind(self, source: str, target: Path, *, read_only: bool, what: str) -> None:
        """A bind mount; read-only takes a second call (a bind ignores MS_RDONLY), undone if it fails."""
        self._mount2(source, target, "", ["bind"], what)
        if read_only:
            try:
                self._mount2("", target, "", ["remount", "bind", "ro"], f"make {target} read-only")
            except MountError:
                with contextlib.suppress(MountError):
                    self._umount2(target, f"undo the bind at {target}")
                raise

    def _cmd(self, argv: Sequence[str], what: str, *, timeout: float | None = None) -> CommandResult:
        result = self._run(list(argv), timeout=timeout or self._timeout)
        if result.returncode != 0:
            output = result.output
            reason = BUSY if ("busy" in output.lower()) else FAILED
            raise MountError(reason, f"{what}: {' '.join(argv)} failed (exit {result.returncode}): "
                                     f"{output or 'no output'}")
        return result

    # -- loop devices

    def _scan_loops(self, backing_file: str | None = None) -> list[LoopDevice]:
        """The attached loop devices (of one backing file, when given), by device number. Plain
        os calls: every attach scans them, and a machine may have hundreds."""
        base = str(self._sys_block)
        try:
            names = os.listdir(base)
        except OSError:
            return []
        found: list[tuple[int, LoopDevice]] = []
        for name in names:
            if not name.startswith("loop") or not name[4:].isdigit():
                continue
            try:
                fd = os.open(f"{base}/{name}/loop/backing_file", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue  # not attached
            try:
                backing = os.fsdecode(os.read(fd, 8192)).rstrip("\n")
            except OSError:
                continue
            finally:
                os.close(fd)
            deleted = backing.endswith(" (deleted)")
            backing = backing.removesuffix(" (deleted)")
            if backing_file is None or backing == backing_file:
                found.append((int(name[4:]), LoopDevice(f"/dev/{name}", Path(backing), deleted)))
        found.sort(key=lambda nd: nd[0])
        return [lo for _, lo in found]

    def _loops(self) -> list[LoopDevice]:
        return self._scan_loops()

    def list_loops(self) -> list[LoopDevice]:
        return [lo for lo in self._loops() if lo.backing_file.is_relative_to(self._guard.root)]

    def _backing_text(self, device: str) -> str | None:
        """sysfs's backing_file of one of our loop devices as it stands (" (deleted)" and all);
        None when the device is not attached, or not a loop device."""
        m = _REAL_LOOP.fullmatch(device or "")
        if m is None:
            return None
        try:
            with open(f"{self._sys_block}/loop{m.group(1)}/loop/backing_file") as f:
                return f.read().rstrip("\n")
        except OSError:
            return None

    def loop_backing_file(self, device: str) -> Path | None:
        backing = self._backing_text(device)
        return None if backing is None else Path(backing.removesuffix(" (deleted)"))

    def _our_device(self, device: str) -> Path:
        """The backing file of one of our loop devices; Unsafe for any other device."""
        if _REAL_LOOP.fullmatch(device or "") is None:
            raise UnsafePath(f"{device!r} is not a loop device: the emulator only touches loop devices it "
                             "attached to images under its state dir")
        backing = self.loop_backing_file(device)
        if backing is None:
            raise MountError(NOT_FOUND, f"{device} is not attached")
        if not backing.is_relative_to(self._guard.root):
            raise UnsafePath(f"{device} is backed by {backing}, outside the state dir {self._guard.root}: "
                             "refusing to touch it")
        return backing

    def loops_backing(self, image: Path) -> list[LoopDevice]:
        return self._scan_loops(os.path.realpath(image))

    # The loop index, <state>/run/loops/<sha of the image path>.json: {"image", "device"} of
    # each image kstore attached, written under the image's lock - the device null from just
    # before the attach until it is known, so a crash in between leaves a record that says
    # "look at every device". Finding an image's device is then one read of the index and one
    # of the device's backing file, not a read of every loop device's (hundreds of sysfs
    # files, from sixteen attach threads at once).

    def _index_path(self, resolved: str, suffix: str = ".json") -> Path:
        return self._guard.root / "run" / "loops" / f"{_sha(resolved)}{suffix}"

    def _backs(self, device: str, resolved: str) -> bool:
        return self._backing_text(device) == resolved

    def find_loop(self, image: Path) -> str | None:
        resolved = os.path.realpath(image)
        record = _read_json(self._index_path(resolved))
        if record is None:
            return None  # kstore never attached it, or detached it
        device = record.get("device")
        if isinstance(device, str) and self._backs(device, resolved):
            return device
        # an attach cut short, or a device detached behind kstore's back: look at them all
        return next((lo.device for lo in self._scan_loops(resolved) if not lo.deleted), None)

    def attach_loop(self, image: Path) -> str:
        resolved = self._guard.image(image)
        index = self._index_path(str(resolved))
        with _flock(self._index_path(str(resolved), ".lock")):
            existing = self.find_loop(resolved)
            if existing is not None:
                _write_atomic(index, {"image": str(resolved), "device": existing})
                return existing
            index.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(index, {"image": str(resolved), "device": None})
            with self._losetup_lock():
                device = self._configure_loop(str(resolved)) if self._configure_loop is not None else None
                if device is None:
                    device = self._cmd(["losetup", "--find", "--show", str(resolved)],
                                       f"attach {resolved}").stdout.strip()
            if _REAL_LOOP.fullmatch(device) is None:
                raise MountError(FAILED, f"attach {resolved}: losetup printed {device!r}, not a loop device")
            _write_atomic(index, {"image": str(resolved), "device": device})
            return device

    @contextlib.contextmanager
    def _losetup_lock(self) -> Iterator[None]:
        """One attach at a time across kstore's threads and processes (flock under <state>/run):
        two `losetup --find` at once pick the same free device, and the loser sleeps 200 ms in
        util-linux before it tries again; and the kernel configures one loop device at a time
        anyway (measured: sixteen at once take twice as long as one after the other)."""
        with _flock(self._guard.root / "run" / "locks" / "losetup.lock"):
            yield

    def detach_loop(self, device: str) -> None:
        backing = str(self._our_device(device))
        users = self._device_users(device)
        if users:
            raise MountError(BUSY, f"{device} is still mounted at {', '.join(map(str, users))}: "
                                   "refusing to detach it")
        with _flock(self._index_path(backing, ".lock"), remove=True):
            self._cmd(["losetup", "-d", device], f"detach {device}")
            index = self._index_path(backing)
            named = (_read_json(index) or {}).get("device")
            if named == device or not self._backs(str(named), backing):  # this device's, or stale
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(index)

    def _device_users(self, device: str) -> list[Path]:
        name = device.rsplit("/", 1)[-1]
        users = []
        for m in self._mounts():
            if m.source == device or (m.root == f"/{name}" and m.target.is_relative_to(self._guard.root)):
                users.append(m.target)
        return users

    def refresh_loop_capacity(self, device: str) -> None:
        self._our_device(device)
        self._cmd(["losetup", "-c", device], f"refresh the capacity of {device}")

    def device_size(self, device: str) -> int:
        self._our_device(device)
        name = device.rsplit("/", 1)[-1]
        try:
            return int((self._sys_block / name / "size").read_text()) * 512
        except (OSError, ValueError) as e:
            raise MountError(FAILED, f"cannot read the size of {device}: {e}") from e

    # -- filesystems

    def filesystem_type(self, device: str) -> str | None:
        self._our_device(device)
        result = self._run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], timeout=self._timeout)
        if result.returncode == 2:  # nothing found: blank
            return None
        if result.returncode != 0:
            raise MountError(FAILED, f"probe {device}: blkid -p failed (exit {result.returncode}): "
                                     f"{result.output or 'no output'}: not formatting it")
        return result.stdout.strip() or None

    def ensure_filesystem(self, device: str, fstype: str = EXT4) -> bool:
        backing = self._guard.formattable(device, self._our_device(device))
        existing = self.filesystem_type(device)
        if existing is not None:
            return False
        try:
            self._cmd(["mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1", device],
                      f"format {device}", timeout=MKFS_TIMEOUT)
        except MountError as e:
            full = _full_filesystem(backing)
            if full is None:
                raise
            raise MountError(e.reason, f"{e.message}: {full}") from e
        return True

    def resize_filesystem(self, device: str) -> None:
        """`resize2fs`, online. Online growth needs CAP_SYS_RESOURCE; where the kernel denies it
        (containers often drop that capability), every mount of the filesystem - all inside the
        state dir, emulated pods hold no files open - is taken down, the filesystem checked and
        grown offline, and the same mounts made again, with their options, before returning."""
        self._guard.formattable(device, self._our_device(device))
        result = self._run(["resize2fs", device], timeout=MKFS_TIMEOUT)
        if result.returncode == 0:
            return
        mounts = self._device_mounts(device)
        if "Permission denied" not in result.output or not mounts:
            raise MountError(FAILED, f"resize the filesystem on {device}: resize2fs {device} failed "
                                     f"(exit {result.returncode}): {result.output or 'no output'}")
        log.info("online resize of %s denied (no CAP_SYS_RESOURCE): resizing it offline", device)
        self._resize_offline(device, mounts)

    def _device_mounts(self, device: str) -> list[MountPoint]:
        name = device.rsplit("/", 1)[-1]
        try:
            devno = (self._sys_block / name / "dev").read_text().strip()
        except OSError:
            return []
        return [m for m in self._mounts() if m.device_id == devno]

    def _resize_offline(self, device: str, mounts: list[MountPoint]) -> None:
        outside = [str(m.target) for m in mounts if not m.target.is_relative_to(self._guard.root)]
        if outside:
            raise UnsafePath(f"{device} is also mounted outside the state dir ({', '.join(outside)}): "
                             "not unmounting it to resize")
        primary = next((m for m in mounts if m.root == "/"), None)
        if primary is None:
            raise MountError(FAILED, f"resize {device}: no mount of its whole filesystem to restore the others from")
        unmounted: list[MountPoint] = []
        try:
            for m in reversed(mounts):
                self._umount2(m.target, f"unmount {m.target} to resize {device} offline")
                unmounted.insert(0, m)
            check = self._run(["e2fsck", "-f", "-p", device], timeout=MKFS_TIMEOUT)
            if check.returncode not in (0, 1):  # 1: errors corrected
                raise MountError(FAILED, f"resize {device}: e2fsck -f -p {device} failed (exit {check.returncode}): "
                                         f"{check.output or 'no output'}")
            self._cmd(["resize2fs", device], f"resize the filesystem on {device}", timeout=MKFS_TIMEOUT)
        finally:
            self._restore(device, primary, unmounted)

    def _restore(self, device: str, primary: MountPoint, mounts: list[MountPoint]) -> None:
        """Mount again, in their first order, what _resize_offline took down."""
        problems = []
        for m in mounts:
            try:
                if m is primary:
                    self._mount2(device, m.target, m.fstype, m.options, f"mount {device} at {m.target} again", device)
                    continue
                source = primary.target / m.root.lstrip("/")
                self._bind(str(source), m.target, read_only=m.read_only, what=f"bind {source} at {m.target} again")
            except MountError as e:
                problems.append(str(e))
        if problems:
            raise MountError(FAILED, f"resize {device}: could not restore every mount: {'; '.join(problems)}")

    # -- mounts

    def mount(self, device: str, target: Path, fstype: str, options: Sequence[str] = ()) -> None:
        backing = self._our_device(device)
        resolved = self._guard.target(target)
        _prepare_target(resolved, as_file=False)
        try:
            self._mount2(device, resolved, fstype, options, f"mount {device} at {resolved}", device)
        except MountError as e:
            full = _full_filesystem(backing)
            if full is None:
                raise
            raise MountError(e.reason, f"{e.message}: {full}") from e

    def bind_mount(self, source: Path | str, target: Path, *, read_only: bool = False) -> None:
        src = str(source)
        if src.startswith("/dev/"):
            self._our_device(src)
            as_file = True
        else:
            src_path = self._guard.target(src, "bind source")
            if not src_path.exists():
                raise MountError(NOT_FOUND, f"bind source {src} does not exist")
            src = str(src_path)
            as_file = not src_path.is_dir()
        resolved = self._guard.target(target)
        _prepare_target(resolved, as_file=as_file)
        self._bind(src, resolved, read_only=read_only, what=f"bind {src} at {resolved}")

    def mount_tmpfs(self, target: Path, *, size_bytes: int | None = None, mode: int = 0o755) -> None:
        resolved = self._guard.target(target)
        _prepare_target(resolved, as_file=False)
        options = [f"mode={mode:o}"]
        if size_bytes:
            options.append(f"size={int(size_bytes)}")
        self._mount2("tmpfs", resolved, "tmpfs", options, f"mount tmpfs at {resolved}")

    def unmount(self, target: Path) -> None:
        resolved = self._guard.target(target, "unmount target")
        self._umount2(resolved, f"umount {resolved}")  # EINVAL, not a mount point: NotFound

    def _mount_table(self) -> str:
        try:
            with open(self._mountinfo) as f:
                return f.read()
        except OSError as e:
            raise MountError(FAILED, f"cannot read {self._mountinfo}: {e.strerror}") from e

    def _mounts(self) -> list[MountPoint]:
        """The parsed mount table; parsed again only when its text changed."""
        text = self._mount_table()
        cached = self._parsed
        if cached is not None and cached[0] == text:
            return cached[1]
        mounts = parse_mountinfo(text)
        self._parsed = (text, mounts)
        return mounts

    def mount_at(self, path: Path) -> MountPoint | None:
        return find_mount(self._mount_table(), os.path.realpath(path))

    def is_mount_point(self, path: Path) -> bool:
        known = self._roots.is_mount_root(str(path)) if self._roots is not None else None
        return known if known is not None else self.mount_at(path) is not None

    def mounts_under(self, directory: Path) -> list[MountPoint]:
        resolved = Path(os.path.realpath(directory))
        return _deepest_first([m for m in self._mounts() if m.target.is_relative_to(resolved)])

    def mount_refs(self, path: Path) -> list[Path]:
        resolved = Path(os.path.realpath(path))
        mounts = self._mounts()
        here = [m for m in mounts if m.target == resolved]
        if not here:
            return []
        device_id = here[-1].device_id
        return sorted({m.target for m in mounts if m.device_id == device_id and m.target != resolved})

    def statvfs(self, path: Path) -> FsStats:
        return _stats_from_statvfs(Path(path))

    def mount_health(self, path: Path) -> str | None:
        if self._roots is not None:
            return self._mount_health_fast(path)
        m = self.mount_at(path)
        if m is None:
            return f"{path} is no longer mounted"
        if m.root.endswith("//deleted"):
            return f"the directory mounted at {path} was deleted"
        if _REAL_LOOP.fullmatch(m.source):
            return self.device_health(m.source)
        return None

    def _mount_health_fast(self, path: Path) -> str | None:
        """mount_health without reading the mount table: statx says whether the path is still a
        mount root, a deleted directory has no links left, and a loop device's backing file is
        found from the mounted filesystem's device number."""
        if not self.is_mount_point(path):
            return f"{path} is no longer mounted"
        try:
            st = os.stat(path)
        except OSError as e:
            return f"{path} cannot be read: {e.strerror}"
        if stat.S_ISDIR(st.st_mode) and st.st_nlink == 0:
            return f"the directory mounted at {path} was deleted"
        if os.major(st.st_dev) == LOOP_MAJOR:
            return self.device_health(f"/dev/loop{os.minor(st.st_dev)}")
        return None

    def device_health(self, device: str) -> str | None:
        if _REAL_LOOP.fullmatch(device or "") is None:
            return None
        backing = self._backing_text(device)
        if backing is None:
            return f"its device {device} is no longer attached"
        if backing.endswith(" (deleted)"):
            return f"its image {backing.removesuffix(' (deleted)')} was deleted under it"
        return None


# ---- simulated


_SIM_MAGIC = b"KSTORE-SIMFS1 "
_SIM_HEADER = 512
_SIM_RECORD = ".kstore-mount.json"


class SimulatedMounter:
    """The same operations, recorded under `<state>/simulated/` (see the module docstring).

    Records: `mounts/<target relative to the state dir>/.kstore-mount.json` (a tree mirroring
    the targets, so "is anything mounted below" and `mounts_under` read one subtree),
    `refs/<filesystem key>/<sha of target>.json` (every mount of one filesystem: `mount_refs`
    and "is the device busy" in O(1)), `loops/loop-sim-<n>.json` and `images/<sha>.json`
    (loop devices and the device of each image), `fs/<id>/` and `fs/<id>.json` (a simulated
    filesystem's files and size).
    """

    simulated = True

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self._guard = _Guard(self.state_dir)
        self._logical_root = Path(os.path.normpath(os.path.abspath(state_dir)))
        self.dir = self._guard.root / "simulated"
        self._mounts_dir = self.dir / "mounts"
        self._refs_dir = self.dir / "refs"
        self._loops_dir = self.dir / "loops"
        self._images_dir = self.dir / "images"
        self._fs_dir = self.dir / "fs"
        for d in (self._mounts_dir, self._refs_dir, self._loops_dir, self._images_dir, self._fs_dir):
            d.mkdir(parents=True, exist_ok=True)

    # -- loop devices

    def _loop_path(self, device: str) -> Path | None:
        m = _SIM_LOOP.fullmatch(device or "")
        return self._loops_dir / f"loop-sim-{m.group(1)}.json" if m else None

    def _loop_record(self, device: str) -> dict[str, Any] | None:
        path = self._loop_path(device)
        return _read_json(path) if path is not None else None

    def _deleted(self, rec: dict[str, Any]) -> bool:
        try:
            return os.stat(rec["backing_file"]).st_ino != rec.get("inode")
        except OSError:
            return True

    def list_loops(self) -> list[LoopDevice]:
        loops = []
        for entry in sorted(self._loops_dir.glob("loop-sim-*.json")):
            rec = _read_json(entry)
            if rec is not None:
                loops.append(LoopDevice(rec["device"], Path(rec["backing_file"]), self._deleted(rec)))
        return loops

    def loops_backing(self, image: Path) -> list[LoopDevice]:
        resolved = Path(os.path.realpath(image))
        index = _read_json(self._images_dir / f"{_sha(str(resolved))}.json")
        rec = self._loop_record(str((index or {}).get("device", "")))
        if rec is None or rec["backing_file"] != str(resolved):
            return []
        return [LoopDevice(rec["device"], resolved, self._deleted(rec))]

    def loop_backing_file(self, device: str) -> Path | None:
        rec = self._loop_record(device)
        return Path(rec["backing_file"]) if rec else None

    def _our_device(self, device: str) -> dict[str, Any]:
        if _SIM_LOOP.fullmatch(device or "") is None:
            raise UnsafePath(f"{device!r} is not a simulated loop device: the emulator only touches loop devices "
                             "it attached to images under its state dir")
        rec = self._loop_record(device)
        if rec is None:
            raise MountError(NOT_FOUND, f"{device} is not attached")
        return rec

    def find_loop(self, image: Path) -> str | None:
        return next((lo.device for lo in self.loops_backing(image) if not lo.deleted), None)

    def _image_lock(self, resolved: Path, *, remove: bool = False) -> contextlib.AbstractContextManager[None]:
        """One image's attach and detach, one at a time across threads and processes:
        "its index is stale, replace it" must not race another attach that just wrote it."""
        return _flock(self._images_dir / f"{_sha(str(resolved))}.lock", remove=remove)

    def attach_loop(self, image: Path) -> str:
        resolved = self._guard.image(image)
        index_path = self._images_dir / f"{_sha(str(resolved))}.json"
        with self._image_lock(resolved):
            existing = self.find_loop(resolved)
            if existing is not None:
                return existing
            if index_path.exists():  # stale: its device is gone or backs an older file
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(index_path)
            st = os.stat(resolved)
            device = self._allocate({"backing_file": str(resolved), "inode": st.st_ino, "size": st.st_size})
            _write_atomic(index_path, {"device": device, "backing_file": str(resolved)})
            return device

    def _allocate(self, record: dict[str, Any]) -> str:
        taken = set()  # the lowest free number, as losetup --find picks
        for name in os.listdir(self._loops_dir):
            number = name[len("loop-sim-"):-len(".json")]
            if name.startswith("loop-sim-") and name.endswith(".json") and number.isdigit():
                taken.add(int(number))
        n = 0
        while True:
            while n in taken:
                n += 1
            device = f"/dev/loop-sim-{n}"
            if _create_exclusive(self._loops_dir / f"loop-sim-{n}.json", {**record, "device": device}):
                return device
            taken.add(n)

    def _remove_loop(self, device: str) -> None:
        path = self._loop_path(device)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def detach_loop(self, device: str) -> None:
        rec = self._our_device(device)
        users = self._refs(_sha(device))  # the device node bound somewhere
        found = self._signature(Path(rec["backing_file"]))
        if found is not None:
            users += self._refs(found[0])  # its filesystem mounted somewhere
        if users:
            raise MountError(BUSY, f"{device} is still mounted at {', '.join(map(str, users))}: "
                                   "refusing to detach it")
        index_path = self._images_dir / f"{_sha(rec['backing_file'])}.json"
        with self._image_lock(Path(rec["backing_file"]), remove=True):
            if (_read_json(index_path) or {}).get("device") == device:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(index_path)
            self._remove_loop(device)

    def refresh_loop_capacity(self, device: str) -> None:
        rec = self._our_device(device)
        try:
            size = os.stat(rec["backing_file"]).st_size
        except OSError as e:
            raise MountError(FAILED, f"losetup -c {device}: {rec['backing_file']}: {e.strerror}") from e
        path = self._loop_path(device)
        assert path is not None
        _write_atomic(path, {**rec, "size": size})

    def device_size(self, device: str) -> int:
        return int(self._our_device(device).get("size", 0))

    # -- filesystems: a signature in the image's first bytes (unused by a real ext4)

    def _signature(self, image: Path) -> tuple[str, int] | None:
        """(filesystem id, size) of a simulated filesystem; for a real ext4, an id from the image.
        None for a blank image (or one that is gone)."""
        try:
            with open(image, "rb") as f:
                head = f.read(_SIM_HEADER)
                f.seek(_EXT_MAGIC_OFFSET)
                ext_magic = f.read(2)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise MountError(FAILED, f"probe {image}: {e.strerror}") from e
        if head.startswith(_SIM_MAGIC):
            fields = head[len(_SIM_MAGIC):].split(b"\n", 1)[0].split()
            if len(fields) == 2 and fields[1].isdigit():
                return fields[0].decode(), int(fields[1])
        if ext_magic == _EXT_MAGIC:
            return f"img-{_sha(str(image))[:16]}", os.stat(image).st_size
        return None

    def _write_signature(self, image: Path, fs_id: str, size: int) -> None:
        header = _SIM_MAGIC + f"{fs_id} {size}\n".encode()
        fd = os.open(image, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.pwrite(fd, header.ljust(_SIM_HEADER, b"\0"), 0)
        finally:
            os.close(fd)
        _write_atomic(self._fs_dir / f"{fs_id}.json", {"size": size, "image": str(image)})

    def filesystem_type(self, device: str) -> str | None:
        rec = self._our_device(device)
        return EXT4 if self._signature(Path(rec["backing_file"])) is not None else None

    def ensure_filesystem(self, device: str, fstype: str = EXT4) -> bool:
        rec = self._our_device(device)
        image = self._guard.formattable(device, Path(rec["backing_file"]))
        if self._signature(image) is not None:
            return False
        fs_id = secrets.token_hex(8)
        (self._fs_dir / fs_id).mkdir(mode=0o755, exist_ok=True)
        self._write_signature(image, fs_id, int(rec.get("size", 0)))
        return True

    def resize_filesystem(self, device: str) -> None:
        rec = self._our_device(device)
        image = self._guard.formattable(device, Path(rec["backing_file"]))
        found = self._signature(image)
        if found is None:
            raise MountError(FAILED, f"resize2fs {device}: Bad magic number in super-block (no filesystem)")
        if found[0].startswith("img-"):
            return  # a real ext4 in the image: not ours to rewrite in simulated mode
        self._write_signature(image, found[0], int(rec.get("size", 0)))

    # -- mount records

    def _logical(self, path: Path | str) -> Path:
        """A target as the caller named it, absolute and normal; symlinks are not followed, so a
        path through a simulated bind stays where the kernel would show it."""
        return Path(os.path.normpath(os.path.abspath(path)))

    def _mirror(self, logical: Path) -> Path | None:
        for root in (self._logical_root, self._guard.root):
            if logical.is_relative_to(root) and logical != root:
                return self._mounts_dir / logical.relative_to(root)
        return None

    def _record_path(self, path: Path | str) -> Path | None:
        mirror = self._mirror(self._logical(path))
        return mirror / _SIM_RECORD if mirror is not None else None

    def _record(self, path: Path | str) -> dict[str, Any] | None:
        record_path = self._record_path(path)
        return _read_json(record_path) if record_path is not None else None

    def _records_below(self, mirror: Path) -> list[dict[str, Any]]:
        records = []
        for dirpath, _, filenames in os.walk(mirror):
            if _SIM_RECORD in filenames:
                rec = _read_json(Path(dirpath) / _SIM_RECORD)
                if rec is not None:
                    records.append(rec)
        return records

    def _refs(self, key: str) -> list[Path]:
        targets = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self._refs_dir / key):
                rec = _read_json(Path(entry.path)) if entry.name.endswith(".json") else None
                if rec is not None:
                    targets.append(Path(rec["target"]))
        return targets

    def _fs_key(self, resolved_source: Path) -> str:
        """The filesystem a bind source lives on: a simulated ext4, or the source itself."""
        if resolved_source.is_relative_to(self._fs_dir) and resolved_source != self._fs_dir:
            return resolved_source.relative_to(self._fs_dir).parts[0]
        return _sha(str(resolved_source))

    @staticmethod
    def _point(rec: dict[str, Any]) -> MountPoint:
        return MountPoint(Path(rec["target"]), rec["source"], rec["fstype"], tuple(rec.get("options", ())),
                          "/", rec.get("fs", ""))

    def _add(self, target: Path, *, source: str, fstype: str, options: Sequence[str], fs: str,
             link_to: Path | None, as_file: bool) -> None:
        """Record a mount at `target` and, for data to flow, link the target to `link_to`."""
        logical = self._logical(target)
        record_path = self._record_path(logical)
        if record_path is None:
            raise UnsafePath(f"mount target {target} is outside the state dir {self.state_dir}")
        record = {"target": str(logical), "source": source, "fstype": fstype, "options": list(options),
                  "fs": fs, "linked": False, "as_file": as_file, "seq": time.time_ns()}
        for attempt in range(3):
            record_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                created = _create_exclusive(record_path, record)
                break
            except FileNotFoundError:  # an unmount pruned the mirror dir meanwhile
                if attempt == 2:
                    raise
        if not created:
            raise MountError(BUSY, f"{logical} is already a mount point (simulated mounts do not stack)")
        ref = self._refs_dir / fs / f"{_sha(str(logical))}.json"
        ref.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(ref, {"target": str(logical)})
        if link_to is not None and _replaceable(logical, as_file):
            if os.path.isdir(logical) and not os.path.islink(logical):
                os.rmdir(logical)
            elif os.path.lexists(logical):
                os.unlink(logical)
            os.symlink(link_to, logical)
            _write_atomic(record_path, {**record, "linked": True})
        elif link_to is not None:
            log.warning("simulated mount at %s: the target is not empty; recorded only", logical)

    def mount(self, device: str, target: Path, fstype: str, options: Sequence[str] = ()) -> None:
        rec = self._our_device(device)
        self._guard.target(target)
        found = self._signature(Path(rec["backing_file"]))
        if found is None:
            raise MountError(FAILED, f"mount {device} at {target}: wrong fs type, bad option, bad superblock on "
                                     f"{device} (no filesystem)")
        content = self._fs_dir / found[0]
        content.mkdir(mode=0o755, exist_ok=True)
        _prepare_target(Path(target), as_file=False)
        self._add(Path(target), source=device, fstype=fstype, options=options or ("rw",), fs=found[0],
                  link_to=content, as_file=False)

    def bind_mount(self, source: Path | str, target: Path, *, read_only: bool = False) -> None:
        src = str(source)
        options = ["ro" if read_only else "rw", "bind"]
        self._guard.target(target)
        if src.startswith("/dev/"):
            self._our_device(src)
            _prepare_target(Path(target), as_file=True)
            self._add(Path(target), source=src, fstype="devtmpfs", options=options, fs=_sha(src), link_to=None,
                      as_file=True)
            return
        resolved = self._guard.target(src, "bind source")
        if not resolved.exists():
            raise MountError(NOT_FOUND, f"bind source {src} does not exist")
        as_file = not resolved.is_dir()
        _prepare_target(Path(target), as_file=as_file)
        self._add(Path(target), source=str(resolved), fstype="none", options=options, fs=self._fs_key(resolved),
                  link_to=resolved, as_file=as_file)

    def mount_tmpfs(self, target: Path, *, size_bytes: int | None = None, mode: int = 0o755) -> None:
        self._guard.target(target)
        _prepare_target(Path(target), as_file=False)
        options = ["rw", f"mode={mode:o}"] + ([f"size={int(size_bytes)}"] if size_bytes else [])
        self._add(Path(target), source="tmpfs", fstype="tmpfs", options=options,
                  fs=_sha(f"tmpfs:{self._logical(target)}"), link_to=None, as_file=False)

    def unmount(self, target: Path) -> None:
        self._guard.target(Path(os.path.realpath(Path(target).parent)) / Path(target).name, "unmount target")
        logical = self._logical(target)
        record_path = self._record_path(logical)
        rec = _read_json(record_path) if record_path is not None else None
        if rec is None or record_path is None:
            raise MountError(NOT_FOUND, f"{logical} is not a mount point")
        below = [r["target"] for r in self._records_below(record_path.parent) if r["target"] != str(logical)]
        if below:
            raise MountError(BUSY, f"umount {logical}: target is busy (mounts below it: {', '.join(below)})")
        if rec.get("linked") and os.path.islink(logical):
            os.unlink(logical)
            _prepare_target(logical, as_file=bool(rec.get("as_file")))
        if rec["fstype"] == "tmpfs" and os.path.isdir(logical):
            _empty_directory(logical)  # a tmpfs takes its files with it
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._refs_dir / rec["fs"] / f"{_sha(str(logical))}.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(record_path)
        _prune(record_path.parent, self._mounts_dir)
        _prune(self._refs_dir / rec["fs"], self._refs_dir)

    def mount_at(self, path: Path) -> MountPoint | None:
        rec = self._record(path)
        return self._point(rec) if rec else None

    def mount_health(self, path: Path) -> str | None:
        rec = self._record(path)
        if rec is None:
            return f"{path} is no longer mounted"
        if rec.get("linked") and not os.path.exists(self._logical(path)):
            return f"the directory mounted at {path} was deleted"
        return self.device_health(rec["source"])

    def device_health(self, device: str) -> str | None:
        if _SIM_LOOP.fullmatch(device or "") is None:
            return None
        rec = self._loop_record(device)
        if rec is None:
            return f"its device {device} is no longer attached"
        if self._deleted(rec):
            return f"its image {rec['backing_file']} was deleted under it"
        return None

    def is_mount_point(self, path: Path) -> bool:
        record_path = self._record_path(path)
        return record_path is not None and record_path.exists()

    def mounts_under(self, directory: Path) -> list[MountPoint]:
        logical = self._logical(directory)
        if logical in (self._logical_root, self._guard.root):
            mirror: Path | None = self._mounts_dir
        else:
            mirror = self._mirror(logical)
        if mirror is None:
            return []
        records = sorted(self._records_below(mirror), key=lambda r: r.get("seq", 0))
        return _deepest_first([self._point(r) for r in records])

    def mount_refs(self, path: Path) -> list[Path]:
        rec = self._record(path)
        if rec is None:
            return []
        here = self._logical(path)
        return sorted(t for t in self._refs(rec["fs"]) if t != here)

    def statvfs(self, path: Path) -> FsStats:
        resolved = Path(os.path.realpath(path))
        if resolved.is_relative_to(self._fs_dir) and resolved != self._fs_dir:
            fs_id = resolved.relative_to(self._fs_dir).parts[0]
            meta = _read_json(self._fs_dir / f"{fs_id}.json")
            if meta is not None:
                return _simulated_stats(self._fs_dir / fs_id, int(meta["size"]))
        rec = self._record(path)
        if rec is not None and rec["fstype"] == "tmpfs":
            size = next((int(o[5:]) for o in rec["options"] if o.startswith("size=")), None)
            if size is not None:
                return _simulated_stats(resolved, size)
        return _stats_from_statvfs(resolved)


def _prune(directory: Path, stop: Path) -> None:
    """Remove empty directories from `directory` up to (not including) `stop`."""
    while directory != stop and directory.is_relative_to(stop):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = directory.parent


def _replaceable(target: Path, as_file: bool) -> bool:
    """A target we may turn into a symlink: missing, an empty directory, or an empty file."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return True
    if stat.S_ISDIR(st.st_mode):
        return not as_file and not any(os.scandir(target))
    return as_file and stat.S_ISREG(st.st_mode) and st.st_size == 0


def _empty_directory(directory: Path) -> None:
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _simulated_stats(directory: Path, size: int) -> FsStats:
    used = files = 0
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                files += 1
    inodes = max(size // 16384, files)
    return FsStats(capacity_bytes=size, available_bytes=max(0, size - used), used_bytes=used,
                   inodes=inodes, inodes_free=inodes - files, inodes_used=files)


# ---- choosing one


def privileged() -> bool:
    """Root with CAP_SYS_ADMIN, /dev/loop-control, and losetup, mount and mkfs.ext4 installed."""
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        return False
    try:
        with open("/proc/self/status") as f:
            caps = next((line.split()[1] for line in f if line.startswith("CapEff:")), "0")
        if not int(caps, 16) & (1 << CAP_SYS_ADMIN):
            return False
    except (OSError, ValueError):
        return False
    return all(shutil.which(tool) for tool in ("losetup", "mount", "umount", "mkfs.ext4", "blkid", "resize2fs", "e2fsck"))


def make_mounter(state_dir: Path, simulate: bool | None = None) -> RealMounter | SimulatedMounter:
    """Real mounts when privileged and not `simulate`; simulated when `simulate` or not privileged.
    `simulate=False` insists on real mounts and raises MountError when they cannot be made."""
    if simulate:
        return SimulatedMounter(state_dir)
    if privileged():
        return RealMounter(state_dir)
    if simulate is False:
        raise MountError(FAILED, "real mounts need root with CAP_SYS_ADMIN, /dev/loop-control and losetup, mount, "
                                 "mkfs.ext4, blkid, resize2fs and e2fsck installed; use --simulate-mounts")
    log.info("not privileged for real mounts: simulating them under %s/simulated", state_dir)
    return SimulatedMounter(state_dir)
