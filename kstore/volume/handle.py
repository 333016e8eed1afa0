"""`VolumeHandle`: what names one volume of the emulated storage pool.

Design:
- A handle is a value (frozen dataclass): backend, name, path, size, node. The pool
  (pool.py) makes handles and acts on them; the PV carries one, so any process can find the
  volume again from the PV alone (pv_source.py): `to_attributes()` renders it as the
  `kstore.io/`-prefixed strings of `spec.csi.volumeAttributes`, `from_attributes()` reads
  them back.
- `volume_id` (`<backend>/<name>`) is the CSI `volumeHandle`.
- A handle read from a PV is user input: the pool recomputes where the volume must live from
  (backend, name, node) and refuses a handle whose path says otherwise (`Unsafe`). Nothing
  here touches the disk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

BLOCK, SHARED, LOCAL = "block", "shared", "local"
BACKENDS = (BLOCK, SHARED, LOCAL)

ATTR_PREFIX = "kstore.io/"
ATTR_BACKEND = ATTR_PREFIX + "backend"
ATTR_NAME = ATTR_PREFIX + "name"
ATTR_PATH = ATTR_PREFIX + "path"
ATTR_SIZE = ATTR_PREFIX + "size"
ATTR_NODE = ATTR_PREFIX + "node"


@dataclasses.dataclass(frozen=True)
class VolumeHandle:
    """One pool volume. `size` is in bytes; `node` is set for `local` volumes only.

    `path` is where the volume lives: `<state>/pool/<backend>/<name>` (an image file for
    `block`, a directory for `shared`) or `<state>/nodes/<node>/local/<name>` (`local`).
    """

    backend: str
    name: str
    path: Path
    size: int
    node: str | None = None

    @property
    def volume_id(self) -> str:
        """`<backend>/<name>`: the CSI volumeHandle of the PV."""
        return f"{self.backend}/{self.name}"

    def to_attributes(self) -> dict[str, str]:
        attrs = {
            ATTR_BACKEND: self.backend,
            ATTR_NAME: self.name,
            ATTR_PATH: str(self.path),
            ATTR_SIZE: str(self.size),
        }
        if self.node is not None:
            attrs[ATTR_NODE] = self.node
        return attrs

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, str]) -> VolumeHandle:
        """The inverse of `to_attributes`; other keys are ignored.

        Raises ValueError naming the key when one is missing or malformed.
        """
        for key in (ATTR_BACKEND, ATTR_NAME, ATTR_PATH, ATTR_SIZE):
            if not isinstance(attrs.get(key), str) or not attrs[key]:
                raise ValueError(f"volume attributes: {key} is missing")
        if attrs[ATTR_BACKEND] not in BACKENDS:
            raise ValueError(f"volume attributes: {ATTR_BACKEND}: unknown backend {attrs[ATTR_BACKEND]!r}")
        try:
            size = int(attrs[ATTR_SIZE])
        except ValueError:
            size = -1
        if size < 0:
            raise ValueError(f"volume attributes: {ATTR_SIZE}: {attrs[ATTR_SIZE]!r} is not a byte count")
        node = attrs.get(ATTR_NODE) or None
        return cls(attrs[ATTR_BACKEND], attrs[ATTR_NAME], Path(attrs[ATTR_PATH]), size, node)
