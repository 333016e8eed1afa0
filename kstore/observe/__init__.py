"""Observability shared by every kstore process.

`kstore.observe.metrics` defines every metric object that more than one component uses,
with Kubernetes' names, types and labels where Kubernetes has one (DESIGN §6), on
prometheus_client's default REGISTRY. Each kstore process is its own OS process, so the
default registry is that process's `/metrics`.
"""
