"""Errors shaped like kube-apiserver's `Status` objects.

Every failure that crosses a process boundary (bus reply, REST response) is an `ApiError`
and travels as a `Status` dict: `{"kind": "Status", "apiVersion": "v1", "status": "Failure",
"message", "reason", "code", "details": {"name", "group", "kind", "causes": [...]}}`.
The helpers below build the common ones with kube-apiserver's exact wording.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Cause:
    """One field error, as in `details.causes` (`reason` is e.g. FieldValueRequired)."""

    field: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


class ApiError(Exception):
    """A request failed; `to_status()` is what the caller receives."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        kind: str = "",
        name: str = "",
        group: str = "",
        causes: tuple[Cause, ...] | list[Cause] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.kind = kind
        self.name = name
        self.group = group
        self.causes = tuple(causes)
        self.retry_after = retry_after

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            status["details"] = details
        return status

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        details = status.get("details") or {}
        causes = tuple(
            Cause(c.get("field", ""), c.get("reason", ""), c.get("message", ""))
            for c in details.get("causes") or ()
        )
        return cls(
            int(status.get("code") or 500),
            str(status.get("reason") or "InternalError"),
            str(status.get("message") or ""),
            kind=details.get("kind", ""),
            name=details.get("name", ""),
            group=details.get("group", ""),
            causes=causes,
            retry_after=details.get("retryAfterSeconds"),
        )

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"


# The resource name used in messages is the lower-case plural (`persistentvolumeclaims "x" not found`),
# qualified by group for non-core kinds (`storageclasses.storage.k8s.io "x" not found`).


def not_found(resource: str, name: str, *, kind: str = "", group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', kind=resource, name=name, group=group)


def already_exists(resource: str, name: str, *, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', kind=resource, name=name, group=group
    )


def conflict(resource: str, name: str, *, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        kind=resource,
        name=name,
        group=group,
    )


def invalid(kind: str, name: str, causes: list[Cause], *, group: str = "") -> ApiError:
    """422 Invalid: `PersistentVolumeClaim "x" is invalid: spec.accessModes: Required value`."""
    if len(causes) == 1:
        summary = f"{causes[0].field}: {causes[0].message}"
    else:
        summary = "[" + ", ".join(f"{c.field}: {c.message}" for c in causes) + "]"
    return ApiError(
        422, "Invalid", f'{kind} "{name}" is invalid: {summary}', kind=kind, name=name, group=group, causes=causes
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(message: str = "Request entity too large: limit is 3145728") -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", message)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
