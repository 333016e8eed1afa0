"""configMap, secret, downwardAPI and projected volumes (Kubernetes' `pkg/volume/configmap`,
`secret`, `downwardapi`, `projected`, read for behaviour).

Design:
- Each volume is a directory in the pod's volume dir (`kubernetes.io~configmap/<name>`, ...)
  filled by the AtomicWriter (`..data` symlink + timestamped dir). Secret, downwardAPI and
  projected volumes sit on a tmpfs (Kubernetes wraps them in a Memory emptyDir); a configMap
  on the node's disk. The simulated mounter records the tmpfs.
- Objects come through the host's `ObjectGetter`. The payload is built before anything is
  made, so a missing object fails cleanly: `configmap "x" not found` / `secret "x" not found`
  (the kubelet turns it into FailedMount and the pod stays Pending), unless the source is
  `optional`, which gives an empty volume. A missing key named in `items` fails the same way
  (Kubernetes' `configmap references non-existent config key: k`) unless optional.
- `items` (key → path, mode), `defaultMode` (default 0644) and per-item `mode` as Kubernetes.
- downwardAPI: metadata.name / namespace / uid / labels / annotations (Kubernetes' `k="v"`
  lines, sorted) and `['key']` forms, spec.nodeName, spec.serviceAccountName, status.hostIP,
  status.podIP; resourceFieldRef limits / requests of a container, divided by `divisor`
  (rounded up, as Kubernetes), a missing limit falling back to the node's allocatable.
- projected: secret, configMap, downwardAPI, serviceAccountToken (an unsigned token naming the
  service account: kstore issues no real tokens) and clusterTrustBundle (by name) sources.
- `requires_remount`: True; set_up is re-run to refresh contents, and writes only on change.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kstore.api.quantity import QuantityError, parse_quantity
from kstore.volume.mount import INVALID, NOT_FOUND, MountError
from kstore.volume.plugins.atomic_writer import AtomicWriter, FileProjection
from kstore.volume.plugins.base import Obj, Spec, VolumeMounter, VolumePlugin, VolumeUnmounter, pod_uid
from kstore.volume.plugins.common import remove_tree

DEFAULT_MODE = 0o644
Payload = dict[str, FileProjection]


def _mode(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return value
    return default


def _decode(kind: str, name: str, key: str, value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as e:
        raise MountError(INVALID, f"{kind} {name!r}: key {key!r} is not valid base64") from e


def configmap_data(cm: Obj) -> dict[str, bytes]:
    data = {str(k): str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for key, value in (cm.get("binaryData") or {}).items():
        data[str(key)] = _decode("configmap", (cm.get("metadata") or {}).get("name", ""), key, value)
    return data


def secret_data(secret: Obj) -> dict[str, bytes]:
    name = (secret.get("metadata") or {}).get("name", "")
    data = {str(k): _decode("secret", name, k, v) for k, v in (secret.get("data") or {}).items()}
    for key, value in (secret.get("stringData") or {}).items():
        data[str(key)] = str(value).encode()
    return data


def key_payload(data: Mapping[str, bytes], items: Any, default_mode: int, optional: bool, missing_key: str) -> Payload:
    """Kubernetes' MakePayload: every key, or the listed items (key → path, mode)."""
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    payload: Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise MountError(NOT_FOUND, f"{missing_key}: {key}")
        payload[str(item.get("path") or key)] = FileProjection(data[key], _mode(item.get("mode"), default_mode))
    return payload


def _format_map(m: Mapping[str, Any]) -> str:
    return "\n".join(f"{k}={json.dumps(str(m[k]), ensure_ascii=False)}" for k in sorted(m))


def _subscript(path: str, prefix: str) -> str | None:
    if path.startswith(prefix + "['") and path.endswith("']"):
        return path[len(prefix) + 2:-2]
    return None


def field_value(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.podIPs": ",".join(str(i.get("ip", "")) for i in status.get("podIPs") or []),
        "status.hostIPs": ",".join(str(i.get("ip", "")) for i in status.get("hostIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    if path == "metadata.labels":
        return _format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    for prefix, field in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        key = _subscript(path, prefix)
        if key is not None:
            return str((meta.get(field) or {}).get(key, ""))
    raise MountError(INVALID, f"unsupported fieldPath: {path}")


class DownwardAPI:
    """Values of a downwardAPI item for one pod (resourceFieldRef needs the node's allocatable)."""

    def __init__(self, plugin: VolumePlugin, pod: Obj) -> None:
        self.plugin = plugin
        self.pod = pod

    def resource_value(self, ref: Obj, volume: str) -> str:
        container_name = ref.get("containerName")
        resource = str(ref.get("resource") or "")
        containers = (self.pod.get("spec") or {}).get("containers") or []
        container = next((c for c in containers if c.get("name") == container_name), None)
        if container is None:
            raise MountError(INVALID, f"downwardAPI volume {volume}: container {container_name!r} not found in the pod")
        kind, _, name = resource.partition(".")
        if kind not in ("limits", "requests") or not name:
            raise MountError(INVALID, f"downwardAPI volume {volume}: unsupported resource {resource!r}")
        resources = container.get("resources") or {}
        value = (resources.get(kind) or {}).get(name)
        if value is None and kind == "requests":
            value = (resources.get("limits") or {}).get(name)
        if value is None:
            value = self._allocatable(name)
        try:
            amount = parse_quantity(value) if value is not None else Fraction(0)
            divisor = parse_quantity(ref.get("divisor") or "1")
        except QuantityError as e:
            raise MountError(INVALID, f"downwardAPI volume {volume}: {e}") from e
        if divisor <= 0:
            raise MountError(INVALID, f"downwardAPI volume {volume}: divisor must be positive")
        return str(math.ceil(amount / divisor))

    def _allocatable(self, name: str) -> Any:
        objects = self.plugin.host.objects
        node_name = (self.pod.get("spec") or {}).get("nodeName") or self.plugin.host.node
        if objects is None or not node_name:
            return None
        node = objects.get("Node", "", str(node_name)) or {}
        status = node.get("status") or {}
        return (status.get("allocatable") or status.get("capacity") or {}).get(name)

    def payload(self, items: Any, default_mode: int, volume: str) -> Payload:
        payload: Payload = {}
        for item in items or []:
            path = str(item.get("path") or "")
            if isinstance(item.get("fieldRef"), Mapping):
                value = field_value(self.pod, str(item["fieldRef"].get("fieldPath") or ""))
            elif isinstance(item.get("resourceFieldRef"), Mapping):
                value = self.resource_value(item["resourceFieldRef"], volume)
            else:
                raise MountError(INVALID, f"downwardAPI volume {volume}: item {path!r} has no fieldRef or "
                                          "resourceFieldRef")
            payload[path] = FileProjection(value.encode(), _mode(item.get("mode"), default_mode))
        return payload


def _unsigned_token(pod: Obj, audience: str | None, expiration: Any) -> bytes:
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"

    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()).decode().rstrip("=")

    claims = {"aud": [audience or "https://kubernetes.default.svc"], "iss": "https://kubernetes.default.svc",
              "sub": f"system:serviceaccount:{namespace}:{account}",
              "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": account},
                                "pod": {"name": meta.get("name"), "uid": meta.get("uid")}},
              "kstore.io/expirationSeconds": expiration or 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.".encode()


class _ProjectionPlugin(VolumePlugin):
    """What the four share: a payload built from API objects, written by the AtomicWriter."""

    source_key = ""
    tmpfs = True

    def can_support(self, spec: Spec) -> bool:
        return spec.volume is not None and spec.source_of(self.source_key) is not None

    def requires_remount(self, spec: Spec) -> bool:
        return True

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        if self.host.objects is None:
            raise MountError(INVALID, f"cannot read {kind} {namespace}/{name}: this volume host has no API access")
        return self.host.objects.get(kind, namespace, name)

    def build(self, spec: Spec, pod: Obj) -> Payload:
        raise NotImplementedError

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        return _Mounter(self, spec, pod)

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return _Unmounter(self, volume_name, pod_uid)

    # sources shared by the plain plugins and projected

    def configmap_payload(self, source: Obj, namespace: str, default_mode: int) -> Payload:
        name = str(source.get("name") or "")
        optional = bool(source.get("optional"))
        cm = self.get("ConfigMap", namespace, name)
        if cm is None:
            if optional:
                return {}
            raise MountError(NOT_FOUND, f'configmap "{name}" not found')
        return key_payload(configmap_data(cm), source.get("items"), default_mode, optional,
                           "configmap references non-existent config key")

    def secret_payload(self, source: Obj, namespace: str, default_mode: int, name_key: str = "name") -> Payload:
        name = str(source.get(name_key) or "")
        optional = bool(source.get("optional"))
        secret = self.get("Secret", namespace, name)
        if secret is None:
            if optional:
                return {}
            raise MountError(NOT_FOUND, f'secret "{name}" not found')
        return key_payload(secret_data(secret), source.get("items"), default_mode, optional,
                           "references non-existent secret key")


def _namespace(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("namespace") or "default")


class ConfigMapPlugin(_ProjectionPlugin):
    name = "kubernetes.io/configmap"
    source_key = "configMap"
    tmpfs = False

    def build(self, spec: Spec, pod: Obj) -> Payload:
        source = spec.source_of(self.source_key) or {}
        return self.configmap_payload(source, _namespace(pod), _mode(source.get("defaultMode"), DEFAULT_MODE))


class SecretPlugin(_ProjectionPlugin):
    name = "kubernetes.io/secret"
    source_key = "secret"

    def build(self, spec: Spec, pod: Obj) -> Payload:
        source = spec.source_of(self.source_key) or {}
        return self.secret_payload(source, _namespace(pod), _mode(source.get("defaultMode"), DEFAULT_MODE),
                                   name_key="secretName")


class DownwardAPIPlugin(_ProjectionPlugin):
    name = "kubernetes.io/downward-api"
    source_key = "downwardAPI"

    def build(self, spec: Spec, pod: Obj) -> Payload:
        source = spec.source_of(self.source_key) or {}
        return DownwardAPI(self, pod).payload(source.get("items"), _mode(source.get("defaultMode"), DEFAULT_MODE),
                                              spec.name)


class ProjectedPlugin(_ProjectionPlugin):
    name = "kubernetes.io/projected"
    source_key = "projected"

    def build(self, spec: Spec, pod: Obj) -> Payload:
        source = spec.source_of(self.source_key) or {}
        default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
        namespace = _namespace(pod)
        payload: Payload = {}
        for projection in source.get("sources") or []:
            if isinstance(projection.get("secret"), Mapping):
                payload.update(self.secret_payload(projection["secret"], namespace, default_mode))
            elif isinstance(projection.get("configMap"), Mapping):
                payload.update(self.configmap_payload(projection["configMap"], namespace, default_mode))
            elif isinstance(projection.get("downwardAPI"), Mapping):
                payload.update(DownwardAPI(self, pod).payload(projection["downwardAPI"].get("items"), default_mode,
                                                              spec.name))
            elif isinstance(projection.get("serviceAccountToken"), Mapping):
                token = projection["serviceAccountToken"]
                payload[str(token.get("path") or "token")] = FileProjection(
                    _unsigned_token(pod, token.get("audience"), token.get("expirationSeconds")), default_mode)
            elif isinstance(projection.get("clusterTrustBundle"), Mapping):
                payload.update(self._trust_bundle(projection["clusterTrustBundle"], default_mode))
        return payload

    def _trust_bundle(self, source: Obj, default_mode: int) -> Payload:
        name = source.get("name")
        optional = bool(source.get("optional"))
        bundle = self.get("ClusterTrustBundle", "", str(name)) if name else None
        if bundle is None:
            if optional:
                return {}
            raise MountError(NOT_FOUND, f'clustertrustbundle "{name or source.get("signerName", "")}" not found')
        data = str((bundle.get("spec") or {}).get("trustBundle") or "").encode()
        return {str(source.get("path") or "ca.crt"): FileProjection(data, default_mode)}


class _Mounter(VolumeMounter):
    def __init__(self, plugin: _ProjectionPlugin, spec: Spec, pod: Obj) -> None:
        self.plugin = plugin
        self.spec = spec
        self.pod = pod
        self.path = plugin.host.pod_volume_dir(pod_uid(pod), plugin.name, spec.name)
        self.read_only = True

    def set_up(self, *, fs_group: int | None = None) -> None:
        mounter = self.plugin.host.mounter
        with self.plugin.timer("volume_mount", self.spec):
            payload = self.plugin.build(self.spec, self.pod)  # fails before anything is made
            if self.plugin.tmpfs:
                if not mounter.is_mount_point(self.path):
                    mounter.mount_tmpfs(self.path, mode=0o755)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
            AtomicWriter(self.path).write(payload)


class _Unmounter(VolumeUnmounter):
    def __init__(self, plugin: _ProjectionPlugin, volume_name: str, pod_uid: str) -> None:
        self.plugin = plugin
        self.path = plugin.host.pod_volume_dir(pod_uid, plugin.name, volume_name)

    def tear_down(self) -> None:
        with self.plugin.timer("volume_unmount"):
            remove_tree(self.plugin.host.mounter, self.plugin.host, self.path)
