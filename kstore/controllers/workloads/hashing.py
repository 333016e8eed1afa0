"""Template hashes: the `pod-template-hash` of a Deployment's ReplicaSets and the revision
names of a StatefulSet (`controller-revision-hash`).

Kubernetes (`controller.ComputeHash`) feeds the template, and the collision count when there
is one, to FNV-1a 32 and writes the number through `rand.SafeEncodeString`, which maps every
character to the alphabet `bcdfghjklmnpqrstvwxz2456789` (no vowels, so no words). We do the
same over the template's canonical JSON (sorted keys), and zero-pad the number to its ten
digits so every hash has ten characters. The values differ from Kubernetes' (it hashes Go
structs, not JSON), but they are stable for a template across restarts and processes, and
shaped alike: `web-7c5ddbdf54`.
"""

from __future__ import annotations

import json
from typing import Any

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LENGTH = 10
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    h = _FNV32_OFFSET
    for byte in data:
        h ^= byte
        h = (h * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """apimachinery's `rand.SafeEncodeString`: each character to `SAFE_ALPHABET[ord(c) % 27]`."""
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in text)


def template_hash(template: Any, collision_count: int | None = None) -> str:
    """The ten-character hash of a pod template (and collision count, when set)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str).encode()
    if collision_count:
        data += str(int(collision_count)).encode()
    return safe_encode(f"{fnv32a(data):0{HASH_LENGTH}d}")
