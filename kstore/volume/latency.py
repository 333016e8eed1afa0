"""Latency profiles: how long an emulated driver pretends an operation takes.

Design:
- A profile maps each volume operation (`OPERATIONS`) to a delay distribution, or to nothing
  (no added delay, the default). Profiles come from the driver mappings of
  `configs/drivers.yaml`, so one can study e.g. cloud-disk attach times:

      latency:
        attach: {lognormal: {median: 5.0, sigma: 0.4}}
        provision: {uniform: [0.5, 2.0]}
        mount: {fixed: 0.05}

- Values are seconds. Sampling takes an injected `random.Random`, so tests are deterministic.
- The profile only says how long; the caller (a controller's executor, the kubelet's
  operation executor) sleeps. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any

from kstore.config import ConfigError

OPERATIONS = ("provision", "delete", "attach", "detach", "mount", "unmount", "expand")
KINDS = ("fixed", "uniform", "lognormal")


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: invalid value {value!r}: must be a number of seconds")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """A delay distribution in seconds.

    `fixed`: always `a`. `uniform`: between `a` and `b`. `lognormal`: median `a`, sigma `b`
    (the spread of the log; 0 is a fixed delay).
    """

    kind: str
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return rng.lognormvariate(math.log(self.a), self.b)

    @classmethod
    def parse(cls, value: Any, key: str) -> Distribution:
        """`{fixed: 0.05}`, `{uniform: [0.01, 0.2]}` or `{lognormal: {median: 0.5, sigma: 0.3}}`."""
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in KINDS:
            raise ConfigError(
                f"{key}: invalid value {value!r}: must be one of {{fixed: SECONDS}}, "
                "{uniform: [LOW, HIGH]}, {lognormal: {median: SECONDS, sigma: SPREAD}}"
            )
        kind, params = next(iter(value.items()))
        key = f"{key}.{kind}"
        if kind == "fixed":
            seconds = _number(params, key)
            if seconds < 0:
                raise ConfigError(f"{key}: invalid value {params!r}: must be 0 or more")
            return cls("fixed", seconds)
        if kind == "uniform":
            if not isinstance(params, list) or len(params) != 2:
                raise ConfigError(f"{key}: invalid value {params!r}: must be a list [LOW, HIGH] of seconds")
            low, high = _number(params[0], f"{key}[0]"), _number(params[1], f"{key}[1]")
            if not 0 <= low <= high:
                raise ConfigError(f"{key}: invalid value {params!r}: want 0 <= LOW <= HIGH")
            return cls("uniform", low, high)
        if not isinstance(params, dict) or set(params) != {"median", "sigma"}:
            raise ConfigError(f"{key}: invalid value {params!r}: must be a mapping {{median, sigma}}")
        median, sigma = _number(params["median"], f"{key}.median"), _number(params["sigma"], f"{key}.sigma")
        if median <= 0:
            raise ConfigError(f"{key}.median: invalid value {params['median']!r}: must be greater than 0")
        if sigma < 0:
            raise ConfigError(f"{key}.sigma: invalid value {params['sigma']!r}: must be 0 or more")
        return cls("lognormal", median, sigma)


@dataclasses.dataclass(frozen=True)
class LatencyProfile:
    """Delay per operation; an operation without a distribution has no added delay."""

    provision: Distribution | None = None
    delete: Distribution | None = None
    attach: Distribution | None = None
    detach: Distribution | None = None
    mount: Distribution | None = None
    unmount: Distribution | None = None
    expand: Distribution | None = None

    def sample(self, operation: str, rng: random.Random) -> float:
        """Seconds to wait before `operation` (one of OPERATIONS); 0.0 when none is configured."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown volume operation {operation!r}: want one of {', '.join(OPERATIONS)}")
        dist: Distribution | None = getattr(self, operation)
        return 0.0 if dist is None else dist.sample(rng)

    @classmethod
    def parse(cls, value: Any, key: str) -> LatencyProfile | None:
        """A mapping of operation → distribution; None or `{}` gives None (no profile)."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: invalid value {value!r}: must be a mapping of operation to distribution")
        for op in value:
            if op not in OPERATIONS:
                raise ConfigError(f"{key}.{op}: unknown operation (known: {', '.join(OPERATIONS)})")
        if not value:
            return None
        return cls(**{op: Distribution.parse(dist, f"{key}.{op}") for op, dist in value.items()})
