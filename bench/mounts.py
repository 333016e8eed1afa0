"""The attach/mount benchmark (issue 6), `mount-chain`: a whole kstore cluster (`kstore up`: the
apistore, pv-controller, ad-controller, scheduler, controller-manager and one kubelet process per
node), 200 pods on 20 nodes, each with its own WaitForFirstConsumer claim of the block backend,
all the way to Running on real loop-device mounts; then the bare chain; then the same cluster
with `simulate_mounts: true` and 2,000 pods (`--quick`: 4 nodes, 20 pods; simulated 200).

Phases of one run, each on its own cluster and state dir (removed at the end):
1. real: `kstore up --state-dir D --base-port 0 --nodes N --config D/../mount-chain.yaml` (the
   config bootstraps the class `bench-wffc`: kstore.io/block, WaitForFirstConsumer, Delete).
   The load process (`python -m bench.mounts --cluster D/cluster.json`, this module) watches
   Pods, PVCs and VolumeAttachments with Informers, then creates claim + pod pairs, INFLIGHT at
   a time, and waits until every pod is Running. Per pod and claim (one process, one monotonic
   clock, times are when the events reached the load process):
   - claim → Bound: the claim's create acknowledged → its Bound event;
   - attach: its VolumeAttachment first seen → `status.attached` true;
   - mount: attached → the pod Running (the kubelet waits for attach, formats if blank, mounts
     the device, sets up the pod dir, bind-mounts the container path);
   - pod created → Running;
   - total: the first create sent → the last pod Running.
   If pods are not all Running in time, the result says where they are and the parent appends
   the tail of `kubectl get events -A` (also to stderr).
   `kstore down --keep` then unmounts and detaches; the bare chain runs on the quiet machine.
2. bare: a shell script does the same real chain for as many volumes with 2 workers (`xargs
   -P 2`): `truncate -s 1G`, `losetup --find --show`, `mkfs.ext4 -q -F -E
   lazy_itable_init=1,lazy_journal_init=1`, `mount`, in D/bare. Figure: its total wall time, and
   emulator total / bare total (target ≤ 2). Then its own clean-up (umount, losetup -d, rm),
   timed apart.
3. simulated: phase 1 again with `simulate_mounts: true` in the config and 10× the pods.

Each timed phase (emulated or bare) starts with `sync`, so that it does not pay for the
writeback of what the phase before it left dirty (without it, runs after the first were up to
30% slower). Every phase ends in a `finally` with `kstore down --state-dir D` (processes, mounts and loop
devices under D) and the bare clean-up; the BenchCluster apistore `python -m bench` starts for
every benchmark is not used.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cluster import ProcessFailed

if TYPE_CHECKING:
    from bench.cluster import BenchCluster
    from bench.scenarios import Result, Sizes

REPO = Path(__file__).resolve().parent.parent
KSTORE = str(Path(sys.executable).parent / "kstore")
FULL_SIZE, QUICK_SIZE = (20, 200, 2_000), (4, 20, 200)  # (nodes, real pods, simulated pods)
INFLIGHT = 32
BARE_WORKERS = 2
CLASS = "bench-wffc"
NAMESPACE = "default"
FRAME_LIMIT = 1 << 30  # this process only observes: lift the bus's decode limit for re-lists

STAGES = ("bound", "attach", "mount", "running")
LABELS = {"bound": "claim→Bound", "attach": "VA created→attached", "mount": "attached→Running (mount)",
          "running": "pod created→Running"}

# (key, label, target); bench/scenarios.py turns them into Metrics.
METRICS: tuple[tuple[str, str, tuple[str, float] | None], ...] = (
    *((f"real_{s}_p{q}_ms", f"real: {LABELS[s]} p{q} ms", None) for s in STAGES for q in (50, 99)),
    ("real_total_s", "real: total s (1st create→last Running)", None),
    ("bare_total_s", "bare chain total s (2 workers)", None),
    ("ratio", "emulator total / bare total", ("<=", 2.0)),
    ("real_not_running", "real: pods not Running", ("==", 0)),
    *((f"sim_{s}_p{q}_ms", f"simulated: {LABELS[s]} p{q} ms", None) for s in STAGES for q in (50, 99)),
    ("sim_total_s", "simulated: total s", None),
    ("sim_not_running", "simulated: pods not Running", ("==", 0)),
)

CONFIG = """\
# mount-chain benchmark (bench/mounts.py): configs/dev.yaml's keys this run needs
backend: sqlite
nodes:
  count: {nodes}
  name_prefix: node-
  zones: [zone-a, zone-b, zone-c]
periods:
  bus_heartbeat: 0.5
  pv_resync: 15.0
  ad_reconcile: 0.1
  vm_reconcile: 0.1
  node_status: 10.0
  max_wait_for_unmount: 360.0
  node_grace: 40.0
  pod_eviction_timeout: 300.0
{simulate}bootstrap:
  - apiVersion: storage.k8s.io/v1
    kind: StorageClass
    metadata:
      name: {cls}
    provisioner: kstore.io/block
    reclaimPolicy: Delete
    volumeBindingMode: WaitForFirstConsumer
"""

BARE_CHAIN = """\
#!/bin/bash
# one volume of the bare chain: $1 = its number, $2 = the directory
set -e
img="$2/img-$1" mnt="$2/mnt-$1"
truncate -s 1G "$img"
dev=$(losetup --find --show "$img")
echo "$dev" > "$img.dev"
mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$dev"
mkdir -p "$mnt"
mount "$dev" "$mnt"
"""

BARE_CLEANUP = """\
#!/bin/bash
# undo one volume of the bare chain: $1 = its number, $2 = the directory
img="$2/img-$1" mnt="$2/mnt-$1"
mountpoint -q "$mnt" && umount "$mnt"
[ -f "$img.dev" ] && losetup -d "$(cat "$img.dev")" 2>/dev/null
for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev"; done
rm -rf "$mnt" "$img" "$img.dev"
"""


# ---------------------------------------------------------------- statistics

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------- the load process

def claim(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"data-{i}", "namespace": NAMESPACE, "labels": {"app": "mount-chain"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": CLASS,
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"app-{i}", "namespace": NAMESPACE, "labels": {"app": "mount-chain"}},
            "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{i}"}}]}}


async def load(client: Any, pods: int, inflight: int, timeout: float) -> dict[str, Any]:
    from bench import child
    from kstore.api.errors import ApiError
    from kstore.client.informer import Handler, Informer

    now = time.perf_counter
    claim_acked: dict[str, float] = {}  # data-i → create acknowledged
    pod_created: dict[str, float] = {}  # app-i → create acknowledged
    bound: dict[str, float] = {}  # data-i → Bound event
    volume_of: dict[str, str] = {}  # data-i → PV name
    running: dict[str, float] = {}  # app-i → Running event
    va_seen: dict[str, float] = {}  # PV name → its VolumeAttachment first seen
    attached: dict[str, float] = {}  # PV name → status.attached true
    done = asyncio.Event()

    def pod_seen(*objs: dict[str, Any]) -> None:
        new = objs[-1]
        name = new["metadata"]["name"]
        if name not in running and (new.get("status") or {}).get("phase") == "Running":
            running[name] = now()
            if len(running) >= pods:
                done.set()

    def claim_seen(*objs: dict[str, Any]) -> None:
        new = objs[-1]
        name = new["metadata"]["name"]
        if (new.get("spec") or {}).get("volumeName"):
            volume_of[name] = new["spec"]["volumeName"]
        if name not in bound and (new.get("status") or {}).get("phase") == "Bound":
            bound[name] = now()

    def va_event(*objs: dict[str, Any]) -> None:
        new = objs[-1]
        pv = ((new.get("spec") or {}).get("source") or {}).get("persistentVolumeName")
        if not pv:
            return
        t = now()
        va_seen.setdefault(pv, t)
        if pv not in attached and (new.get("status") or {}).get("attached"):
            attached[pv] = t

    informers = {"Pod": Informer(client, "Pod"), "PersistentVolumeClaim": Informer(client, "PersistentVolumeClaim"),
                 "VolumeAttachment": Informer(client, "VolumeAttachment")}
    for kind, handler in (("Pod", pod_seen), ("PersistentVolumeClaim", claim_seen), ("VolumeAttachment", va_event)):
        informers[kind].add_handler(Handler(on_add=handler, on_update=handler))
    for informer in informers.values():
        await informer.start()
        await informer.wait_synced(timeout=60)
    await child.wait_subscribed()

    errors: list[str] = []
    indexes = iter(range(pods))

    async def worker() -> None:
        for i in indexes:
            try:
                await client.create(claim(i))
                claim_acked[f"data-{i}"] = now()
                await client.create(pod(i))
                pod_created[f"app-{i}"] = now()
            except ApiError as e:
                errors.append(f"{i}: {e.code} {e.message}")

    child.emit(loading=True)
    t0 = now()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    create_s = now() - t0
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass

    lat: dict[str, list[float]] = {s: [] for s in STAGES}
    for i in range(pods):
        c, p = f"data-{i}", f"app-{i}"
        if c in bound and c in claim_acked:
            lat["bound"].append(max(0.0, bound[c] - claim_acked[c]))
        pv = volume_of.get(c)
        if pv in va_seen and pv in attached:
            lat["attach"].append(attached[pv] - va_seen[pv])
        if pv in attached and p in running:
            lat["mount"].append(max(0.0, running[p] - attached[pv]))
        if p in running and p in pod_created:
            lat["running"].append(max(0.0, running[p] - pod_created[p]))
    figures: dict[str, Any] = {}
    for s, values in lat.items():
        figures[f"{s}_p50_ms"] = 1e3 * percentile(values, 50)
        figures[f"{s}_p99_ms"] = 1e3 * percentile(values, 99)
        figures[f"{s}_max_ms"] = 1e3 * max(values) if values else float("nan")
        figures[f"{s}_n"] = len(values)
    total = (max(running.values()) - t0) if len(running) >= pods else float("nan")

    # where the rest are, when some did not make it
    stuck: list[dict[str, Any]] = []
    phases: dict[str, int] = {}
    for i in range(pods):
        p = informers["Pod"].get(f"{NAMESPACE}/app-{i}")
        status = (p or {}).get("status") or {}
        phase = status.get("phase") or ("absent" if p is None else "")
        phases[phase] = phases.get(phase, 0) + 1
        if f"app-{i}" not in running and len(stuck) < 10:
            c = informers["PersistentVolumeClaim"].get(f"{NAMESPACE}/data-{i}") or {}
            pv = volume_of.get(f"data-{i}")
            stuck.append({"pod": f"app-{i}", "node": ((p or {}).get("spec") or {}).get("nodeName"),
                          "phase": phase, "conditions": status.get("conditions"),
                          "container_statuses": status.get("containerStatuses"),
                          "claim_phase": (c.get("status") or {}).get("phase"), "pv": pv,
                          "va_seen": pv in va_seen, "attached": pv in attached})
    informers_relists = sum(inf.relists for inf in informers.values())
    for informer in informers.values():
        informer.stop()
    return {**figures, "total_s": total, "create_s": create_s, "pods": pods,
            "running": len(running), "not_running": pods - len(running),
            "claims_bound": len(bound), "attachments": len(va_seen), "attached": len(attached),
            "pod_phases": phases, "stuck": stuck, "create_errors": len(errors),
            "first_error": errors[0] if errors else None, "relists": informers_relists}


def main() -> None:
    from bench import child
    from bus import codec

    assert codec.decode.__kwdefaults__ is not None
    codec.decode.__kwdefaults__["max_size"] = FRAME_LIMIT
    p = child.parser(__doc__.splitlines()[0])
    p.add_argument("--pods", type=int, required=True)
    p.add_argument("--inflight", type=int, default=INFLIGHT)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for every pod to be Running")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        try:
            child.emit(**await load(client, args.pods, args.inflight, args.timeout))
        finally:
            client.close()

    child.run(body)


# ---------------------------------------------------------------- the parent side

def _kstore(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KSTORE, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _events_tail(state: Path, lines: int = 25) -> str:
    try:
        out = subprocess.run(["kubectl", "--kubeconfig", str(state / "kubeconfig"), "get", "events", "-A"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"(kubectl get events failed: {e})"
    return "\n".join((out.stdout + out.stderr).splitlines()[-lines:])


async def _read_line(proc: asyncio.subprocess.Process, log: Path, timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    except TimeoutError:
        raise ProcessFailed(f"mount-chain load: no result in {timeout:.0f}s:\n{_tail(log)}") from None
    if not line:
        await proc.wait()
        raise ProcessFailed(f"mount-chain load exited with {proc.returncode}:\n{_tail(log)}")
    return json.loads(line)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def _emulated(work: Path, name: str, nodes: int, pods: int, *, simulate: bool,
                    bare_volumes: int = 0) -> tuple[Result, Result]:
    """One cluster: `kstore up`, the load to all Running, `kstore down --keep`; then (bare_volumes > 0)
    the bare chain on the quiet machine in <state>/bare. Everything torn down in the finally."""
    state = work / name
    config = work / f"{name}.yaml"
    config.write_text(CONFIG.format(nodes=nodes, cls=CLASS, simulate="simulate_mounts: true\n" if simulate else ""))
    log = work / f"{name}-load.log"
    timeout = max(300.0, pods * 0.5)
    proc: asyncio.subprocess.Process | None = None
    bare: Result = {}
    try:
        result_sync = await asyncio.to_thread(_settle)
        t0 = time.perf_counter()
        up = await asyncio.to_thread(_kstore, "up", "--state-dir", str(state), "--base-port", "0",
                                     "--nodes", str(nodes), "--config", str(config), "--timeout", "300",
                                     timeout=400)
        if up.returncode != 0:
            raise ProcessFailed(f"kstore up failed ({up.returncode}):\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        up_s = time.perf_counter() - t0
        err = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.mounts", "--cluster", str(state / "cluster.json"),
                "--pods", str(pods), "--inflight", str(INFLIGHT), "--timeout", str(timeout),
                cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=err,
                start_new_session=True)
        finally:
            os.close(err)
        await _read_line(proc, log, 120)  # {"loading": true}
        result = await _read_line(proc, log, timeout + 300)
        await proc.wait()
        result["up_s"] = up_s
        result["settle_s"] = result_sync
        if result["not_running"]:
            result["events_tail"] = _events_tail(state)
            print(f"mount-chain {name}: {result['not_running']} of {pods} pods not Running; pod phases "
                  f"{result['pod_phases']}; stuck: {json.dumps(result['stuck'][:3])}\n"
                  f"events (tail):\n{result['events_tail']}", file=sys.stderr, flush=True)
        result.update(_census(state))
        t1 = time.perf_counter()
        down = await asyncio.to_thread(_kstore, "down", "--state-dir", str(state), "--keep")
        result["down_s"] = time.perf_counter() - t1
        result["down_rc"] = down.returncode
        if bare_volumes:
            bare = await _bare(state / "bare", bare_volumes)
        return result, bare
    finally:
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            await proc.wait()
        if bare_volumes:
            await asyncio.to_thread(_bare_cleanup, state / "bare", bare_volumes)
        if state.exists():
            await asyncio.to_thread(_kstore, "down", "--state-dir", str(state))
        shutil.rmtree(state, ignore_errors=True)


def _census(state: Path) -> Result:
    """Before `kstore down`: the ext4 mounts and loop devices under the state dir (real mounts, not
    recorded ones), and the CPU-seconds the cluster's processes used (they are not this process's
    children, so `others_cpu` counts them as other processes: subtract `cluster_cpu_s` / (wall × cores))."""
    prefix = str(state) + "/"
    with open("/proc/mounts") as f:
        mounts = [line.split() for line in f]
    ext4 = sum(1 for m in mounts if m[1].startswith(prefix) and m[2] == "ext4")
    loops = 0
    for dev in Path("/sys/block").glob("loop*"):
        try:
            loops += (dev / "loop" / "backing_file").read_text().startswith(prefix)
        except OSError:
            pass
    cpu = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(state).encode() not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        cpu += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime (mkfs, mount, ...)
    return {"ext4_mounts": ext4, "loop_devices": loops, "cluster_cpu_s": cpu}


def _run_script(script: Path, count: int, where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(f"seq 0 {count - 1} | xargs -P {BARE_WORKERS} -I{{}} bash {script} {{}} {where}",
                          shell=True, capture_output=True, text=True, timeout=1800)


def _bare_cleanup(where: Path, count: int) -> None:
    if not where.exists():
        return
    script = where.parent / "bare-cleanup.sh"
    script.write_text(BARE_CLEANUP)
    _run_script(script, count, where)
    shutil.rmtree(where, ignore_errors=True)


def _bare_setup(where: Path) -> tuple[Path, Path]:
    where.mkdir(parents=True, exist_ok=True)
    chain, cleanup = where.parent / "bare-chain.sh", where.parent / "bare-cleanup.sh"
    chain.write_text(BARE_CHAIN)
    cleanup.write_text(BARE_CLEANUP)
    return chain, cleanup


def _mounted(where: Path, count: int) -> int:
    return sum(1 for i in range(count) if os.path.ismount(where / f"mnt-{i}"))


def _settle() -> float:
    """Write back what the previous phase left dirty (its images, its deleted state dir) before
    timing the next one, so that no phase pays for the one before: seconds it took."""
    t0 = time.perf_counter()
    os.sync()
    return time.perf_counter() - t0


async def _bare(where: Path, count: int) -> Result:
    chain, cleanup = _bare_setup(where)
    settle_s = await asyncio.to_thread(_settle)
    t0 = time.perf_counter()
    done = await asyncio.to_thread(_run_script, chain, count, where)
    total = time.perf_counter() - t0
    mounted = _mounted(where, count)
    t1 = time.perf_counter()
    await asyncio.to_thread(_run_script, cleanup, count, where)
    cleanup_s = time.perf_counter() - t1
    if done.returncode != 0 or mounted != count:
        raise ProcessFailed(f"bare chain: rc {done.returncode}, {mounted} of {count} mounted:\n{done.stderr[-2000:]}")
    return {"total_s": total, "cleanup_s": cleanup_s, "settle_s": settle_s, "volumes": count, "workers": BARE_WORKERS}


def _prefixed(prefix: str, r: Result) -> Result:
    return {f"{prefix}_{k}": v for k, v in r.items()}


async def run(cluster: BenchCluster, sizes: Sizes) -> Result:
    from bench.scenarios import QUICK

    nodes, real_pods, sim_pods = QUICK_SIZE if sizes == QUICK else FULL_SIZE
    work = Path(tempfile.mkdtemp(prefix="kstore-mount-chain-"))
    t0 = time.perf_counter()
    try:
        real, bare = await _emulated(work, "real", nodes, real_pods, simulate=False, bare_volumes=real_pods)
        print(f"mount-chain real: total {real['total_s']:.1f}s, bare {bare['total_s']:.1f}s, "
              f"not Running {real['not_running']}", file=sys.stderr, flush=True)
        sim, _ = await _emulated(work, "simulated", nodes, sim_pods, simulate=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    return {**_prefixed("real", real), **_prefixed("bare", bare), **_prefixed("sim", sim),
            "ratio": real["total_s"] / bare["total_s"], "wall_s": elapsed,
            "cluster_cpu_s": real["cluster_cpu_s"] + sim["cluster_cpu_s"],
            # the share of the machine the clusters took: `others_cpu` minus this is what really others took
            "cluster_share": (real["cluster_cpu_s"] + sim["cluster_cpu_s"]) / (elapsed * (os.cpu_count() or 1)), "nodes": nodes, "real_pods": real_pods, "sim_pods": sim_pods}


__all__ = ["METRICS", "run"]

if __name__ == "__main__":
    main()
