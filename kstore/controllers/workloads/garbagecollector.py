"""The garbage collector's decisions (Kubernetes' `garbagecollector.go`: `attemptToDeleteItem`,
`processDeletingDependentsItem`, `orphanDependents`; read for behaviour, our code).

Propagation, as `kubectl delete --cascade=background|foreground|orphan` asks the store:
- Background (the default): the owner goes at once; its dependents then have an owner that
  is *absent* and are deleted by `sync_attempt_to_delete`.
- Foreground: the store leaves the owner with a deletionTimestamp and the `foregroundDeletion`
  finalizer. Its dependents see an owner *waiting* for them and are deleted (in the
  foreground themselves when they have dependents); once no dependent with
  `blockOwnerDeletion` is left, `sync_deleting_dependents` removes the finalizer.
- Orphan: the owner keeps the `orphan` finalizer until `sync_orphan` has removed the
  references to it from every dependent; then the finalizer goes, and the owner with it.

`sync_attempt_to_delete(node, graph, owners)` classifies each ownerReference with the
`owners` map the worker filled (`OwnerState`, from the graph, or from the store for owners the
graph does not hold — a cache may lag; the store decides "absent"):
- some owner present (or unresolvable: never delete what we cannot check): remove the
  references to absent owners and to owners waiting for their dependents, nothing else;
- an owner waiting, and the item has dependents of its own: delete it in the foreground;
- otherwise (every owner absent, or waiting while the item has no dependents): delete it,
  with the propagation its own finalizers ask for (orphan, foreground) or in the background.
A namespaced item whose owner is found in another namespace treats it as absent, and a
cluster-scoped item naming a namespaced kind as owner cannot be resolved; both get a Warning
`OwnerRefInvalidNamespace`, as Kubernetes reports them.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping

from kstore.api.kinds import KINDS, KindInfo
from kstore.controllers.workloads.gc_graph import GraphNode, UidGraph
from kstore.controllers.workloads.model import FOREGROUND, ORPHAN, Action, Delete, Event, Update


class OwnerState(enum.Enum):
    PRESENT = "present"
    ABSENT = "absent"
    WAITING = "waiting"  # present, being deleted in the foreground: waits for its dependents
    UNRESOLVABLE = "unresolvable"  # a kind the store does not serve, or a scope mismatch


def owner_kind(ref: Mapping[str, object]) -> KindInfo | None:
    """The kind an ownerReference names, matched by kind and API group (any version)."""
    info = KINDS.get(str(ref.get("kind") or ""))
    if info is None:
        return None
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    return info if group == info.group else None


def state_of(owner: GraphNode) -> OwnerState:
    return OwnerState.WAITING if owner.deleting_dependents else OwnerState.PRESENT


def classify_from_graph(node: GraphNode, graph: UidGraph) -> tuple[dict[str, OwnerState], list[dict[str, object]]]:
    """States of the node's owners the graph can answer for, and the references it cannot
    (to ask the store about: `(kind info, namespace, name, uid)` via `owner_lookup`)."""
    states: dict[str, OwnerState] = {}
    unknown = []
    for ref in node.owners:
        uid = str(ref.get("uid") or "")
        info = owner_kind(ref)
        if info is None or (info.namespaced and not node.namespace):
            states[uid] = OwnerState.UNRESOLVABLE
            continue
        owner = graph.get(uid)
        if owner is not None and owner.kind == info.kind:
            if info.namespaced and owner.namespace != node.namespace:
                states[uid] = OwnerState.ABSENT  # an owner in another namespace does not count
            else:
                states[uid] = state_of(owner)
            continue
        unknown.append(ref)
    return states, unknown


def owner_lookup(node: GraphNode, ref: Mapping[str, object]) -> tuple[str, str, str]:
    """(kind, namespace, name) to GET for an ownerReference the graph does not hold."""
    info = owner_kind(ref)
    assert info is not None
    return info.kind, (node.namespace if info.namespaced else ""), str(ref.get("name") or "")


def _without_refs(node: GraphNode, uids: set[str]) -> Update:
    obj = copy.deepcopy(node.obj)
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
    if refs:
        obj["metadata"]["ownerReferences"] = refs
    else:
        obj["metadata"].pop("ownerReferences", None)
    return Update(obj)


def _without_finalizer(node: GraphNode, finalizer: str) -> Update:
    obj = copy.deepcopy(node.obj)
    obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
    return Update(obj)


def _delete(node: GraphNode, propagation: str) -> Delete:
    return Delete(node.kind, node.namespace, node.name, node.uid, propagation=propagation)


def invalid_namespace_events(node: GraphNode, graph: UidGraph) -> list[Action]:
    events: list[Action] = []
    for ref in node.owners:
        info = owner_kind(ref)
        owner = graph.get(str(ref.get("uid") or ""))
        bad_scope = info is not None and info.namespaced and not node.namespace
        elsewhere = (info is not None and info.namespaced and owner is not None and owner.kind == info.kind
                     and owner.namespace != node.namespace)
        if bad_scope or elsewhere:
            where = "a cluster-scoped object" if bad_scope else f"namespace {node.namespace}"
            events.append(Event(node.obj, "Warning", "OwnerRefInvalidNamespace",
                                f"ownerRef [{ref.get('apiVersion')}/{ref.get('kind')}, namespace: {node.namespace}, "
                                f"name: {ref.get('name')}, uid: {ref.get('uid')}] does not exist in {where}"))
    return events


def sync_attempt_to_delete(node: GraphNode, graph: UidGraph, owners: Mapping[str, OwnerState]) -> list[Action]:
    """Decide for one object with owners: keep it, drop some references, or delete it.
    `owners` has a state for every ownerReference uid. No I/O."""
    if node.deleting:
        return sync_deleting_dependents(node, graph) if node.deleting_dependents else []
    if not node.owners:
        return []
    solid, dangling, waiting = set(), set(), set()
    for ref in node.owners:
        uid = str(ref.get("uid") or "")
        state = owners.get(uid, OwnerState.UNRESOLVABLE)
        if state in (OwnerState.PRESENT, OwnerState.UNRESOLVABLE):
            solid.add(uid)
        elif state is OwnerState.ABSENT:
            dangling.add(uid)
        else:
            waiting.add(uid)
    events = invalid_namespace_events(node, graph)
    if solid:
        if not dangling and not waiting:
            return events
        # OBSERVATION: another owner still holds it: only the references to the gone (or
        # going) owners are removed, so those owners are not blocked by it.
        return [*events, _without_refs(node, dangling | waiting)]
    if waiting and graph.dependents(node.uid):
        return [*events, _delete(node, "Foreground")]
    if ORPHAN in node.finalizers:
        policy = "Orphan"
    elif FOREGROUND in node.finalizers:
        policy = "Foreground"
    else:
        policy = "Background"
    return [*events, _delete(node, policy)]


def blocking_dependents(node: GraphNode, graph: UidGraph) -> list[GraphNode]:
    return [d for d in graph.dependents(node.uid) if (d.ref_to(node.uid) or {}).get("blockOwnerDeletion")]


def sync_deleting_dependents(node: GraphNode, graph: UidGraph) -> list[Action]:
    """An owner deleted in the foreground: drop `foregroundDeletion` once nothing blocks it.
    Its blocking dependents are deleted by their own syncs (they see it waiting)."""
    if not node.deleting_dependents or blocking_dependents(node, graph):
        return []
    return [_without_finalizer(node, FOREGROUND)]


def sync_orphan(node: GraphNode, graph: UidGraph) -> list[Action]:
    """An owner deleted with `orphan`: free its dependents, then let it go."""
    if not node.orphaning:
        return []
    actions: list[Action] = [_without_refs(dep, {node.uid}) for dep in graph.dependents(node.uid)]
    actions.append(_without_finalizer(node, ORPHAN))
    return actions
