"""The build report: fields collected during a build, read by bin/report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from buildpack.core import safe_fs
from buildpack.core.redact import redact_text

REPORT_PATH = Path("build-data/python.json")
MAX_VALUE_CHARS = 200
# Far above any report set() can make (values are cut to MAX_VALUE_CHARS).
_MAX_REPORT_BYTES = 4 * 1024 * 1024


class Report:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        value = redacted(value)
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS]
        self.fields[key] = value

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add to ``<phase>_duration`` the seconds this part of the phase
        took, even when it fails (a phase may be timed in parts)."""
        start = time.monotonic()
        try:
            yield
        finally:
            key = f"{phase}_duration"
            self.fields[key] = round(self.fields.get(key, 0) + time.monotonic() - start, 3)

    def save(self, cache_dir: Path) -> None:
        """Write the report into CACHE_DIR, which a hook may have deleted
        (then it is made again: bin/report reads it from there)."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        safe_fs.real_dir(cache_dir, REPORT_PATH.parent)
        text = json.dumps(self.fields, sort_keys=True, indent=2) + "\n"
        safe_fs.write_atomic(cache_dir / REPORT_PATH, text, durable=False)


def redacted(value: Any) -> Any:
    """``value`` with URL credentials hidden in every string it holds."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (list, tuple)):
        return [redacted(v) for v in value]
    if isinstance(value, dict):
        return {redacted(str(k)): redacted(v) for k, v in value.items()}
    return value


def load(cache_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(safe_fs.read_small(cache_dir / REPORT_PATH, _MAX_REPORT_BYTES))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
