"""Tests for kstore.api.names: apimachinery's name checks, message for message, and generateName."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from kstore.api.names import (
    GENERATE_ALPHABET,
    generate_name,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_name,
    name_is_dns_subdomain,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

CASES = [
    # (check, value, expected problems)
    (is_dns1123_subdomain, "example.com", []),
    (is_dns1123_subdomain, "pvc-0a1b", []),
    (is_dns1123_subdomain, "Foo", [SUBDOMAIN_MSG]),
    (is_dns1123_subdomain, "a_b", [SUBDOMAIN_MSG]),
    (is_dns1123_subdomain, "-a", [SUBDOMAIN_MSG]),
    (is_dns1123_subdomain, "", [SUBDOMAIN_MSG]),
    (is_dns1123_subdomain, "a\n", [SUBDOMAIN_MSG]),
    (is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
    (is_dns1123_label, "web-0", []),
    (is_dns1123_label, "a.b", ["must not contain dots"]),
    (is_dns1123_label, "A", [LABEL_MSG]),
    (is_dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
    (is_dns1035_label, "nginx", []),
    (
        is_dns1035_label,
        "1nginx",
        [
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (is_qualified_name, "app", []),
    (is_qualified_name, "app.kubernetes.io/name", []),
    (is_qualified_name, "kubernetes.io/pvc-protection", []),
    (is_qualified_name, "a b", [NAME_PART_MSG]),
    (is_qualified_name, "/a", ["prefix part must be non-empty"]),
    (is_qualified_name, "a/", ["name part must be non-empty", NAME_PART_MSG]),
    (is_qualified_name, "Bad_Prefix/a", ["prefix part " + SUBDOMAIN_MSG]),
    (
        is_qualified_name,
        "a/b/c",
        [
            "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and "
            "'/' (e.g. 'example.com/MyName')"
        ],
    ),
    (is_qualified_name, "a" * 64, ["name part must be no more than 63 characters"]),
    (is_valid_label_value, "", []),
    (is_valid_label_value, "us-east-2c", []),
    (is_valid_label_value, "a b", [VALUE_MSG]),
    (is_valid_label_value, "a" * 64, ["must be no more than 63 characters"]),
    (is_config_map_key, "tls.crt", []),
    (is_config_map_key, "..data", ["must not start with '..'"]),
    (is_config_map_key, ".", ["must not be '.'"]),
    (is_valid_port_name, "http-server", []),
    (is_valid_port_name, "80", ["must contain at least one letter (a-z)"]),
    (is_valid_port_name, "my--port", ["must not contain consecutive hyphens"]),
    (is_valid_port_name, "a-very-long-port-name", ["must be no more than 15 characters"]),
    (is_env_var_name, "MYSQL_ROOT_PASSWORD", []),
    (
        is_env_var_name,
        "A=B",
        ["a valid environment variable name must consist only of printable ASCII characters other than '='"],
    ),
]


@pytest.mark.parametrize(
    ("check", "value", "expected"), CASES, ids=[f"{c.__name__}:{v[:20]!r}" for c, v, _ in CASES]
)
def test_name_checks(check: Callable[[str], list[str]], value: str, expected: list[str]) -> None:
    assert check(value) == expected


def test_generate_name_prefix_allows_a_trailing_dash() -> None:
    assert name_is_dns_subdomain("web-", prefix=True) == []
    assert name_is_dns_subdomain("web-") == [SUBDOMAIN_MSG]


GENERATE = [("pvc-", 4 + 5), ("", 5), ("x" * 70, 58 + 5)]


@pytest.mark.parametrize(("prefix", "length"), GENERATE, ids=["short", "empty", "long-prefix-is-cut"])
def test_generate_name(prefix: str, length: int) -> None:
    name = generate_name(prefix, rng=random.Random(7))
    assert len(name) == length
    assert name.startswith(prefix[:58])
    assert set(name[-5:]) <= set(GENERATE_ALPHABET)
    assert name == generate_name(prefix, rng=random.Random(7))  # deterministic for a seeded rng


def test_generate_name_alphabet_is_kubernetes() -> None:
    assert GENERATE_ALPHABET == "bcdfghjklmnpqrstvwxz2456789"
