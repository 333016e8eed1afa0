"""Kubernetes' AtomicWriter layout (`pkg/volume/util/atomic_writer.go`, read for behaviour; our
own code): how configMap, secret, downwardAPI and projected volumes put their files.

    <dir>/..2024_05_01_12_00_00.123456789/   the files of one version (mode 0755 dir)
    <dir>/..data -> ..2024_05_01_12_00_00.123456789
    <dir>/<top-level name> -> ..data/<top-level name>

A new version is written into a fresh timestamped directory; `..data_tmp` is pointed at it and
renamed over `..data` (rename is atomic), so a reader sees the old set of files or the new one,
never a mix. Then user-visible links for new names are made, links for names gone are removed,
and the old version is deleted. An unchanged payload writes nothing.

Payload paths are relative, contain no `..` element, do not start with `..`, and have no name
over 255 characters nor a total over 4096 (Kubernetes' messages).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from kstore.volume.mount import INVALID, MountError

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"
MAX_PATH = 4096
MAX_NAME = 255


@dataclasses.dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def validate_path(path: str) -> str:
    if not path:
        raise MountError(INVALID, f"invalid path: must not be empty: {path!r}")
    if path.startswith("/"):
        raise MountError(INVALID, f"invalid path: must be relative path: {path}")
    if len(path) > MAX_PATH:
        raise MountError(INVALID, f"invalid path: must be less than or equal to {MAX_PATH} characters")
    items = path.split("/")
    for item in items:
        if item == "..":
            raise MountError(INVALID, f"invalid path: must not contain '..': {path}")
        if len(item) > MAX_NAME:
            raise MountError(INVALID, f"invalid path: filenames must be less than or equal to {MAX_NAME} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise MountError(INVALID, f"invalid path: must not start with '..': {path}")
    return os.path.normpath(path)


class AtomicWriter:
    def __init__(self, target_dir: Path) -> None:
        self.target_dir = Path(target_dir)

    def write(self, payload: Mapping[str, FileProjection]) -> bool:
        """Project `payload` into the target dir (which must exist). True when it changed."""
        clean = {validate_path(path): content for path, content in payload.items()}
        data_link = self.target_dir / DATA_DIR
        try:
            old_version = os.readlink(data_link)
        except FileNotFoundError:
            old_version = ""
        old_path = self.target_dir / old_version if old_version else None
        to_remove: set[str] = set()
        if old_path is not None:
            to_remove = self._paths_to_remove(clean, old_path)
            if not to_remove and not self._should_write(clean, old_path):
                return False

        version = Path(tempfile.mkdtemp(prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()),
                                        dir=self.target_dir))
        try:
            os.chmod(version, 0o755)
            for path, content in clean.items():
                full = version / path
                full.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, content.mode)
                try:
                    os.write(fd, content.data)
                finally:
                    os.close(fd)
                os.chmod(full, content.mode)
            self._create_user_visible(clean)
            new_link = self.target_dir / NEW_DATA_DIR
            if os.path.lexists(new_link):
                os.unlink(new_link)
            os.symlink(version.name, new_link)
            os.rename(new_link, data_link)
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        for name in to_remove:
            if "/" not in name:
                try:
                    os.unlink(self.target_dir / name)
                except FileNotFoundError:
                    pass
        if old_path is not None and old_version != version.name:
            shutil.rmtree(old_path, ignore_errors=True)
        return True

    @staticmethod
    def _should_write(payload: Mapping[str, FileProjection], old: Path) -> bool:
        for path, content in payload.items():
            try:
                st = os.lstat(old / path)
                if (st.st_mode & 0o7777) != content.mode or (old / path).read_bytes() != content.data:
                    return True
            except OSError:
                return True
        return False

    @staticmethod
    def _paths_to_remove(payload: Mapping[str, FileProjection], old: Path) -> set[str]:
        current = set()
        for dirpath, dirnames, filenames in os.walk(old):
            for name in dirnames + filenames:
                current.add(os.path.relpath(os.path.join(dirpath, name), old))
        wanted = set()
        for path in payload:
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                wanted.add("/".join(parts[:i]))
        return current - wanted

    def _create_user_visible(self, payload: Mapping[str, FileProjection]) -> None:
        for path in payload:
            top = path.split("/", 1)[0]
            link = self.target_dir / top
            if not os.path.islink(link):
                if os.path.lexists(link):
                    raise MountError(INVALID, f"{link} exists and is not a link into {DATA_DIR}: not replacing it")
                os.symlink(os.path.join(DATA_DIR, top), link)
