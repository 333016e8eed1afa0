"""The controller-manager's `ClusterView` over its informer caches.

Each informer gets the indexes the syncs ask for: `namespace`, `controller` (the uid in the
controller ownerReference), `orphan` (namespace of objects without one, for adoption), and
for pods `node` and `ephemeral` (the claims their generic ephemeral volumes name). Every
object read goes through `AssumedDeletes.resolve`, so our own deletions show at once.
"""

from __future__ import annotations

from kstore.client.informer import Informer
from kstore.controllers.workloads.assume import AssumedDeletes
from kstore.controllers.workloads.ephemeral import ephemeral_claim_names
from kstore.controllers.workloads.meta import controller_uid
from kstore.controllers.workloads.model import Obj


def add_indexes(informer: Informer, *, namespaced: bool) -> None:
    informer.add_indexer("controller", lambda o: [u] if (u := controller_uid(o)) else [])
    if namespaced:
        informer.add_indexer("namespace", lambda o: [o["metadata"].get("namespace") or ""])
        informer.add_indexer("orphan", lambda o: [] if controller_uid(o) else [o["metadata"].get("namespace") or ""])
    if informer.kind == "Pod":
        informer.add_indexer("node", lambda o: [n] if (n := (o.get("spec") or {}).get("nodeName")) else [])
        informer.add_indexer("ephemeral", lambda o: [f"{o['metadata'].get('namespace')}/{c}"
                                                     for c in ephemeral_claim_names(o)])


class CacheView:
    def __init__(self, informers: dict[str, Informer], assumed: AssumedDeletes) -> None:
        self._informers = informers
        self._assumed = assumed

    def _resolve(self, objs: list[Obj]) -> list[Obj]:
        out = []
        for obj in objs:
            shown = self._assumed.resolve(obj)
            if shown is not None:
                out.append(shown)
        return out

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        obj = self._informers[kind].get(f"{namespace}/{name}" if namespace else name)
        return self._assumed.resolve(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        inf = self._informers[kind]
        objs = inf.list() if namespace is None else inf.cache.by_index("namespace", namespace)
        return self._resolve(objs)

    def controlled_by(self, kind: str, uid: str) -> list[Obj]:
        return self._resolve(self._informers[kind].cache.by_index("controller", uid))

    def orphans(self, kind: str, namespace: str) -> list[Obj]:
        return self._resolve(self._informers[kind].cache.by_index("orphan", namespace))

    def pods_on_node(self, node: str) -> list[Obj]:
        return self._resolve(self._informers["Pod"].cache.by_index("node", node))

    def pods_using_ephemeral(self, namespace: str, claim: str) -> list[Obj]:
        return self._resolve(self._informers["Pod"].cache.by_index("ephemeral", f"{namespace}/{claim}"))
