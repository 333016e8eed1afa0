"""A hand-written structural schema of every kind the store serves, after k8s.io/api.

Design:
- One module per API group and concept: `meta` (ObjectMeta, LabelSelector, Status), `volumes`
  (the pod and PersistentVolume volume sources), `pod`, `core` (the other core/v1 kinds),
  `storage`, `apps`, `coordination`. Each is a list of declarations in the small language of
  `dsl`: one line per field, with its JSON name, type, a one-line description, whether the
  OpenAPI marks it required, and for lists the strategic-merge-patch key.
- Types are named as the Go structs are, so the OpenAPI documents built from them
  (`kstore.apistore.rest.openapi`) carry the component names kubectl and other clients expect.
- Field sets follow Kubernetes 1.32, the version the apistore reports.
- Consumers: `unknown_fields` (field validation), the OpenAPI v3 documents (`kubectl explain`).
  The strategic-merge-patch engine keeps its own table of merge keys.
"""

from __future__ import annotations

# Importing the modules registers their types; `pod` and `core` import `volumes` first themselves.
from kstore.api.schema import apps, coordination, core, meta, pod, storage, volumes  # noqa: F401
from kstore.api.schema.dsl import LEAVES, TYPES, Array, Field, Leaf, Map, ObjectType, Ref, Scalar, Type
from kstore.api.schema.strict import (
    kind_type,
    strict_decoding_message,
    strict_decoding_warnings,
    unknown_fields,
)

__all__ = [
    "LEAVES",
    "TYPES",
    "Array",
    "Field",
    "Leaf",
    "Map",
    "ObjectType",
    "Ref",
    "Scalar",
    "Type",
    "kind_type",
    "strict_decoding_message",
    "strict_decoding_warnings",
    "unknown_fields",
]
