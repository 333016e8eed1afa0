"""`kstore down`: stop a cluster and remove everything it made on this machine.

Order matters: processes first (a live kubelet would mount again), then mounts deepest
first (a parent cannot be unmounted under a child), then loop devices (a mounted one cannot
be detached), then the files (never under a mount point that is still there).

Invariant: nothing outside the state dir is touched. Every mount point and loop backing
file is resolved and checked to lie inside the resolved state dir; processes are ours if
their environment carries our `KSTORE_STATE_DIR` or their command line names a path inside
the state dir. This process and its ancestors are never signalled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from kstore.supervisor.cluster import STATE_ENV
from kstore.supervisor.status import live_supervisor

log = logging.getLogger(__name__)

SUPERVISOR_STOP_TIMEOUT = 30.0  # it gives each stage of its children 10 s
LEFTOVER_STOP_TIMEOUT = 5.0


@dataclasses.dataclass
class Report:
    supervisor: int | None = None
    killed: list[int] = dataclasses.field(default_factory=list)
    unmounted: list[str] = dataclasses.field(default_factory=list)
    detached: list[str] = dataclasses.field(default_factory=list)
    removed: bool = False
    problems: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.supervisor:
            out.append(f"stopped the supervisor (pid {self.supervisor})")
        if self.killed:
            out.append(f"killed {len(self.killed)} leftover processes: {' '.join(map(str, self.killed))}")
        out += [f"unmounted {m}" for m in self.unmounted]
        out += [f"detached {d}" for d in self.detached]
        out += [f"problem: {p}" for p in self.problems]
        return out


def inside(path: str | Path, root: Path) -> bool:
    """True if `path` is `root` or lies under it (both resolved, no `..` games)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(root)
    except (OSError, ValueError):
        return False


def down(state_dir: Path, *, keep: bool = False) -> Report:
    """Stop everything of the cluster in `state_dir`; remove the dir unless `keep`."""
    root = Path(os.path.realpath(state_dir))
    report = Report()
    report.supervisor = stop_supervisor(root)
    report.killed = kill_leftovers(root)
    report.unmounted = unmount_all(root, report.problems)
    report.detached = detach_loops(root, report.problems)
    if not keep and root.exists():
        if mounts_under(root):
            report.problems.append(f"{root} not removed: mount points remain under it")
        else:
            try:
                shutil.rmtree(root)
                report.removed = True
            except OSError as e:
                report.problems.append(f"cannot remove {root}: {e}")
    return report


# -- processes ------------------------------------------------------------------------------


def _wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until none of `pids` lives; the ones still alive at the timeout."""
    alive = set(pids)
    deadline = time.monotonic() + timeout
    while alive:
        alive = {p for p in alive if pid_alive(p)}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return alive


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a dead child its parent has not reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def stop_supervisor(root: Path) -> int | None:
    """SIGTERM the supervisor of `root`, wait, SIGKILL. Returns its pid if one ran."""
    pid = live_supervisor(root)
    if not pid:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone([pid], SUPERVISOR_STOP_TIMEOUT):
        log.warning("supervisor %d did not stop in %.0fs; killing it", pid, SUPERVISOR_STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone([pid], 5.0)
    return pid


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _is_ours(pid: int, root: Path) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
        if any(e.startswith(f"{STATE_ENV}=".encode()) and inside(e.split(b"=", 1)[1].decode(), root) for e in env):
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    root_s = str(root)
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        if value.startswith(root_s) and inside(value, root):
            return True
    return False


def find_leftovers(root: Path) -> list[int]:
    """Processes of the cluster in `root` (not this one nor its ancestors)."""
    mine = _ancestors()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine and _is_ours(int(entry), root):
            pids.append(int(entry))
    return pids


def kill_leftovers(root: Path) -> list[int]:
    """SIGTERM every leftover process, then SIGKILL what is left after a grace period."""
    pids = [p for p in find_leftovers(root) if pid_alive(p)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in _wait_gone(pids, LEFTOVER_STOP_TIMEOUT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(pids, 5.0)
    return pids


# -- mounts and loop devices ----------------------------------------------------------------


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(root: Path) -> list[str]:
    """Mount points in or under `root`, deepest first (the later mount of a stack first)."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [_unescape(line.split()[4]) for line in f if line.strip()]
    except OSError:
        return []
    ours = [(i, p) for i, p in enumerate(points) if Path(p).is_relative_to(root)]
    ours.sort(key=lambda ip: (-len(Path(ip[1]).parts), -ip[0]))
    return [p for _, p in ours]


def unmount_all(root: Path, problems: list[str]) -> list[str]:
    done: list[str] = []
    for _ in range(100):  # stacked mounts show up again; stop if nothing moves
        points = mounts_under(root)
        if not points:
            break
        progress = False
        for point in points:
            if subprocess.run(["umount", point], capture_output=True).returncode == 0:
                done.append(point)
                progress = True
                continue
            lazy = subprocess.run(["umount", "-l", point], capture_output=True, text=True)
            if lazy.returncode == 0:
                done.append(f"{point} (lazily)")
                progress = True
            else:
                problems.append(f"umount {point}: {lazy.stderr.strip()}")
        if not progress:
            break
    return done


def _loop_backing_files() -> dict[str, str]:
    """/dev/loopN → backing file, for every attached loop device."""
    result = {}
    for dev in Path("/sys/block").glob("loop*"):
        try:
            backing = (dev / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue  # not attached
        result[f"/dev/{dev.name}"] = backing.removesuffix(" (deleted)")
    return result


def detach_loops(root: Path, problems: list[str]) -> list[str]:
    done = []
    for dev, backing in sorted(_loop_backing_files().items()):
        if not backing or not Path(os.path.normpath(backing)).is_relative_to(root):
            continue
        r = subprocess.run(["losetup", "-d", dev], capture_output=True, text=True)
        if r.returncode == 0:
            done.append(f"{dev} ({backing})")
        else:
            problems.append(f"losetup -d {dev}: {r.stderr.strip()}")
    return done
