"""Inputs the tests share: where ../shared/manifests lives, and the seed tutorial's pod whose
`volumes:` sits inside the container by mistake (an unknown field there, so the pod has no
volumes and its mount names nothing)."""

from __future__ import annotations

from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[1].parent / "shared" / "manifests"

SEED_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: pv-pod
spec:
  containers:
  - name: pv-container
    image: nginx
    ports:
      - containerPort: 80
        name: "http-server"
    volumeMounts:
      - mountPath: "/usr/share/nginx/html"
        name: pv-storage
    volumes:
      - name: pv-storage
        persistentVolumeClaim:
          claimName: pv-claim
"""
