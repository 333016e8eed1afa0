"""Load process of the scheduler benchmark: Node objects, then pods each with its own claim.

1. Creates the WaitForFirstConsumer class `bench-wfc` (provisioner kstore.io/block) and
   `--nodes` Node objects (Ready, 32 cpu / 128Gi / 110 pods, zones round robin; no kubelet runs
   them), then prints `{"setup": true, "nodes_per_s": ...}`.
2. Starts Informers on Pods and PVCs, waits until they are live, prints `{"loading": true}`, then
   creates `--pods` pairs — a 1Gi RWO claim of `bench-wfc`, then a pod using it (100m cpu,
   128Mi) — with `--inflight` pairs in flight. A pod counts as created when its create returns,
   as bound when the Pod event with `spec.nodeName` arrives.
3. When every pod is bound and every claim Bound (or `--timeout` passed) prints the result:
   pods bound/s over the burst (first pod created → last pod bound) and over its middle 80 %,
   decisions/s (first pod created → last claim given its selected node: the scheduler's pace),
   creation rate, pod created → bound latency p50/p99/max (ms), pods not bound, claims not Bound,
   claims bound to a PV on another node than their pod's (must be 0), relists; and the stages
   of a pod's latency (p50/p99): created → claim has a selected node (the scheduler decided),
   → claim Bound (the pv-controller provisioned and bound it), → pod bound (the scheduler).
4. With `--plain-pods M`, then M pods without volumes (the scheduler and the store alone):
   their bound/s and created → bound p50/p99, reported with the same line.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench import child
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.informer import Handler, Informer

CLASS = "bench-wfc"
NAMESPACE = "default"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def storage_class() -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": CLASS},
            "provisioner": "kstore.io/block", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def node(i: int) -> dict[str, Any]:
    name = f"bench-node-{i:04}"
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}"}},
        "spec": {},
        "status": {"capacity": capacity, "allocatable": dict(capacity),
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}]},
    }


def claim(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"data-{i}", "namespace": NAMESPACE, "labels": {"app": "bench"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": CLASS,
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pod(i: int, *, volume: bool = True) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    spec: dict[str, Any] = {"containers": [container]}
    if volume:
        container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{i}"}}]
    name = f"app-{i}" if volume else f"plain-{i}"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}}, "spec": spec}


async def in_flight(count: int, inflight: int, make: Any) -> list[str]:
    """Run `make(i)` for i < count with `inflight` at a time; returns the errors."""
    indexes = iter(range(count))
    errors: list[str] = []

    async def worker() -> None:
        for i in indexes:
            try:
                await make(i)
            except ApiError as e:
                errors.append(f"{i}: {e.code} {e.message}")

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def setup(client: BusClient, nodes: int, inflight: int) -> None:
    try:
        await client.create(storage_class())
    except ApiError as e:
        if e.code != 409:
            raise
    t0 = time.perf_counter()
    errors = await in_flight(nodes, inflight, lambda i: client.create(node(i)))
    child.emit(setup=True, nodes=nodes - len(errors), nodes_per_s=nodes / (time.perf_counter() - t0),
               first_error=errors[0] if errors else None)


async def plain_pods(client: BusClient, count: int, inflight: int, timeout: float, created: dict[str, float],
                     bound: dict[str, float], all_bound: asyncio.Event) -> dict[str, Any]:
    """Phase 2: pods without volumes, on the same cluster — the scheduler and the store alone."""
    names = [f"plain-{i}" for i in range(count)]

    async def make(i: int) -> None:
        await client.create(pod(i, volume=False))
        created[f"plain-{i}"] = time.perf_counter()

    await in_flight(count, inflight, make)
    try:
        await asyncio.wait_for(all_bound.wait(), timeout)
    except TimeoutError:
        pass
    done = [n for n in names if n in bound and n in created]
    latencies = [1e3 * (bound[n] - created[n]) for n in done]
    span = max(bound[n] for n in done) - min(created[n] for n in done) if done else float("nan")
    return {"plain_pods_per_s": len(done) / span if done and span > 0 else 0.0,
            "plain_p50_ms": percentile(latencies, 0.5), "plain_p99_ms": percentile(latencies, 0.99),
            "plain_not_bound": count - len(done)}


async def load(client: BusClient, pods: int, inflight: int, timeout: float, plain_count: int = 0) -> dict[str, Any]:
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    claims_bound: dict[str, float] = {}  # claim → when it was seen Bound
    selected: dict[str, float] = {}  # claim → when it was seen with a selected node
    node_of: dict[str, str] = {}
    done = asyncio.Event()

    def check_done() -> None:
        if len(bound) >= pods and len(claims_bound) >= pods:
            done.set()

    plain_bound = 0
    plain_done = asyncio.Event()

    def pod_seen(obj: dict[str, Any], *_: Any) -> None:
        nonlocal plain_bound
        new = _[-1] if _ else obj
        name = new["metadata"]["name"]
        nn = (new.get("spec") or {}).get("nodeName")
        if nn and name not in bound:
            bound[name] = time.perf_counter()
            node_of[name] = nn
            if name.startswith("plain-"):
                plain_bound += 1
                if plain_bound >= plain_count:
                    plain_done.set()
            else:
                check_done()

    def claim_seen(obj: dict[str, Any], *_: Any) -> None:
        new = _[-1] if _ else obj
        name = new["metadata"]["name"]
        if name not in selected and SELECTED_NODE in (new["metadata"].get("annotations") or {}):
            selected[name] = time.perf_counter()
        if name not in claims_bound and (new.get("status") or {}).get("phase") == "Bound":
            claims_bound[name] = time.perf_counter()
            check_done()

    pod_informer = Informer(client, "Pod")
    claim_informer = Informer(client, "PersistentVolumeClaim")
    pod_informer.add_handler(Handler(on_add=pod_seen, on_update=pod_seen))
    claim_informer.add_handler(Handler(on_add=claim_seen, on_update=claim_seen))
    for informer in (pod_informer, claim_informer):
        await informer.start()
        await informer.wait_synced(timeout=60)
    await child.wait_subscribed()

    async def make(i: int) -> None:
        await client.create(claim(i))
        await client.create(pod(i))
        created[f"app-{i}"] = time.perf_counter()

    child.emit(loading=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    errors = await in_flight(pods, inflight, make)
    create_span = time.perf_counter() - t0
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass
    latencies = [1e3 * (bound[n] - t) for n, t in created.items() if n in bound]  # (before the plain pods)
    # where the time goes: pod created → node chosen (selected-node on the claim, the scheduler),
    # → claim Bound (the pv-controller provisions and binds), → pod bound (the scheduler again)
    stages: dict[str, list[float]] = {"decide": [], "provision": [], "bind": []}
    for n, t in created.items():
        c = "data-" + n.split("-", 1)[1]
        if c in selected and c in claims_bound and n in bound:
            stages["decide"].append(1e3 * (selected[c] - t))
            stages["provision"].append(1e3 * (claims_bound[c] - selected[c]))
            stages["bind"].append(1e3 * (bound[n] - claims_bound[c]))
    times = sorted(bound[n] for n in created if n in bound)
    first = min(created.values()) if created else t0
    span = (times[-1] - first) if times else float("nan")
    middle = float("nan")
    if len(times) >= 10:
        lo, hi = times[len(times) // 10], times[(9 * len(times)) // 10]
        middle = (0.8 * len(times)) / (hi - lo) if hi > lo else float("nan")
    # every claim's PV was provisioned for the pod's node (selected-node), as the scheduler decided
    mismatched = 0
    for i in range(pods):
        c = claim_informer.get(f"{NAMESPACE}/data-{i}")
        n = node_of.get(f"app-{i}")
        if c is not None and n is not None and (c["metadata"].get("annotations") or {}).get(SELECTED_NODE) != n:
            mismatched += 1
    decided = sorted(selected.values())
    decide_span = (decided[-1] - first) if decided else float("nan")
    plain = await plain_pods(client, plain_count, inflight, timeout, created, bound, plain_done) if plain_count else {}
    pod_informer.stop()
    claim_informer.stop()
    return {**plain, "pods_per_s": len(times) / span if times and span > 0 else 0.0, "middle_pods_per_s": middle,
            "decisions_per_s": len(decided) / decide_span if decided and decide_span > 0 else 0.0,
            "create_pairs_per_s": pods / create_span, "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99), "max_ms": max(latencies) if latencies else float("nan"),
            "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
            **{f"{stage}_p50_ms": percentile(v, 0.5) for stage, v in stages.items()},
            **{f"{stage}_p99_ms": percentile(v, 0.99) for stage, v in stages.items()},
            "not_bound": pods - len(times), "claims_not_bound": pods - len(claims_bound),
            "node_mismatch": mismatched, "create_errors": len(errors), "first_error": errors[0] if errors else None,
            "relists": pod_informer.relists + claim_informer.relists, "span_s": span,
            "load_cpu": (time.process_time() - cpu0) / max(1e-9, time.perf_counter() - t0)}


def main() -> None:
    p = child.parser(__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--pods", type=int, required=True)
    p.add_argument("--inflight", type=int, default=32)
    p.add_argument("--plain-pods", type=int, default=0, help="then this many pods without volumes")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for every pod to be bound")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        try:
            await setup(client, args.nodes, args.inflight)
            child.emit(**await load(client, args.pods, args.inflight, args.timeout, args.plain_pods))
        finally:
            client.close()

    child.run(body)


if __name__ == "__main__":
    main()
