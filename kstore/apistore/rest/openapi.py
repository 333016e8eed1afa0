"""OpenAPI v3: `GET /openapi/v3` (the index) and `GET /openapi/v3/<gv>` (one document per
group-version), built at start-up from the schema package.

Design:
- kubectl's `--validate=strict` (apply, create -f, replace -f) looks, in the group-version's
  document, for a path whose **patch** operation carries the object's
  `x-kubernetes-group-version-kind` and has `fieldValidation` among its **operation-level**
  parameters; then it skips client-side validation and writes with `?fieldValidation=Strict`.
  Every write operation here (post, put, patch) carries both.
- `components.schemas` holds every type reachable from the group-version's kinds, named as
  Kubernetes names them (`io.k8s.api.core.v1.PersistentVolumeClaim`), with descriptions,
  `required`, `x-kubernetes-group-version-kind` on kinds and `x-kubernetes-patch-merge-key` /
  `-patch-strategy` / `-list-type` on lists: enough for `kubectl explain pvc.spec.resources`.
- Patch operations have **no** `requestBody`. With
  `requestBody.content["application/strategic-merge-patch+json"]` present kubectl would compute
  apply patches from these schemas; without it, it uses the merge keys compiled into it, which
  are authoritative (KUBE-API.md §4.3).
- The documents are built once and shared: callers serialize them and must not mutate them.
  The index links each one as `/openapi/v3/<gv>?hash=<H>` where H is the upper-case hex
  SHA-512 of its canonical JSON, as kube-openapi does; `openapi_etag` returns the same H, so
  a server can answer `If-None-Match` and mark hashed URLs `Cache-Control: public, immutable`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
from typing import Any

from kstore.api.kinds import KINDS, KindInfo
from kstore.api.schema import TYPES, Array, Field, Leaf, Map, ObjectType, Ref, Scalar, Type
from kstore.apistore.rest.discovery import GROUP_ORDER

KUBERNETES_VERSION = "v1.32.0"
_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"


# ---- schemas -----------------------------------------------------------------------------


def _type_schema(typ: Type) -> dict[str, Any]:
    """The schema of a value of `typ` (an array item, a map value)."""
    if isinstance(typ, Scalar):
        out: dict[str, Any] = {"type": typ.type}
        if typ.format:
            out["format"] = typ.format
        return out
    if isinstance(typ, Ref):
        return {"allOf": [{"$ref": _REF + TYPES[typ.name].component}], "default": {}}
    if isinstance(typ, Leaf):
        return {"allOf": [{"$ref": _REF + typ.name}]}
    if isinstance(typ, Array):
        out = {"type": "array", "items": _type_schema(typ.items)}
        if typ.list_type:
            out["x-kubernetes-list-type"] = typ.list_type
        if typ.map_keys:
            out["x-kubernetes-list-map-keys"] = list(typ.map_keys)
        if typ.merge_key:
            out["x-kubernetes-patch-merge-key"] = typ.merge_key
        if typ.strategy:
            out["x-kubernetes-patch-strategy"] = typ.strategy
        return out
    return {"type": "object", "additionalProperties": _type_schema(typ.values)}


def _field_schema(field: Field) -> dict[str, Any]:
    out = _type_schema(field.type)
    if isinstance(field.type, Ref | Leaf):
        out.pop("default", None)
    return {"description": field.doc, **out}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def object_schema(typ: ObjectType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": typ.doc,
        "type": "object",
        "properties": {name: _field_schema(f) for name, f in sorted(typ.fields.items())},
    }
    required = [name for name, f in typ.fields.items() if f.required]
    if required:
        out["required"] = required
    if typ.gvk is not None:
        out["x-kubernetes-group-version-kind"] = [_gvk(*typ.gvk)]
    return out


def _list_schema(kind: ObjectType, info: KindInfo) -> dict[str, Any]:
    return {
        "description": f"A list of {info.plural}.",
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "The versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": f"The {info.plural}.",
                "type": "array",
                "items": {"allOf": [{"$ref": _REF + kind.component}], "default": {}},
            },
            "kind": {"description": "The REST resource this object represents.", "type": "string"},
            "metadata": {
                "description": "Standard list metadata.",
                "allOf": [{"$ref": f"{_REF}{_META}.ListMeta"}],
            },
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [_gvk(info.group, info.version, f"{info.kind}List")],
    }


def _reachable(roots: list[str]) -> tuple[list[ObjectType], list[Leaf]]:
    """Object types and leaves reachable from the named types, in a stable order."""
    seen: dict[str, ObjectType] = {}
    leaves: dict[str, Leaf] = {}

    def visit_type(typ: Type) -> None:
        if isinstance(typ, Ref):
            visit(typ.name)
        elif isinstance(typ, Leaf):
            leaves[typ.name] = typ
        elif isinstance(typ, Array):
            visit_type(typ.items)
        elif isinstance(typ, Map):
            visit_type(typ.values)

    def visit(name: str) -> None:
        if name in seen:
            return
        seen[name] = TYPES[name]
        for f in TYPES[name].fields.values():
            visit_type(f.type)

    for root in roots:
        visit(root)
    return list(seen.values()), list(leaves.values())


def _components(kinds: list[KindInfo]) -> dict[str, Any]:
    objects, leaves = _reachable([k.kind for k in kinds] + ["ListMeta", "Status"])
    schemas: dict[str, Any] = {}
    for typ in objects:
        schemas[typ.component] = object_schema(typ)
    for leaf in leaves:
        schemas[leaf.name] = {"description": leaf.doc, **copy.deepcopy(leaf.openapi)}
    for info in kinds:
        typ = TYPES[info.kind]
        schemas[f"{typ.package}.{info.kind}List"] = _list_schema(typ, info)
    return dict(sorted(schemas.items()))


# ---- paths -------------------------------------------------------------------------------


def _query(name: str, description: str, schema_type: str = "string") -> dict[str, Any]:
    schema = {"type": schema_type, "uniqueItems": True}
    return {"name": name, "in": "query", "description": description, "schema": schema}


_DRY_RUN = _query("dryRun", "When present, modifications are not persisted; the only valid value is All.")
_FIELD_MANAGER = _query("fieldManager", "Name of the actor or entity making the changes.")
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "How to handle unknown or duplicate fields in the request body: Ignore, Warn (the default) or Strict.",
)
_FORCE = _query("force", "Force Apply requests: take over fields owned by other managers.", "boolean")
_LIST = (
    _query("allowWatchBookmarks", "Request watch events of type BOOKMARK.", "boolean"),
    _query("continue", "The continue token of a previous list, to get the next chunk."),
    _query("fieldSelector", "Restrict the returned objects by their fields, e.g. metadata.name=data."),
    _query("labelSelector", "Restrict the returned objects by their labels."),
    _query("limit", "Maximum number of items to return.", "integer"),
    _query("resourceVersion", "Which version of the collection to serve, or to watch from."),
    _query("resourceVersionMatch", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    _query(
        "sendInitialEvents", "Start a watch with synthetic ADDED events for the current state.", "boolean"
    ),
    _query("timeoutSeconds", "Timeout of the list or watch call.", "integer"),
    _query("watch", "Watch for changes and return them as a stream of events.", "boolean"),
)
_DELETE = (
    _DRY_RUN,
    _query("gracePeriodSeconds", "Seconds before the object is deleted; 0 deletes at once.", "integer"),
    _query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    _query("propagationPolicy", "Garbage collection of dependents: Orphan, Background or Foreground."),
)
_PRETTY = _query("pretty", "If 'true', the output is pretty printed.")


def _path_param(name: str, description: str) -> dict[str, Any]:
    schema = {"type": "string", "uniqueItems": True}
    return {"name": name, "in": "path", "description": description, "required": True, "schema": schema}


_NAME = _path_param("name", "Name of the object.")
_NAMESPACE = _path_param("namespace", "Object name and auth scope, such as for teams and projects.")


def _content(component: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + component}}}


def _group_tag(info: KindInfo) -> str:
    """`core_v1`, `storage_v1` ...: the group's first DNS label, as Kubernetes tags operations."""
    group = info.group.split(".", 1)[0] if info.group else "core"
    return f"{group}_{info.version}"


def _op_name(info: KindInfo) -> str:
    """`CoreV1`, `StorageV1`, `AppsV1`: the infix of Kubernetes' operation IDs."""
    tag = _group_tag(info).split("_")
    return tag[0][0].upper() + tag[0][1:] + tag[1][0].upper() + tag[1][1:]


@dataclasses.dataclass(frozen=True)
class _Op:
    """One operation of a path, as kube-apiserver publishes it."""

    method: str
    action: str  # x-kubernetes-action
    op_id: str  # operationId template: {gv} CoreV1, {name} NamespacedPod, {kind} Pod
    summary: str
    params: tuple[dict[str, Any], ...]
    returns: str  # "kind", "list" or "status"
    codes: tuple[str, ...]
    body: bool = False  # requestBody: the kind (post, put); never on patch (module docstring)


_WRITES = (_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION)
_COLLECTION_OPS = (
    _Op("get", "list", "list{gv}{name}", "list or watch objects of kind {kind}", _LIST, "list", ("200",)),
    _Op(
        "post",
        "post",
        "create{gv}{name}",
        "create a {kind}",
        _WRITES,
        "kind",
        ("200", "201", "202"),
        body=True,
    ),
    _Op(
        "delete",
        "deletecollection",
        "delete{gv}Collection{name}",
        "delete collection of {kind}",
        _DELETE + _LIST,
        "status",
        ("200",),
    ),
)
_ITEM_OPS = (
    _Op("get", "get", "read{gv}{name}", "read the specified {kind}", (), "kind", ("200",)),
    _Op(
        "put",
        "put",
        "replace{gv}{name}",
        "replace the specified {kind}",
        _WRITES,
        "kind",
        ("200", "201"),
        body=True,
    ),
    _Op("delete", "delete", "delete{gv}{name}", "delete a {kind}", _DELETE, "status", ("200", "202")),
    _Op(
        "patch",
        "patch",
        "patch{gv}{name}",
        "partially update the specified {kind}",
        (*_WRITES, _FORCE),
        "kind",
        ("200", "201"),
    ),
)
_STATUS_OPS = (
    _Op("get", "get", "read{gv}{name}Status", "read status of the specified {kind}", (), "kind", ("200",)),
    _Op(
        "put",
        "put",
        "replace{gv}{name}Status",
        "replace status of the specified {kind}",
        _WRITES,
        "kind",
        ("200", "201"),
        body=True,
    ),
    _Op(
        "patch",
        "patch",
        "patch{gv}{name}Status",
        "partially update status of the specified {kind}",
        (*_WRITES, _FORCE),
        "kind",
        ("200", "201"),
    ),
)
_ALL_NAMESPACES_OPS = (
    _Op(
        "get",
        "list",
        "list{gv}{kind}ForAllNamespaces",
        "list or watch objects of kind {kind}",
        _LIST,
        "list",
        ("200",),
    ),
)
_CODE_TEXT = {"200": "OK", "201": "Created", "202": "Accepted"}


def _path_item(info: KindInfo, ops: tuple[_Op, ...], params: list[dict[str, Any]]) -> dict[str, Any]:
    typ = TYPES[info.kind]
    returns = {"kind": typ.component, "list": f"{typ.package}.{info.kind}List", "status": f"{_META}.Status"}
    names = {
        "gv": _op_name(info),
        "name": ("Namespaced" if info.namespaced else "") + info.kind,
        "kind": info.kind,
    }
    item: dict[str, Any] = {}
    for op in ops:
        content = _content(returns[op.returns])
        operation: dict[str, Any] = {
            "tags": [_group_tag(info)],
            "description": op.summary.format(**names),
            "operationId": op.op_id.format(**names),
            "parameters": list(op.params),
            "responses": {code: {"description": _CODE_TEXT[code], "content": content} for code in op.codes}
            | {"401": {"description": "Unauthorized"}},
            "x-kubernetes-action": op.action,
            "x-kubernetes-group-version-kind": _gvk(info.group, info.version, info.kind),
        }
        if op.body:
            schema = {"$ref": _REF + typ.component}
            operation["requestBody"] = {"content": {"*/*": {"schema": schema}}, "required": True}
        item[op.method] = operation
    item["parameters"] = params
    return item


def _kind_paths(info: KindInfo) -> dict[str, dict[str, Any]]:
    """The paths of one kind: collection, item, status (if any), all-namespaces list (if namespaced)."""
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    scope = [_NAMESPACE] if info.namespaced else []
    collection = (
        f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    )
    item = f"{collection}/{{name}}"
    paths = {
        collection: _path_item(info, _COLLECTION_OPS, [*scope, _PRETTY]),
        item: _path_item(info, _ITEM_OPS, [_NAME, *scope, _PRETTY]),
    }
    if info.has_status:
        paths[f"{item}/status"] = _path_item(info, _STATUS_OPS, [_NAME, *scope, _PRETTY])
    if info.namespaced:
        paths[f"{prefix}/{info.plural}"] = _path_item(info, _ALL_NAMESPACES_OPS, [_PRETTY])
    return paths


# ---- documents ---------------------------------------------------------------------------


def _gv_path(info: KindInfo) -> str:
    return f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"


def _kinds_by_gv() -> dict[str, list[KindInfo]]:
    out: dict[str, list[KindInfo]] = {}
    for info in sorted(KINDS.values(), key=lambda k: (GROUP_ORDER.index(k.group), k.version, k.plural)):
        out.setdefault(_gv_path(info), []).append(info)
    return out


def _hash(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha512(canonical).hexdigest().upper()


@functools.cache
def _documents() -> dict[str, tuple[dict[str, Any], str]]:
    """Every group-version document with its hash, built once."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for gv, kinds in _kinds_by_gv().items():
        paths: dict[str, Any] = {}
        for info in kinds:
            paths.update(_kind_paths(info))
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": _components(kinds)},
        }
        out[gv] = (doc, _hash(doc))
    return out


def openapi_v3_index() -> dict[str, Any]:
    """`GET /openapi/v3`: each group-version's document URL, with its content hash."""
    return {
        "paths": {
            gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
            for gv, (_, digest) in _documents().items()
        }
    }


def openapi_v3_group(gv_path: str) -> dict[str, Any] | None:
    """`GET /openapi/v3/<gv_path>` (`api/v1`, `apis/storage.k8s.io/v1`), or None if not served.

    The document is shared: serialize it, do not mutate it."""
    entry = _documents().get(gv_path.strip("/"))
    return entry[0] if entry else None


def openapi_etag(doc: dict[str, Any]) -> str:
    """The entity tag of a document (unquoted): the hash its index URL carries."""
    for served, digest in _documents().values():
        if served is doc:
            return digest
    return _hash(doc)
