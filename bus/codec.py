"""msgpack codec for every frame on the bus.

Objects travel as msgpack maps in Kubernetes JSON shape. The store encodes an object once and
reuses the bytes for the durable record, the reply and the watch event, so `encode` is the
only place that serializes and `decode` the only place that parses. `decode` never raises
anything but `CodecError`, whatever the input, so a malformed frame costs a counter, never a
process.
"""

from __future__ import annotations

from typing import Any

import msgpack

# Largest frame accepted from a peer. kube-apiserver refuses request bodies over 3 MiB; a bus
# frame carries one object plus a small header, so 4 MiB leaves room for the header.
MAX_FRAME = 4 * 1024 * 1024


class CodecError(ValueError):
    """A frame that is not valid msgpack, or not of the shape expected."""


_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


def encode(obj: Any) -> bytes:
    try:
        return _packer.pack(obj)
    except (TypeError, ValueError, OverflowError) as e:
        raise CodecError(f"cannot encode: {e}") from e


def decode(data: bytes, *, max_size: int = MAX_FRAME) -> Any:
    if len(data) > max_size:
        raise CodecError(f"frame of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises a zoo of types (ExtraData, FormatError, StackError, ...)
        raise CodecError(f"malformed msgpack frame: {type(e).__name__}") from e


def array_header(n: int) -> bytes:
    """The msgpack header of an array of `n` items: header + concatenated encoded items is an array."""
    return _packer.pack_array_header(n)


def map_header(n: int) -> bytes:
    return _packer.pack_map_header(n)
