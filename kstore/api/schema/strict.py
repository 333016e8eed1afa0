"""Field validation: the unknown fields of an object, and kube-apiserver's messages about them.

Design:
- kube-apiserver decodes a request body into the Go type with sigs.k8s.io/json in strict mode,
  which collects one error per unknown field, `unknown field "<path>"`, in document order. The
  path joins JSON names with "." and list indices as "[i]", e.g. `spec.containers[0].volumes`;
  matching is case-sensitive. `unknown_fields` walks the schema the same way.
- A leaf type (Quantity, IntOrString, Time, FieldsV1, RawExtension) and any value of a map with
  free keys (labels, annotations, data, capacity, parameters, ...) is never looked into. A value
  of the wrong JSON type stops the walk there: the real decoder reports a type error instead,
  which is not this module's concern.
- What the server does with the list depends on `?fieldValidation=` (default `Warn` since 1.27):
  * `Strict`: create and update (POST, PUT) fail with 400 BadRequest and the message of
    `strict_decoding_message`, built by the handlers' `transformDecodeError`:
    `<Kind> in version "<version>" cannot be handled as a <Kind>: strict decoding error: ...`;
  * `Warn`: the write succeeds, unknown fields are dropped, and each error becomes one
    `Warning: 299 - "<text>"` header (`strict_decoding_warnings`);
  * `Ignore`: the fields are dropped silently.
  PATCH reports strict errors differently (as an Invalid `patch` field); not built here.
- Duplicate fields (`duplicate field "<path>"`) cannot be detected once JSON is parsed into a
  dict; callers that detect them pass them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kstore.api.schema.dsl import TYPES, Array, Map, ObjectType, Ref, Type


def kind_type(kind: str) -> ObjectType:
    typ = TYPES.get(kind)
    if typ is None or typ.gvk is None:
        raise ValueError(f"no schema for kind {kind!r}")
    return typ


def unknown_fields(kind: str, obj: dict[str, Any]) -> list[str]:
    """Paths of the fields of `obj` that `kind` does not define, in document order."""
    return list(_walk_object(kind_type(kind), obj, ""))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _walk_object(typ: ObjectType, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        field = typ.fields.get(key)
        here = _join(path, key)
        if field is None:
            yield here
        else:
            yield from _walk(field.type, item, here)


def _walk(typ: Type, value: Any, path: str) -> Iterator[str]:
    if isinstance(typ, Ref):
        yield from _walk_object(TYPES[typ.name], value, path)
    elif isinstance(typ, Array):
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _walk(typ.items, item, f"{path}[{i}]")
    elif isinstance(typ, Map):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from _walk(typ.values, item, _join(path, key))
    # Scalars and leaves: nothing inside to check.


def go_quote(text: str) -> str:
    """Go's `%q` / strconv.Quote for the strings that occur in field paths."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def strict_decoding_warnings(fields: Iterable[str], *, duplicates: Iterable[str] = ()) -> list[str]:
    """One text per strict error, as apimachinery's strictError.Error() renders it: the warnings
    of `fieldValidation=Warn`, and the parts of the Strict message."""
    return [f"unknown field {go_quote(f)}" for f in fields] + [
        f"duplicate field {go_quote(f)}" for f in duplicates
    ]


def strict_decoding_message(
    kind: str, api_version: str, fields: Iterable[str], *, duplicates: Iterable[str] = ()
) -> str:
    """kube-apiserver's 400 BadRequest message for a Strict create or update with unknown (and
    duplicate) fields, e.g.
    `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.x"`.

    The version is the body's apiVersion without its group (`v1` for `apps/v1`).
    """
    version = api_version.rsplit("/", 1)[-1]
    errors = ", ".join(strict_decoding_warnings(fields, duplicates=duplicates))
    return f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: strict decoding error: {errors}"
