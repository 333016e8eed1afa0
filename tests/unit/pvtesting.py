"""Test kit for the PV controller's pure sync functions (Kubernetes' `framework_test.go` and
`testing.VolumeReactor`, our code).

- Builders: `new_volume(name, capacity, bound_claim_uid, bound_claim_name, phase, reclaim_policy,
  class_, *annotations)` and `new_claim(name, uid, request, bound_volume, phase, class_,
  *annotations)` make objects shaped like binder_test.go's (PV: RWO+ROX, Filesystem; claim:
  RWO+ROX, Filesystem; a Bound claim carries status.accessModes and status.capacity = its
  request). An annotation is `"key"` (value "yes") or `"key=value"`. Small `with_*` helpers
  change a copy.
- `Reactor` is the in-memory store *and* the `ClusterView` the sync functions read. `apply`
  applies actions as the worker does: an Update must carry the stored resourceVersion (or be
  chained on the previous write of the same object in the list, see `model.Update`), a spec
  write keeps the stored status and a status write keeps the stored spec and metadata, every
  write bumps a store-wide revision, and the first failed write (conflict, missing object,
  injected error) stops the list. Operations (Provision, DeleteVolume, RecycleVolume) are
  queued and run by `run_operations` with scripted outcomes, recording their results through
  `volume_failed` / `volume_recycled` like the worker.
- `run_case(case)`: load the reactor, call `sync_claim` on the first claim or `sync_volume` on
  the first volume (`Case.test`), apply, run the operations that sync started (TestSync's
  semantics); with `settle=True` keep syncing every claim and volume and running operations
  until a whole pass writes nothing (TestMultiSync's). Then compare the final objects,
  ignoring resourceVersions and transition timestamps, and the events. The view's dicts are
  checked to be unmodified after every sync.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kstore.controllers.pv import binder
from kstore.controllers.pv.model import (
    NO_PROVISIONER,
    Action,
    DeleteVolume,
    Driver,
    Event,
    Obj,
    Provision,
    RecycleVolume,
    Remove,
    Update,
)
from kstore.controllers.pv.reclaim import is_volume_released, volume_failed

NAMESPACE = "default"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z

# Classes as binder_test.go names them.
CLASS_EMPTY = ""
CLASS_GOLD = "gold"
CLASS_SILVER = "silver"
CLASS_COPPER = "copper"  # WaitForFirstConsumer, internal provisioner
CLASS_WAIT = "wait"  # WaitForFirstConsumer, no provisioner (local volumes)
CLASS_EXTERNAL = "external"
CLASS_EXTERNAL_WAIT = "external-wait"
CLASS_NO_PROVISIONER = "local-storage"
CLASS_NON_EXISTING = "non-existing"

MOCK_PROVISIONER = "kstore.io/mock"
EXTERNAL_PROVISIONER = "vendor.com/my-volume"
EXTERNAL_WAIT_PROVISIONER = "vendor.com/my-volume-wait"

RWO, ROX, RWX, RWOP = "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"


# ---- builders ---------------------------------------------------------------------------------


def _annotations(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        out[key] = value if sep else "yes"
    return out


def new_volume(
    name: str,
    capacity: str,
    bound_claim_uid: str = "",
    bound_claim_name: str = "",
    phase: str = "Pending",
    reclaim_policy: str = "Retain",
    class_: str = CLASS_EMPTY,
    *annotations: str,
) -> Obj:
    volume: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "uid": f"pv-{name}", "resourceVersion": "1"},
        "spec": {
            "capacity": {"storage": capacity},
            "accessModes": [RWO, ROX],
            "persistentVolumeReclaimPolicy": reclaim_policy,
            "volumeMode": "Filesystem",
            "hostPath": {"path": f"/tmp/{name}"},
        },
        "status": {"phase": phase} if phase else {},
    }
    if class_:
        volume["spec"]["storageClassName"] = class_
    if bound_claim_name:
        ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": NAMESPACE, "name": bound_claim_name}
        if bound_claim_uid:
            ref["uid"] = bound_claim_uid
        volume["spec"]["claimRef"] = ref
    if annotations:
        volume["metadata"]["annotations"] = _annotations(annotations)
    return volume


def new_claim(
    name: str,
    uid: str,
    request: str,
    bound_volume: str = "",
    phase: str = "Pending",
    class_: str | None = None,
    *annotations: str,
) -> Obj:
    claim: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": uid, "resourceVersion": "1"},
        "spec": {
            "accessModes": [RWO, ROX],
            "resources": {"requests": {"storage": request}},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": phase} if phase else {},
    }
    if bound_volume:
        claim["spec"]["volumeName"] = bound_volume
    if class_ is not None:
        claim["spec"]["storageClassName"] = class_
    if phase == "Bound":
        claim["status"]["accessModes"] = list(claim["spec"]["accessModes"])
        claim["status"]["capacity"] = {"storage": request}
    if annotations:
        claim["metadata"]["annotations"] = _annotations(annotations)
    return claim


def new_class(name: str, provisioner: str, *, mode: str = "Immediate", reclaim_policy: str = "Delete") -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
        "reclaimPolicy": reclaim_policy,
        "volumeBindingMode": mode,
    }


def new_node(name: str, **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
    }


def new_pod(name: str, claim_name: str, *, node: str = "", phase: str = "Pending") -> Obj:
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"pod-{name}"},
        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]},
        "status": {"phase": phase},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


# Kubernetes' test classes, plus ours.
CLASSES = [
    new_class(CLASS_GOLD, MOCK_PROVISIONER),
    new_class(CLASS_SILVER, MOCK_PROVISIONER),
    new_class(CLASS_COPPER, MOCK_PROVISIONER, mode="WaitForFirstConsumer"),
    new_class(CLASS_WAIT, NO_PROVISIONER, mode="WaitForFirstConsumer"),
    new_class(CLASS_EXTERNAL, EXTERNAL_PROVISIONER),
    new_class(CLASS_EXTERNAL_WAIT, EXTERNAL_WAIT_PROVISIONER, mode="WaitForFirstConsumer"),
    new_class(CLASS_NO_PROVISIONER, NO_PROVISIONER),
]


def _copy_with(obj: Obj, change: Callable[[Obj], None]) -> Obj:
    new = copy.deepcopy(obj)
    change(new)
    return new


def with_labels(obj: Obj, labels: dict[str, str]) -> Obj:
    return _copy_with(obj, lambda o: o["metadata"].__setitem__("labels", dict(labels)))


def with_label_selector(claim: Obj, labels: dict[str, str]) -> Obj:
    return _copy_with(claim, lambda o: o["spec"].__setitem__("selector", {"matchLabels": dict(labels)}))


def with_access_modes(obj: Obj, *modes: str) -> Obj:
    def change(o: Obj) -> None:
        o["spec"]["accessModes"] = list(modes)
        if "accessModes" in (o.get("status") or {}):
            o["status"]["accessModes"] = list(modes)

    return _copy_with(obj, change)


def with_status_access_modes(claim: Obj, *modes: str) -> Obj:
    """A Bound claim's `status.accessModes` are its volume's, which may be more than it asked for."""
    return _copy_with(claim, lambda o: o["status"].__setitem__("accessModes", list(modes)))


def with_volume_mode(obj: Obj, mode: str) -> Obj:
    return _copy_with(obj, lambda o: o["spec"].__setitem__("volumeMode", mode))


def with_annotation(obj: Obj, key: str, value: str) -> Obj:
    return _copy_with(obj, lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(key, value))


def with_expected_capacity(claim: Obj, capacity: str) -> Obj:
    return _copy_with(claim, lambda o: o["status"].__setitem__("capacity", {"storage": capacity}))


def with_message(volume: Obj, message: str) -> Obj:
    return _copy_with(volume, lambda o: o["status"].__setitem__("message", message))


def with_deletion_timestamp(obj: Obj) -> Obj:
    return _copy_with(obj, lambda o: o["metadata"].__setitem__("deletionTimestamp", "2023-11-14T22:00:00Z"))


def with_request(claim: Obj, request: str) -> Obj:
    return _copy_with(claim, lambda o: o["spec"]["resources"]["requests"].__setitem__("storage", request))


def with_node_affinity(volume: Obj, *hostnames: str) -> Obj:
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": list(hostnames)}]}
    return _copy_with(volume, lambda o: o["spec"].__setitem__("nodeAffinity",
                                                               {"required": {"nodeSelectorTerms": [term]}}))


def with_claim_ref_namespace(volume: Obj, namespace: str) -> Obj:
    return _copy_with(volume, lambda o: o["spec"]["claimRef"].__setitem__("namespace", namespace))


# ---- the in-memory store and view ----------------------------------------------------------------


class WriteFailed(Exception):
    """A write the store refused; the worker stops applying the rest of the list."""


@dataclasses.dataclass
class ReactorError:
    """Fail the next matching write once (`verb` is "update", "update_status" or "remove")."""

    verb: str
    kind: str
    message: str = "Mock error"


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


class Reactor:
    """An in-memory store that is also the ClusterView the sync functions read."""

    def __init__(
        self,
        *,
        volumes: Iterable[Obj] = (),
        claims: Iterable[Obj] = (),
        classes: Iterable[Obj] = (),
        pods: Iterable[Obj] = (),
        nodes: Iterable[Obj] = (),
        external: Iterable[str] = (EXTERNAL_PROVISIONER, EXTERNAL_WAIT_PROVISIONER),
        errors: Iterable[ReactorError] = (),
        now: float = NOW,
    ) -> None:
        self.revision = 1
        self.objects: dict[str, dict[str, Obj]] = {"PersistentVolume": {}, "PersistentVolumeClaim": {}}
        for obj in [*volumes, *claims]:
            self._store(copy.deepcopy(obj))
        self.classes = {c["metadata"]["name"]: copy.deepcopy(c) for c in classes}
        self.pods = [copy.deepcopy(p) for p in pods]
        self.nodes = {n["metadata"]["name"]: copy.deepcopy(n) for n in nodes}
        self.external = set(external)
        self.errors = list(errors)
        self.now = now
        self.events: list[Event] = []
        self.pending_ops: list[Action] = []
        self.executed_ops: list[str] = []
        self.emitted_ops: list[str] = []
        self.delete_results: list[str | None] = []
        self.recycle_results: list[str | None] = []
        self.provision = False
        self.before_operation: Callable[[Reactor, Action], None] | None = None

    # -- ClusterView

    def claim(self, key: str) -> Obj | None:
        return self.objects["PersistentVolumeClaim"].get(key)

    def volume(self, name: str) -> Obj | None:
        return self.objects["PersistentVolume"].get(name)

    def candidate_volumes(self, claim: Obj, node: Obj | None) -> Iterable[Obj]:
        return self.volumes()

    def volumes(self) -> Iterable[Obj]:
        return list(self.objects["PersistentVolume"].values())

    def storage_class(self, name: str) -> Obj | None:
        return self.classes.get(name)

    def pods_using_claim(self, namespace: str, name: str) -> list[Obj]:
        return [
            p
            for p in self.pods
            if p["metadata"]["namespace"] == namespace
            and any((v.get("persistentVolumeClaim") or {}).get("claimName") == name for v in p["spec"]["volumes"])
        ]

    def node(self, name: str) -> Obj | None:
        return self.nodes.get(name)

    def driver(self, provisioner: str) -> Driver | None:
        if provisioner == NO_PROVISIONER:
            return None
        if provisioner in self.external:
            return Driver(provisioner, "", external=True)
        return Driver(provisioner, "block")

    # -- store

    def _store(self, obj: Obj) -> None:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self.objects[obj["kind"]][_key(obj)] = obj

    def _inject(self, verb: str, kind: str) -> None:
        for err in self.errors:
            if err.verb == verb and err.kind == kind:
                self.errors.remove(err)
                raise WriteFailed(err.message)

    def _update(self, action: Update, chained: dict[tuple[str, str], str]) -> None:
        kind, key = action.obj["kind"], _key(action.obj)
        stored = self.objects[kind].get(key)
        if stored is None:
            raise WriteFailed(f"{kind} {key} not found")
        self._inject("update_status" if action.status else "update", kind)
        rv = chained.get((kind, key), action.obj["metadata"].get("resourceVersion"))
        if rv != stored["metadata"]["resourceVersion"]:
            raise WriteFailed(f"Conflict: {kind} {key} has resourceVersion {stored['metadata']['resourceVersion']}, "
                              f"the write carried {rv}")
        if action.status:
            new = copy.deepcopy(stored)
            new["status"] = copy.deepcopy(action.obj.get("status") or {})
        else:
            new = copy.deepcopy(action.obj)
            new["status"] = copy.deepcopy(stored.get("status") or {})
        self._store(new)
        chained[(kind, key)] = new["metadata"]["resourceVersion"]

    def apply(self, actions: Sequence[Action]) -> bool:
        """Apply in order like the worker; False when a write failed (the rest is dropped)."""
        chained: dict[tuple[str, str], str] = {}
        for action in actions:
            try:
                if isinstance(action, Update):
                    self._update(action, chained)
                elif isinstance(action, Remove):
                    self._inject("remove", action.kind)
                    key = f"{action.namespace}/{action.name}" if action.namespace else action.name
                    stored = self.objects[action.kind].get(key)
                    if stored is not None and stored["metadata"].get("uid") == action.uid:
                        del self.objects[action.kind][key]
                        self.revision += 1
                elif isinstance(action, Event):
                    self.events.append(action)
                elif isinstance(action, Provision | DeleteVolume | RecycleVolume):
                    self.emitted_ops.append(describe_op(action))
                    if describe_op(action) not in map(describe_op, self.pending_ops):
                        self.pending_ops.append(action)
                else:
                    raise AssertionError(f"unexpected action {action!r}")
            except WriteFailed:
                return False
        return True

    # -- operations, as the worker runs them

    def run_operations(self) -> None:
        ops, self.pending_ops = self.pending_ops, []
        for op in ops:
            if self.before_operation is not None:
                self.before_operation(self, op)
            if isinstance(op, DeleteVolume):
                self._run_delete(op)
            elif isinstance(op, RecycleVolume):
                self._run_recycle(op)
            elif isinstance(op, Provision):
                self._run_provision(op)

    def _run_delete(self, op: DeleteVolume) -> None:
        volume = self.volume(op.volume_name)
        if volume is None or not is_volume_released(volume, self):
            return  # gone, or no longer needs deleting (delete_test 8-6, 8-7)
        if not self.delete_results:
            return  # no outcome scripted: the operation is still running
        self.executed_ops.append(describe_op(op))
        error = self.delete_results.pop(0)
        if error is None:
            self.apply([Remove("PersistentVolume", "", op.volume_name, volume["metadata"]["uid"])])
        else:
            self.apply(volume_failed(volume, error, now=self.now, reason="VolumeFailedDelete"))

    def _run_recycle(self, op: RecycleVolume) -> None:
        volume = self.volume(op.volume_name)
        if volume is None or not is_volume_released(volume, self):
            return  # recycle_test 6-6, 6-7, 6-8
        if not self.recycle_results:
            return
        self.executed_ops.append(describe_op(op))
        error = self.recycle_results.pop(0)
        if error is None:
            self.events.append(Event(volume, "Normal", "VolumeRecycled", "Volume recycled"))
            self.apply(binder.volume_recycled(volume, now=self.now))
        else:
            self.apply(volume_failed(volume, error, now=self.now, reason="VolumeFailedRecycle"))

    def _run_provision(self, op: Provision) -> None:
        claim = self.claim(op.claim_key)
        if not self.provision or claim is None or claim["metadata"].get("deletionTimestamp"):
            return
        uid = claim["metadata"]["uid"]
        name = f"pvc-{uid}"
        if self.volume(name) is not None:
            return  # provisioned already (provision_test 11-7)
        self.executed_ops.append(describe_op(op))
        sc = self.classes[op.class_name]
        volume = new_volume(name, claim["spec"]["resources"]["requests"]["storage"], uid, claim["metadata"]["name"],
                            "Bound", sc.get("reclaimPolicy", "Delete"), op.class_name,
                            "pv.kubernetes.io/bound-by-controller", f"pv.kubernetes.io/provisioned-by={sc['provisioner']}")
        volume["spec"]["accessModes"] = list(claim["spec"]["accessModes"])
        self._store(volume)
        self.events.append(Event(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}"))


def describe_op(op: Action) -> str:
    if isinstance(op, Provision):
        return f"Provision {op.claim_key} {op.class_name}"
    if isinstance(op, DeleteVolume):
        return f"DeleteVolume {op.volume_name}"
    if isinstance(op, RecycleVolume):
        return f"RecycleVolume {op.volume_name}"
    return repr(op)


# ---- running a case -----------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One binder_test-style situation. `expected_events` are "Type Reason" strings, optionally
    followed by the start of the message; `expected_ops` the operations the syncs asked for."""

    name: str
    initial_volumes: list[Obj]
    expected_volumes: list[Obj]
    initial_claims: list[Obj]
    expected_claims: list[Obj]
    expected_events: list[str] = dataclasses.field(default_factory=list)
    test: str = "claim"  # which sync the first call is: "claim" (first claim) or "volume" (first volume)
    classes: list[Obj] = dataclasses.field(default_factory=lambda: list(CLASSES))
    pods: list[Obj] = dataclasses.field(default_factory=list)
    nodes: list[Obj] = dataclasses.field(default_factory=list)
    settle: bool = False
    provision: bool = False  # run Provision operations (create the PV as the worker would)
    delete_results: list[str | None] = dataclasses.field(default_factory=list)
    recycle_results: list[str | None] = dataclasses.field(default_factory=list)
    expected_ops: list[str] | None = None
    errors: list[ReactorError] = dataclasses.field(default_factory=list)
    before_operation: Callable[[Reactor, Action], None] | None = None

    def __str__(self) -> str:
        return self.name


def _snapshot(reactor: Reactor) -> Any:
    return copy.deepcopy((reactor.objects, reactor.classes, reactor.pods, reactor.nodes))


def sync(reactor: Reactor, kind: str, key: str) -> bool:
    """Sync one object (if it still exists) and apply; True when anything was written."""
    before_state = _snapshot(reactor)
    obj = reactor.objects[kind].get(key)
    if obj is None:
        return False
    if kind == "PersistentVolumeClaim":
        actions = binder.sync_claim(obj, reactor, now=reactor.now)
    else:
        actions = binder.sync_volume(obj, reactor, now=reactor.now)
    assert _snapshot(reactor) == before_state, f"sync of {kind} {key} modified the objects it was given"
    revision = reactor.revision
    reactor.apply(actions)
    return reactor.revision != revision


def run_case(case: Case, *, max_passes: int = 50) -> Reactor:
    reactor = Reactor(volumes=case.initial_volumes, claims=case.initial_claims, classes=case.classes,
                      pods=case.pods, nodes=case.nodes, errors=case.errors)
    reactor.provision = case.provision
    reactor.delete_results = list(case.delete_results)
    reactor.recycle_results = list(case.recycle_results)
    reactor.before_operation = case.before_operation

    if case.test == "claim":
        sync(reactor, "PersistentVolumeClaim", _key(case.initial_claims[0]))
    else:
        sync(reactor, "PersistentVolume", _key(case.initial_volumes[0]))
    reactor.run_operations()

    if case.settle:
        for _ in range(max_passes):
            revision = reactor.revision
            for key in sorted(reactor.objects["PersistentVolumeClaim"]):
                sync(reactor, "PersistentVolumeClaim", key)
            for key in sorted(reactor.objects["PersistentVolume"]):
                sync(reactor, "PersistentVolume", key)
            reactor.run_operations()
            if reactor.revision == revision:
                break
        else:
            raise AssertionError(f"{case.name}: did not settle in {max_passes} passes")

    check(case, reactor)
    return reactor


def normalized(obj: Obj) -> Obj:
    """What the comparison looks at: no resourceVersions, no transition timestamps."""
    new = copy.deepcopy(obj)
    new["metadata"].pop("resourceVersion", None)
    ref = (new.get("spec") or {}).get("claimRef")
    if ref:
        ref.pop("resourceVersion", None)
    (new.get("status") or {}).pop("lastPhaseTransitionTime", None)
    return new


def event_strings(events: Iterable[Event], *, distinct: bool) -> list[str]:
    out: list[str] = []
    for e in events:
        text = f"{e.type} {e.reason} {e.message}"
        if distinct and text in out:
            continue
        out.append(text)
    return out


def diff(want: Any, got: Any) -> str:
    """A unified diff of two JSON-able values, expected first."""
    lines = difflib.unified_diff(json.dumps(want, indent=1, sort_keys=True).splitlines(),
                                 json.dumps(got, indent=1, sort_keys=True).splitlines(),
                                 "expected", "got", lineterm="")
    return "\n".join(lines)


def check(case: Case, reactor: Reactor) -> None:
    got_volumes = {k: normalized(v) for k, v in reactor.objects["PersistentVolume"].items()}
    want_volumes = {_key(v): normalized(v) for v in case.expected_volumes}
    assert got_volumes == want_volumes, f"{case.name}: volumes differ\n{diff(want_volumes, got_volumes)}"
    got_claims = {k: normalized(c) for k, c in reactor.objects["PersistentVolumeClaim"].items()}
    want_claims = {_key(c): normalized(c) for c in case.expected_claims}
    assert got_claims == want_claims, f"{case.name}: claims differ\n{diff(want_claims, got_claims)}"

    got_events = event_strings(reactor.events, distinct=case.settle)
    assert len(got_events) == len(case.expected_events), f"{case.name}: events {got_events}"
    for got, want in zip(got_events, case.expected_events, strict=True):
        assert got.startswith(want), f"{case.name}: event {got!r} is not {want!r}"
    if case.expected_ops is not None:
        assert list(dict.fromkeys(reactor.emitted_ops)) == case.expected_ops, f"{case.name}: operations"
