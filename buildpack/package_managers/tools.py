"""Package manager tools (uv, Poetry, Pipenv) kept in the build cache.

The app never runs them, so they stay out of the slug. Each is keyed by its
version, so a later build with the same version reuses it::

    CACHE_DIR/.heroku/tools/
        uv-0.13.9-amd64/bin/uv                    the binary from uv's wheel
        poetry-2.5.1-python3.13-amd64/venv/       a venv of the app's runtime
        poetry-2.5.1-python3.13-amd64/bin/poetry  -> ../venv/bin/poetry
        pipenv-2026.10.3-python3.13-amd64/...     the same for Pipenv
        cache/{uv,poetry,pipenv}/                 the tools' download caches

A venv depends on the runtime's minor version (its lib/python3.X), hence the
suffix. Its python is a link to /app/.heroku/python/bin/python, which names
whatever runtime the current build linked there, so the venv works in every
build directory.

A tool directory only ever appears by renaming a complete temporary one, so
a build that is killed half way never leaves a broken tool that a later
build trusts.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from buildpack.cache import cache_tree
from buildpack.core import errors
from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_sources
from buildpack.relocation import shebangs

TOOLS_DIR = Path(".heroku/tools")
CACHE_SUBDIR = "cache"
BUILDPACK_TOML = "buildpack.toml"

# What pip accepts after '==' in practice (PEP 440 and local versions), and
# never a '/' or a leading '.', since the version becomes a directory name.
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!_-]{0,63}\Z")
_PARTIAL = ".partial-"
# How much of a script decides which interpreter it runs (see relocation).
_SCRIPT_HEAD_BYTES = 8192
DOWNLOAD_CACHE_LIMIT_BYTES = 1024 * 1024 * 1024
_PROCFILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ToolVersion:
    tool: str  # "uv", "poetry", "pipenv", "pip"
    version: str
    # The config var that chose the version, or "buildpack.toml".
    origin: str

    @property
    def requirement(self) -> str:
        return f"{self.tool}=={self.version}"

    @property
    def overridden(self) -> bool:
        """Asked for by a config var rather than pinned by the buildpack."""
        return self.origin != BUILDPACK_TOML


def requested_version(ctx: BuildContext, tool: str) -> ToolVersion:
    """The version to install: BUILDPACK_<TOOL>_VERSION, else buildpack.toml."""
    var = f"BUILDPACK_{tool.upper()}_VERSION"
    origin = var if ctx.setting(var) is not None else BUILDPACK_TOML
    version = ctx.tool_version(tool)
    if not _VERSION.match(version):
        raise errors.tool_version_invalid(tool, origin, version)
    return ToolVersion(tool, version, origin)


def tools_root(ctx: BuildContext) -> Path:
    return ctx.cache_dir / TOOLS_DIR


def download_cache(ctx: BuildContext, tool: str) -> Path:
    """Where ``tool`` keeps what it downloads, kept between builds.

    It grows with every version ever installed; past the limit it starts
    over, the simplest bound that never deletes what this build needs.
    """
    path = cache_tree.bounded(tools_root(ctx) / CACHE_SUBDIR / tool, DOWNLOAD_CACHE_LIMIT_BYTES)
    path.mkdir(parents=True, exist_ok=True)
    return path


def warn_if_procfile_runs(ctx: BuildContext, tool: str) -> None:
    """`pipenv run gunicorn ...` in a Procfile fails at boot: no tool in the slug."""
    procfile = ctx.build_dir / "Procfile"
    if procfile.is_symlink() or not procfile.is_file():
        return
    try:
        with open(procfile, "rb") as f:
            text = f.read(_PROCFILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return
    if not re.search(rf"(?<![\w./-]){tool}\s+run\b", text):
        return
    name = errors.tool_display_name(tool)
    ctx.out.warning(
        f"The Procfile uses '{tool} run'",
        f"{name} is only available while the app builds: the buildpack keeps it in "
        f"the build cache, not in the app, so '{tool} run' will fail with 'command "
        "not found' when the app starts. The app's packages are installed into the "
        "Python runtime itself, which is first on PATH when the app runs: run the "
        "commands directly, for example 'web: gunicorn app:app' instead of "
        f"'web: {tool} run gunicorn app:app'.",
    )


def add_to_path(ctx: BuildContext, directory: Path) -> None:
    entry = os.fspath(directory)
    if entry not in ctx.extra_path:
        ctx.extra_path.append(entry)


def runtime_tag(ctx: BuildContext) -> str:
    """'python3.13' for the runtime the build installed."""
    found = sorted(p.parent.name for p in ctx.build_python_home.glob("lib/python3.*/os.py"))
    if not found:
        raise errors.internal_error(f"no standard library under {ctx.build_python_home}/lib")
    return found[-1]


def _minor(ctx: BuildContext) -> str:
    """'3.13' for the runtime the build installed."""
    return runtime_tag(ctx).removeprefix("python")


def wheel_tool_dir(ctx: BuildContext, tv: ToolVersion) -> Path:
    return tools_root(ctx) / _with_arch(ctx, f"{tv.tool}-{tv.version}")


def venv_tool_dir(ctx: BuildContext, tv: ToolVersion) -> Path:
    return venv_tool_dir_for(ctx, tv, runtime_tag(ctx))


def venv_tool_dir_for(ctx: BuildContext, tv: ToolVersion, tag: str) -> Path:
    """The tool's directory for the runtime ``tag`` ('python3.13')."""
    return tools_root(ctx) / _with_arch(ctx, f"{tv.tool}-{tv.version}-{tag}")


def _with_arch(ctx: BuildContext, name: str) -> str:
    # uv's binary, and the compiled wheels in a venv, are for one CPU.
    return f"{name}-{ctx.arch}" if ctx.arch else name


# --- installing -----------------------------------------------------------------


def install_wheel_tool(ctx: BuildContext, tv: ToolVersion, *, executable: str) -> Path:
    """A tool whose wheel carries a program (uv): unpacked with pip --target.

    Returns the tool's directory; its bin/ holds ``executable``.
    """
    final = wheel_tool_dir(ctx, tv)
    if _is_executable(final / "bin" / executable):
        _say_cached(ctx, tv)
        return final
    _say_installing(ctx, tv)

    def populate(partial: Path) -> None:
        if tool_sources.unpack_from_index(ctx, tv, partial, _minor(ctx)):
            set_install_source(ctx, tv.tool, "index")
        else:
            # --no-deps: uv's wheel is self-contained; --only-binary: never build it.
            options = ["--no-deps", "--only-binary=:all:", "--target", partial]
            tool_sources.pip_install(
                ctx, tv, tool_sources.bundled_pip(ctx, ctx.python), options, cwd=tools_root(ctx)
            )
            set_install_source(ctx, tv.tool, "pip")
        if not _is_executable(partial / "bin" / executable):
            raise errors.install_package_manager_failed(
                tv.tool, tv.version, f"The {tv.tool} wheel installed no bin/{executable}."
            )

    install_atomically(final, populate)
    prune_other_versions(final, tv.tool)
    return final


def install_venv_tool(ctx: BuildContext, tv: ToolVersion, *, executable: str) -> Path:
    """A Python tool (Poetry, Pipenv) in its own venv of the app's runtime.

    Returns the tool's directory; its bin/ holds only ``executable`` (a link
    into the venv), so putting it on PATH adds no second ``python``.
    """
    final = venv_tool_dir(ctx, tv)
    if _venv_tool_usable(final, executable):
        _say_cached(ctx, tv)
        return final
    _say_installing(ctx, tv)

    def populate(partial: Path) -> None:
        venv = partial / "venv"
        tool_sources.make_venv(ctx, tv, venv)
        if tool_sources.install_from_lock(ctx, tv, _minor(ctx), venv, final / "venv"):
            set_install_source(ctx, tv.tool, "index")
        else:
            # Whatever the lock install left is not pip's to build on.
            _remove(venv)
            tool_sources.make_venv(ctx, tv, venv)
            python = venv / "bin" / "python"
            pip = requested_version(ctx, "pip").version
            if tool_sources.install_pip(ctx, venv, python, pip):
                # The venv's own pip: seconds faster than the bundled one from its zip.
                command = [python, "-m", "pip"]
            else:
                command = tool_sources.bundled_pip(ctx, python)
            tool_sources.pip_install(ctx, tv, command, [], cwd=tools_root(ctx))
            set_install_source(ctx, tv.tool, "pip")
        # pip wrote the temporary directory into the tool's scripts; point
        # them where the venv will be after the rename.
        shebangs.fix_shebangs(venv / "bin", build_python_home=venv, app_python_home=final / "venv")
        if not (venv / "bin" / executable).is_file():
            raise errors.install_package_manager_failed(
                tv.tool, tv.version, f"Installing {tv.requirement} created no bin/{executable}."
            )
        (partial / "bin").mkdir()
        (partial / "bin" / executable).symlink_to(Path("..", "venv", "bin", executable))

    install_atomically(final, populate)
    prune_other_versions(final, tv.tool)
    return final


def install_atomically(final: Path, populate: Callable[[Path], None]) -> None:
    """Build ``final`` in a temporary sibling, then rename it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    partial = final.with_name(f".{final.name}{_PARTIAL}{os.getpid()}")
    _remove(partial)
    partial.mkdir()
    try:
        populate(partial)
        # An unusable leftover (another minor's venv links, a moved cache...).
        _remove(final)
        try:
            os.replace(partial, final)
        except OSError:
            # A build sharing the cache without its lock finished first: the
            # same version, complete too (it was renamed into place).
            if not final.is_dir():
                raise
    finally:
        _remove(partial)


def remove_stale_partials(final: Path) -> None:
    """Temporary directories of builds that were killed (their pid is gone)."""
    for path in final.parent.glob(f".{final.name}{_PARTIAL}*"):
        pid = path.name.rsplit(_PARTIAL, 1)[-1]
        if not pid.isdigit() or not cache_tree.process_alive(pid):
            _remove(path)


def prune_other_versions(keep: Path, tool: str) -> None:
    """Other versions of ``tool``: each build uses one, and they are big."""
    for path in keep.parent.glob(f"{tool}-*"):
        if path != keep and path.name[len(tool) + 1 : len(tool) + 2].isdigit():
            _remove(path)


# --- checks -----------------------------------------------------------------------


def _venv_tool_usable(final: Path, executable: str) -> bool:
    """The venv's script runs the venv's python, which runs (the link to the
    runtime resolves). False after the cache moved or the runtime changed."""
    python = final / "venv" / "bin" / "python"
    script = final / "bin" / executable
    if not python.exists() or not _is_executable(script):
        return False
    try:
        with open(script, "rb") as f:
            head = f.read(_SCRIPT_HEAD_BYTES)
    except OSError:
        return False
    # A plain shebang, or the sh trampoline pip writes for long paths; both
    # name the interpreter in their first two lines.
    first_lines = b"\n".join(head.split(b"\n", 2)[:2])
    return os.fsencode(python) in first_lines


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def set_install_source(ctx: BuildContext, tool: str, source: str) -> None:
    """``<tool>_install_source`` in the report: ``index`` (fetched and
    unpacked without running pip), ``pip`` (pip installed it) or ``cache``."""
    ctx.report.set(f"{tool}_install_source", source)


def _say_cached(ctx: BuildContext, tv: ToolVersion) -> None:
    set_install_source(ctx, tv.tool, "cache")
    ctx.out.step(f"Using cached {errors.tool_display_name(tv.tool)} {tv.version}")


def _say_installing(ctx: BuildContext, tv: ToolVersion) -> None:
    ctx.out.step(f"Installing {errors.tool_display_name(tv.tool)} {tv.version}")
