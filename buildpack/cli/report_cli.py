"""bin/report: the last build's report as YAML. It never fails.

The platform runs it after every build, failed ones included, and a failure
here must not turn a good build into a bad one, so every problem ends in
printing what we have (possibly nothing) and exiting 0.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

MAX_VALUE_CHARS = 200


def capped(data: dict[str, Any]) -> dict[str, Any]:
    """Scalars as they are, strings cut to MAX_VALUE_CHARS, anything else as
    JSON text; URL credentials hidden (an older release may have saved some)."""
    from buildpack.core.report import redacted

    result: dict[str, Any] = {}
    for key, value in redacted(data).items():
        if value is not None and not isinstance(value, (bool, int, float, str)):
            value = json.dumps(value, sort_keys=True, default=str)
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS]
        result[str(key)] = value
    return result


def _use_cached_dependencies(cache_dir: Path) -> None:
    # PyYAML may be in the dependencies bin/compile installed into CACHE_DIR:
    # imported only when every file there is the locked wheels' (see
    # selfdeps.verified_tree), never from a directory that merely exists.
    from buildpack.core.settings import buildpack_root
    from buildpack.selfdeps import bootstrap, verified_copy

    deps = verified_copy.verified_dir(buildpack_root(), cache_dir)
    if deps is not None:
        bootstrap.activate(deps)


def report_text(cache_dir: Path) -> str:
    from buildpack.core import report, yaml_out

    # Without them, the minimal writer does the job.
    with contextlib.suppress(Exception):
        _use_cached_dependencies(cache_dir)
    data = capped(report.load(cache_dir))
    try:
        return yaml_out.dump(data)
    except Exception:
        return yaml_out.dump_minimal(data)


def report_main(argv: list[str]) -> int:
    try:
        if len(argv) < 2:
            print("usage: bin/report BUILD_DIR CACHE_DIR [ENV_DIR]", file=sys.stderr)
            return 0
        text = report_text(Path(argv[1]))
        sys.stdout.write(text)
        sys.stdout.flush()
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            print(f"bin/report: could not print the build report: {exc!r}", file=sys.stderr)
    return 0
