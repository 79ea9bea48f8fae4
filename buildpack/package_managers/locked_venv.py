"""Poetry or Pipenv installed into its venv from the buildpack's lock, without pip.

tool-locks.json (see tool_lock) names every wheel the tool needs for this
runtime; they are taken from the build cache or fetched from the index pip
would use, all at once (or were, while the runtime downloaded: see
tool_fetch), each checked against the lock's sha256 (see tool_wheels), and
unpacked by the buildpack's wheel installer into the
venv's site-packages, with launchers that run the venv's python where it
will be after the tool directory is renamed into place. Modules compile to
bytecode when the tool first imports them, as for any venv (a later build
removes that bytecode before the tool runs again: see kept_venv).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_fetch, tool_lock, tool_wheels
from buildpack.package_managers.tool_sources import LOCKED_PTH
from buildpack.selfdeps import package_index, wheel_install


def plan(
    ctx: BuildContext,
    tool: str,
    version: str,
    index: package_index.IndexSettings,
    minor: str,
    *,
    recall: list[str] | None = None,
) -> tool_fetch.Plan:
    """What to fetch (raises LockUnusable when the lock cannot say).

    ``recall``: the file names an earlier build chose, taken when they are
    one locked wheel of each package of the set (tool_fetch.recalled), which
    saves importing packaging to choose again. Else packaging chooses.
    """
    lock = tool_lock.load(tool_lock.lock_path(ctx.buildpack_dir))
    if recall is not None:
        with contextlib.suppress(tool_lock.LockUnusable):
            return tool_fetch.recalled(index, lock, tool, version, minor, recall)
    return tool_fetch.locked(index, lock, tool, version, minor)


def install(
    ctx: BuildContext,
    tool_plan: tool_fetch.Plan,
    *,
    minor: str,
    venv: Path,
    final_venv: Path,
) -> bool:
    """Install the plan's wheels into ``venv``; return whether all came from
    the build cache. Raises
    IndexUnavailable, WheelError or OSError when that cannot be done."""
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise OSError(f"{venv} has no single site-packages")
    with tool_wheels.fetched(ctx, tool_plan) as (wheels, cached):
        for wheel in wheels:
            wheel_install.install_into_prefix(
                wheel,
                site_packages=found[0],
                scripts_dir=venv / "bin",
                python=str(final_venv / "bin" / "python"),
                python_minor=minor,
                allow_pth=LOCKED_PTH,
            )
    return cached
