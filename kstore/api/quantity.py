"""Kubernetes resource quantities (`1Gi`, `500M`, `1.5Gi`, `100m`, `1e3`) as exact fractions.

Design:
- A quantity is parsed into a `fractions.Fraction`: never a float, so `1.5Gi` is exactly
  1610612736 and `0.1` is exactly 1/10. The grammar is apimachinery's (`resource/quantity.go`):

      <quantity> ::= <sign>? <number> <suffix>
      <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
      <suffix>   ::= "" | n u m k M G T P E          (decimal SI, powers of 1000)
                   | Ki Mi Gi Ti Pi Ei              (binary SI, powers of 1024)
                   | e<signed int> | E<signed int>  (decimal exponent)

  Like Kubernetes, values are rounded up (away from zero) to a whole nano unit: `0.1n` is `1n`.
  Kubernetes reads a bare `+` or `Gi` as zero; here a quantity needs at least one digit.
- Two renderings, for two uses:
  * `format_quantity(n_bytes)` is what kstore writes (PV capacity, PVC status): binary suffix
    when exact (`1Gi`, `1536Mi`), else decimal (`500M`), else plain digits; when both are
    exact the smaller number wins (`2G`, not `1953125Ki`).
  * `canonicalize(text)` is what the apiserver echoes back in messages: Kubernetes' canonical
    form, which keeps the suffix family the user wrote (`-1Gi` stays `-1Gi`, `1.5` becomes
    `1500m`, `1000` becomes `1k`, `1e3` stays `1e3`).
- Errors: `QuantityError` (a `ValueError`) carries `.detail`, apimachinery's exact text, for
  validation messages; `str()` also names the offending input.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

# apimachinery's splitREString; its wording is part of the error users see.
_SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{_SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_SPLIT = re.compile(_SPLIT_RE.removeprefix("^").removesuffix("$"))
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}  # powers of 1024
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = {power: suffix for suffix, power in _BINARY_SUFFIXES.items()}

_NANO = Fraction(1, 10**9)

# The three suffix families a parsed quantity remembers (Kubernetes' `Format`).
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity. `.detail` is apimachinery's wording."""

    def __init__(self, value: object, detail: str) -> None:
        super().__init__(f"cannot parse quantity {value!r}: {detail}")
        self.value = value
        self.detail = detail


def _text(value: str | int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(value, ERR_FORMAT)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(value, ERR_NUMERIC)
        return repr(value)
    return str(value)


@functools.lru_cache(maxsize=4096, typed=True)
def _parse(value: str | int | float) -> tuple[Fraction, str]:
    """The exact value, rounded up to a whole nano, and the suffix family it was written in.
    Memoized: the same few quantities (`1Gi`, `10Gi`) are parsed on every write, and Fraction
    arithmetic is slow; the result is immutable."""
    text = _text(value)
    match = _SPLIT.fullmatch(text)
    if match is None:
        raise QuantityError(value, ERR_FORMAT)
    number, suffix = match.groups()
    if not _NUMBER.fullmatch(number):
        raise QuantityError(value, ERR_FORMAT if number.strip("+-") != "." else ERR_NUMERIC)
    amount = Fraction(number)
    if suffix in _BINARY_SUFFIXES:
        amount *= 1024 ** _BINARY_SUFFIXES[suffix]
        family = BINARY_SI
    elif suffix in _DECIMAL_SUFFIXES:
        amount *= Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
        family = DECIMAL_SI
    elif exp := _EXPONENT.fullmatch(suffix):
        amount *= Fraction(10) ** int(exp.group(1))
        family = DECIMAL_EXPONENT
    else:
        raise QuantityError(value, ERR_SUFFIX)
    return _round_up_to_nano(amount), family


def _round_up_to_nano(amount: Fraction) -> Fraction:
    nanos = amount / _NANO
    if nanos.denominator == 1:
        return amount
    magnitude = math.ceil(abs(nanos))
    return Fraction(magnitude if amount > 0 else -magnitude) * _NANO


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse `1Gi`, `500M`, `1.5Gi`, `100m`, `1e3`, `-2k`, 42 ... into an exact Fraction.

    Raises QuantityError (a ValueError) on anything outside the Kubernetes grammar.
    """
    return _parse(value)[0]


def to_bytes(value: str | int | float | Fraction) -> int:
    """Whole units (bytes for storage), rounding up: `1.5` -> 2, `100m` -> 1, `1Gi` -> 1073741824."""
    amount = value if isinstance(value, Fraction) else parse_quantity(value)
    return math.ceil(amount)


def format_quantity(n_bytes: int) -> str:
    """kstore's rendering of a byte count: `1Gi`, `10Gi`, `1536Mi`, `500M`, `1000Ki`, `1536`, `0`.

    A binary suffix when the count is a whole number of KiB (or larger units), else a decimal
    suffix when it is a whole number of kB (or larger), else plain digits. When both suffixes
    are exact, binary wins unless the decimal number is smaller: `2G` (2000000000 is also
    1953125Ki) stays `2G`, while 1024000 is `1000Ki` rather than `1024k`.
    """
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int):
        raise TypeError(f"format_quantity needs an int number of bytes, not {type(n_bytes).__name__}")
    if n_bytes < 0:
        return "-" + format_quantity(-n_bytes)
    if n_bytes == 0:
        return "0"
    binary, power = _largest_binary(n_bytes)
    decimal, exponent = _largest_decimal(n_bytes, max_exponent=18)
    if power > 0 and binary <= decimal:
        return f"{binary}{_BINARY_BY_POWER[power]}"
    return f"{decimal}{_DECIMAL_BY_EXPONENT[exponent]}"


def _largest_binary(n: int) -> tuple[int, int]:
    power = 0
    while power < 6 and n % 1024 == 0:
        n //= 1024
        power += 1
    return n, power


def _largest_decimal(nanos_or_units: int, *, max_exponent: int, start: int = 0) -> tuple[int, int]:
    n, exponent = nanos_or_units, start
    while exponent < max_exponent and n % 1000 == 0:
        n //= 1000
        exponent += 3
    return n, exponent


def canonicalize(value: str | int | float) -> str:
    """Kubernetes' canonical string for a quantity, keeping the suffix family it was written in.

    `-1Gi` -> `-1Gi`, `1.5Gi` -> `1536Mi`, `0.5Gi` -> `512Mi`, `1.5` -> `1500m`, `1000` -> `1k`,
    `1e3` -> `1e3`, `1.1Ki` -> `1126400m`, `0Gi` -> `0`. Raises QuantityError like parse_quantity.
    """
    amount, family = _parse(value)
    if amount == 0:
        return "0"
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    if family == BINARY_SI and amount >= 1024 and amount.denominator == 1:
        mantissa, power = _largest_binary(int(amount))
        return f"{sign}{mantissa}{_BINARY_BY_POWER[power]}"
    # Binary values below 1Ki or with a fraction are shown as DecimalSI, as Kubernetes does.
    nanos = int(amount / _NANO)
    if family == DECIMAL_EXPONENT:
        mantissa, exponent = _largest_decimal(nanos, max_exponent=10**6, start=-9)
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    mantissa, exponent = _largest_decimal(nanos, max_exponent=18, start=-9)
    return f"{sign}{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"
