"""The kubelet through the real processes and the real kubectl: pods Running with their volumes
bind-mounted into each container's path (`<state>/nodes/<node>/containers/<uid>/<container>/
<mountPath>`), FailedMount when a volume cannot be set up, teardown before a pod goes, block
volumes attached by the ad-controller and mounted from a real loop device, expansion while
the pod runs, `kill -9` of a kubelet, the metrics — asserted as a user sees them (kubectl,
events, files, the mount table).

Real mounts (the tests run as root) on the `cluster` fixture; a second cluster with
`simulate_mounts: true` runs the shared-volume and restart scenarios in the simulated mode.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kstore.config import read_cluster_file
from kstore.volume.mount import SimulatedMounter, parse_mountinfo
from tests.e2e.cluster import MANIFESTS, Cluster, after_passes, kstore_cli, started
from tests.e2e.cluster import until as wait_until

ROOK = MANIFESTS / "rook__rook"
CEPHFS_CLASS = ROOK / "deploy__examples__csi__cephfs__storageclass.yaml"
KUBE_REGISTRY = ROOK / "deploy__examples__csi__cephfs__kube-registry.yaml"
RBD_CLASS = ROOK / "deploy__examples__csi__rbd__storageclass.yaml"
RBD_CLAIM = ROOK / "deploy__examples__csi__rbd__pvc.yaml"
GI = 1 << 30


# ---- helpers



def until(what: str, cond: Callable[[], Any], timeout: float = 60.0) -> Any:
    return wait_until(what, cond, timeout)


def apply(cluster: Cluster, text: str, ns: str | None = None) -> None:
    cluster.kubectl("apply", *(["-n", ns] if ns else []), "-f", "-", input=text, check=True)


def get(cluster: Cluster, kind: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
    r = cluster.kubectl("get", kind, name, *(["-n", ns] if ns else []), "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def events(cluster: Cluster, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = cluster.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def running(pod: dict[str, Any] | None) -> bool:
    return bool(pod) and pod["status"].get("phase") == "Running"  # type: ignore[index]


def container_path(cluster: Cluster, pod: dict[str, Any], container: str, mount_path: str) -> Path:
    return (cluster.state_dir / "nodes" / pod["spec"]["nodeName"] / "containers" / pod["metadata"]["uid"]
            / container / mount_path.lstrip("/"))


def real_mounts(cluster: Cluster) -> list[tuple[str, str, str, tuple[str, ...], str]]:
    """(target, source, fstype, options, root inside the filesystem) of the mounts under the
    state dir, from the kernel."""
    root = Path(os.path.realpath(cluster.state_dir))
    with open("/proc/self/mountinfo") as f:
        return [(str(m.target), m.source, m.fstype, m.options, m.root) for m in parse_mountinfo(f.read())
                if m.target.is_relative_to(root)]


def kubelet_pid(cluster: Cluster, node: str) -> tuple[int | None, bool]:
    """(pid, ready) of the node's kubelet, from `kstore status`."""
    r = kstore_cli("status", "--state-dir", cluster.state_dir, timeout=30)
    for line in r.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == f"kubelet-{node}":
            return (None if fields[1] == "-" else int(fields[1])), fields[2] == "yes"
    raise AssertionError(f"kubelet-{node} not in `kstore status`:\n{r.stdout}{r.stderr}")


def kill_kubelet(cluster: Cluster, node: str) -> None:
    """kill -9 the node's kubelet and wait for the supervisor's new one to be ready."""
    old, _ = kubelet_pid(cluster, node)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    until(f"kubelet-{node} restarted and ready", lambda: (p := kubelet_pid(cluster, node))[0] not in (None, old)
          and p[1], timeout=60)


def metrics(cluster: Cluster, node: str) -> str:
    url = read_cluster_file(cluster.state_dir / "cluster.json").metrics_url(f"kubelet-{node}") + "/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def pod_manifest(name: str, volumes: list[dict[str, Any]], mounts: list[dict[str, Any]], *,
                 node: str | None = None, image: str = "nginx:1.25") -> str:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image, "volumeMounts": mounts}],
                            "volumes": volumes}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def delete_pod(cluster: Cluster, name: str, ns: str) -> None:
    cluster.kubectl("delete", "pod", name, "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90, check=True)


def attached_volumes(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.get_json("volumeattachments")["items"]


def need_attachments(cluster: Cluster, pv: str) -> dict[str, Any]:
    """The VolumeAttachment of the PV, once the ad-controller made it."""
    return until(f"a VolumeAttachment for {pv}", lambda: next(
        (va for va in attached_volumes(cluster) if va["spec"].get("source", {}).get("persistentVolumeName") == pv),
        None), timeout=30)


def rbd_class(cluster: Cluster) -> None:
    """rook's rbd StorageClass (its file also holds a CephBlockPool, a CRD kstore refuses)."""
    docs = [d for d in yaml.safe_load_all(RBD_CLASS.read_text()) if d and d.get("kind") == "StorageClass"]
    apply(cluster, yaml.safe_dump_all(docs))


# ---- a cluster with simulated mounts


class SimulatedCluster(Cluster):
    def up(self) -> None:
        config = self.state_dir.parent / "simulated.yaml"
        config.write_text((Path(__file__).resolve().parents[2] / "configs" / "dev.yaml").read_text()
                          + "\nsimulate_mounts: true\n")
        r = kstore_cli("up", "--config", config, "--state-dir", self.state_dir, "--base-port", "0",
                       "--nodes", str(self.nodes))
        if r.returncode != 0:
            raise RuntimeError(f"kstore up failed:\n{r.stdout}\n{r.stderr}")


@pytest.fixture(scope="module")
def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with started(SimulatedCluster(tmp_path_factory.mktemp("kstore-sim-") / "state")) as c:
        yield c


# ---- the seed's example: rook cephfs kube-registry


def kube_registry(cluster: Cluster) -> list[dict[str, Any]]:
    cluster.kubectl("apply", "-f", str(CEPHFS_CLASS), check=True)
    cluster.kubectl("apply", "-f", str(KUBE_REGISTRY), check=True)
    return until("3 kube-registry pods Running", lambda: (items := cluster.get_json(
        "pods", "-n", "kube-system", "-l", "k8s-app=kube-registry")["items"]) and len(items) == 3
        and all(running(p) for p in items) and items, timeout=90)


def remove_kube_registry(cluster: Cluster) -> None:
    cluster.kubectl("delete", "-f", str(KUBE_REGISTRY), "--ignore-not-found", "--timeout=90s", timeout=120)
    until("kube-registry pods gone", lambda: not cluster.get_json(
        "pods", "-n", "kube-system", "-l", "k8s-app=kube-registry")["items"], timeout=90)


def test_kube_registry_pods_run_on_three_nodes_sharing_one_cephfs_directory(cluster: Cluster) -> None:
    pods = kube_registry(cluster)
    try:
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
        paths = [container_path(cluster, p, "registry", "/var/lib/registry") for p in pods]
        (paths[0] / "docker" / "blob").mkdir(parents=True)
        (paths[0] / "docker" / "blob" / "data").write_text("layer")
        assert [(p / "docker" / "blob" / "data").read_text() for p in paths[1:]] == ["layer", "layer"]
        roots = {target: root for target, _, _, _, root in real_mounts(cluster)}
        pv = cluster.get_json("pvc", "cephfs-pvc", "-n", "kube-system")["spec"]["volumeName"]
        for path in paths:  # each container path is a bind mount of the one pool directory
            assert roots[str(path)].endswith(f"/pool/shared/{pv}")
        pod = pods[0]
        status = pod["status"]
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
            "PodScheduled": "True"}
        (cs,) = status["containerStatuses"]
        assert cs["ready"] and cs["started"] and "startedAt" in cs["state"]["running"]
        assert status["podIP"].startswith("10.244.") and status["hostIP"] == "127.0.0.1" and status["startTime"]
        reasons = [r for _, r, _ in events(cluster, "kube-system", pod["metadata"]["name"])]
        assert {"Scheduled", "Pulling", "Pulled", "Created", "Started"} <= set(reasons)
    finally:
        remove_kube_registry(cluster)
    assert not [m for m in real_mounts(cluster) if "/containers/" in m[0] or "/kubelet/pods/" in m[0]]


# ---- projected, emptyDir, subPath, readOnly


PROJECTED = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {app.conf: "level=debug\\n", other: x}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: files, labels: {app: files, tier: web}}
spec:
  containers:
  - name: app
    image: busybox:1.36
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: config, mountPath: /etc/nginx/nginx.conf, subPath: app.conf}
    - {name: secret, mountPath: /etc/secret}
    - {name: scratch, mountPath: /scratch}
    - {name: scratch, mountPath: /logs, subPath: logs/app}
    - {name: scratch, mountPath: /ro, readOnly: true}
    - {name: info, mountPath: /etc/podinfo}
  volumes:
  - {name: config, configMap: {name: app-config}}
  - {name: secret, secret: {secretName: app-secret}}
  - {name: scratch, emptyDir: {}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
"""


def test_pod_with_config_map_secret_empty_dir_and_downward_api_runs_with_its_files(cluster: Cluster) -> None:
    ns = "kl-files"
    cluster.namespace(ns)
    apply(cluster, PROJECTED, ns)
    pod = until("files Running", lambda: running(p := get(cluster, "pod", "files", ns)) and p)
    try:
        def at(path: str) -> Path:
            return container_path(cluster, pod, "app", path)

        assert (at("/etc/app") / "app.conf").read_text() == "level=debug\n"
        assert at("/etc/nginx/nginx.conf").read_text() == "level=debug\n"  # one key as a file, by subPath
        assert (at("/etc/secret") / "password").read_text() == "s3cret"
        assert (at("/etc/podinfo") / "labels").read_text() == 'app="files"\ntier="web"'
        assert (at("/etc/podinfo") / "name").read_text() == "files"
        (at("/logs") / "today.log").write_text("started")  # subPath: a directory made inside the volume
        assert (at("/scratch") / "logs" / "app" / "today.log").read_text() == "started"
        options = {target: opts for target, _, _, opts, _ in real_mounts(cluster)}
        assert "ro" in options[str(at("/ro"))] and "ro" in options[str(at("/etc/app"))]  # configMaps are read-only
        assert "rw" in options[str(at("/scratch"))]
        with pytest.raises(OSError):
            (at("/ro") / "nope").write_text("x")
        uid = pod["metadata"]["uid"]
    finally:
        delete_pod(cluster, "files", ns)
    assert not [m for m in real_mounts(cluster) if uid in m[0]]  # torn down before the pod went
    assert not (container_path(cluster, pod, "app", "/").parent).exists()


def test_pod_naming_a_missing_config_map_stays_pending_with_failed_mount(cluster: Cluster) -> None:
    ns = "kl-missing"
    cluster.namespace(ns)
    apply(cluster, pod_manifest("waits", [{"name": "cfg", "configMap": {"name": "not-there"}}],
                                [{"name": "cfg", "mountPath": "/etc/cfg"}]), ns)
    try:
        until("FailedMount", lambda: ("Warning", "FailedMount",
                                      'MountVolume.SetUp failed for volume "cfg" : configmap "not-there" not found')
              in events(cluster, ns, "waits"))
        pod = get(cluster, "pod", "waits", ns) or {}
        assert pod["status"]["phase"] == "Pending"
        assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
        assert "podIP" not in pod["status"]
        apply(cluster, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-there}\ndata: {k: v}\n", ns)
        until("Running once the ConfigMap exists", lambda: running(get(cluster, "pod", "waits", ns)))
    finally:
        delete_pod(cluster, "waits", ns)


def test_bad_sub_path_and_host_device_are_refused_with_kubernetes_words(cluster: Cluster) -> None:
    ns = "kl-bad"
    cluster.namespace(ns)
    # the API refuses a subPath with `..`; a subPathExpr only shows it once the kubelet expands it
    escape = yaml.safe_load(pod_manifest("escape", [{"name": "t", "emptyDir": {}}],
                                         [{"name": "t", "mountPath": "/x", "subPathExpr": "$(DIR)"}]))
    escape["spec"]["containers"][0]["env"] = [{"name": "DIR", "value": "../../etc"}]
    apply(cluster, yaml.safe_dump(escape), ns)
    apply(cluster, pod_manifest("device", [{"name": "d", "hostPath": {"path": "/dev/vda"}}],
                                [{"name": "d", "mountPath": "/disk"}]), ns)
    try:
        def waiting(name: str) -> dict[str, Any]:
            pod = get(cluster, "pod", name, ns) or {}
            statuses = pod.get("status", {}).get("containerStatuses") or [{}]
            return (statuses[0].get("state") or {}).get("waiting") or {}

        until("CreateContainerConfigError", lambda: waiting("escape").get("reason") == "CreateContainerConfigError")
        assert waiting("escape")["message"] == "unable to provision SubPath `../../etc`: must not contain '..'"
        failed = until("FailedMount for /dev/vda", lambda: [m for t, r, m in events(cluster, ns, "device")
                                                             if r == "FailedMount"])
        assert failed[0].startswith('MountVolume.SetUp failed for volume "d" : hostPath /dev/vda names a host device')
        assert (get(cluster, "pod", "device", ns) or {})["status"]["phase"] == "Pending"
    finally:
        delete_pod(cluster, "escape", ns)
        delete_pod(cluster, "device", ns)


def flex_driver(cluster: Cluster, driver: str, body: str) -> None:
    """A FlexVolume driver executable at <state>/volume-plugins/<vendor~driver>/<driver>."""
    directory = cluster.state_dir / "volume-plugins" / driver.replace("/", "~")
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / driver.rsplit("/", 1)[-1]
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)


def test_a_hanging_or_garbage_flex_driver_gets_failed_mount_and_the_kubelet_serves_other_pods(cluster: Cluster) -> None:
    ns = "kl-flex"
    cluster.namespace(ns)
    flex_driver(cluster, "acme/hang", 'case "$1" in\n'
                '  init) echo \'{"status": "Success", "capabilities": {"attach": false}}\' ;;\n'
                '  *) sleep 60 ;;\n'
                "esac\n")
    flex_driver(cluster, "acme/garbage", "echo 'this is not JSON'\n")
    apply(cluster, pod_manifest("hangs", [{"name": "f", "flexVolume": {"driver": "acme/hang"}}],
                                [{"name": "f", "mountPath": "/f"}], node="node-1"), ns)
    apply(cluster, pod_manifest("garbled", [{"name": "g", "flexVolume": {"driver": "acme/garbage"}}],
                                [{"name": "g", "mountPath": "/g"}], node="node-1"), ns)
    apply(cluster, pod_manifest("fine", [{"name": "t", "emptyDir": {}}], [{"name": "t", "mountPath": "/t"}],
                                node="node-1"), ns)
    try:
        until("the other pod Running meanwhile", lambda: running(get(cluster, "pod", "fine", ns)), timeout=30)
        garbled = until("FailedMount of the garbage driver", lambda: [m for t, r, m in events(cluster, ns, "garbled")
                                                                       if (t, r) == ("Warning", "FailedMount")])
        assert garbled == [m for m in garbled if m.startswith(
            "Unable to attach or mount volumes: unmounted volumes=[g], unattached volumes=[], "
            'failed to process volumes=[g]: FlexVolume driver "acme/garbage": init failed')]
        hung = until("FailedMount of the hanging driver", lambda: [m for t, r, m in events(cluster, ns, "hangs")
                                                                   if (t, r) == ("Warning", "FailedMount")], timeout=60)
        assert hung[0].startswith('MountVolume.SetUp failed for volume "f" : ')
        assert [(get(cluster, "pod", n, ns) or {})["status"]["phase"] for n in ("hangs", "garbled")] == ["Pending"] * 2
    finally:
        for name in ("hangs", "garbled", "fine"):
            delete_pod(cluster, name, ns)


# ---- block volumes: rook rbd


def rbd_claim(cluster: Cluster, ns: str) -> None:
    """The namespace, rook's rbd class and its claim `rbd-pvc`."""
    cluster.namespace(ns)
    rbd_class(cluster)
    cluster.kubectl("apply", "-n", ns, "-f", str(RBD_CLAIM), check=True)


def rbd_pod(cluster: Cluster, ns: str, name: str, *, node: str | None = None) -> dict[str, Any]:
    apply(cluster, pod_manifest(name, [{"name": "data", "persistentVolumeClaim": {"claimName": "rbd-pvc"}}],
                                [{"name": "data", "mountPath": "/data"}], node=node), ns)
    claim = until("rbd-pvc Bound", lambda: (c := get(cluster, "pvc", "rbd-pvc", ns)) and c["status"].get(
        "phase") == "Bound" and c)
    need_attachments(cluster, claim["spec"]["volumeName"])
    return until(f"{name} Running", lambda: running(p := get(cluster, "pod", name, ns)) and p)


def pod_volume_dir(cluster: Cluster, pod: dict[str, Any], pv: str) -> Path:
    return (cluster.state_dir / "nodes" / pod["spec"]["nodeName"] / "kubelet" / "pods" / pod["metadata"]["uid"]
            / "volumes" / "kubernetes.io~csi" / pv)


def test_rbd_volume_is_ext4_on_a_loop_device_and_keeps_its_files_across_nodes(cluster: Cluster) -> None:
    ns = "kl-rbd"
    rbd_claim(cluster, ns)
    try:
        first = rbd_pod(cluster, ns, "writer")
        pv = cluster.get_json("pvc", "rbd-pvc", "-n", ns)["spec"]["volumeName"]
        volume_dir = pod_volume_dir(cluster, first, pv)
        mounts = {target: (source, fstype) for target, source, fstype, _, _ in real_mounts(cluster)}
        source, fstype = mounts[str(volume_dir)]
        assert fstype == "ext4" and source.startswith("/dev/loop")
        node = first["spec"]["nodeName"]
        unique = f"kubernetes.io/csi/rook-ceph.rbd.csi.ceph.com^block/{pv}"
        assert unique in cluster.get_json("node", node)["status"].get("volumesInUse", [])
        container_path(cluster, first, "app", "/data").joinpath("kept.txt").write_text("still here")

        delete_pod(cluster, "writer", ns)
        status = cluster.get_json("node", node)["status"]
        assert unique not in (status.get("volumesInUse") or [])  # dropped before the pod went
        until(f"{pv} detached from {node}", lambda: not [
            va for va in attached_volumes(cluster) if va["spec"]["nodeName"] == node])
        other = next(n for n in ("node-1", "node-2", "node-3") if n != node)
        second = rbd_pod(cluster, ns, "reader", node=other)
        assert container_path(cluster, second, "app", "/data").joinpath("kept.txt").read_text() == "still here"
        assert not [m for m in real_mounts(cluster) if f"/nodes/{node}/" in m[0] and pv in m[0]]
    finally:
        delete_pod(cluster, "writer", ns)
        delete_pod(cluster, "reader", ns)
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)


def test_deleting_the_claim_unmounts_detaches_and_removes_the_image(cluster: Cluster) -> None:
    """The seed's way back: pod gone → unmount → detach → claim deleted → (reclaim Delete) the
    backend volume is deleted, and nothing of it is left on the machine."""
    ns = "kl-back"
    rbd_claim(cluster, ns)
    pod = rbd_pod(cluster, ns, "user")
    pv = cluster.get_json("pvc", "rbd-pvc", "-n", ns)["spec"]["volumeName"]
    image = cluster.state_dir / "pool" / "block" / pv
    assert image.exists() and any(pv in m[0] for m in real_mounts(cluster))
    delete_pod(cluster, "user", ns)
    until("detached", lambda: not [va for va in attached_volumes(cluster)
                                   if va["spec"]["source"].get("persistentVolumeName") == pv])
    cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--timeout=60s", check=True, timeout=90)
    until("PV deleted", lambda: get(cluster, "pv", pv) is None)
    assert not image.exists()
    assert not [m for m in real_mounts(cluster) if pv in m[0] or m[0].startswith(str(pod_volume_dir(cluster, pod, pv)))]
    loops = subprocess.run(["losetup", "-l", "-n", "-O", "BACK-FILE"], capture_output=True, text=True).stdout
    assert str(image) not in loops


def test_expansion_while_the_pod_runs_grows_the_mounted_filesystem(cluster: Cluster) -> None:
    ns = "kl-expand"
    rbd_claim(cluster, ns)
    try:
        pod = rbd_pod(cluster, ns, "grows")
        pv = cluster.get_json("pvc", "rbd-pvc", "-n", ns)["spec"]["volumeName"]
        volume_dir = pod_volume_dir(cluster, pod, pv)
        assert os.statvfs(volume_dir).f_blocks * os.statvfs(volume_dir).f_frsize < GI
        cluster.kubectl("patch", "pvc", "rbd-pvc", "-n", ns, "-p",
                        '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', check=True)
        claim = until("the claim's capacity 2Gi", lambda: (c := get(cluster, "pvc", "rbd-pvc", ns)) and c["status"].get(
            "capacity", {}).get("storage") == "2Gi" and c)
        assert not [c for c in claim["status"].get("conditions") or [] if c["type"] == "FileSystemResizePending"]
        assert "allocatedResourceStatuses" not in claim["status"]
        st = os.statvfs(volume_dir)
        assert st.f_blocks * st.f_frsize > 1.8 * GI  # df inside the pod's volume dir shows the new size
        assert ("Normal", "FileSystemResizeSuccessful",
                f'MountVolume.NodeExpandVolume succeeded for volume "{pv}" {pod["spec"]["nodeName"]}') in \
            events(cluster, ns, "rbd-pvc")
        assert running(get(cluster, "pod", "grows", ns))
    finally:
        delete_pod(cluster, "grows", ns)
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)


RAW_BLOCK = [ROOK / "deploy__examples__csi__rbd__raw-block-pvc.yaml", ROOK / "deploy__examples__csi__rbd__raw-block-pod.yaml"]


def test_raw_block_volume_is_the_loop_device_itself_in_the_container(cluster: Cluster) -> None:
    ns = "kl-raw"
    cluster.namespace(ns)
    rbd_class(cluster)
    for path in RAW_BLOCK:
        cluster.kubectl("apply", "-n", ns, "-f", str(path), check=True)
    try:
        claim = until("raw-block-rbd-pvc Bound", lambda: (c := get(cluster, "pvc", "raw-block-rbd-pvc", ns))
                      and c["status"].get("phase") == "Bound" and c)
        va = need_attachments(cluster, claim["spec"]["volumeName"])
        pod = until("the raw block pod Running", lambda: running(p := get(cluster, "pod", "csirbd-block-demo-pod", ns))
                    and p)
        device = container_path(cluster, pod, "centos", "/dev/xvda")
        mounts = {target: (source, root) for target, source, _, _, root in real_mounts(cluster)}
        source, root = mounts[str(device)]
        loop = va["status"]["attachmentMetadata"]["devicePath"]
        assert root == "/" + loop.removeprefix("/dev/")  # the loop device bound on the container's devicePath
        with open(device, "rb") as f:  # a block device: readable, no filesystem made by the kubelet
            assert len(f.read(4096)) == 4096
    finally:
        delete_pod(cluster, "csirbd-block-demo-pod", ns)
        cluster.kubectl("delete", "pvc", "raw-block-rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s",
                        timeout=90)
    assert not [m for m in real_mounts(cluster) if f"/{pod['metadata']['uid']}" in m[0]]


# ---- kill -9 of a kubelet


def test_kill_9_of_a_kubelet_keeps_its_pods_running_and_mounts_nothing_twice(cluster: Cluster) -> None:
    ns = "kl-restart"
    cluster.namespace(ns)
    apply(cluster, PROJECTED.replace("name: files", "name: survivor"), ns)
    pod = until("survivor Running", lambda: running(p := get(cluster, "pod", "survivor", ns)) and p)
    node, uid = pod["spec"]["nodeName"], pod["metadata"]["uid"]
    try:
        marker = container_path(cluster, pod, "app", "/scratch") / "before-the-crash"
        marker.write_text("x")
        before = sorted(m[0] for m in real_mounts(cluster))
        started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        kill_kubelet(cluster, node)
        after_passes(cluster.state_dir, f"kubelet-{node}")  # the new kubelet reconciled a few times
        after = sorted(m[0] for m in real_mounts(cluster))
        assert after == before and len(after) == len(set(after))  # nothing doubled, nothing lost
        again = get(cluster, "pod", "survivor", ns) or {}
        assert running(again) and again["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] == started
        assert marker.read_text() == "x"
        log = (cluster.state_dir / "logs" / f"kubelet-{node}.log").read_text()
        assert f"adopted for pod {uid}" in log
    finally:
        delete_pod(cluster, "survivor", ns)
    assert not [m for m in real_mounts(cluster) if uid in m[0]]


def test_a_pod_deleted_while_its_kubelet_is_down_is_cleaned_up_by_the_next_one(cluster: Cluster) -> None:
    ns = "kl-orphan"
    cluster.namespace(ns)
    apply(cluster, PROJECTED.replace("name: files", "name: orphan"), ns)
    pod = until("orphan Running", lambda: running(p := get(cluster, "pod", "orphan", ns)) and p)
    node, uid = pod["spec"]["nodeName"], pod["metadata"]["uid"]
    pid, _ = kubelet_pid(cluster, node)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the kubelet hangs
    try:
        cluster.kubectl("delete", "pod", "orphan", "-n", ns, "--grace-period=0", "--force", check=True)
    finally:
        os.kill(pid, signal.SIGKILL)  # ...and dies; the supervisor starts another
    until(f"kubelet-{node} back", lambda: (p := kubelet_pid(cluster, node))[0] not in (None, pid) and p[1])
    until("the gone pod's mounts torn down", lambda: not [m for m in real_mounts(cluster) if uid in m[0]])
    until("its directories removed", lambda: not (cluster.state_dir / "nodes" / node / "kubelet" / "pods" / uid)
          .exists() and not (cluster.state_dir / "nodes" / node / "containers" / uid).exists(), timeout=30)


# ---- metrics


def test_kubelet_metrics(cluster: Cluster) -> None:
    ns = "kl-metrics"
    cluster.namespace(ns)
    apply(cluster, PROJECTED.replace("name: files", "name: measured"), ns)
    pod = until("measured Running", lambda: running(p := get(cluster, "pod", "measured", ns)) and p)
    try:
        text = metrics(cluster, pod["spec"]["nodeName"])
        assert 'volume_manager_total_volumes{plugin_name="kubernetes.io/configmap",state="actual_state_of_world"}' \
            in text
        assert 'volume_manager_total_volumes{plugin_name="kubernetes.io/empty-dir",state="desired_state_of_world"}' \
            in text
        assert 'kstore_reconcile_duration_seconds_count{component="kubelet",loop="reconciler"}' in text
        assert 'kstore_e2e_latency_seconds_count{stage="pod_running"}' in text
        assert 'kstore_e2e_latency_seconds_count{stage="volumes_mounted"}' in text
        assert 'kstore_e2e_latency_seconds_count{stage="volumes_attached"}' in text
        assert "# TYPE kubelet_volume_stats_capacity_bytes gauge" in text
    finally:
        delete_pod(cluster, "measured", ns)


def test_volume_stats_of_a_mounted_claim(cluster: Cluster) -> None:
    pods = kube_registry(cluster)
    try:
        node = pods[0]["spec"]["nodeName"]
        line = until("kubelet_volume_stats_capacity_bytes of cephfs-pvc", lambda: next(
            (ln for ln in metrics(cluster, node).splitlines() if ln.startswith(
                'kubelet_volume_stats_capacity_bytes{namespace="kube-system",persistentvolumeclaim="cephfs-pvc"}')),
            None), timeout=30)
        assert float(line.split()[-1]) > 0
    finally:
        remove_kube_registry(cluster)


# ---- simulated mounts


def test_simulated_mode_shares_cephfs_and_survives_kill_9(sim_cluster: Cluster) -> None:
    cluster = sim_cluster
    records = SimulatedMounter(cluster.state_dir)
    assert not real_mounts(cluster)  # nothing mounted for real in this mode
    pods = kube_registry(cluster)
    try:
        paths = [container_path(cluster, p, "registry", "/var/lib/registry") for p in pods]
        (paths[0] / "blob").write_text("layer")
        assert [(p / "blob").read_text() for p in paths[1:]] == ["layer", "layer"]
        before = sorted(str(m.target) for m in records.mounts_under(cluster.state_dir))
        assert sum("/containers/" in t for t in before) == 3
        kill_kubelet(cluster, pods[0]["spec"]["nodeName"])
        after_passes(cluster.state_dir, f"kubelet-{pods[0]['spec']['nodeName']}")
        assert sorted(str(m.target) for m in records.mounts_under(cluster.state_dir)) == before
        assert all(running(get(cluster, "pod", p["metadata"]["name"], "kube-system")) for p in pods)
        assert not real_mounts(cluster)
    finally:
        remove_kube_registry(cluster)
    assert not [m for m in records.mounts_under(cluster.state_dir) if "/containers/" in str(m.target)]


def test_simulated_mode_block_volume_keeps_its_files_and_leaves_nothing(sim_cluster: Cluster) -> None:
    cluster = sim_cluster
    ns = "kl-sim-rbd"
    rbd_claim(cluster, ns)
    records = SimulatedMounter(cluster.state_dir)
    try:
        first = rbd_pod(cluster, ns, "writer")
        pv = cluster.get_json("pvc", "rbd-pvc", "-n", ns)["spec"]["volumeName"]
        node_dir = cluster.state_dir / "nodes" / first["spec"]["nodeName"]
        device = records.mount_at(node_dir / "kubelet" / "plugins" / "kubernetes.io" / "csi" / "mounts" / pv)
        assert device is not None and device.source.startswith("/dev/loop-sim-") and device.fstype == "ext4"
        bind = records.mount_at(pod_volume_dir(cluster, first, pv))
        assert bind is not None and bind.device_id == device.device_id  # the pod's dir: a bind of that filesystem
        container_path(cluster, first, "app", "/data").joinpath("kept.txt").write_text("simulated")
        delete_pod(cluster, "writer", ns)
        assert not [m for m in records.mounts_under(cluster.state_dir) if first["metadata"]["uid"] in str(m.target)]
        second = rbd_pod(cluster, ns, "reader")
        assert container_path(cluster, second, "app", "/data").joinpath("kept.txt").read_text() == "simulated"
        assert not real_mounts(cluster)
    finally:
        delete_pod(cluster, "writer", ns)
        delete_pod(cluster, "reader", ns)
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)


# ---- bad input: a volume that disappears under its pod, a full pool

CEPHFS_CLAIM = ROOK / "deploy__examples__csi__cephfs__pvc.yaml"


def abnormal(cluster: Cluster, node: str, ns: str, claim: str) -> float | None:
    """kubelet_volume_stats_health_status_abnormal of the claim on the node (None: not reported)."""
    prefix = f'kubelet_volume_stats_health_status_abnormal{{namespace="{ns}",persistentvolumeclaim="{claim}"}}'
    return next((float(ln.split()[-1]) for ln in metrics(cluster, node).splitlines() if ln.startswith(prefix)), None)


def condition_events(cluster: Cluster, ns: str, pod: str) -> list[str]:
    return [m for t, r, m in events(cluster, ns, pod) if (t, r) == ("Warning", "VolumeConditionAbnormal")]


def test_a_block_image_deleted_under_its_pod_is_reported_and_the_pod_still_goes_cleanly(cluster: Cluster) -> None:
    """As the kubelet's CSI volume health: a Warning `VolumeConditionAbnormal` on the pod and the
    abnormal gauge; the pod keeps running (its data lives on in the loop device), the kubelet
    serves other pods, and deleting the pod and the claim still unmounts, detaches, frees the
    loop device and deletes the PV."""
    ns = "kl-gone-block"
    rbd_claim(cluster, ns)
    try:
        pod = rbd_pod(cluster, ns, "victim")
        node = pod["spec"]["nodeName"]
        pv = cluster.get_json("pvc", "rbd-pvc", "-n", ns)["spec"]["volumeName"]
        image = cluster.state_dir / "pool" / "block" / pv
        until("healthy at first", lambda: abnormal(cluster, node, ns, "rbd-pvc") == 0.0, timeout=30)
        image.unlink()

        messages = until("VolumeConditionAbnormal", lambda: condition_events(cluster, ns, "victim"), timeout=30)
        assert messages[0] == f"Volume data: its image {image} was deleted under it"
        assert until("abnormal gauge", lambda: abnormal(cluster, node, ns, "rbd-pvc") == 1.0, timeout=30)
        assert running(get(cluster, "pod", "victim", ns))
        apply(cluster, pod_manifest("neighbour", [{"name": "t", "emptyDir": {}}], [{"name": "t", "mountPath": "/t"}],
                                    node=node), ns)
        until("the kubelet serves another pod meanwhile", lambda: running(get(cluster, "pod", "neighbour", ns)))

        delete_pod(cluster, "victim", ns)
        until("detached", lambda: not [va for va in attached_volumes(cluster)
                                       if va["spec"]["source"].get("persistentVolumeName") == pv])
        assert not [m for m in real_mounts(cluster) if pv in m[0]]
        loops = subprocess.run(["losetup", "-l", "-n", "-O", "BACK-FILE"], capture_output=True, text=True).stdout
        assert str(image) not in loops  # the deleted image's device is freed too
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--timeout=60s", check=True, timeout=90)
        until("PV deleted", lambda: get(cluster, "pv", pv) is None)
    finally:
        delete_pod(cluster, "victim", ns)
        delete_pod(cluster, "neighbour", ns)
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)


def test_a_shared_directory_removed_or_unmounted_under_its_pods_is_reported(cluster: Cluster) -> None:
    ns = "kl-gone-shared"
    cluster.namespace(ns)
    cluster.kubectl("apply", "-f", str(CEPHFS_CLASS), check=True)
    cluster.kubectl("apply", "-n", ns, "-f", str(CEPHFS_CLAIM), check=True)
    volume = [{"name": "data", "persistentVolumeClaim": {"claimName": "cephfs-pvc"}}]
    mounts = [{"name": "data", "mountPath": "/data"}]
    apply(cluster, pod_manifest("removed", volume, mounts, node="node-1"), ns)
    apply(cluster, pod_manifest("unmounted", volume, mounts, node="node-2"), ns)
    try:
        pods = {n: until(f"{n} Running", lambda n=n: running(p := get(cluster, "pod", n, ns)) and p)
                for n in ("removed", "unmounted")}
        pv = cluster.get_json("pvc", "cephfs-pvc", "-n", ns)["spec"]["volumeName"]
        # node-2's pod dir is unmounted behind the kubelet's back; then the directory itself goes
        unmounted_dir = pod_volume_dir(cluster, pods["unmounted"], pv)
        subprocess.run(["umount", str(unmounted_dir)], check=True)
        assert until("unmounted reported", lambda: condition_events(cluster, ns, "unmounted"), timeout=30) \
            == [f"Volume data: {unmounted_dir} is no longer mounted"]
        shared = cluster.state_dir / "pool" / "shared" / pv
        subprocess.run(["rm", "-rf", "--one-file-system", str(shared)], check=True)
        removed_dir = pod_volume_dir(cluster, pods["removed"], pv)
        assert until("removal reported", lambda: condition_events(cluster, ns, "removed"), timeout=30) \
            == [f"Volume data: the directory mounted at {removed_dir} was deleted"]
        assert abnormal(cluster, "node-1", ns, "cephfs-pvc") == 1.0
        assert all(running(get(cluster, "pod", n, ns)) for n in pods)
    finally:
        for name in ("removed", "unmounted"):
            delete_pod(cluster, name, ns)
        cluster.kubectl("delete", "pvc", "cephfs-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)
    assert not [m for m in real_mounts(cluster) if any(p["metadata"]["uid"] in m[0] for p in pods.values())]


@pytest.fixture
def small_pool_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """One node whose pool is a 32 MiB tmpfs mounted at <state>/pool before `kstore up`."""
    state = tmp_path / "state"
    pool = state / "pool"
    pool.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "kstore-test-pool", str(pool)], check=True)
    try:
        with started(Cluster(state, nodes=1)) as c:
            yield c
    finally:
        if os.path.ismount(pool):
            subprocess.run(["umount", "-l", str(pool)], check=False)


def test_a_full_pool_fails_the_mount_with_a_clear_event_until_space_is_freed(small_pool_cluster: Cluster) -> None:
    cluster = small_pool_cluster
    ns = "kl-full"
    rbd_claim(cluster, ns)
    until("rbd-pvc Bound (a sparse image: no space taken yet)",
          lambda: ((get(cluster, "pvc", "rbd-pvc", ns) or {}).get("status") or {}).get("phase") == "Bound")
    filler = cluster.state_dir / "pool" / "filler"
    with open(filler, "wb", buffering=0) as f:  # fill the pool to the last block
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    apply(cluster, pod_manifest("starved", [{"name": "data", "persistentVolumeClaim": {"claimName": "rbd-pvc"}}],
                                [{"name": "data", "mountPath": "/data"}]), ns)
    try:
        failed = until("FailedMount", lambda: [m for t, r, m in events(cluster, ns, "starved")
                                               if (t, r) == ("Warning", "FailedMount")])
        assert failed[0].startswith('MountVolume.MountDevice failed for volume "'), failed[0]
        assert "no space left in the pool: the filesystem holding" in failed[0], failed[0]
        pod = get(cluster, "pod", "starved", ns) or {}
        assert pod["status"]["phase"] == "Pending"
        assert not [m for m in real_mounts(cluster) if m[2] == "ext4"]  # nothing half-mounted
        filler.unlink()
        pod = until("Running once there is space", lambda: running(p := get(cluster, "pod", "starved", ns)) and p,
                    timeout=150)
        data = container_path(cluster, pod, "app", "/data")
        (data / "written.txt").write_text("fits now")
        assert (data / "written.txt").read_text() == "fits now"
    finally:
        delete_pod(cluster, "starved", ns)
        cluster.kubectl("delete", "pvc", "rbd-pvc", "-n", ns, "--ignore-not-found", "--timeout=60s", timeout=90)
