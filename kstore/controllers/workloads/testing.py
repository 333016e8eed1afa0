"""Test kit for the controller-manager's pure syncs (as Kubernetes keeps `testing/` packages
next to its controllers): object builders and `FakeCluster`, an in-memory store that is also
the `ClusterView` the syncs read.

`FakeCluster.apply(actions)` applies actions as the store would: uids, generateName (a seeded
random, so names repeat from run to run), creationTimestamp and generation; resourceVersion
checked on update (409 on a stale one) and bumped on every write; a status write changes only
the status; delete honours the uid precondition, `propagation` (adds the `orphan` /
`foregroundDeletion` finalizer), finalizers (deletionTimestamp, the object stays) and graceful
pod deletion (a pod on a node stays terminating until `finish_pod`). The first failed write
raises `FakeError` and stops the list, like the worker. Events are kept as
`"<kind>/<name> <Type> <Reason> <message>"` strings; an error can be injected once per verb.

`settle(now=...)` runs every controller's sync over every object until a whole pass writes
nothing: the level-triggered loop without the queues.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterable, Sequence
from typing import Any

from kstore.api.kinds import KINDS
from kstore.api.names import generate_name
from kstore.controllers.workloads.deployment import sync_deployment
from kstore.controllers.workloads.ephemeral import sync_ephemeral
from kstore.controllers.workloads.garbagecollector import (
    OwnerState,
    classify_from_graph,
    sync_attempt_to_delete,
    sync_orphan,
)
from kstore.controllers.workloads.gc_graph import UidGraph
from kstore.controllers.workloads.meta import controller_uid, format_time
from kstore.controllers.workloads.model import (
    FOREGROUND,
    ORPHAN,
    Action,
    Create,
    CreateBatch,
    Delete,
    Event,
    Obj,
    RequeueAfter,
    Update,
    key_of,
)
from kstore.controllers.workloads.replicaset import sync_replica_set
from kstore.controllers.workloads.statefulset import sync_stateful_set

NS = "default"
NOW = 1_700_000_000.0  # wall clock of the tests: 2023-11-14T22:13:20Z


class FakeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---- builders


def pod_template(labels: dict[str, str], *, image: str = "nginx", volumes: list[Obj] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": image}], "restartPolicy": "Always"}
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def deployment(name: str, replicas: int = 3, *, labels: dict[str, str] | None = None, image: str = "nginx",
               strategy: Obj | None = None, uid: str | None = None, ns: str = NS) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1",
                     "generation": 1, "creationTimestamp": format_time(NOW - 100)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": pod_template(labels, image=image),
                 "strategy": strategy or {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
    }


def replica_set(name: str, replicas: int = 3, *, labels: dict[str, str] | None = None, uid: str | None = None,
                owner: Obj | None = None, ns: str = NS, min_ready: int = 0) -> Obj:
    labels = labels or {"app": name}
    rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1",
                     "generation": 1, "labels": dict(labels), "creationTimestamp": format_time(NOW - 100)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": pod_template(labels)},
    }
    if min_ready:
        rs["spec"]["minReadySeconds"] = min_ready
    if owner is not None:
        rs["metadata"]["ownerReferences"] = [controller_ref_to(owner)]
    return rs


def controller_ref_to(owner: Obj, *, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def owner_ref_to(owner: Obj, *, block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def pod(name: str, *, labels: dict[str, str] | None = None, owner: Obj | None = None, node: str = "",
        phase: str = "Pending", ready: bool = False, ready_since: float = NOW - 60, created: float = NOW - 50,
        uid: str | None = None, ns: str = NS, volumes: list[Obj] | None = None,
        tolerations: list[Obj] | None = None) -> Obj:
    p: Obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1",
                     "labels": dict(labels or {}), "creationTimestamp": format_time(created)},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": {"phase": phase},
    }
    if owner is not None:
        p["metadata"]["ownerReferences"] = [controller_ref_to(owner)]
    if node:
        p["spec"]["nodeName"] = node
    if volumes:
        p["spec"]["volumes"] = volumes
    if tolerations:
        p["spec"]["tolerations"] = tolerations
    if ready:
        p["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                      "lastTransitionTime": format_time(ready_since)}]
    return p


def stateful_set(name: str, replicas: int = 2, *, policy: str = "OrderedReady", claims: Sequence[str] = ("www",),
                 retention: Obj | None = None, service: str = "nginx", uid: str | None = None,
                 ns: str = NS) -> Obj:
    labels = {"app": name}
    spec: Obj = {
        "replicas": replicas, "serviceName": service, "podManagementPolicy": policy,
        "selector": {"matchLabels": labels}, "template": pod_template(labels),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": retention or {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "volumeClaimTemplates": [{"metadata": {"name": c}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                      "resources": {"requests": {"storage": "1Gi"}}}}
                                 for c in claims],
    }
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1",
                         "generation": 1, "creationTimestamp": format_time(NOW - 100)},
            "spec": spec}


def node(name: str, *, heartbeat: float = NOW, ready: str = "True", taints: list[Obj] | None = None) -> Obj:
    n: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
                     "labels": {"topology.kubernetes.io/zone": "zone-a"}},
        "spec": {},
        "status": {"conditions": [
            {"type": t, "status": s, "reason": r, "message": "", "lastHeartbeatTime": format_time(heartbeat),
             "lastTransitionTime": format_time(heartbeat - 1000)}
            for t, s, r in (("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                            ("PIDPressure", "False", "KubeletHasSufficientPID"),
                            ("Ready", ready, "KubeletReady"))]},
    }
    if taints:
        n["spec"]["taints"] = taints
    return n


def lease(node_name: str, renew: str) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node_name, "namespace": "kube-node-lease", "uid": f"uid-lease-{node_name}",
                         "resourceVersion": "1"},
            "spec": {"holderIdentity": node_name, "renewTime": renew}}


def claim(name: str, *, owner: Obj | None = None, ns: str = NS, uid: str | None = None) -> Obj:
    c: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1"},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    if owner is not None:
        c["metadata"]["ownerReferences"] = [controller_ref_to(owner)]
    return c


# ---- the fake store


def _key(kind: str, obj: Obj) -> str:
    return key_of(obj) if KINDS[kind].namespaced else obj["metadata"]["name"]


class FakeCluster:
    def __init__(self, objects: Iterable[Obj] = (), *, now: float = NOW, seed: int = 1) -> None:
        self.objects: dict[str, dict[str, Obj]] = {k: {} for k in KINDS}
        self.events: list[str] = []
        self.requeues: list[float] = []
        self.writes = 0
        self.now = now
        self._rv = itertools.count(100)
        self._uid = itertools.count(1)
        self._rng = random.Random(seed)
        self._fail: dict[tuple[str, str], FakeError] = {}
        for obj in objects:
            self.put(obj)

    # ---- setup and inspection

    def put(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        self.objects[obj["kind"]][_key(obj["kind"], obj)] = obj
        return obj

    def obj(self, kind: str, name: str, ns: str = NS) -> Obj | None:
        return self.objects[kind].get(f"{ns}/{name}" if KINDS[kind].namespaced else name)

    def names(self, kind: str) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.objects[kind].values())

    def fail_next(self, verb: str, kind: str, code: int = 500, message: str = "injected error") -> None:
        self._fail[(verb, kind)] = FakeError(code, message)

    def set_pod(self, name: str, *, phase: str | None = None, ready: bool | None = None, ns: str = NS,
                since: float | None = None) -> None:
        p = self.obj("Pod", name, ns)
        assert p is not None, name
        if phase is not None:
            p["status"]["phase"] = phase
        if ready is not None:
            conds = [c for c in p["status"].get("conditions") or [] if c["type"] != "Ready"]
            conds.append({"type": "Ready", "status": "True" if ready else "False",
                          "lastTransitionTime": format_time(self.now if since is None else since)})
            p["status"]["conditions"] = conds
        p["metadata"]["resourceVersion"] = str(next(self._rv))

    def run_all_pods(self) -> None:
        """What a kubelet would do: every pod Running and Ready."""
        for p in self.objects["Pod"].values():
            if not p["metadata"].get("deletionTimestamp"):
                self.set_pod(p["metadata"]["name"], phase="Running", ready=True, ns=p["metadata"]["namespace"])

    def finish_pod(self, name: str, ns: str = NS) -> None:
        """A kubelet finishing a graceful deletion."""
        self.objects["Pod"].pop(f"{ns}/{name}", None)

    def finish_terminating_pods(self) -> None:
        for key, p in list(self.objects["Pod"].items()):
            if p["metadata"].get("deletionTimestamp") and not p["metadata"].get("finalizers"):
                del self.objects["Pod"][key]

    # ---- ClusterView

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.obj(kind, name, namespace)

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.objects[kind].values()
                if namespace is None or o["metadata"].get("namespace", "") == namespace]

    def controlled_by(self, kind: str, uid: str) -> list[Obj]:
        return [o for o in self.objects[kind].values() if controller_uid(o) == uid]

    def orphans(self, kind: str, namespace: str) -> list[Obj]:
        return [o for o in self.list(kind, namespace) if not controller_uid(o)]

    def pods_on_node(self, node_name: str) -> list[Obj]:
        return [p for p in self.objects["Pod"].values() if (p.get("spec") or {}).get("nodeName") == node_name]

    def graph(self) -> UidGraph:
        g = UidGraph()
        for objs in self.objects.values():
            for o in objs.values():
                g.upsert(o)
        return g

    # ---- applying actions

    def apply(self, actions: Sequence[Action]) -> None:
        written: dict[tuple[str, str], str] = {}  # chained Updates, as the applier does
        for action in actions:
            if isinstance(action, Create):
                self._create(action)
            elif isinstance(action, CreateBatch):
                for c in action.creates:
                    self._create(c)
            elif isinstance(action, Update):
                ident = (action.obj["kind"], key_of(action.obj))
                if ident in written:
                    action.obj["metadata"]["resourceVersion"] = written[ident]
                stored = self._update(action)
                if stored is not None:
                    written[ident] = stored["metadata"]["resourceVersion"]
            elif isinstance(action, Delete):
                self._delete(action)
            elif isinstance(action, Event):
                self._event(action)
            elif isinstance(action, RequeueAfter):
                self.requeues.append(action.seconds)

    def _event(self, e: Event | None, *, name: str = "", error: str = "") -> None:
        if e is not None:
            msg = e.message.replace("{name}", name).replace("{error}", error)
            self.events.append(f"{e.obj['kind']}/{e.obj['metadata']['name']} {e.type} {e.reason} {msg}")

    def _injected(self, verb: str, kind: str) -> FakeError | None:
        return self._fail.pop((verb, kind), None)

    def _create(self, action: Create) -> None:
        obj = copy.deepcopy(action.obj)
        kind, meta = obj["kind"], obj["metadata"]
        err = self._injected("create", kind)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"], rng=self._rng)
        if err is None and self.obj(kind, meta["name"], meta.get("namespace", "")) is not None:
            err = FakeError(409, f'{KINDS[kind].plural} "{meta["name"]}" already exists')
        if err is not None:
            self._event(action.on_failure, name=meta.get("name", ""), error=err.message)
            raise err
        meta.update(uid=f"uid-new-{next(self._uid)}", resourceVersion=str(next(self._rv)),
                    creationTimestamp=format_time(self.now))
        if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            meta["generation"] = 1
        if kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        self.put(obj)
        self.writes += 1
        self._event(action.on_success, name=meta["name"])

    def _update(self, action: Update) -> Obj | None:
        new = copy.deepcopy(action.obj)
        kind, meta = new["kind"], new["metadata"]
        old = self.obj(kind, meta["name"], meta.get("namespace", ""))
        if old is None:
            return None  # gone: as the applier, nothing to change
        err = self._injected("update_status" if action.status else "update", kind)
        if err is None and meta.get("resourceVersion") != old["metadata"]["resourceVersion"]:
            err = FakeError(409, f'Operation cannot be fulfilled on {KINDS[kind].plural} "{meta["name"]}": the object '
                                 "has been modified; please apply your changes to the latest version and try again")
        if err is not None:
            raise err
        if action.status:
            stored = copy.deepcopy(old)
            stored["status"] = new.get("status") or {}
        else:
            stored = new
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
                if f in old["metadata"]:
                    meta[f] = old["metadata"][f]
            if "status" in old:
                stored["status"] = old["status"]
            if old.get("spec") != stored.get("spec") and "generation" in old["metadata"]:
                meta["generation"] = old["metadata"]["generation"] + 1
        if stored == old:
            return old
        stored["metadata"]["resourceVersion"] = str(next(self._rv))
        self.writes += 1
        if stored["metadata"].get("deletionTimestamp") and not stored["metadata"].get("finalizers") and not (
                kind == "Pod" and stored["metadata"].get("deletionGracePeriodSeconds")):
            self.objects[kind].pop(_key(kind, stored), None)
        else:
            self.put(stored)
        self._event(action.on_success, name=meta["name"])
        return stored

    def _delete(self, action: Delete) -> None:
        old = self.obj(action.kind, action.name, action.namespace)
        if old is None or (action.uid and old["metadata"]["uid"] != action.uid):
            return  # gone, or a namesake: as the applier
        err = self._injected("delete", action.kind)
        if err is not None:
            self._event(action.on_failure, name=action.name, error=err.message)
            raise err
        meta = old["metadata"]
        fins = list(meta.get("finalizers") or [])
        if action.propagation == "Orphan" and ORPHAN not in fins:
            fins.append(ORPHAN)
        elif action.propagation == "Foreground" and FOREGROUND not in fins:
            fins.append(FOREGROUND)
        graceful = (action.kind == "Pod" and old["spec"].get("nodeName") and action.grace_period != 0
                    and old["status"].get("phase") not in ("Succeeded", "Failed"))
        self.writes += 1
        if fins or graceful:
            meta["finalizers"] = fins
            meta.setdefault("deletionTimestamp", format_time(self.now))
            if graceful:
                meta["deletionGracePeriodSeconds"] = 30
            meta["resourceVersion"] = str(next(self._rv))
        else:
            del self.objects[action.kind][_key(action.kind, old)]
        self._event(action.on_success, name=action.name)

    # ---- the level-triggered loop

    def gc_pass(self) -> None:
        """One garbage collector pass over every object (owners absent from the store are absent)."""
        graph = self.graph()
        for uid in sorted(n for kind in self.objects.values() for n in (o["metadata"]["uid"] for o in kind.values())):
            node = graph.get(uid)
            if node is None:
                continue
            if node.orphaning:
                self.apply(sync_orphan(node, graph))
                graph = self.graph()
                continue
            states, unknown = classify_from_graph(node, graph)
            for ref in unknown:
                states[str(ref.get("uid"))] = OwnerState.ABSENT
            self.apply(sync_attempt_to_delete(node, graph, states))
            graph = self.graph()

    def settle(self, *, max_passes: int = 60) -> int:
        """Sync everything until a whole pass writes nothing; returns the passes it took."""
        for n in range(max_passes):
            before = self.writes
            for d in list(self.objects["Deployment"].values()):
                self.apply(sync_deployment(d, self, now=self.now))
            for rs in list(self.objects["ReplicaSet"].values()):
                self.apply(sync_replica_set(rs, self, now=self.now))
            for s in list(self.objects["StatefulSet"].values()):
                self.apply(sync_stateful_set(s, self, now=self.now))
            for p in list(self.objects["Pod"].values()):
                self.apply(sync_ephemeral(p, self))
            self.gc_pass()
            if self.writes == before:
                return n
        raise AssertionError(f"did not settle in {max_passes} passes; events: {self.events[-10:]}")
