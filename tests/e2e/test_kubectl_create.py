"""kubectl's typed generator commands against a real cluster: they POST protobuf bodies
(`application/vnd.kubernetes.protobuf`, decoded by `rest/protobuf.py`); each test reads the object
back with `kubectl get -o yaml` and checks what the command asked for, plus the server defaults."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests.e2e.cluster import Cluster

NS = "create-e2e"


@pytest.fixture(scope="module")
def ns(cluster: Cluster) -> str:
    r = cluster.kubectl("create", "namespace", NS, check=True)
    assert r.stdout.strip() == f"namespace/{NS} created"
    return NS


def get_yaml(cluster: Cluster, *args: str) -> Any:
    return yaml.safe_load(cluster.kubectl("get", *args, "-o", "yaml", check=True).stdout)


def test_create_namespace(cluster: Cluster, ns: str) -> None:
    obj = get_yaml(cluster, "namespace", ns)
    assert obj["kind"] == "Namespace" and obj["metadata"]["name"] == ns
    assert obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"]
    assert obj["status"]["phase"] == "Active"
    again = cluster.kubectl("create", "namespace", ns)
    assert again.returncode == 1
    assert f'namespaces "{ns}" already exists' in again.stderr


def test_create_configmap(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "configmap", "settings", "--from-literal=a=b",
                        "--from-literal=greeting=hello world", check=True)
    assert r.stdout.strip() == "configmap/settings created"
    obj = get_yaml(cluster, "-n", ns, "configmap", "settings")
    assert obj["data"] == {"a": "b", "greeting": "hello world"}
    assert obj["metadata"]["namespace"] == ns


def test_create_secret_generic(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "secret", "generic", "creds", "--from-literal=user=admin",
                        "--from-literal=password=p@ss w0rd", check=True)
    assert r.stdout.strip() == "secret/creds created"
    obj = get_yaml(cluster, "-n", ns, "secret", "creds")
    assert obj["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in obj["data"].items()} == {
        "user": "admin", "password": "p@ss w0rd"}


def test_create_serviceaccount(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "serviceaccount", "robot", check=True)
    assert r.stdout.strip() == "serviceaccount/robot created"
    obj = get_yaml(cluster, "-n", ns, "serviceaccount", "robot")
    assert obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == "robot"


def test_create_deployment(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2", check=True)
    assert r.stdout.strip() == "deployment.apps/web created"
    obj = get_yaml(cluster, "-n", ns, "deployment", "web")
    assert obj["metadata"]["labels"] == {"app": "web"}
    spec = obj["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    [container] = spec["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("nginx", "nginx")
    # Server defaults filled in as for a JSON body: the empty strings on the wire read as unset.
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert container["terminationMessagePolicy"] == "File"
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


def test_create_deployment_with_zero_replicas_a_port_and_a_command(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "deployment", "worker", "--image=busybox:1.36", "--replicas=0",
                    "--port=8080", "--", "sleep", "3600", check=True)
    spec = get_yaml(cluster, "-n", ns, "deployment", "worker")["spec"]
    assert spec["replicas"] == 0  # a pointer field: an explicit 0 is kept, not defaulted to 1
    [container] = spec["template"]["spec"]["containers"]
    assert container["command"] == ["sleep", "3600"]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_create_service_clusterip(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "service", "clusterip", "web", "--tcp=80:8080", check=True)
    assert r.stdout.strip() == "service/web created"
    obj = get_yaml(cluster, "-n", ns, "service", "web")
    spec = obj["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "web"}
    assert spec["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]


def test_create_with_server_dry_run_stores_nothing(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("-n", ns, "create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o",
                        "yaml", check=True)
    assert yaml.safe_load(r.stdout)["data"] == {"a": "b"}
    missing = cluster.kubectl("-n", ns, "get", "configmap", "dry")
    assert missing.returncode == 1 and "NotFound" in missing.stderr
