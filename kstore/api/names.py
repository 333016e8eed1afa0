"""Name and label syntax, with apimachinery's exact error strings, and generated names.

Design:
- Each `is_*` check returns a list of problems (empty when valid), like apimachinery's
  `util/validation`: callers turn each string into a field error (`Invalid value: "x": <msg>`).
  The message texts, including Kubernetes' odd spacing in examples (`'my-name',  or '123-abc'`),
  are copied exactly because users and tests compare them.
- `name_is_*` are the object-name policies (`NameIsDNSSubdomain` & co.): with `prefix=True`
  they check a `generateName` prefix, whose trailing dash is allowed.
- `generate_name` appends five characters from Kubernetes' alphabet (no vowels, no 0/1/3, so
  no words and no look-alikes) to a prefix cut to 58 characters, keeping names within 63.
"""

from __future__ import annotations

import functools
import random
import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_CONFIG_MAP_KEY = re.compile(_CONFIG_MAP_KEY_FMT)

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"

# Kubernetes' generated-name alphabet (apiserver/pkg/storage/names, util/rand).
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_SUFFIX_LEN = 5
_MAX_GENERATE_PREFIX = DNS1123_LABEL_MAX - GENERATE_SUFFIX_LEN


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError: `<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')`."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label: container, volume and namespace names."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL.fullmatch(value):
        if _DNS1123_SUBDOMAIN.fullmatch(value):
            errs.append("must not contain dots")  # a valid subdomain within the length: it has dots
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain: most object names (pods, PVs, PVCs, StorageClasses, nodes ...)."""
    return list(_dns1123_subdomain(value))


@functools.lru_cache(maxsize=8192)
def _dns1123_subdomain(value: str) -> tuple[str, ...]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return tuple(errs)


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label: Service names and port names start with a letter."""
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1035_LABEL.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key (also annotation keys, finalizers, provisioner names): `[prefix/]name`.
    Memoized: the same keys come with almost every object."""
    return list(_qualified_name(value))


@functools.lru_cache(maxsize=8192)
def _qualified_name(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return (
            "a valid label key "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not _QUALIFIED_NAME.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return tuple(errs)


def is_valid_label_value(value: str) -> list[str]:
    """A label value: empty, or up to 63 alphanumerics with `-_.` inside."""
    errs = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_config_map_key(value: str) -> list[str]:
    """A ConfigMap or Secret data key: a file name inside the volume."""
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_MAP_KEY.fullmatch(value):
        errs.append(regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _mask_trailing_dash(name: str) -> str:
    """A generateName prefix may end in '-': check it as if a generated character followed."""
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def generate_name(prefix: str, *, rng: random.Random | None = None) -> str:
    """`prefix` (cut to 58 characters) plus 5 random characters, as the apiserver does for generateName."""
    choose = (rng or random).choice
    suffix = "".join(choose(GENERATE_ALPHABET) for _ in range(GENERATE_SUFFIX_LEN))
    return prefix[:_MAX_GENERATE_PREFIX] + suffix


def is_valid_port_name(port: str) -> list[str]:
    """An IANA service name: at most 15 of `[-a-z0-9]`, a letter, no `--`, no edge hyphen."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not re.fullmatch("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port.startswith("-") or port.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_env_var_name(value: str) -> list[str]:
    """An environment variable name (relaxed rule): printable ASCII other than '='."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(not (" " <= char <= "~") or char == "=" for char in value):
        return [
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
        ]
    return []
