"""The package managers' locked wheel files, kept in CACHE_DIR and checked before use.

Earlier builds wrote CACHE_DIR, and their hooks and dependencies ran as
root, so a tool's environment found there (a venv, an unpacked binary) may
hold planted code. What the buildpack can check is a wheel file: its
sha256 is in ``tool-locks.json``, shipped with the buildpack. So the files
of a tool's locked set are kept in ``CACHE_DIR/.heroku/tools/wheels/``;
before use each must be the file the lock names, byte for byte, or it is
removed (the log and the report's ``cache_untrusted`` say so) and fetched
again. Poetry's kept venv is then checked file by file against them (see
kept_venv) and made again from them when it does not match; Pipenv's venv,
when the cached Python home lacks it, is made from them (see
pipenv_runtime); uv's unpacked binary is checked file by file against its
wheel's RECORD (see wheel_tool). Checking costs less than unpacking again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from buildpack.cache import cache_guard, cache_tree
from buildpack.core import fs
from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_fetch
from buildpack.selfdeps import tree_scan

WHEELS_SUBDIR = "wheels"
# Two tools' sets and a few versions of each; past it the store starts over.
LIMIT_BYTES = 512 * 1024 * 1024


def store(ctx: BuildContext) -> Path:
    return ctx.cache_dir / ".heroku" / "tools" / WHEELS_SUBDIR


def present(ctx: BuildContext, plan: tool_fetch.Plan) -> tool_fetch.Plan:
    """``plan`` without the files the store has (unchecked: ``fetched`` checks
    them), for the fetch that runs beside the runtime install."""
    where = store(ctx)
    missing = tuple(f for f in plan.files if not os.path.lexists(where / f[1]))
    return dataclasses.replace(plan, files=missing)


def _split(ctx: BuildContext, plan: tool_fetch.Plan) -> tuple[dict[str, Path], tool_fetch.Plan]:
    """The files of ``plan`` the store has, each checked against its sha256
    in the lock, and the plan of the rest. One that does not match is
    removed, saying so."""
    where = store(ctx)
    good: dict[str, Path] = {}
    missing = []
    kept = [where / entry[1] for entry in plan.files if os.path.lexists(where / entry[1])]
    # A link (O_NOFOLLOW), a directory, an unreadable file: an OSError, no match.
    digests = dict(zip(kept, tree_scan.sha256_files(kept), strict=True))
    for entry in plan.files:
        path = where / entry[1]
        if digests.get(path) == entry[2]:
            good[entry[1]] = path
            continue
        if os.path.lexists(path):
            cache_guard.say_untrusted(
                ctx.out,
                ctx.report,
                [
                    f"CACHE_DIR/.heroku/tools/{WHEELS_SUBDIR}/{entry[1]} is not the file "
                    "the buildpack locked: removed, to be fetched again"
                ],
            )
            fs.remove_tree(path)
        missing.append(entry)
    return good, dataclasses.replace(plan, files=tuple(missing))


@contextlib.contextmanager
def fetched(ctx: BuildContext, plan: tool_fetch.Plan) -> Iterator[tuple[list[Path], bool]]:
    """The files of ``plan`` (only ``plan.files``, each with the lock's
    sha256), and whether all came from the store. What the store lacks is
    fetched (from the fetch begun beside the runtime install when it was
    for exactly those) and kept there for later builds. Raises as
    tool_fetch.fetched does."""
    good, missing = _split(ctx, plan)
    if not missing.files:
        yield [good[f[1]] for f in plan.files], True
        return
    with tool_fetch.fetched(ctx, missing) as new:
        _keep(ctx, new)
        good.update((path.name, path) for path in new)
        yield [good[f[1]] for f in plan.files], False


def _keep(ctx: BuildContext, wheels: list[Path]) -> None:
    """Copy the freshly fetched (and checked) ``wheels`` into the store; only
    a later build's speed is at stake, so a failure is said and passed over."""
    where = store(ctx)
    try:
        cache_tree.bounded(where, LIMIT_BYTES)
        where.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            temporary = where / f".{wheel.name}.partial-{os.getpid()}"
            fs.remove_tree(temporary)
            shutil.copyfile(wheel, temporary)
            os.replace(temporary, where / wheel.name)
    except OSError as exc:
        ctx.out.info(f"Could not keep the tool's wheels in the build cache: {exc}")
