"""config.py: the `scheduler:` section of the cluster config."""

from __future__ import annotations

import pytest

from kstore.config import ConfigError
from kstore.scheduler.config import SchedulerConfig


def test_defaults_are_kube_schedulers() -> None:
    config = SchedulerConfig.from_raw({})
    assert (config.bind_timeout, config.initial_backoff, config.max_backoff, config.max_unschedulable) == (
        600.0, 1.0, 10.0, 300.0)


def test_values_are_read() -> None:
    config = SchedulerConfig.from_raw({"scheduler": {"bind_timeout": 30, "percentage_of_nodes_to_score": 50}})
    assert config.bind_timeout == 30 and config.percentage_of_nodes_to_score == 50


@pytest.mark.parametrize(("section", "message"), [
    ({"bind_timeuot": 3}, "scheduler.bind_timeuot: unknown key"),
    ({"bind_timeout": "soon"}, "scheduler.bind_timeout: invalid value 'soon': must be a non-negative number"),
    ({"max_backoff": -1}, "scheduler.max_backoff: invalid value -1"),
    ({"percentage_of_nodes_to_score": 101}, "must be an integer 0..100"),
    ("fast", "scheduler: invalid value 'fast': must be a mapping"),
])
def test_mistakes_name_the_key(section: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        SchedulerConfig.from_raw({"scheduler": section})
