"""Bad input to the REST front door of a real apistore process: the HTTP status and Status body
kube-apiserver would give, nothing stored, and the server still serving."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.integration.apistore_proc import ApistoreProcess

pytestmark = pytest.mark.asyncio

CLAIMS = "/api/v1/namespaces/default/persistentvolumeclaims"


def claim(name: str = "c", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "1Gi"}}, **extra}}


CASES = [
    # name, method, path, body (bytes), headers, expected code, reason, message fragment
    ("malformed JSON", "POST", CLAIMS, b'{"apiVersion": "v1", "kind": ', {}, 400, "BadRequest", "json parse error"),
    ("wrong content type", "POST", CLAIMS, json.dumps(claim()).encode(), {"Content-Type": "text/csv"}, 415,
     "UnsupportedMediaType", 'got "text/csv"'),
    ("body over 3 MiB", "POST", CLAIMS, json.dumps(claim(pad="x" * (3 * 1024 * 1024 + 10))).encode(), {}, 413,
     "RequestEntityTooLarge", "limit is 3145728"),
    ("unknown field, Strict", "POST", CLAIMS + "?fieldValidation=Strict", json.dumps(claim(bogus=1)).encode(), {},
     400, "BadRequest", 'strict decoding error: unknown field "spec.bogus"'),
    ("name not a DNS subdomain", "POST", CLAIMS, json.dumps(claim("Bad_Name")).encode(), {}, 422, "Invalid",
     'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'),
    ("namespace that does not exist", "POST", "/api/v1/namespaces/nowhere/persistentvolumeclaims",
     json.dumps(claim()).encode(), {}, 404, "NotFound", 'namespaces "nowhere" not found'),
    ("kind that does not match the URL", "POST", "/api/v1/persistentvolumes", json.dumps(claim()).encode(), {}, 400,
     "BadRequest", "does not match the expected kind (PersistentVolume)"),
    ("unsupported patch type", "PATCH", CLAIMS + "/c", b"{}", {"Content-Type": "application/xml"}, 415,
     "UnsupportedMediaType", "unknown format"),
    ("unknown path", "GET", "/api/v1/flunders", b"", {}, 404, "NotFound",
     "the server could not find the requested resource"),
    ("unsupported method", "PUT", CLAIMS, b"{}", {}, 405, "MethodNotAllowed", "does not allow this method"),
    ("a JSON array for an object", "POST", CLAIMS, b"[1, 2]", {}, 400, "BadRequest", "must be a JSON object"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_bad_input(apistore: ApistoreProcess, case: tuple[Any, ...]) -> None:
    _, method, path, body, headers, code, reason, fragment = case
    base = f"http://127.0.0.1:{apistore.cluster.http_port}"
    async with aiohttp.ClientSession(base) as http:
        headers = {"Content-Type": "application/json", **headers}
        async with http.request(method, path, data=body, headers=headers) as r:
            status = await r.json(content_type=None)
            assert r.status == code, status
            assert r.headers["Content-Type"].startswith("application/json")
        assert status["kind"] == "Status" and status["code"] == code and status["reason"] == reason
        assert fragment in status["message"], status["message"]
        # nothing stored, and the server still serves
        async with http.get(CLAIMS) as r:
            assert r.status == 200
            assert (await r.json())["items"] == []
        async with http.get("/version") as r:
            assert (await r.json())["minor"] == "32"


async def test_watch_from_a_compacted_revision_gets_410_expired(apistore: ApistoreProcess) -> None:
    base = f"http://127.0.0.1:{apistore.cluster.http_port}"
    async with aiohttp.ClientSession(base) as http:
        async with http.get(CLAIMS, params={"watch": "true", "resourceVersion": "1"}) as r:
            assert r.status == 200
            events = [json.loads(line) for line in (await r.text()).splitlines()]
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    assert events[0]["object"]["message"].startswith("too old resource version: 1 (")


async def test_request_latency_metric_has_kubernetes_labels(apistore: ApistoreProcess) -> None:
    base = f"http://127.0.0.1:{apistore.cluster.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.post(base + CLAIMS, json=claim("m")) as r:
            assert r.status == 201
        async with http.get(base + CLAIMS) as r:
            assert r.status == 200
        async with http.get(apistore.cluster.metrics_url("apistore") + "/metrics") as r:
            text = await r.text()
    from prometheus_client.parser import text_string_to_metric_families

    samples = [s for f in text_string_to_metric_families(text) if f.name == "apiserver_request_duration_seconds"
               for s in f.samples if s.name.endswith("_count")]
    labels = [s.labels for s in samples]
    assert {"verb": "POST", "dry_run": "", "group": "", "version": "v1", "resource": "persistentvolumeclaims",
            "subresource": "", "scope": "resource", "component": "apiserver"} in labels
    assert any(lb["verb"] == "LIST" and lb["scope"] == "namespace" and lb["resource"] == "persistentvolumeclaims"
               for lb in labels)
