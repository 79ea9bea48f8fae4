"""A reader for the small TOML subset buildpack.toml uses.

Only for buildpack.toml, on Python 3.10, before the build has fetched tomli
(selfdeps.pure_wheels): Heroku's heroku-22 image has a python3 3.10 without
pip, and the buildpack must read its own settings to know what to fetch (and,
on a first build, the runtime whose pip names the default index). An app's
TOML files are never read with it. A test checks this reader agrees with
tomllib on buildpack.toml; anything outside the subset
(tables, quoted or bare keys, strings without escapes, numbers, booleans,
string arrays and one-line inline tables) is refused rather than guessed.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = r'(?:"[^"]*"|[A-Za-z0-9_-]+)'
_TABLE = re.compile(rf"\[\s*({_KEY}(?:\s*\.\s*{_KEY})*)\s*\]\Z")
_PAIR = re.compile(rf"({_KEY})\s*=\s*(.+)\Z")


class TomlSubsetError(ValueError):
    pass


def loads(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    table = root
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if m := _TABLE.match(line):
            table = root
            for key in re.findall(_KEY, m.group(1)):
                table = table.setdefault(_unquote(key), {})
        elif m := _PAIR.match(line):
            table[_unquote(m.group(1))] = _value(m.group(2).strip(), number)
        else:
            raise TomlSubsetError(f"line {number}: {raw!r}")
    return root


def _unquote(key: str) -> str:
    return key[1:-1] if key.startswith('"') else key


def _strip_comment(line: str) -> str:
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:i]
    return line


_STRING = re.compile(r'"([^"\\]*)"\Z')
_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")


def _value(text: str, number: int) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if m := _STRING.match(text):
        return m.group(1)
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    if text.startswith("[") and text.endswith("]"):
        items = [item.strip() for item in text[1:-1].split(",") if item.strip()]
        strings = [_STRING.match(item) for item in items]
        if all(strings):
            return [m.group(1) for m in strings if m]
    if text.startswith("{") and text.endswith("}"):
        result = {}
        for pair in (p.strip() for p in text[1:-1].split(",") if p.strip()):
            m = _PAIR.match(pair)
            if not m:
                break
            result[_unquote(m.group(1))] = _value(m.group(2).strip(), number)
        else:
            return result
    raise TomlSubsetError(f"line {number}: value {text!r}")
