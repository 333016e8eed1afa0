"""Protobuf request bodies (`rest/protobuf.py`): the bodies kubectl's typed generators send
(`kubectl create namespace|configmap|secret|serviceaccount|deployment|service`), decoded into the
JSON objects Go's encoding/json would write for the same Go structs.

The bodies are built with a tiny encoder below, in the go-to-protobuf style (every non-pointer
field written, zero or not), plus the exact bytes kubectl 1.32.4 sent, captured with `-v=9`."""

from __future__ import annotations

import base64
import json
import logging
import random
from typing import Any

import pytest

from kstore.api import schema
from kstore.api.errors import ApiError
from kstore.apistore.rest import bodies, protobuf

# ---- a test-only protobuf encoder


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative ints are sign-extended to 64 bits, as Go writes them
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def num(field: int, n: int) -> bytes:
    """A varint field (int32, int64, bool, enum)."""
    return varint(field << 3) + varint(n)


def ld(field: int, data: bytes | str) -> bytes:
    """A length-delimited field: string, bytes, or an embedded message."""
    data = data.encode() if isinstance(data, str) else data
    return varint(field << 3 | 2) + varint(len(data)) + data


def m(field: int, *parts: bytes) -> bytes:
    return ld(field, b"".join(parts))


def entry(field: int, key: str, value: bytes | str) -> bytes:
    """One map entry {key=1, value=2}, value a string/bytes (or an encoded message via bytes)."""
    return m(field, ld(1, key), ld(2, value))


def fixed32(field: int, n: int) -> bytes:
    return varint(field << 3 | 5) + n.to_bytes(4, "little")


def fixed64(field: int, n: int) -> bytes:
    return varint(field << 3 | 1) + n.to_bytes(8, "little")


def envelope(api_version: str, kind: str, raw: bytes, *, encoding: str = "", content_type: str = "") -> bytes:
    return protobuf.MAGIC + m(1, ld(1, api_version), ld(2, kind)) + ld(2, raw) + ld(3, encoding) + ld(4, content_type)


def quantity(field: int, text: str) -> bytes:
    return m(field, ld(1, text))


def int_or_string(field: int, value: int | str) -> bytes:
    if isinstance(value, int):
        return m(field, num(1, 0), num(2, value), ld(3, ""))
    return m(field, num(1, 1), num(2, 0), ld(3, value))


def time(field: int, seconds: int, nanos: int = 0) -> bytes:
    return m(field, num(1, seconds), num(2, nanos))


def meta(*extra: bytes, name: str = "x", namespace: str = "") -> bytes:
    """ObjectMeta as go-to-protobuf writes it: every non-pointer field, empty or not."""
    return m(1, ld(1, name), ld(2, ""), ld(3, namespace), ld(4, ""), ld(5, ""), ld(6, ""), num(7, 0),
             m(8), *extra)


# ---- per-type cases: (name, body, expected object)

CONTAINER = b"".join([
    ld(1, "app"), ld(2, "nginx:1.27"), ld(3, "sh"), ld(3, "-c"), ld(4, "sleep 1"), ld(5, ""),
    m(6, ld(1, "http"), num(2, 0), num(3, 8080), ld(4, "TCP"), ld(5, "")),
    m(7, ld(1, "A"), ld(2, "1")),
    m(7, ld(1, "B"), ld(2, ""), m(3, m(3, m(1, ld(1, "cfg")), ld(2, "k"), num(3, 0)))),
    m(7, ld(1, "C"), ld(2, ""), m(3, m(1, ld(1, "v1"), ld(2, "metadata.name")))),
    m(19, ld(1, "P_"), m(3, m(1, ld(1, "sec")))),
    m(8, entry(1, "cpu", ld(1, "500m")), entry(2, "memory", ld(1, "64Mi")), entry(2, "cpu", ld(1, "250m"))),
    m(9, ld(1, "data"), num(2, 1), ld(3, "/data"), ld(4, ""), ld(6, "")),
    m(10, m(1, m(2, ld(1, "/healthz"), int_or_string(2, "http"), ld(3, ""), ld(4, "HTTP"))),
      num(2, 5), num(3, 1), num(4, 10), num(5, 1), num(6, 3)),
    ld(13, "/dev/termination-log"), ld(20, "File"), ld(14, "IfNotPresent"),
    m(15, num(2, 0), num(4, 1000), num(5, 1)),
    num(16, 0), num(17, 0), num(18, 0),
])
CONTAINER_JSON = {
    "name": "app", "image": "nginx:1.27", "command": ["sh", "-c"], "args": ["sleep 1"],
    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
    "env": [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": False}}},
        {"name": "C", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
    ],
    "envFrom": [{"prefix": "P_", "secretRef": {"name": "sec"}}],
    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi", "cpu": "250m"}},
    "volumeMounts": [{"name": "data", "readOnly": True, "mountPath": "/data"}],
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "initialDelaySeconds": 5,
                      "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    "imagePullPolicy": "IfNotPresent",
    "securityContext": {"privileged": False, "runAsUser": 1000, "runAsNonRoot": True},
}

CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    ("Namespace", envelope("v1", "Namespace", meta(name="team-a") + m(2, ld(1, "kubernetes")) + m(3, ld(1, ""))),
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]},
      "status": {}}),
    ("ObjectMeta, every field", envelope("v1", "ConfigMap", m(
        1, ld(1, "cm"), ld(2, "cm-"), ld(3, "ns"), ld(4, ""), ld(5, "u-1"), ld(6, "42"), num(7, 3),
        time(8, 1_700_000_000, 123_456_789), time(9, 1_700_000_030), num(10, 0),
        entry(11, "app", "web"), entry(11, "tier", "fe"), entry(12, "note", "a: b"),
        m(13, ld(1, "Deployment"), ld(3, "web"), ld(4, "u-0"), ld(5, "apps/v1"), num(6, 1), num(7, 0)),
        ld(14, "example.com/a"), ld(14, "example.com/b"),
        m(17, ld(1, "kubectl"), ld(2, "Update"), ld(3, "v1"), time(4, 0, 0), ld(6, "FieldsV1"),
          m(7, ld(1, '{"f:data":{".":{}}}')), ld(8, "")),
    )), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "cm", "generateName": "cm-", "namespace": "ns", "uid": "u-1", "resourceVersion": "42",
        "generation": 3, "creationTimestamp": "2023-11-14T22:13:20Z", "deletionTimestamp": "2023-11-14T22:13:50Z",
        "deletionGracePeriodSeconds": 0, "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "a: b"},
        "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "u-0", "apiVersion": "apps/v1",
                             "controller": True, "blockOwnerDeletion": False}],
        "finalizers": ["example.com/a", "example.com/b"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "1970-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {".": {}}}}],
    }}),
    ("ConfigMap", envelope("v1", "ConfigMap", meta(name="cfg") + num(4, 0) + entry(2, "a", "b") + entry(2, "e", "")
                           + entry(3, "bin", b"\x00\xff")),
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "immutable": False,
      "data": {"a": "b", "e": ""}, "binaryData": {"bin": "AP8="}}),
    ("Secret", envelope("v1", "Secret", meta(name="s") + entry(2, "pw", b"p@ss\x00\xfe") + entry(4, "plain", "t")
                        + ld(3, "Opaque") + num(5, 1)),
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
      "data": {"pw": base64.b64encode(b"p@ss\x00\xfe").decode()}, "stringData": {"plain": "t"}, "type": "Opaque",
      "immutable": True}),
    ("ServiceAccount", envelope("v1", "ServiceAccount", meta(name="robot") + m(2, ld(1, "Secret"), ld(3, "tok"))
                                + m(3, ld(1, "pull")) + num(4, 0)),
     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"},
      "secrets": [{"kind": "Secret", "name": "tok"}], "imagePullSecrets": [{"name": "pull"}],
      "automountServiceAccountToken": False}),
    ("Service", envelope("v1", "Service", meta(name="svc") + m(
        2,
        m(1, ld(1, "web"), ld(2, "TCP"), num(3, 80), int_or_string(4, 8080), num(5, 0)),
        m(1, ld(1, "alt"), ld(2, "UDP"), ld(6, "dns"), num(3, 53), int_or_string(4, "dns"), num(5, 30053)),
        m(1, ld(1, "same"), ld(2, "TCP"), num(3, 81), int_or_string(4, 0), num(5, 0)),
        entry(2, "app", "web"), ld(3, "None"), ld(4, "ClusterIP"), ld(7, "ClientIP"), ld(10, ""), ld(11, ""),
        num(12, 0), num(13, 1), m(14, m(1, num(1, 600))), ld(19, "IPv4"), ld(17, "SingleStack"),
    ) + m(3, m(1))),
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {
         "ports": [{"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080},
                   {"name": "alt", "protocol": "UDP", "appProtocol": "dns", "port": 53, "targetPort": "dns",
                    "nodePort": 30053},
                   {"name": "same", "protocol": "TCP", "port": 81}],
         "selector": {"app": "web"}, "clusterIP": "None", "type": "ClusterIP", "sessionAffinity": "ClientIP",
         "publishNotReadyAddresses": True, "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
         "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
      "status": {"loadBalancer": {}}}),
    ("Deployment", envelope("apps/v1", "Deployment", meta(name="web", namespace="prod") + m(
        2,
        num(1, 0),
        m(2, entry(1, "app", "web"), m(2, ld(1, "tier"), ld(2, "In"), ld(3, "fe"), ld(3, "be"))),
        m(3, meta(entry(11, "app", "web"), name=""), m(
            2,
            m(1, ld(1, "cfg"), m(2, m(19, m(1, ld(1, "settings")), m(2, ld(1, "k"), ld(2, "k.txt")), num(3, 0o644)))),
            m(1, ld(1, "data"), m(2, m(10, ld(1, "claim"), num(2, 0)))),
            m(1, ld(1, "scratch"), m(2, m(2, ld(1, ""), quantity(2, "1Gi")))),
            m(2, CONTAINER),
            ld(3, "Always"), num(4, 30), ld(6, "ClusterFirst"), entry(7, "disk", "ssd"), ld(8, "robot"),
            num(11, 0), m(14, num(5, 2000), num(4, 10), num(4, 11)), m(15, ld(1, "pull")),
            m(22, ld(1, "k"), ld(2, "Exists"), ld(3, ""), ld(4, "NoExecute"), num(5, 300)),
            ld(19, "default-scheduler"), num(30, 0),
        )),
        m(4, ld(1, "RollingUpdate"), m(2, int_or_string(1, 0), int_or_string(2, "25%"))),
        num(5, 0), num(6, 10), num(7, 0), num(9, 600),
    ) + m(3, num(1, 0), num(2, 0), num(3, 0), num(4, 0), num(5, 0), num(7, 0))),
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}, "spec": {
         "replicas": 0,
         "selector": {"matchLabels": {"app": "web"},
                      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]},
         "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
             "volumes": [
                 {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "k", "path": "k.txt"}],
                                               "defaultMode": 420}},
                 {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
                 {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
             ],
             "containers": [CONTAINER_JSON],
             "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
             "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "robot",
             "securityContext": {"fsGroup": 2000, "supplementalGroups": [10, 11]},
             "imagePullSecrets": [{"name": "pull"}],
             "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
             "schedulerName": "default-scheduler", "enableServiceLinks": False,
         }},
         "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
         "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
     }, "status": {}}),
    ("Pod", envelope("v1", "Pod", meta(name="p") + m(2, m(2, ld(1, "c"), ld(2, "busybox")), ld(3, "Never"))
                     + m(3, ld(1, "Pending"))),
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"},
      "status": {"phase": "Pending"}}),
    ("PersistentVolumeClaim", envelope("v1", "PersistentVolumeClaim", meta(name="c") + m(
        2, ld(1, "ReadWriteOnce"), m(2, entry(2, "storage", ld(1, "1Gi"))), ld(3, ""), ld(5, "fast"))
        + m(3, ld(1, ""))),
     {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
               "storageClassName": "fast"}, "status": {}}),
    ("DeleteOptions", envelope("meta.k8s.io/v1", "DeleteOptions", num(1, 0) + m(2, ld(1, "u-1"))
                               + ld(4, "Foreground") + ld(5, "All")),
     {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
      "preconditions": {"uid": "u-1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]}),
    ("negative and large integers", envelope("v1", "Pod", meta(name="p") + m(
        2, num(4, -1), num(5, 2**62), m(14, num(2, -5)), num(25, -2_000_000_000))),
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"terminationGracePeriodSeconds": -1, "activeDeadlineSeconds": 2**62,
               "securityContext": {"runAsUser": -5}, "priority": -2_000_000_000}}),
    ("packed repeated ints", envelope("v1", "Pod", meta(name="p") + m(2, m(14, ld(4, varint(1) + varint(300))))),
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"securityContext": {"supplementalGroups": [1, 300]}}}),
    ("unknown fields at every level are skipped", envelope("v1", "Namespace", meta(
        num(99, 7), fixed32(98, 1), fixed64(97, 2), ld(96, "x"), name="n") + m(2, ld(50, "?")) + num(60, 1)),
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}, "spec": {}}),
    ("the last of a repeated singular field wins", envelope("v1", "Namespace", meta(name="a") + meta(name="b")),
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_decode(case: tuple[str, bytes, dict[str, Any]]) -> None:
    _, body, expected = case
    assert protobuf.decode(body) == expected


def test_decode_body_dispatches_on_the_media_type() -> None:
    body = envelope("v1", "ServiceAccount", meta(name="robot"))
    expected = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}
    assert bodies.decode_body(body, "application/vnd.kubernetes.protobuf") == expected
    assert bodies.decode_body(body, "Application/Vnd.Kubernetes.Protobuf; charset=binary") == expected


def test_unknown_fields_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=protobuf.__name__):
        protobuf.decode(envelope("v1", "Namespace", meta(num(99, 7), name="n")))
    assert "skipping unknown field 99 (wire type 0) of ObjectMeta" in caplog.text


def test_leaves() -> None:
    assert protobuf.LEAVES["MicroTime"](num(1, 1_700_000_000) + num(2, 123_456_789)) == "2023-11-14T22:13:20.123456Z"
    assert protobuf.LEAVES["Time"](b"") is None
    assert protobuf.LEAVES["Time"](num(1, -86400)) == "1969-12-31T00:00:00Z"
    assert protobuf.LEAVES["Time"](num(1, -62135596800)) == "0001-01-01T00:00:00Z"
    assert protobuf.LEAVES["IntOrString"](b"") == 0
    assert protobuf.LEAVES["Quantity"](ld(1, "1.5Gi")) == "1.5Gi"
    assert protobuf.LEAVES["FieldsV1"](b"") == {}


# ---- the exact bytes kubectl 1.32.4 sent (`kubectl -v=9 create ...`), and what they decode to:
# the same JSON `kubectl create ... --dry-run=client -o json` prints, less `creationTimestamp: null`.

KUBECTL = [
    ("create namespace pt1",
     "6b3873000a0f0a02763112094e616d657370616365121b0a130a0370743112001a0022002a0032003800420012001a020a001a002200",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pt1"}, "spec": {}, "status": {}}),
    ("create configmap cm1 --from-literal=a=b --from-literal=c=d",
     "6b3873000a0f0a0276311209436f6e6669674d617012250a130a03636d3112001a0022002a0032003800420012060a01611201621206"
     "0a01631201641a002200",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"a": "b", "c": "d"}}),
    ("create secret generic s1 --from-literal=user=admin --from-literal=pw='p@ss w0rd'",
     "6b3873000a0c0a027631120653656372657412360a120a02733112001a0022002a00320038004200120f0a0270771209704073732077"
     "307264120d0a0475736572120561646d696e1a001a002200",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
      "data": {"pw": "cEBzcyB3MHJk", "user": "YWRtaW4="}}),
    ("create serviceaccount sa1",
     "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042001a002200",
     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}}),
    ("create deployment web --image=nginx --replicas=2",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ab010a1f0a0377656212001a0022002a003200380042005a0a0a"
     "036170701203776562127a0802120c0a0a0a0361707012037765621a600a1c0a0012001a0022002a003200380042005a0a0a03617070"
     "1203776562124012220a056e67696e7812056e67696e782a0042006a007200800100880100900100a201001a00320042004a00520058"
     "00600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
               "strategy": {}},
      "status": {}}),
    ("create deployment web2 --image=nginx:1.27 --replicas=3 --port=8080 -- sleep 10",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412cd010a210a047765623212001a0022002a003200380042005a0b"
     "0a036170701204776562321299010803120d0a0b0a036170701204776562321a7e0a1d0a0012001a0022002a003200380042005a0b0a"
     "03617070120477656232125d123f0a056e67696e78120a6e67696e783a312e32371a05736c6565701a0231302a00320b0a0010001890"
     "3f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c20100220"
     "20a00280038001a0c0800100018002000280038001a002200",
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web2", "labels": {"app": "web2"}},
      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web2"}},
               "template": {"metadata": {"labels": {"app": "web2"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "command": ["sleep", "10"],
                                                     "ports": [{"containerPort": 8080}], "resources": {}}]}},
               "strategy": {}},
      "status": {}}),
    ("create service clusterip svc1 --tcp=80:8080 --tcp=443:8443",
     "6b3873000a0d0a027631120753657276696365128b010a210a047376633112001a0022002a003200380042005a0b0a03617070120473"
     "76633112620a1b0a0738302d38303830120354435018502207080010903f1a0028000a1d0a083434332d38343433120354435018bb03"
     "2207080010fb411a002800120b0a036170701204737663311a002209436c757374657249503a00420052005a00600068001a020a001a"
     "002200",
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc1", "labels": {"app": "svc1"}},
      "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                         {"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443}],
               "selector": {"app": "svc1"}, "type": "ClusterIP"},
      "status": {"loadBalancer": {}}}),
    ("create service nodeport svc2 --tcp=80:80 --node-port=30080",
     "6b3873000a0d0a027631120753657276696365126a0a210a047376633212001a0022002a003200380042005a0b0a0361707012047376"
     "633212410a1a0a0538302d3830120354435018502206080010501a002880eb01120b0a036170701204737663321a0022084e6f646550"
     "6f72743a00420052005a00600068001a020a001a002200",
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc2", "labels": {"app": "svc2"}},
      "spec": {"ports": [{"name": "80-80", "protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 30080}],
               "selector": {"app": "svc2"}, "type": "NodePort"},
      "status": {"loadBalancer": {}}}),
]


@pytest.mark.parametrize("case", KUBECTL, ids=[c[0] for c in KUBECTL])
def test_kubectl_bodies(case: tuple[str, str, dict[str, Any]]) -> None:
    _, hexbody, expected = case
    obj = protobuf.decode(bytes.fromhex(hexbody))
    assert obj == expected
    # What the REST layer does next: strict field validation finds nothing unknown.
    assert schema.unknown_fields(obj["kind"], obj) == []


# ---- malformed bodies: 400 BadRequest with a clear message; kinds without a table: 415

NS = meta(name="n")
MALFORMED = [
    ("JSON sent as protobuf", b'{"kind": "Namespace"}', "does not appear to be a protobuf message"),
    ("the magic bytes alone", protobuf.MAGIC, "Object 'Kind' is missing"),
    ("no kind in typeMeta", protobuf.MAGIC + m(1, ld(1, "v1")) + ld(2, NS), "Object 'Kind' is missing"),
    ("truncated key", protobuf.MAGIC + b"\x80", "truncated varint"),
    ("truncated length", protobuf.MAGIC + b"\x0a", "truncated varint"),
    ("length past the end", protobuf.MAGIC + b"\x0a\x05ab", "field 1 claims 5 bytes, 2 left"),
    ("varint over 10 bytes", protobuf.MAGIC + b"\x08" + b"\xff" * 11, "varint longer than 10 bytes"),
    ("a group (wire type 3)", protobuf.MAGIC + b"\x0b", "unsupported wire type 3"),
    ("field number 0", protobuf.MAGIC + b"\x02\x00", "field number 0"),
    ("truncated fixed32", protobuf.MAGIC + b"\x0d\x01\x02", "truncated fixed32"),
    ("typeMeta as a varint", protobuf.MAGIC + num(1, 5), "Unknown.typeMeta: expected a length-delimited value"),
    ("truncated object", envelope("v1", "Namespace", NS[:-3]), "error decoding protobuf body: Namespace:"),
    ("name as a varint", envelope("v1", "Namespace", m(1, num(1, 7))),
     "ObjectMeta.name: expected a length-delimited value, got wire type 0"),
    ("replicas as a string", envelope("apps/v1", "Deployment", NS + m(2, ld(1, "2"))),
     "DeploymentSpec.replicas: expected a varint, got wire type 2"),
    ("invalid UTF-8 in a name", envelope("v1", "Namespace", m(1, ld(1, b"\xff\xfe"))), "invalid UTF-8"),
    ("invalid UTF-8 in a map key", envelope("v1", "ConfigMap", NS + m(2, ld(1, b"\xc3"), ld(2, "v"))),
     "invalid UTF-8"),
    ("a time out of range", envelope("v1", "Namespace", m(1, time(8, 2**62))), "time out of range"),
    ("FieldsV1 that is not JSON", envelope("v1", "Namespace", m(1, m(17, m(7, ld(1, "{nope"))))),
     "FieldsV1 does not hold JSON"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed(case: tuple[str, bytes, str]) -> None:
    _, body, fragment = case
    with pytest.raises(ApiError) as info:
        bodies.decode_body(body, protobuf.MEDIA_TYPE)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    assert fragment in info.value.message, info.value.message


def test_empty_body_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as info:
        bodies.decode_body(b"", protobuf.MEDIA_TYPE)
    assert info.value.code == 400


def test_a_kind_without_a_table_is_415_with_advice() -> None:
    with pytest.raises(ApiError) as info:
        bodies.decode_body(envelope("batch/v1", "Job", NS), protobuf.MEDIA_TYPE)
    e = info.value
    assert (e.code, e.reason) == (415, "UnsupportedMediaType")
    assert "kind Job (batch/v1)" in e.message
    assert "kubectl create -f" in e.message and "kubectl apply -f" in e.message


def test_an_encoded_payload_is_415() -> None:
    with pytest.raises(ApiError) as info:
        protobuf.decode(envelope("v1", "Namespace", NS, encoding="gzip"))
    assert info.value.code == 415 and "gzip" in info.value.message
    with pytest.raises(ApiError) as info:
        protobuf.decode(envelope("v1", "Namespace", b"{}", content_type="application/json"))
    assert info.value.code == 415


def test_random_garbage_never_crashes() -> None:
    """Every mutation of a real body either decodes or is an ApiError: never another exception."""
    rng = random.Random(1234)
    seeds = [bytes.fromhex(hexbody) for _, hexbody, _ in KUBECTL] + [body for _, body, _ in CASES]
    for _ in range(3000):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(protobuf.MAGIC), len(body))
            op = rng.random()
            if op < 0.5:
                body[pos] = rng.randrange(256)
            elif op < 0.8:
                del body[pos:pos + rng.randint(1, 8)]
            else:
                body[pos:pos] = rng.randbytes(rng.randint(1, 8))
        try:
            obj = protobuf.decode(bytes(body))
        except ApiError as e:
            assert e.code in (400, 415)
        else:
            json.dumps(obj)  # JSON-shaped: no bytes left in it


# ---- the tables themselves


def test_every_decoded_json_name_is_a_field_of_the_kstore_schema() -> None:
    """A table named like a schema type may only produce that type's JSON fields (catches typos)."""
    for name, fields in protobuf.MESSAGES.items():
        typ = schema.TYPES.get(name)
        if typ is None:
            continue
        for number, field in fields.items():
            names = [field.json] if field.shape != "inline" else [
                inner.json for inner in protobuf.MESSAGES[field.type].values()]
            for json_name in names:
                assert json_name in typ.fields, f"{name} field {number}: {json_name!r} is not in the schema"


def test_every_kind_has_a_table_and_a_schema() -> None:
    for kind in protobuf.KINDS:
        assert kind in protobuf.MESSAGES
        if kind != "DeleteOptions":
            assert schema.kind_type(kind).gvk is not None
