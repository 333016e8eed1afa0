"""The msgpack codec: round trips, the size limit, and garbage that must only raise CodecError."""

from __future__ import annotations

import os

import pytest

from bus import codec


@pytest.mark.parametrize(
    "value",
    [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x", "labels": {"a": "b"}}},
        [1, "two", None, True, 3.5, {"nested": [b"bytes"]}],
        {"unicode": "卷 — volume", "big": 2**62, "neg": -(2**40)},
        {},
    ],
)
def test_round_trip(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize(
    "frame",
    [
        b"\xc1",  # never-used byte
        b"\x92\x01",  # array of 2 with one item: truncated
        b"\xdb\xff\xff\xff\xff",  # str32 claiming 4 GiB
        b"\x93\x01\x02\x03\x04",  # trailing extra data
        os.urandom(64),
    ],
)
def test_garbage_raises_codec_error_only(frame: bytes) -> None:
    try:
        codec.decode(frame)
    except codec.CodecError:
        pass  # the only acceptable failure


def test_oversized_frame_is_refused() -> None:
    big = codec.encode({"data": "x" * 2048})
    with pytest.raises(codec.CodecError, match="exceeds the limit of 1024"):
        codec.decode(big, max_size=1024)


def test_headers_compose_with_encoded_items() -> None:
    items = [codec.encode({"n": i}) for i in range(3)]
    raw = codec.map_header(1) + codec.encode("items") + codec.array_header(3) + b"".join(items)
    assert codec.decode(raw) == {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}


def test_unencodable_value() -> None:
    with pytest.raises(codec.CodecError):
        codec.encode({"x": object()})
