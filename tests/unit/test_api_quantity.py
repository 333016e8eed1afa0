"""Tests for kstore.api.quantity: parsing, rounding, kstore's rendering and Kubernetes' canonical form.

Expected values come from apimachinery's quantity_test.go behaviour (`1.5Gi` is `1536Mi`,
`1.5` is `1500m`, `0.1n` rounds up to `1n`).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from kstore.api.quantity import (
    ERR_FORMAT,
    ERR_NUMERIC,
    ERR_SUFFIX,
    QuantityError,
    canonicalize,
    format_quantity,
    parse_quantity,
    to_bytes,
)

GI = 1024**3

PARSE = [
    ("1Gi", GI),
    ("10Gi", 10 * GI),
    ("1.5Gi", 1536 * 1024**2),
    ("500M", 500_000_000),
    ("1Ki", 1024),
    ("1Ei", 1024**6),
    ("1k", 1000),
    ("1E", 10**18),
    ("100m", Fraction(1, 10)),
    ("1n", Fraction(1, 10**9)),
    ("5u", Fraction(5, 10**6)),
    ("1e3", 1000),
    ("1E3", 1000),
    ("1e-3", Fraction(1, 1000)),
    ("1e+3", 1000),
    ("-2k", -2000),
    ("+2k", 2000),
    (".5Ki", 512),
    ("5.", 5),
    ("1.G", 10**9),
    ("007", 7),
    ("0", 0),
    ("0Gi", 0),
    ("0.1n", Fraction(1, 10**9)),  # rounded up to a whole nano
    ("-0.1n", Fraction(-1, 10**9)),  # away from zero
    (1073741824, GI),
    (1.5, Fraction(3, 2)),
]


@pytest.mark.parametrize(("text", "expected"), PARSE, ids=[str(t) for t, _ in PARSE])
def test_parse_quantity(text: str | int | float, expected: int | Fraction) -> None:
    assert parse_quantity(text) == expected


BAD = [
    ("", ERR_FORMAT),
    ("abc", ERR_FORMAT),
    ("Gi", ERR_FORMAT),
    ("+", ERR_FORMAT),
    ("1 Gi", ERR_FORMAT),
    ("1Gi\n", ERR_FORMAT),
    ("1.2.3", ERR_FORMAT),
    (".", ERR_NUMERIC),
    ("1ki", ERR_SUFFIX),
    ("1e", ERR_SUFFIX),
    ("1Gi5", ERR_SUFFIX),
    ("1KiB", ERR_FORMAT),
    (True, ERR_FORMAT),
    (None, ERR_FORMAT),
    (float("inf"), ERR_NUMERIC),
]


@pytest.mark.parametrize(("text", "detail"), BAD, ids=[repr(t) for t, _ in BAD])
def test_parse_quantity_rejects(text: object, detail: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text)  # type: ignore[arg-type]
    assert caught.value.detail == detail
    assert str(caught.value) == f"cannot parse quantity {text!r}: {detail}"
    assert isinstance(caught.value, ValueError)


def test_format_error_names_the_regular_expression() -> None:
    assert (
        ERR_FORMAT
        == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


TO_BYTES = [("1Gi", GI), ("1.5", 2), ("100m", 1), ("1", 1), ("0", 0), ("-1.5", -1), (Fraction(7, 2), 4)]


@pytest.mark.parametrize(("value", "expected"), TO_BYTES, ids=[str(v) for v, _ in TO_BYTES])
def test_to_bytes_rounds_up(value: str | Fraction, expected: int) -> None:
    assert to_bytes(value) == expected


FORMAT = [
    (0, "0"),
    (1, "1"),
    (999, "999"),
    (1000, "1k"),
    (1024, "1Ki"),
    (1536, "1536"),
    (1024000, "1000Ki"),
    (2_000_000, "2M"),
    (2_000_000_000, "2G"),  # also 1953125Ki: the smaller number wins
    (500_000_000, "500M"),
    (GI, "1Gi"),
    (10 * GI, "10Gi"),
    (1536 * 1024**2, "1536Mi"),
    (3 * GI, "3Gi"),
    (1024**7, "1024Ei"),
    (10**21, "1000E"),
    (-GI, "-1Gi"),
]


@pytest.mark.parametrize(("n_bytes", "expected"), FORMAT, ids=[str(n) for n, _ in FORMAT])
def test_format_quantity(n_bytes: int, expected: str) -> None:
    assert format_quantity(n_bytes) == expected
    assert parse_quantity(expected) == n_bytes


def test_format_quantity_needs_an_int() -> None:
    with pytest.raises(TypeError):
        format_quantity(1.5)  # type: ignore[arg-type]


CANONICAL = [
    ("1Gi", "1Gi"),
    ("-1Gi", "-1Gi"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("1024Mi", "1Gi"),
    ("1.1Ki", "1126400m"),  # a fraction: shown as DecimalSI
    ("512", "512"),
    (".5Ki", "512"),  # below 1Ki: shown as DecimalSI
    ("1.5", "1500m"),
    ("1000", "1k"),
    ("1000M", "1G"),
    ("0.1n", "1n"),
    ("1e3", "1e3"),
    ("1000e0", "1e3"),
    ("1.5e3", "1500"),
    ("0", "0"),
    ("0Gi", "0"),
    (1073741824, "1073741824"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL, ids=[str(t) for t, _ in CANONICAL])
def test_canonicalize_keeps_the_suffix_family(text: str | int, expected: str) -> None:
    assert canonicalize(text) == expected
