"""The Kubernetes REST front door of the apistore: what kubectl and the Python client need.

Design: one aiohttp application in the apistore process, on the same `Store` as the bus
front door — one source of truth, one set of validation, admission and watch semantics. This
module only translates HTTP to store calls and back: paths (`paths.py`), bodies and content
negotiation (`bodies.py`), watch streams (`watch.py`), tables (`tables.py`), discovery and
OpenAPI (`discovery.py`, `openapi.py`). Every error leaves as a `Status` with the HTTP code
kube-apiserver would use, and never takes the server down.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from kstore.api import schema
from kstore.api.errors import ApiError, bad_request
from kstore.api.selectors import parse_field_selector, parse_label_selector
from kstore.apistore.metrics import REQUEST_DURATION
from kstore.apistore.rest import bodies, discovery, openapi
from kstore.apistore.rest.bodies import dumps
from kstore.apistore.rest.paths import Target, UnknownPath, parse
from kstore.apistore.rest.tables import table_for
from kstore.apistore.rest.watch import serve_watch
from kstore.apistore.store import Entry, Store

log = logging.getLogger(__name__)

JSON = "application/json"
NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource")


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(obj), status=status, content_type=JSON, headers=headers)


def _error(e: ApiError) -> web.Response:
    return _json(e.to_status(), e.code)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


class RestApi:
    def __init__(self, store: Store, *, clock: Any = time.time) -> None:
        self._store = store
        self._clock = clock

    def app(self) -> web.Application:
        app = web.Application(client_max_size=bodies.MAX_BODY + 1024, middlewares=[self._errors])
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        app.router.add_get("/healthz", self._ok)
        app.router.add_get("/livez", self._ok)
        app.router.add_get("/readyz", self._ok)
        app.router.add_get("/api", self._api)
        app.router.add_get("/api/", self._api)
        app.router.add_get("/apis", self._apis)
        app.router.add_get("/apis/", self._apis)
        app.router.add_get("/api/{version}", self._resource_list)
        app.router.add_get("/api/{version}/", self._resource_list)
        app.router.add_get("/apis/{group}/{version}", self._resource_list)
        app.router.add_get("/apis/{group}/{version}/", self._resource_list)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_get("/openapi/v3", self._openapi_index)
        app.router.add_get("/openapi/v3/{gv:.+}", self._openapi_group)
        app.router.add_route("*", "/{path:.*}", self._resource)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            return _error(e)
        except web.HTTPException as e:
            if e.status == 413:
                return _error(ApiError(413, "RequestEntityTooLarge",
                                       f"Request entity too large: limit is {bodies.MAX_BODY}"))
            if e.status == 404:
                return _error(NOT_FOUND)
            raise
        except Exception as e:  # a bug must cost one request, not the server
            log.exception("%s %s failed", request.method, request.path_qs)
            return _error(ApiError(500, "InternalError", f"Internal error occurred: {e}"))

    # ---- discovery, version, OpenAPI

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def _api(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return web.Response(body=dumps(discovery.aggregated_core()),
                                headers={"Content-Type": discovery.AGGREGATED_CONTENT_TYPE})
        return _json(discovery.api_versions(server_address=request.host))

    async def _apis(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return web.Response(body=dumps(discovery.aggregated_groups()),
                                headers={"Content-Type": discovery.AGGREGATED_CONTENT_TYPE})
        return _json(discovery.api_group_list())

    async def _resource_list(self, request: web.Request) -> web.Response:
        doc = discovery.api_resource_list(request.match_info.get("group", ""), request.match_info["version"])
        if doc is None:
            raise NOT_FOUND
        return _json(doc)

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        """An empty OpenAPI v2 document. kubectl falls back to v2 to validate kinds that v3 does not
        list (a CRD kind the store does not serve): an empty document makes it skip validation and
        report the kind as unknown, as against kube-apiserver; for patches it then uses its own
        compiled-in merge keys. (v3 carries everything kstore serves.)"""
        if "protobuf" in request.headers.get("Accept", ""):
            # The empty protobuf message is zero bytes: a Document with no definitions.
            return web.Response(body=b"", headers={"Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"})
        return _json({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                      "paths": {}, "definitions": {}})

    async def _openapi_index(self, request: web.Request) -> web.Response:
        return _json(openapi.openapi_v3_index())

    async def _openapi_group(self, request: web.Request) -> web.Response:
        doc = openapi.openapi_v3_group(request.match_info["gv"])
        if doc is None:
            raise NOT_FOUND
        etag = openapi.openapi_etag(doc)
        headers = {"ETag": f'"{etag}"', "Cache-Control": "public, immutable" if request.query.get("hash")
                   else "no-cache, private"}
        if request.headers.get("If-None-Match") == f'"{etag}"':
            return web.Response(status=304, headers=headers)
        return _json(doc, headers=headers)

    # ---- resources

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        try:
            target = parse(request.path)
        except UnknownPath:
            raise NOT_FOUND from None
        start = time.perf_counter()
        method = request.method
        q = request.query
        if method == "GET":
            if target.name is None:
                if _truthy(q.get("watch")):
                    verb = "WATCH"
                    resp = await self._watch(request, target)
                else:
                    verb = "LIST"
                    resp = self._list(request, target)
            else:
                verb = "GET"
                resp = self._get_scale(target) if target.subresource == "scale" else self._get(request, target)
        elif method == "POST" and target.name is None:
            verb = "POST"
            resp = await self._create(request, target)
        elif method == "POST" and target.subresource == "binding":
            verb = "POST"
            resp = await self._bind(request, target)
        elif method in ("PUT", "PATCH") and target.subresource == "scale":
            verb = method
            resp = await self._write_scale(request, target)
        elif method == "PUT" and target.name is not None:
            verb = "PUT"
            resp = await self._update(request, target)
        elif method == "PATCH" and target.name is not None:
            verb = "PATCH"
            resp = await self._patch(request, target)
        elif method == "DELETE":
            verb = "DELETE" if target.name is not None else "DELETECOLLECTION"
            resp = await (self._delete(request, target) if target.name is not None
                          else self._delete_collection(request, target))
        else:
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                           f"resource ({method} {target.info.plural})")
        info = target.info
        REQUEST_DURATION.labels(verb, "All" if q.get("dryRun") else "", info.group, info.version, info.plural,
                                target.subresource or "", "resource" if verb == "POST" else target.scope,
                                "apiserver").observe(time.perf_counter() - start)
        return resp

    def _namespace(self, target: Target) -> str:
        return (target.namespace or "") if target.info.namespaced else ""

    def _render(self, request: web.Request, kind: str, objs: list[dict[str, Any]], rv: str) -> dict[str, Any] | None:
        if not bodies.wants_table(request.headers.get("Accept")):
            return None
        include = request.query.get("includeObject", "Metadata")
        return table_for(kind, objs, now=self._clock(), resource_version=rv, include_object=include)

    def _get(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        entry = self._store.get(target.info.kind, self._namespace(target), target.name)
        table = self._render(request, target.info.kind, [entry.obj], str(entry.rv))
        if table is not None:
            return _json(table)
        return web.Response(body=_raw_json(entry), content_type=JSON)

    def _selectors(self, request: web.Request, target: Target) -> tuple[str | None, str | None]:
        labels = request.query.get("labelSelector") or None
        fields = request.query.get("fieldSelector") or None
        return labels, fields

    def _list(self, request: web.Request, target: Target) -> web.Response:
        labels, fields = self._selectors(request, target)
        kind = target.info.kind
        items, rv = self._store.list(kind, namespace=target.namespace, label_selector=labels, field_selector=fields)
        objs = [e.obj for e in items]
        table = self._render(request, kind, objs, str(rv))
        if table is not None:
            return _json(table)
        return _json({"kind": f"{kind}List", "apiVersion": target.info.api_version,
                      "metadata": {"resourceVersion": str(rv)}, "items": objs})

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        labels, fields = self._selectors(request, target)
        label_sel = parse_label_selector(labels) if labels else None
        field_sel = parse_field_selector(fields, target.info.kind) if fields else None

        def match(obj: dict[str, Any]) -> bool:
            if label_sel is not None and not label_sel.matches(obj["metadata"].get("labels") or {}):
                return False
            return field_sel is None or field_sel.matches(obj)

        timeout = request.query.get("timeoutSeconds")
        return await serve_watch(
            request, self._store, target, match=match, resource_version=request.query.get("resourceVersion"),
            table=bodies.wants_table(request.headers.get("Accept")),
            timeout=float(timeout) if timeout else None, bookmarks=_truthy(request.query.get("allowWatchBookmarks")),
        )

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        return bodies.decode_body(raw, request.headers.get("Content-Type"))

    def _check_fields(self, request: web.Request, target: Target, obj: Any) -> dict[str, str]:
        """Server-side field validation: Strict refuses unknown fields, Warn (the default) warns."""
        if not isinstance(obj, dict):
            raise bad_request("the body must be a JSON object")
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got "{mode}"')
        if mode == "Ignore":
            return {}
        unknown = schema.unknown_fields(target.info.kind, obj)
        if not unknown:
            return {}
        if mode == "Strict":
            raise bad_request(schema.strict_decoding_message(target.info.kind, target.info.api_version, unknown))
        return {"Warning": ", ".join(f'299 - "unknown field \\"{f}\\""' for f in unknown)}

    def _check_type(self, target: Target, obj: dict[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        info = target.info
        if kind is None and api_version is None:
            obj["kind"], obj["apiVersion"] = info.kind, info.api_version
            return
        if api_version != info.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                              f"version ({info.api_version})")
        if kind != info.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({info.kind})")

    async def _create(self, request: web.Request, target: Target) -> web.Response:
        if target.subresource:
            raise NOT_FOUND
        obj = await self._body(request)
        warnings = self._check_fields(request, target, obj)
        self._check_type(target, obj)
        if target.info.namespaced:
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise bad_request("metadata must be an object")
            if target.namespace is None:
                raise NOT_FOUND  # a namespaced kind is created in a namespace
            if meta.get("namespace") and meta["namespace"] != target.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
        entry = await self._store.create(obj, namespace=target.namespace, dry_run=bool(request.query.get("dryRun")))
        return web.Response(body=_raw_json(entry), status=201, content_type=JSON, headers=warnings)

    def _scale_of(self, entry: Entry) -> dict[str, Any]:
        """The autoscaling/v1 Scale view of a Deployment, ReplicaSet or StatefulSet."""
        obj = entry.obj
        meta = obj["metadata"]
        selector = (obj.get("spec") or {}).get("selector") or {}
        match = ",".join(f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
                "status": {"replicas": int((obj.get("status") or {}).get("replicas", 0)), "selector": match}}

    def _get_scale(self, target: Target) -> web.Response:
        assert target.name is not None
        return _json(self._scale_of(self._store.get(target.info.kind, self._namespace(target), target.name)))

    async def _write_scale(self, request: web.Request, target: Target) -> web.Response:
        """PUT or PATCH the scale subresource: only spec.replicas reaches the object."""
        assert target.name is not None
        ns = self._namespace(target)
        current = self._scale_of(self._store.get(target.info.kind, ns, target.name))
        body = await self._body(request)
        if request.method == "PATCH":
            from kstore.api.patch import apply_patch

            ptype = bodies.patch_type(request.headers.get("Content-Type"))
            scale = apply_patch(current, body, "merge" if ptype == "strategic" else ptype)
        else:
            scale = body
        replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{target.name}" is invalid: spec.replicas: Invalid '
                           f"value: {replicas!r}: must be greater than or equal to 0", kind="Scale", name=target.name)
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        patch: dict[str, Any] = {"spec": {"replicas": replicas}}
        if request.method == "PUT" and rv:
            patch["metadata"] = {"resourceVersion": rv}
        entry = await self._store.patch(target.info.kind, ns, target.name, patch, "merge")
        return _json(self._scale_of(entry))

    async def _bind(self, request: web.Request, target: Target) -> web.Response:
        """POST pods/<name>/binding with a Binding {target: {name: <node>}}; answers a Success Status."""
        assert target.name is not None
        body = await self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("target"), dict):
            raise bad_request("a Binding needs target.name")
        uid = ((body.get("metadata") or {}).get("uid")) or None
        await self._store.bind(target.namespace or "", target.name, body["target"].get("name", ""), uid=uid,
                               dry_run=bool(request.query.get("dryRun")))
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    async def _update(self, request: web.Request, target: Target) -> web.Response:
        obj = await self._body(request)
        warnings = self._check_fields(request, target, obj)
        self._check_type(target, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if meta.get("name") != target.name:
            raise bad_request(f'the name of the object ({meta.get("name")}) does not match the name on the URL '
                              f'({target.name})')
        if target.info.namespaced:
            if meta.get("namespace") and meta["namespace"] != target.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
            meta["namespace"] = target.namespace
        sub = "status" if target.subresource == "status" else None
        if target.subresource == "finalize":
            sub = None  # namespace finalize: spec.finalizers are written like a spec update
        entry = await self._store.update(obj, subresource=sub, dry_run=bool(request.query.get("dryRun")))
        return web.Response(body=_raw_json(entry), content_type=JSON, headers=warnings)

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        ptype = bodies.patch_type(request.headers.get("Content-Type"))
        patch = await self._body(request)
        warnings: dict[str, str] = {}
        if ptype != "json" and isinstance(patch, dict):
            # A merge-style patch has the object's shape: check its fields, directives aside.
            warnings = self._check_fields(request, target, _without_directives(patch))
        entry = await self._store.patch(
            target.info.kind, self._namespace(target), target.name, patch, ptype,
            subresource="status" if target.subresource == "status" else None,
            dry_run=bool(request.query.get("dryRun")),
        )
        return web.Response(body=_raw_json(entry), content_type=JSON, headers=warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                decoded = bodies.decode_body(raw, request.headers.get("Content-Type"))
                if not isinstance(decoded, dict):
                    raise bad_request("DeleteOptions must be a JSON object")
                opts = decoded
        q = request.query
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.get("gracePeriodSeconds"):
            opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if q.get("dryRun"):
            opts["dryRun"] = [q["dryRun"]]
        if opts.get("orphanDependents") is not None and "propagationPolicy" not in opts:
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        return opts

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        assert target.name is not None
        opts = await self._delete_options(request)
        entry = await self._delete_one(target.info.kind, self._namespace(target), target.name, opts)
        return web.Response(body=_raw_json(entry), content_type=JSON)

    async def _delete_one(self, kind: str, namespace: str, name: str, opts: dict[str, Any]) -> Entry:
        pre = opts.get("preconditions") or {}
        grace = opts.get("gracePeriodSeconds")
        return await self._store.delete(
            kind, namespace, name, uid=pre.get("uid"), resource_version=pre.get("resourceVersion"),
            propagation_policy=opts.get("propagationPolicy"),
            grace_period_seconds=int(grace) if grace is not None else None, dry_run=bool(opts.get("dryRun")),
        )

    async def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        opts = await self._delete_options(request)
        labels, fields = self._selectors(request, target)
        kind = target.info.kind
        items, _ = self._store.list(kind, namespace=target.namespace, label_selector=labels, field_selector=fields)
        deleted = []
        for e in items:
            meta = e.obj["metadata"]
            try:
                deleted.append((await self._delete_one(kind, meta.get("namespace", ""), meta["name"], opts)).obj)
            except ApiError as err:
                if err.code != 404:
                    raise
        return _json({"kind": f"{kind}List", "apiVersion": target.info.api_version,
                      "metadata": {"resourceVersion": str(self._store.revision)}, "items": deleted})


def _without_directives(value: Any) -> Any:
    """A strategic merge patch minus its `$patch`, `$setElementOrder/…` and other directives."""
    if isinstance(value, dict):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(v) for v in value]
    return value


def _raw_json(entry: Entry) -> bytes:
    return dumps(entry.obj)
