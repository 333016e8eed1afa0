"""Kubernetes REST paths → what they name.

    /api/v1[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]
    /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]

`/api/v1/namespaces/<name>[/status|/finalize]` names the Namespace object itself; a namespaced
resource's collection path without `namespaces/<ns>` lists across all namespaces.
"""

from __future__ import annotations

import dataclasses

from kstore.api.kinds import BY_PLURAL, KindInfo

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclasses.dataclass(frozen=True)
class Target:
    info: KindInfo
    namespace: str | None  # None: all namespaces (or a cluster-scoped kind)
    name: str | None  # None: the collection
    subresource: str | None

    @property
    def scope(self) -> str:
        """The `scope` label of apiserver_request_duration_seconds."""
        if self.name is not None:
            return "resource"
        return "namespace" if self.namespace else "cluster"


class UnknownPath(Exception):
    """Nothing is served at this path (404 `the server could not find the requested resource`)."""


def parse(path: str) -> Target:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise UnknownPath(path)
    if not rest:
        raise UnknownPath(path)
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    info = BY_PLURAL.get((group, plural))
    if info is None or info.version != version or len(rest) > 3:
        raise UnknownPath(path)
    if namespace is not None and not info.namespaced:
        raise UnknownPath(path)
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and not (sub == "status" and info.has_status) and not (
        info.kind == "Namespace" and sub == "finalize"
    ) and not (info.kind == "Pod" and sub == "binding") and not (
        info.kind in ("Deployment", "ReplicaSet", "StatefulSet") and sub == "scale"
    ):
        raise UnknownPath(path)
    return Target(info, namespace, name, sub)
