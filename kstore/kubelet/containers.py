"""The CRI step (the seed's §2.6): "start" a pod's containers by bind-mounting its volumes where
each container would see them (Kubernetes' `kubelet_pods.go` makeMounts / makeBlockVolumes,
read for behaviour; the container runtime's own mounts are what we emulate).

Layout: `<state>/nodes/<node>/containers/<pod-uid>/<container>/<mountPath>` is a bind mount
of the pod's volume dir (or of its `subPath`), read-only when the volumeMount says `readOnly`
or the plugin's volume is read-only (configMap, secret, ...); a `volumeDevices[].devicePath`
gets the mapped device bound on a file there.

Design:
- `plan_mounts()` is pure: the mounts a pod's app containers need, from the volumes the volume
  manager has set up, or a `ContainerConfigError` with Kubernetes' message (a missing volume,
  an absolute subPath or one with `..`) — the pod then waits with reason
  CreateContainerConfigError, as in Kubernetes. Init containers are taken to have run to
  completion before the app containers start; they get no bind mounts that outlive them.
- `ContainerRuntime.start()` / `stop()` block (on the kubelet's executor). `start` makes the
  subPath directories as Kubernetes does (created when missing, never outside the volume:
  each component is checked after resolving symlinks, so a subPath through a symlink that
  leaves the volume is refused) and the bind mounts, shallowest first, skipping targets
  already mounted: running it again after a crash or a restart mounts nothing twice. A
  failure undoes what this call mounted. `stop` unmounts everything under the pod's container
  dir, deepest first, and removes the (empty) directories it made.
- The runtime's memory (`running`) is owned by the event loop: callers update it with the
  results of the blocking calls. At start-up `adopt()` takes over the container mounts found
  on disk, so a restarted kubelet's pods keep running.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import os
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kstore.kubelet.volumemanager.types import PodUID, PodVolume
from kstore.volume.mount import BUSY, Mounter, MountError, MountPoint
from kstore.volume.plugins.base import plain_name
from kstore.volume.plugins.projection import field_value

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ContainerConfigError(Exception):
    """A container cannot be created as specified (Kubernetes' CreateContainerConfigError)."""


@dataclasses.dataclass(frozen=True)
class ContainerMount:
    container: str
    volume: str  # the volumeMount's (or volumeDevice's) name
    source: str  # the pod's volume path, or the device for a volumeDevice
    sub_path: str  # "" or a relative path inside the volume
    target: Path
    read_only: bool
    device: bool = False


def container_dir(containers_root: Path, uid: str, container: str) -> Path:
    return containers_root / plain_name(uid, "pod uid") / plain_name(container, "container name")


def container_id(uid: str, container: str) -> str:
    """A stable fake runtime id, `kstore://<64 hex>`."""
    return "kstore://" + hashlib.sha256(f"{uid}/{container}".encode()).hexdigest()


def _inside(container_root: Path, path: object, what: str) -> Path:
    if not isinstance(path, str) or not path:
        raise ContainerConfigError(f"{what} must be a non-empty path")
    normal = posixpath.normpath(posixpath.join("/", path))
    return container_root / normal.lstrip("/") if normal != "/" else container_root


def _env_value(container: Obj, name: str, pod: Obj) -> str | None:
    for env in container.get("env") or []:
        if env.get("name") != name:
            continue
        if "value" in env:
            return str(env.get("value") or "")
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, Mapping):
            try:
                return field_value(pod, str(ref.get("fieldPath") or ""))
            except MountError:
                return None
        return None
    return None


def expand_sub_path_expr(expr: str, container: Obj, pod: Obj) -> str:
    """`$(VAR)` from the container's env (literal values and fieldRefs), as Kubernetes'
    subPathExpr; an undefined variable is an error."""
    def one(match: re.Match[str]) -> str:
        value = _env_value(container, match.group(1), pod)
        if value is None:
            raise ContainerConfigError(f"failed to expand subPathExpr {expr!r}: variable {match.group(1)} is not "
                                       f"defined in the env of container {container.get('name')!r}")
        return value

    return _VAR.sub(one, expr)


def check_sub_path(sub_path: str) -> None:
    if PurePosixPath(sub_path).is_absolute():
        raise ContainerConfigError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in PurePosixPath(sub_path).parts:
        raise ContainerConfigError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")


def plan_mounts(pod: Obj, volumes: Mapping[str, PodVolume], containers_root: Path) -> list[ContainerMount]:
    """The bind mounts of the pod's app containers (pure; raises ContainerConfigError)."""
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    out: list[ContainerMount] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        cname = str(container.get("name") or "")
        root = container_dir(containers_root, uid, cname)
        for m in container.get("volumeMounts") or []:
            name = str(m.get("name") or "")
            volume = volumes.get(name)
            if volume is None or volume.device is not None:
                raise ContainerConfigError(f'cannot find volume "{name}" to mount into container "{cname}"')
            sub_path = str(m.get("subPath") or "")
            if m.get("subPathExpr"):
                sub_path = expand_sub_path_expr(str(m["subPathExpr"]), container, pod)
            if sub_path:
                check_sub_path(sub_path)
            out.append(ContainerMount(container=cname, volume=name, source=str(volume.path), sub_path=sub_path,
                                      target=_inside(root, m.get("mountPath"), "mountPath"),
                                      read_only=bool(m.get("readOnly")) or volume.read_only))
        for d in container.get("volumeDevices") or []:
            name = str(d.get("name") or "")
            volume = volumes.get(name)
            if volume is None or volume.device is None:
                raise ContainerConfigError(f'cannot find volume "{name}" to map into container "{cname}"')
            out.append(ContainerMount(container=cname, volume=name, source=volume.device, sub_path="",
                                      target=_inside(root, d.get("devicePath"), "devicePath"), read_only=False,
                                      device=True))
    out.sort(key=lambda cm: (cm.container, len(cm.target.parts), str(cm.target)))
    return out


def prepare_sub_path(volume_path: Path, sub_path: str, *, container: str, mount: str) -> Path:
    """The subPath inside the volume, made when missing (Kubernetes' SafeMakeDir), never outside
    it. Blocking."""
    base = Path(os.path.realpath(volume_path))
    current = base
    try:
        mode = os.stat(base).st_mode & 0o7777
    except OSError as e:
        raise ContainerConfigError(f'failed to create subPath directory for volumeMount "{mount}" of container '
                                   f'"{container}"') from e
    for part in PurePosixPath(sub_path).parts:
        nxt = current / part
        if not os.path.lexists(nxt):
            try:
                os.mkdir(nxt, mode)
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise ContainerConfigError(f'failed to create subPath directory for volumeMount "{mount}" of '
                                               f'container "{container}"') from e
        current = Path(os.path.realpath(nxt))
        if not current.is_relative_to(base):
            raise ContainerConfigError(f'failed to prepare subPath for volumeMount "{mount}" of container '
                                       f'"{container}"')
    return current


@dataclasses.dataclass
class RunningPod:
    uid: PodUID
    started_at: str | None  # rfc3339; None when adopted at start-up (the pod's status has it)
    targets: tuple[Path, ...]
    adopted: bool = False


class ContainerRuntime:
    """The emulated container runtime of one node (see the module docstring)."""

    def __init__(self, mounter: Mounter, containers_root: Path) -> None:
        self.mounter = mounter
        self.root = containers_root
        self.running: dict[PodUID, RunningPod] = {}
        self.starting: set[PodUID] = set()  # start() under way: counts as running

    def is_running(self, uid: PodUID) -> bool:
        return uid in self.running or uid in self.starting

    def adopt(self, found: Mapping[PodUID, list[MountPoint]]) -> None:
        for uid, mounts in found.items():
            self.running[uid] = RunningPod(uid=uid, started_at=None, targets=tuple(m.target for m in mounts),
                                           adopted=True)

    def pod_dirs(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []

    # ---- blocking

    def start(self, mounts: list[ContainerMount]) -> tuple[Path, ...]:
        """Make the bind mounts (idempotent); returns their targets. Raises ContainerConfigError
        or MountError, after undoing what this call mounted."""
        made: list[Path] = []
        try:
            for cm in mounts:
                if self.mounter.is_mount_point(cm.target):
                    continue
                source: Path | str = cm.source
                if cm.sub_path:
                    source = prepare_sub_path(Path(cm.source), cm.sub_path, container=cm.container, mount=cm.volume)
                self.mounter.bind_mount(source, cm.target, read_only=cm.read_only)
                made.append(cm.target)
        except BaseException:
            for target in reversed(made):
                try:
                    self.mounter.unmount(target)
                except MountError as e:
                    log.warning("container mount %s: cannot undo it: %s", target, e)
            raise
        return tuple(cm.target for cm in mounts)

    def stop(self, uid: PodUID) -> None:
        """Unmount everything under the pod's container dir and remove the dir. Raises
        MountError when something stays mounted."""
        pod_dir = self.root / plain_name(uid, "pod uid")
        if not os.path.lexists(pod_dir):
            return
        for m in self.mounter.mounts_under(pod_dir):  # deepest first
            self.mounter.unmount(m.target)
        left = self.mounter.mounts_under(pod_dir)
        if left:
            raise MountError(BUSY, f"{pod_dir}: still mounted below it: {', '.join(str(m.target) for m in left)}")
        _remove_empty_tree(pod_dir)


def _remove_empty_tree(directory: Path) -> None:
    """Remove the directories and empty files the runtime made (mount points); leave anything
    with content, and say so."""
    for dirpath, dirnames, filenames in os.walk(directory, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) == 0:
                    os.unlink(path)
            except OSError:
                pass
        for name in dirnames:
            path = os.path.join(dirpath, name)
            try:
                if os.path.islink(path):
                    os.unlink(path)
                else:
                    os.rmdir(path)
            except OSError:
                pass
    try:
        os.rmdir(directory)
    except OSError as e:
        log.warning("container dir %s: not removed: %s", directory, e.strerror)
