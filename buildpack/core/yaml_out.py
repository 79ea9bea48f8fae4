"""YAML for bin/release and bin/report, with or without PyYAML.

Both scripts run outside bin/compile, where the buildpack's own dependencies
may not be importable. Without PyYAML, strings are written JSON-quoted, which
is valid YAML, so the output parses the same either way.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Written unquoted: starts with a letter, so YAML cannot read it as a number.
_PLAIN_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*\Z")
# Words YAML 1.1 reads as booleans or null when unquoted.
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _yaml_module() -> Any:
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def dump(data: dict[str, Any], *, explicit_start: bool = False) -> str:
    """A block mapping of scalars and lists of scalars, keys sorted."""
    yaml = _yaml_module()
    if yaml is not None:
        text: str = yaml.safe_dump(
            data,
            explicit_start=explicit_start,
            default_flow_style=False,
            sort_keys=True,
            allow_unicode=True,
            width=100_000,
        )
        return text
    return dump_minimal(data, explicit_start=explicit_start)


def dump_minimal(data: dict[str, Any], *, explicit_start: bool = False) -> str:
    start = "--- " if explicit_start else ""
    if not data:
        return start + "{}\n"
    lines = ["---"] if explicit_start else []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list):
            lines.append(f"{_key(key)}:")
            lines += [f"- {_scalar(v)}" for v in value]
        else:
            lines.append(f"{_key(key)}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _key(key: Any) -> str:
    text = str(key)
    if _PLAIN_KEY.match(text) and text.lower() not in _RESERVED:
        return text
    return _quote(text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return _quote(str(value))


def _quote(text: str) -> str:
    if _PLAIN_VALUE.match(text) and text.lower() not in _RESERVED:
        return text
    # JSON's escapes are YAML's, except that YAML writes a character outside
    # the BMP as one \UXXXXXXXX escape, not as a UTF-16 surrogate pair.
    body = "".join(f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else json.dumps(c)[1:-1] for c in text)
    return f'"{body}"'
