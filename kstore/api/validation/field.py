"""Field errors in the shape of apimachinery's `field.ErrorList`, and safe typed access.

Design:
- `FieldErrors` collects `Cause`s. Each builder mirrors one `field.*` constructor and renders
  the message exactly as `(*field.Error).ErrorBody()` does: `Required value: <detail>`,
  `Invalid value: "x": <detail>`, `Unsupported value: "X": supported values: "a", "b"`,
  `Not found: "x"`, `Forbidden: <detail>`, `Duplicate value: "x"`, `Too long: ...`.
  `Cause.field` is the path (`spec.containers[0].volumeMounts[0].name`), `Cause.reason` the
  CauseType (`FieldValueRequired` ...). Exact duplicates are dropped, as `ToAggregate` does.
- Bad values print as Go prints them: strings `%q`, numbers and booleans bare, maps and lists
  `%#v` (`map[string]string{"app":"web"}`, `[]string{"a", "b"}`).
- Objects arrive as untyped dicts, so every read goes through `as_map` / `as_list` / `as_str` /
  `as_int` / `as_bool`: a wrong JSON type becomes a `FieldValueTypeInvalid` cause (Kubernetes
  rejects those while decoding) and a neutral value, so validation never crashes on input.
- Paths are plain strings built with `child`, `index` and `key` (`spec.resources[storage]`).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from kstore.api.errors import Cause
from kstore.api.quantity import QuantityError, canonicalize, parse_quantity

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
NOT_FOUND = "FieldValueNotFound"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TYPE_INVALID = "FieldValueTypeInvalid"

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than zero"

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b",
            "\f": "\\f", "\v": "\\v"}  # fmt: skip


def child(path: str, *names: str) -> str:
    return ".".join((path, *names)) if path else ".".join(names)


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def dict_or_empty(value: Any) -> dict[str, Any]:
    """`value` when it is a map, else {}: for reading stored objects without reporting."""
    return value if isinstance(value, dict) else {}


def go_quote(text: str) -> str:
    """Go's strconv.Quote."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_syntax(value: Any) -> str:
    """Go's `%#v` of the JSON value a Kubernetes struct field would hold."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list | tuple):
        kind = "string" if all(isinstance(v, str) for v in value) else "interface {}"
        return f"[]{kind}{{" + ", ".join(go_syntax(v) for v in value) + "}"
    if isinstance(value, dict):
        kind = "string" if all(isinstance(v, str) for v in value.values()) else "interface {}"
        items = ", ".join(f"{go_quote(str(k))}:{go_syntax(value[k])}" for k in sorted(value, key=str))
        return f"map[string]{kind}{{{items}}}"
    return go_quote(str(value))


def prune(value: Any) -> Any:
    """A copy without nulls and empty lists, for Kubernetes' semantic equality, where an absent
    field, a null and an empty slice are all the same thing."""
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def go_value(value: Any) -> str:
    """How `ErrorBody` prints a bad value: `%q` for strings, `%v` for scalars, `%#v` otherwise.

    A nil value prints as the quoted string "null", as in Go."""
    return '"null"' if value is None else go_syntax(value)


class FieldErrors:
    """An ordered, de-duplicated list of causes, with one builder per `field.*` constructor."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def __len__(self) -> int:
        return len(self.causes)

    def add(self, path: str, reason: str, message: str) -> None:
        cause = Cause(path, reason, message)
        if cause not in self.causes:
            self.causes.append(cause)

    def required(self, path: str, detail: str = "") -> None:
        self.add(path, REQUIRED, "Required value" + (f": {detail}" if detail else ""))

    def forbidden(self, path: str, detail: str) -> None:
        self.add(path, FORBIDDEN, "Forbidden" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: Any, detail: str = "") -> None:
        self.add(path, INVALID, f"Invalid value: {go_value(value)}" + (f": {detail}" if detail else ""))

    def invalid_each(self, path: str, value: Any, messages: Iterable[str]) -> None:
        """One Invalid per message, as callers of the `Is*` checks do."""
        for message in messages:
            self.invalid(path, value, message)

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        listed = ", ".join(go_quote(s) for s in supported)
        self.add(
            path,
            NOT_SUPPORTED,
            f"Unsupported value: {go_value(value)}" + (f": supported values: {listed}" if listed else ""),
        )

    def not_found(self, path: str, value: Any) -> None:
        self.add(path, NOT_FOUND, f"Not found: {go_value(value)}")

    def duplicate(self, path: str, value: Any) -> None:
        self.add(path, DUPLICATE, f"Duplicate value: {go_value(value)}")

    def too_long(self, path: str, max_bytes: int) -> None:
        self.add(path, TOO_LONG, f"Too long: must have at most {max_bytes} bytes")

    def type_invalid(self, path: str, value: Any, expected: str) -> None:
        self.add(path, TYPE_INVALID, f"Invalid value: {go_value(value)}: must be of type {expected}")

    # --- typed access: a wrong type is reported once and read as the neutral value ---

    def as_map(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.type_invalid(path, value, "object")
            return {}
        return value

    def as_list(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.type_invalid(path, value, "array")
            return []
        return value

    def as_str(self, value: Any, path: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.type_invalid(path, value, "string")
            return ""
        return value

    def as_int(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.type_invalid(path, value, "integer")
            return None
        return value

    def as_bool(self, value: Any, path: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            self.type_invalid(path, value, "boolean")
            return None
        return value

    def as_str_map(self, value: Any, path: str) -> dict[str, str]:
        """A map[string]string (labels, annotations, parameters); non-string values are reported."""
        result = {}
        for k, v in self.as_map(value, path).items():
            if isinstance(v, str):
                result[k] = v
            else:
                self.type_invalid(key(path, k), v, "string")
        return result

    def as_quantity(self, value: Any, path: str) -> tuple[Fraction, str] | None:
        """A resource quantity as (amount, canonical string), or None when it does not parse."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.type_invalid(path, value, "string")
            return None
        try:
            return parse_quantity(value), canonicalize(value)
        except QuantityError as err:
            self.invalid(path, value, err.detail)
            return None

    # --- common value rules ---

    def port_number(self, value: Any, path: str, *, required: bool) -> None:
        """0 or absent means unset (Required when `required`); else 1..65535."""
        number = self.as_int(value, path)
        if not number:
            if required and (value is None or number == 0):
                self.required(path, "")
        elif not 1 <= number <= 65535:
            self.invalid(path, number, "must be between 1 and 65535, inclusive")

    def nonnegative(self, value: Any, path: str) -> None:
        number = self.as_int(value, path)
        if number is not None and number < 0:
            self.invalid(path, number, NEGATIVE)

    def immutable(self, new: Any, old: Any, path: str) -> None:
        if new != old:
            self.invalid(path, new, IMMUTABLE)
