"""Discovery: `GET /version`, `/api`, `/apis` (aggregated or legacy) and `/api/v1`, `/apis/<g>/<v>`.

Design:
- Everything comes from `kstore.api.kinds.KINDS`: one resource per kind, with its plural,
  singular, kind, scope, short names, categories, the eight standard verbs, and a `status`
  subresource (get, patch, update) where the kind has one.
- kubectl asks for aggregated discovery (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList, two
  requests in all) and must get it with exactly `AGGREGATED_CONTENT_TYPE`: the same body as
  `application/json` is read as legacy discovery and shows no resources at all.
  `wants_aggregated` negotiates the Accept header as kube-apiserver does.
- The Python client and `DynamicClient` use legacy discovery (`APIVersions`, `APIGroupList`,
  `APIResourceList`), which needs `kind` and `preferredVersion`.
- Order follows kube-apiserver: groups by priority (apps before storage.k8s.io before
  coordination.k8s.io), resources by name.
"""

from __future__ import annotations

from typing import Any

from kstore.api.kinds import KINDS, KindInfo

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")
# kube-apiserver's group priority order, restricted to the groups served ("" is /api).
GROUP_ORDER = ("", "apps", "storage.k8s.io", "coordination.k8s.io")

_VERSION_INFO = {
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


def version_info() -> dict[str, str]:
    """`GET /version`. Minor "32" makes kubectl's version dispatcher run its built-in 1.32."""
    return dict(_VERSION_INFO)


def _singular(info: KindInfo) -> str:
    return info.singular or info.kind.lower()


def _groups() -> dict[str, list[KindInfo]]:
    """Kinds by group, groups in priority order, kinds by plural."""
    out: dict[str, list[KindInfo]] = {group: [] for group in GROUP_ORDER}
    for info in sorted(KINDS.values(), key=lambda k: k.plural):
        out.setdefault(info.group, []).append(info)
    return {group: kinds for group, kinds in out.items() if kinds}


def _versions(kinds: list[KindInfo]) -> dict[str, list[KindInfo]]:
    out: dict[str, list[KindInfo]] = {}
    for info in kinds:
        out.setdefault(info.version, []).append(info)
    return out


# ---- content negotiation ------------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[float, str, str, dict[str, str]]]:
    ranges = []
    for clause in accept.split(","):
        parts = [p.strip() for p in clause.split(";")]
        if not parts[0]:
            continue
        mtype, _, subtype = parts[0].lower().partition("/")
        params: dict[str, str] = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        ranges.append((q, mtype, subtype or "*", params))
    # Highest quality first, then the more specific; stable, as goautoneg's sort is for so few.
    ranges.sort(key=lambda r: (-r[0], r[1] == "*", r[2] == "*"))
    return ranges


def wants_aggregated(accept_header: str) -> bool:
    """Whether the Accept header picks aggregated discovery (APIGroupDiscoveryList v2) over
    legacy discovery.

    As in kube-apiserver: the media ranges are tried by quality, then specificity; the first
    one the endpoint can serve wins. A JSON range with `g=apidiscovery.k8s.io;v=v2;
    as=APIGroupDiscoveryList` is aggregated; a JSON range without parameters is legacy; ranges
    with other parameters (v2beta1, Table) or other types (protobuf) are skipped, and legacy
    JSON is the answer when nothing matches.
    """
    for q, mtype, subtype, params in _media_ranges(accept_header):
        if q <= 0:
            continue
        if (mtype, subtype) not in (("application", "json"), ("application", "*"), ("*", "*")):
            continue
        if not params:
            return False
        if (params.get("g"), params.get("v"), params.get("as")) == (
            "apidiscovery.k8s.io",
            "v2",
            "APIGroupDiscoveryList",
        ):
            return True
    return False


# ---- aggregated (apidiscovery.k8s.io/v2) --------------------------------------------------


def _gvk(info: KindInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def _resource_discovery(info: KindInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": _gvk(info),
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": _singular(info),
        "verbs": list(VERBS),
    }
    if info.short_names:
        out["shortNames"] = list(info.short_names)
    if info.categories:
        out["categories"] = list(info.categories)
    subresources = []
    if info.has_status:
        subresources.append({"subresource": "status", "responseKind": _gvk(info), "verbs": list(STATUS_VERBS)})
    if info.kind in SCALABLE:
        subresources.append({"subresource": "scale", "verbs": list(STATUS_VERBS),
                             "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}})
    if info.kind == "Pod":
        subresources.append({"subresource": "binding", "verbs": ["create"],
                             "responseKind": {"group": "", "version": "v1", "kind": "Binding"}})
    if subresources:
        out["subresources"] = subresources
    return out


def _group_discovery(group: str, kinds: list[KindInfo]) -> dict[str, Any]:
    return {
        "metadata": {"name": group},
        "versions": [
            {"version": version, "resources": [_resource_discovery(k) for k in infos], "freshness": "Current"}
            for version, infos in _versions(kinds).items()
        ],
    }


def _discovery_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def aggregated_core() -> dict[str, Any]:
    """`GET /api` under aggregated discovery: the core group (`name: ""`)."""
    return _discovery_list([_group_discovery("", kinds) for group, kinds in _groups().items() if group == ""])


def aggregated_groups() -> dict[str, Any]:
    """`GET /apis` under aggregated discovery: one item per named group."""
    return _discovery_list([_group_discovery(group, kinds) for group, kinds in _groups().items() if group])


# ---- legacy ----------------------------------------------------------------------------------


def api_versions(*, server_address: str = "") -> dict[str, Any]:
    """`GET /api` (legacy). The Python client's typed model requires serverAddressByClientCIDRs;
    pass the host:port the client reached."""
    return {
        "kind": "APIVersions",
        "versions": list(_versions(_groups().get("", []))),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_group_list() -> dict[str, Any]:
    """`GET /apis` (legacy)."""
    groups = []
    for group, kinds in _groups().items():
        if not group:
            continue
        versions = [_group_version(group, v) for v in _versions(kinds)]
        groups.append({"name": group, "versions": versions, "preferredVersion": versions[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _api_resources(info: KindInfo) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": info.plural,
        "singularName": _singular(info),
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(VERBS),
    }
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    if info.categories:
        main["categories"] = list(info.categories)
    out = [main]
    if info.has_status:
        status = {"name": f"{info.plural}/status", "singularName": "", "namespaced": info.namespaced}
        out.append({**status, "kind": info.kind, "verbs": list(STATUS_VERBS)})
    if info.kind in SCALABLE:
        out.append({"name": f"{info.plural}/scale", "singularName": "", "namespaced": info.namespaced,
                    "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": list(STATUS_VERBS)})
    if info.kind == "Pod":
        out.append({"name": "pods/binding", "singularName": "", "namespaced": True, "kind": "Binding",
                    "verbs": ["create"]})
    return out


# Kinds with a `scale` subresource (autoscaling/v1 Scale), for `kubectl scale`.
SCALABLE = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """`GET /api/v1` (group "") or `GET /apis/<group>/<version>`; None if not served."""
    kinds = _versions(_groups().get(group, [])).get(version)
    if not kinds:
        return None
    resources = [r for info in kinds for r in _api_resources(info)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": sorted(resources, key=lambda r: r["name"]),
    }
