"""Which of the package manager's files to fetch while the runtime installs.

Worked out from what is known before the runtime is there: the Python
minor the build chose, the tool versions, the build cache and the index
pip would use. Nothing is fetched for what the cache already holds, and
nothing at all when the index is not known yet (a host without pip and no
PIP_INDEX_URL: the runtime brings the pip that knows pip's default); the
install step then fetches as it always did. Whatever goes wrong here is
left for the install step to meet, and say, in its turn.
"""

from __future__ import annotations

from buildpack.core import errors
from buildpack.core.context import BuildContext
from buildpack.package_managers import (
    locked_venv,
    pip_seed,
    tool_fetch,
    tool_lock,
    tool_wheels,
    tools,
)
from buildpack.selfdeps import package_index


def start(ctx: BuildContext, manager: str, python_version: str) -> None:
    """Begin fetching what installing ``manager`` for Python
    ``python_version`` will need, if anything (see tool_fetch)."""
    minor = ".".join(python_version.split(".")[:2])
    try:
        plan = _plan(ctx, manager, minor)
    except (errors.BuildError, package_index.IndexUnavailable, tool_lock.LockUnusable):
        return
    if plan is not None:
        tool_fetch.start(ctx, plan)
        # Said again, for good, when the install step takes the files.
        ctx.report.set("package_manager_fetch_overlapped", True)


def _plan(ctx: BuildContext, manager: str, minor: str) -> tool_fetch.Plan | None:
    tv = tools.requested_version(ctx, manager)
    if manager == "pip":
        seed = pip_seed.seed_dir(ctx.cache_dir, tv.version, f"python{minor}", ctx.python_home)
        if seed.is_dir():
            return None  # a verified copy of pip is in the cache
        return tool_fetch.pinned(tools.app_index(ctx), package_index.Pin("pip", tv.version), minor)
    if manager == "uv":
        if (tools.wheel_tool_dir(ctx, tv) / "bin" / "uv").exists():
            return None  # checked before it runs (see wheel_tool)
        try:
            lock = tool_lock.load(tool_lock.lock_path(ctx.buildpack_dir))
            return tool_fetch.locked(tools.app_index(ctx), lock, "uv", tv.version, minor)
        except tool_lock.LockUnusable:
            return tool_fetch.pinned(
                tools.app_index(ctx), package_index.Pin("uv", tv.version), minor
            )
    # What the build cache keeps of the locked wheels is checked at install.
    plan = tool_wheels.present(
        ctx, locked_venv.plan(ctx, tv.tool, tv.version, tools.app_index(ctx), minor)
    )
    return plan if plan.files else None
