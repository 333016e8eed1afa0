"""The small language the schema modules are written in.

Design:
- A field's type is one of: a scalar (`string`, `integer`, `number`, `boolean`, with an OpenAPI
  format), a leaf (a named apimachinery type that decodes itself: Quantity, IntOrString, Time,
  MicroTime, FieldsV1, RawExtension — never looked into), a reference to a named object type
  (`Ref("PodSpec")`), an array of a type, or a map from free string keys to a type.
- Named object types mirror the Go structs of k8s.io/api one to one (same names, same JSON
  field names), so OpenAPI component names (`io.k8s.api.core.v1.PodSpec`) come out right.
  Go's inlined structs (`VolumeSource` in `Volume`, `PersistentVolumeSource` in
  `PersistentVolumeSpec`) are spliced in with `**inline("VolumeSource")`.
- Each module gets its constructors from `package(...)`: `obj` for a named type, `kind` for a
  top-level kind (apiVersion, kind and metadata come first). Field constructors take the one-line
  description first; keyword arguments name the field:
  `obj("VolumeMount", "...", name=s("...", req=True), mountPath=s("...", req=True))`.
  Python keeps keyword order, so fields stay in Go declaration order. `req=True` marks the
  fields the Kubernetes OpenAPI lists as required (shown by `kubectl explain`).
- Lists record the strategic-merge-patch key and strategy where the Go type has one
  (`patchMergeKey`, `patchStrategy`) and the server-side-apply list type.
- Every type registers itself in `TYPES` when its module is imported; names are unique across
  the packages served (a clash raises at import time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

CORE = "io.k8s.api.core.v1"
APPS = "io.k8s.api.apps.v1"
STORAGE = "io.k8s.api.storage.v1"
COORDINATION = "io.k8s.api.coordination.v1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"


@dataclasses.dataclass(frozen=True)
class Scalar:
    type: str  # "string" | "integer" | "number" | "boolean"
    format: str = ""


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A named apimachinery type with its own JSON decoding: opaque to unknown-field checks."""

    name: str  # the OpenAPI component name
    openapi: dict[str, Any]  # its OpenAPI v3 schema, description aside
    doc: str


@dataclasses.dataclass(frozen=True)
class Ref:
    name: str  # a name in TYPES


@dataclasses.dataclass(frozen=True)
class Array:
    items: Type
    merge_key: str = ""  # strategic merge patch key (`patchMergeKey`)
    strategy: str = ""  # `patchStrategy`: "merge", "merge,retainKeys", "replace"
    list_type: str = ""  # server-side apply: "atomic" | "map" | "set"
    map_keys: tuple[str, ...] = ()  # `listMapKey`s when list_type is "map"


@dataclasses.dataclass(frozen=True)
class Map:
    values: Type


Type = Scalar | Leaf | Ref | Array | Map


@dataclasses.dataclass(frozen=True)
class Field:
    type: Type
    doc: str
    required: bool = False
    name: str = ""  # filled in from the keyword by `obj` and `kind`


@dataclasses.dataclass(frozen=True)
class ObjectType:
    name: str  # Go type name
    package: str  # OpenAPI package prefix, e.g. "io.k8s.api.core.v1"
    doc: str
    fields: dict[str, Field]
    gvk: tuple[str, str, str] | None = None  # (group, version, kind) for top-level kinds

    @property
    def component(self) -> str:
        return f"{self.package}.{self.name}"


TYPES: dict[str, ObjectType] = {}

# Scalars.
STR = Scalar("string")
INT32 = Scalar("integer", "int32")
INT64 = Scalar("integer", "int64")
BOOL = Scalar("boolean")
DOUBLE = Scalar("number", "double")
BYTES = Scalar("string", "byte")

# Leaves: apimachinery types that unmarshal themselves.
QUANTITY = Leaf(
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "A fixed-point number with an optional SI or binary suffix, e.g. `1Gi`, `500m`, `2`.",
)
INT_OR_STRING = Leaf(
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "A value that holds either an int32 or a string, e.g. a port number or a port name.",
)
TIME = Leaf(
    f"{META}.Time",
    {"type": "string", "format": "date-time"},
    "A timestamp in RFC 3339 form, to the second, e.g. `2025-01-01T00:00:00Z`.",
)
MICRO_TIME = Leaf(
    f"{META}.MicroTime",
    {"type": "string", "format": "date-time"},
    "A timestamp in RFC 3339 form with microseconds.",
)
FIELDS_V1 = Leaf(
    f"{META}.FieldsV1",
    {"type": "object"},
    "The set of fields a manager owns, in the structured-merge-diff trie format.",
)
RAW_EXTENSION = Leaf(
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "An embedded object of any kind, kept as is.",
)
LEAVES = (QUANTITY, INT_OR_STRING, TIME, MICRO_TIME, FIELDS_V1, RAW_EXTENSION)

TypeLike = Type | str  # a str names an object type


def _type(t: TypeLike) -> Type:
    return Ref(t) if isinstance(t, str) else t


# Field constructors: the description first, `req=True` for Go fields without omitempty that
# the OpenAPI marks required.
def s(doc: str, *, req: bool = False) -> Field:
    return Field(STR, doc, req)


def i32(doc: str, *, req: bool = False) -> Field:
    return Field(INT32, doc, req)


def i64(doc: str, *, req: bool = False) -> Field:
    return Field(INT64, doc, req)


def b(doc: str, *, req: bool = False) -> Field:
    return Field(BOOL, doc, req)


def num(doc: str) -> Field:
    return Field(DOUBLE, doc)


def q(doc: str, *, req: bool = False) -> Field:
    return Field(QUANTITY, doc, req)


def ios(doc: str, *, req: bool = False) -> Field:
    return Field(INT_OR_STRING, doc, req)


def t(doc: str, *, req: bool = False) -> Field:
    return Field(TIME, doc, req)


def mt(doc: str) -> Field:
    return Field(MICRO_TIME, doc)


def raw(doc: str, leaf: Leaf = RAW_EXTENSION) -> Field:
    return Field(leaf, doc)


def ref(name: str, doc: str, *, req: bool = False) -> Field:
    return Field(Ref(name), doc, req)


def arr(
    items: TypeLike,
    doc: str,
    *,
    key: str = "",
    strategy: str = "",
    list_type: str = "",
    map_keys: tuple[str, ...] = (),
    req: bool = False,
) -> Field:
    """An array. `key` (the patch merge key) implies strategy "merge" and list type "map"."""
    if key:
        strategy = strategy or "merge"
        list_type = list_type or "map"
        map_keys = map_keys or (key,)
    return Field(Array(_type(items), key, strategy, list_type or "atomic", map_keys), doc, req)


def strs(doc: str, *, req: bool = False, list_type: str = "atomic", strategy: str = "") -> Field:
    """An array of strings."""
    return Field(Array(STR, "", strategy, list_type), doc, req)


def mapof(values: TypeLike, doc: str) -> Field:
    return Field(Map(_type(values)), doc)


def smap(doc: str) -> Field:
    """A map of string to string: labels, annotations, parameters, ..."""
    return Field(Map(STR), doc)


def qmap(doc: str) -> Field:
    """A ResourceList: resource name to Quantity."""
    return Field(Map(QUANTITY), doc)


def inline(name: str) -> dict[str, Field]:
    """The fields of an already defined type, for Go's `json:",inline"` embedding."""
    return dict(TYPES[name].fields)


def register(typ: ObjectType) -> ObjectType:
    if typ.name in TYPES:
        raise ValueError(f"schema type {typ.name} defined twice")
    TYPES[typ.name] = typ
    return typ


def _named(fields: dict[str, Field]) -> dict[str, Field]:
    return {key: dataclasses.replace(f, name=key) for key, f in fields.items()}


def package(pkg: str) -> tuple[Callable[..., ObjectType], Callable[..., ObjectType]]:
    """`(obj, kind)` constructors bound to one OpenAPI package.

    `obj("PodSpec", "doc", **fields)` defines a named object type;
    `kind("Pod", "doc", group, version, **fields)` a top-level kind, whose apiVersion, kind and
    metadata fields come first.
    """

    def obj(name: str, doc: str, /, **fields: Field) -> ObjectType:
        return register(ObjectType(name, pkg, doc, _named(fields)))

    def kind(name: str, doc: str, group: str, version: str, /, **fields: Field) -> ObjectType:
        head = {
            "apiVersion": s(
                "The versioned schema of this representation of an object; servers convert "
                "recognized schemas to the latest internal value."
            ),
            "kind": s(
                "The REST resource this object represents, in CamelCase; servers infer it from the endpoint."
            ),
            "metadata": ref("ObjectMeta", "Standard object's metadata."),
        }
        return register(ObjectType(name, pkg, doc, _named({**head, **fields}), (group, version, name)))

    return obj, kind
