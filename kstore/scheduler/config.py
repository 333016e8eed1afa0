"""The scheduler's settings: the cluster config's optional `scheduler:` section.

```yaml
scheduler:
  bind_timeout: 600              # seconds to wait for a pod's claims to be bound (BindTimeoutSeconds)
  initial_backoff: 1             # podInitialBackoffSeconds
  max_backoff: 10                # podMaxBackoffSeconds
  max_unschedulable: 300         # podMaxInUnschedulablePodsDuration, seconds
  flush_period: 30               # how often stuck unschedulable pods are looked at
  percentage_of_nodes_to_score: 0  # 0: kube-scheduler's adaptive percentage
```
Defaults are kube-scheduler's. Every mistake is a `ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kstore.config import ConfigError


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    bind_timeout: float = 600.0
    initial_backoff: float = 1.0
    max_backoff: float = 10.0
    max_unschedulable: float = 300.0
    flush_period: float = 30.0
    percentage_of_nodes_to_score: int = 0

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> SchedulerConfig:
        section = raw.get("scheduler")
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ConfigError(f"scheduler: invalid value {section!r}: must be a mapping")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            field = known.get(key)
            if field is None:
                raise ConfigError(f"scheduler.{key}: unknown key (known: {', '.join(known)})")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"scheduler.{key}: invalid value {value!r}: must be a non-negative number")
            if key == "percentage_of_nodes_to_score":
                if value != int(value) or value > 100:
                    raise ConfigError(f"scheduler.{key}: invalid value {value!r}: must be an integer 0..100")
                value = int(value)
            values[key] = value
        return cls(**values)


__all__ = ["SchedulerConfig"]
