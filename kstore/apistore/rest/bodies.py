"""Request bodies and content negotiation of the REST front door.

kube-apiserver's rules, as kubectl and the Python client rely on them: bodies are JSON (YAML
accepted; protobuf from client-go's typed clients, decoded by `protobuf.py`), a missing
Content-Type means JSON, bodies over 3 MiB are refused, the Accept header
asks for a Table (`as=Table`) or plain JSON, and the patch type comes from the Content-Type.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kstore.api.errors import ApiError, bad_request, too_large
from kstore.apistore.rest import protobuf

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's limit for a request body

PATCH_TYPES = {
    "application/strategic-merge-patch+json": "strategic",
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
}
APPLY_PATCH = "application/apply-patch+yaml"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """JSON (or YAML) → Python; 400 with the parser's complaint, 413 past the size limit."""
    if len(raw) > MAX_BODY:
        raise too_large(f"Request entity too large: limit is {MAX_BODY}")
    if not raw.strip():
        raise bad_request("the request body is empty")
    media = media_type(content_type)
    if media in ("application/yaml", "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise bad_request(f"error decoding YAML: {e}") from e
    if media == protobuf.MEDIA_TYPE:  # kubectl's typed generators (`kubectl create namespace ...`)
        return protobuf.decode(raw)
    if media in ("", "application/json", "*/*") or media in PATCH_TYPES:
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad_request(f"couldn't get version/kind; json parse error: {e}") from e
    raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                   f'media types include: application/json, application/yaml, '
                   f'{protobuf.MEDIA_TYPE} (got "{media}")')


def patch_type(content_type: str | None) -> str:
    media = media_type(content_type)
    if media in PATCH_TYPES:
        return PATCH_TYPES[media]
    if media == APPLY_PATCH:
        raise ApiError(415, "UnsupportedMediaType", "server-side apply is not supported by kstore; "
                       "use client-side `kubectl apply` (without --server-side)")
    raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted '
                   f'media types include: {", ".join(PATCH_TYPES)} (got "{media}")')


def wants_table(accept: str | None) -> bool:
    """kubectl's human output asks `application/json;as=Table;v=v1;g=meta.k8s.io,...`."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.strip().split("=", 1)[0]: p.strip().split("=", 1)[-1] for p in part.split(";")[1:]}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
