"""uv: installs uv.lock into the runtime's own site-packages.

uv treats /app/.heroku/python as the project environment. That is the setup
of uv issue 11048: uv 0.5.25 resolved the /app symlink and wrote entrypoints
for BUILD_DIR's Python, which compile.guarantee_app_paths repairs.
"""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.cache.install_inputs import ManagerInputs, hash_files, read_toml
from buildpack.core import errors, proc
from buildpack.core.context import BuildContext
from buildpack.package_managers import failures, tools, wheel_tool

LOCKFILE = "uv.lock"
# uv's words when `--locked` finds uv.lock out of date with pyproject.toml.
_STALE_LOCK_MARKERS = ("needs to be updated", "--locked` was provided")


def install_tool(ctx: BuildContext) -> str:
    tv = tools.requested_version(ctx, "uv")
    tool_dir = wheel_tool.install(ctx, tv, executable="uv")
    configure(ctx, tool_dir)
    return tv.version


def configure(ctx: BuildContext, tool_dir: Path) -> None:
    """uv's settings, for our sync and for later buildpacks that run uv."""
    cache = tools.download_cache(ctx, "uv")
    ctx.extra_env.update(
        {
            # The /app path, never BUILD_DIR: what uv writes into scripts.
            "UV_PROJECT_ENVIRONMENT": str(ctx.python_home),
            "UV_PYTHON": str(ctx.python),
            # Only the runtime the buildpack installed, never one uv fetches
            # (UV_NO_MANAGED_PYTHON is ignored by uv releases that predate it).
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_MANAGED_PYTHON": "1",
            "UV_CACHE_DIR": str(cache),
            "UV_LINK_MODE": link_mode(cache, ctx.build_python_home),
            "UV_COMPILE_BYTECODE": "1",
        }
    )
    tools.add_to_path(ctx, tool_dir / "bin")


def link_mode(cache: Path, target: Path) -> str:
    """Hardlinks from uv's cache when it is on the runtime's filesystem.

    They make installs fast and cost no space. The cache is persisted in
    CACHE_DIR, so the slug shares inodes with it; that is safe because uv
    never edits a cached file in place, and neither does the buildpack (its
    rewrites replace files). Across filesystems uv would try, fail, warn
    and copy; asking for copies directly keeps the log quiet.
    """
    try:
        same = os.stat(cache).st_dev == os.stat(target).st_dev
    except OSError:
        same = False
    return "hardlink" if same else "copy"


def sync_command(ctx: BuildContext) -> list[str]:
    command = ["uv", "sync", "--locked"]
    if not ctx.install_dev:
        # Dev dependencies are in the default groups; CI (test-compile) wants them.
        command.append("--no-default-groups")
    return command


def install_dependencies(ctx: BuildContext) -> None:
    command = sync_command(ctx)
    shown = " ".join(command)
    tools.warn_if_procfile_runs(ctx, "uv")
    ctx.out.step(f"Installing dependencies using '{shown}'")
    uv = tools.wheel_tool_dir(ctx, tools.requested_version(ctx, "uv")) / "bin" / "uv"
    proc.run(
        [uv, *command[1:], "--no-progress"],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=ctx.build_dir,
        on_failure=lambda r: failure(shown, r.output),
    )


def failure(command: str, output: str) -> errors.BuildError:
    return failures.sync_failure("uv", LOCKFILE, _STALE_LOCK_MARKERS, command, output)


# --- build cache inputs -------------------------------------------------------------

# uv reads only its own settings.
SETTINGS_PREFIXES = ("UV_",)
# The build cache may skip install_dependencies when its inputs are unchanged.
SKIP_INSTALL_WHEN_UNCHANGED = True
# Sources whose contents uv.lock does not pin.
_UNPINNED_SOURCES = ("editable", "directory", "path", "git", "url")


def install_inputs(ctx: BuildContext) -> ManagerInputs:
    """uv sync prunes what uv.lock no longer lists: no file discards the cache."""
    files = hash_files(ctx.build_dir, ("pyproject.toml", LOCKFILE, "uv.toml"))
    return ManagerInputs(files=files, not_plain=unpinned(ctx.build_dir / LOCKFILE))


def unpinned(lock_path: Path) -> list[str]:
    """uv.lock entries whose contents can change while uv.lock does not."""
    lock = read_toml(lock_path)
    if lock is None:
        return [f"{LOCKFILE} is unreadable"]
    found = []
    for package in lock.get("package", []):
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict):
            kinds = [k for k in _UNPINNED_SOURCES if k in source]
            if kinds:
                found.append(f"{LOCKFILE}: {package.get('name')} is from a {kinds[0]}")
    return found
