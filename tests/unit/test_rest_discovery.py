"""Discovery (`rest/discovery.py`) and OpenAPI v3 (`rest/openapi.py`): the shapes kubectl 1.32 and
the Python client read (KUBE-API.md §3.1, §4.2, §4.3)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kstore.api.kinds import KINDS
from kstore.apistore.rest import discovery, openapi

KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# `kubectl api-resources` (KUBE-API.md §4.2): (group, plural, short name, scope, kind).
API_RESOURCES = [
    ("", "events", "ev", "Namespaced", "Event"),
    ("", "namespaces", "ns", "Cluster", "Namespace"),
    ("", "nodes", "no", "Cluster", "Node"),
    ("", "persistentvolumeclaims", "pvc", "Namespaced", "PersistentVolumeClaim"),
    ("", "persistentvolumes", "pv", "Cluster", "PersistentVolume"),
    ("", "pods", "po", "Namespaced", "Pod"),
    ("apps", "deployments", "deploy", "Namespaced", "Deployment"),
    ("apps", "statefulsets", "sts", "Namespaced", "StatefulSet"),
    ("storage.k8s.io", "csinodes", None, "Cluster", "CSINode"),
    ("storage.k8s.io", "storageclasses", "sc", "Cluster", "StorageClass"),
    ("storage.k8s.io", "volumeattachments", None, "Cluster", "VolumeAttachment"),
]


def test_version_info() -> None:
    assert discovery.version_info() == {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


# ---- content negotiation ------------------------------------------------------------------


def test_aggregated_content_type_is_exact() -> None:
    assert (
        discovery.AGGREGATED_CONTENT_TYPE
        == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )


@pytest.mark.parametrize(
    ("accept", "aggregated"),
    [
        (KUBECTL_ACCEPT, True),
        ("application/json", False),  # the Python client
        ("application/json, */*", False),
        ("", False),
        ("*/*", False),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            False,
        ),  # v2beta1 not served
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", True),
        ("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList", True),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0", False),
        ("application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", False),
        ("application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", True),
        ("application/json;as=Table;g=meta.k8s.io;v=v1,application/json", False),
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            True,
        ),
    ],
)
def test_wants_aggregated(accept: str, aggregated: bool) -> None:
    assert discovery.wants_aggregated(accept) is aggregated


# ---- aggregated ----------------------------------------------------------------------------


def aggregated_resources() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for doc in (discovery.aggregated_core(), discovery.aggregated_groups()):
        assert doc["kind"] == "APIGroupDiscoveryList"
        assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
        for group in doc["items"]:
            for version in group["versions"]:
                assert version["freshness"] == "Current"
                for res in version["resources"]:
                    out[(group["metadata"]["name"], res["resource"])] = res
    return out


def test_aggregated_core_is_the_unnamed_group() -> None:
    doc = discovery.aggregated_core()
    assert [item["metadata"]["name"] for item in doc["items"]] == [""]
    assert [v["version"] for v in doc["items"][0]["versions"]] == ["v1"]


def test_aggregated_groups_in_priority_order() -> None:
    names = [item["metadata"]["name"] for item in discovery.aggregated_groups()["items"]]
    assert names == ["apps", "storage.k8s.io", "coordination.k8s.io"]


def test_every_kind_is_discovered_with_the_fields_kubectl_needs() -> None:
    resources = aggregated_resources()
    assert len(resources) == len(KINDS)
    for info in KINDS.values():
        res = resources[(info.group, info.plural)]
        assert res["responseKind"] == {"group": info.group, "version": info.version, "kind": info.kind}
        assert res["scope"] == ("Namespaced" if info.namespaced else "Cluster")
        assert res["singularResource"] == info.kind.lower()
        assert res["verbs"] == ALL_VERBS
        assert res.get("shortNames", []) == list(info.short_names)
        expected = []
        if info.has_status:
            expected.append({"subresource": "status", "responseKind": res["responseKind"],
                             "verbs": ["get", "patch", "update"]})
        if info.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            expected.append({"subresource": "scale", "verbs": ["get", "patch", "update"],
                             "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}})
        if info.kind == "Pod":
            expected.append({"subresource": "binding", "verbs": ["create"],
                             "responseKind": {"group": "", "version": "v1", "kind": "Binding"}})
        assert res.get("subresources", []) == expected


@pytest.mark.parametrize(("group", "plural", "short", "scope", "kind"), API_RESOURCES)
def test_kubectl_api_resources_rows(
    group: str, plural: str, short: str | None, scope: str, kind: str
) -> None:
    res = aggregated_resources()[(group, plural)]
    assert res["responseKind"]["kind"] == kind
    assert res["scope"] == scope
    assert res.get("shortNames") == ([short] if short else None)


def test_get_all_categories() -> None:
    resources = aggregated_resources()
    for key in (("", "pods"), ("apps", "deployments"), ("apps", "statefulsets")):
        assert resources[key]["categories"] == ["all"]
    assert "categories" not in resources[("", "persistentvolumeclaims")]


# ---- legacy ------------------------------------------------------------------------------


def test_api_versions() -> None:
    doc = discovery.api_versions(server_address="127.0.0.1:6443")
    assert doc == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }


def test_api_group_list() -> None:
    doc = discovery.api_group_list()
    assert (doc["kind"], doc["apiVersion"]) == ("APIGroupList", "v1")
    assert doc["groups"][0] == {
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    assert [g["name"] for g in doc["groups"]] == ["apps", "storage.k8s.io", "coordination.k8s.io"]


def test_api_resource_list_core() -> None:
    doc = discovery.api_resource_list("", "v1")
    assert doc is not None
    assert (doc["kind"], doc["apiVersion"], doc["groupVersion"]) == ("APIResourceList", "v1", "v1")
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["persistentvolumeclaims"] == {
        "name": "persistentvolumeclaims",
        "singularName": "persistentvolumeclaim",
        "namespaced": True,
        "kind": "PersistentVolumeClaim",
        "verbs": ALL_VERBS,
        "shortNames": ["pvc"],
    }
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["pods/status"] == {
        "name": "pods/status",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }
    assert "events/status" not in by_name
    assert [r["name"] for r in doc["resources"]] == sorted(by_name)


def test_api_resource_list_group() -> None:
    doc = discovery.api_resource_list("storage.k8s.io", "v1")
    assert doc is not None
    assert doc["groupVersion"] == "storage.k8s.io/v1"
    names = [r["name"] for r in doc["resources"]]
    assert names == [
        "csidrivers",
        "csinodes",
        "storageclasses",
        "volumeattachments",
        "volumeattachments/status",
    ]


@pytest.mark.parametrize(("group", "version"), [("", "v2"), ("batch", "v1"), ("apps", "v1beta1"), ("v1", "")])
def test_api_resource_list_unknown(group: str, version: str) -> None:
    assert discovery.api_resource_list(group, version) is None


# ---- OpenAPI v3 ----------------------------------------------------------------------------

GVS = ["api/v1", "apis/apps/v1", "apis/storage.k8s.io/v1", "apis/coordination.k8s.io/v1"]


def group_doc(gv: str) -> dict[str, Any]:
    doc = openapi.openapi_v3_group(gv)
    assert doc is not None
    return doc


def gv_of(info: Any) -> str:
    return f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"


def test_index_links_every_group_version_with_its_hash() -> None:
    index = openapi.openapi_v3_index()
    assert list(index["paths"]) == GVS
    for gv, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        assert url == f"/openapi/v3/{gv}?hash={openapi.openapi_etag(group_doc(gv))}"


def test_hashes_are_stable_and_content_derived() -> None:
    first = openapi.openapi_v3_index()
    assert openapi.openapi_v3_index() == first
    for gv in GVS:
        doc = group_doc(gv)
        digest = openapi.openapi_etag(doc)
        assert len(digest) == 128 and digest == digest.upper()
        assert openapi.openapi_etag(copy.deepcopy(doc)) == digest  # not identity-based
        changed = copy.deepcopy(doc)
        changed["info"]["version"] = "v0"
        assert openapi.openapi_etag(changed) != digest


@pytest.mark.parametrize("gv", ["api/v2", "apis/batch/v1", "apis/apps", ""])
def test_unknown_group_version(gv: str) -> None:
    assert openapi.openapi_v3_group(gv) is None


def test_group_document_header() -> None:
    doc = group_doc("api/v1")
    assert doc["openapi"] == "3.0.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    assert openapi.openapi_v3_group("/api/v1") is doc


def item_path(info: Any) -> str:
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    scope = "/namespaces/{namespace}" if info.namespaced else ""
    return f"{prefix}{scope}/{info.plural}/{{name}}"


def has_field_validation(op: dict[str, Any]) -> bool:
    return any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op.get("parameters", []))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_a_validating_patch_operation(kind: str) -> None:
    """What kubectl's --validate=strict looks for (§4.3): the patch operation of the kind's path,
    with the GVK and an operation-level fieldValidation parameter."""
    info = KINDS[kind]
    doc = group_doc(gv_of(info))
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    item = doc["paths"][item_path(info)]
    assert set(item) >= {"get", "put", "delete", "patch"}
    assert item["patch"]["x-kubernetes-group-version-kind"] == gvk
    assert has_field_validation(item["patch"])
    assert has_field_validation(item["put"])
    assert not any(p["name"] == "fieldValidation" for p in item.get("parameters", []))
    # No requestBody: kubectl then computes apply patches from its compiled-in merge keys.
    assert "requestBody" not in item["patch"]
    collection = doc["paths"][item_path(info).removesuffix("/{name}")]
    assert collection["post"]["x-kubernetes-group-version-kind"] == gvk
    assert has_field_validation(collection["post"])
    assert (item_path(info) + "/status" in doc["paths"]) == info.has_status


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        refs = [node["$ref"]] if "$ref" in node else []
        return refs + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


@pytest.mark.parametrize("gv", GVS)
def test_every_ref_resolves(gv: str) -> None:
    doc = group_doc(gv)
    schemas = doc["components"]["schemas"]
    refs = all_refs(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    json.dumps(doc)  # serializable as is


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_schemas_carry_their_gvk(kind: str) -> None:
    info = KINDS[kind]
    schemas = group_doc(gv_of(info))["components"]["schemas"]
    tagged = [
        name
        for name, schema in schemas.items()
        if {"group": info.group, "version": info.version, "kind": kind}
        in schema.get("x-kubernetes-group-version-kind", [])
    ]
    assert len(tagged) == 1
    assert tagged[0].endswith(f".{kind}")


def resolve(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref") or (schema.get("allOf") or [{}])[0].get("$ref")
    return schemas[ref.removeprefix("#/components/schemas/")] if ref else schema


def test_explain_paths_resolve() -> None:
    """`kubectl explain pvc.spec.resources` and `kubectl explain pod.spec.volumes` walk these."""
    schemas = group_doc("api/v1")["components"]["schemas"]
    pvc = schemas["io.k8s.api.core.v1.PersistentVolumeClaim"]
    spec = resolve(schemas, pvc["properties"]["spec"])
    resources = resolve(schemas, spec["properties"]["resources"])
    assert set(resources["properties"]) == {"limits", "requests"}
    assert resources["properties"]["requests"]["additionalProperties"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}]
    }
    pod_spec = resolve(schemas, resolve(schemas, schemas["io.k8s.api.core.v1.Pod"]["properties"]["spec"]))
    volumes = pod_spec["properties"]["volumes"]
    assert volumes["type"] == "array"
    assert volumes["x-kubernetes-patch-merge-key"] == "name"
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    volume = resolve(schemas, volumes["items"])
    assert {"name", "persistentVolumeClaim", "hostPath", "csi", "ephemeral"} <= set(volume["properties"])
    assert volume["required"] == ["name"]
    assert pod_spec["required"] == ["containers"]


def test_apps_document_carries_the_core_types_it_uses() -> None:
    schemas = group_doc("apis/apps/v1")["components"]["schemas"]
    assert "io.k8s.api.core.v1.PodSpec" in schemas
    assert "io.k8s.api.core.v1.PersistentVolumeClaim" in schemas  # volumeClaimTemplates
    assert "io.k8s.api.apps.v1.StatefulSetList" in schemas
    sts_spec = schemas["io.k8s.api.apps.v1.StatefulSetSpec"]
    assert "persistentVolumeClaimRetentionPolicy" in sts_spec["properties"]
    assert "io.k8s.api.storage.v1.StorageClass" not in schemas
