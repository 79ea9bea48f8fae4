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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from buildpack.cache import cache_tree
from buildpack.core import atomic_dir, errors, fs, proc, tool_names
from buildpack.core.context import BuildContext
from buildpack.core.python_home import single_site_packages
from buildpack.package_managers import failures, kept_venv, tool_sources
from buildpack.relocation import shebangs
from buildpack.selfdeps import host_pip, package_index, wheel_install

T = TypeVar("T")

TOOLS_DIR = Path(".heroku/tools")
CACHE_SUBDIR = "cache"
BUILDPACK_TOML = "buildpack.toml"

# What pip accepts after '==' in practice (PEP 440 and local versions), and
# never a '/' or a leading '.', since the version becomes a directory name.
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!_-]{0,63}\Z")
# pip lists every release it saw ("from versions: 0.0.5, ..., 0.13.9"): for
# uv that is hundreds. The log keeps the newest few.
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
    """`poetry run gunicorn ...` in a Procfile fails at boot: no tool in the slug
    (uv and Poetry; Pipenv is in the slug, see pipenv_runtime)."""
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
    name = tool_names.display_name(tool)
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


def install_venv_tool(ctx: BuildContext, tv: ToolVersion, *, executable: str) -> Path:
    """A Python tool (Poetry) in its own venv of the app's runtime.

    Returns the tool's directory; its bin/ holds only ``executable`` (a link
    into the venv), so putting it on PATH adds no second ``python``. A venv
    found in CACHE_DIR runs only once checked in place against the locked
    wheels, which are checked first (see kept_venv, tool_wheels); otherwise
    it is made again from them.
    """
    final = venv_tool_dir(ctx, tv)
    if os.path.lexists(final) and kept_venv.reuse(ctx, tv, final, executable=executable):
        tool_sources.set_install_source(ctx, tv.tool, "cache")
        prune_other_versions(final, tv.tool)
        return final

    def populate(partial: Path) -> None:
        venv = partial / "venv"
        minor = runtime_tag(ctx).removeprefix("python")
        made = tool_sources.install_from_lock(
            ctx,
            tv,
            minor,
            venv,
            final / "venv",
            executable,
            bare=lambda where: kept_venv.make_bare(where, ctx.python, minor),
        )
        if made is None:
            # Whatever the lock install left is not pip's to build on.
            fs.remove_tree(venv)
            make_venv(ctx, tv, venv, executable=executable)
            source = "pip"
        else:
            kept_venv.write_mark(partial, made.files)
            source = made.source
        tool_sources.set_install_source(ctx, tv.tool, source)
        # pip wrote the temporary directory into the tool's scripts; point
        # them where the venv will be after the rename.
        shebangs.fix_shebangs(venv / "bin", build_python_home=venv, app_python_home=final / "venv")
        link_executable(partial, executable)

    install_atomically(final, populate)
    prune_other_versions(final, tv.tool)
    return final


def make_venv(ctx: BuildContext, tv: ToolVersion, venv: Path, *, executable: str) -> None:
    """A venv of the app's runtime at ``venv``, with ``tv`` installed by the
    venv's own pip (the runtime's bundled one when that cannot be had)."""
    # The app's Python, through /app: the venv's python links to
    # /app/.heroku/python/bin/python and works from any build directory.
    proc.run(
        [ctx.python, "-m", "venv", "--without-pip", venv],
        out=ctx.out,
        env=ctx.build_env(),
        on_failure=lambda r: errors.install_package_manager_failed(tv.tool, tv.version, r.output),
    )
    if install_pip(ctx, venv, venv / "bin" / "python", requested_version(ctx, "pip").version):
        # The venv's own pip: seconds faster than the bundled one from its zip.
        pip_install(ctx, tv, [venv / "bin" / "python", "-m", "pip"], [])
    else:
        pip_install(ctx, tv, bundled_pip(ctx, venv / "bin" / "python"), [])
    if not (venv / "bin" / executable).is_file():
        raise errors.install_package_manager_failed(
            tv.tool, tv.version, f"Installing {tv.requirement} created no bin/{executable}."
        )


def link_executable(tool_dir: Path, executable: str) -> None:
    """tool_dir/bin/<executable> -> ../venv/bin/<executable>: on PATH, it adds
    no second ``python``."""
    (tool_dir / "bin").mkdir()
    (tool_dir / "bin" / executable).symlink_to(Path("..", "venv", "bin", executable))


def app_index(ctx: BuildContext) -> package_index.IndexSettings:
    """The index the app's pip would use (raises IndexUnavailable)."""
    return package_index.pip_index(
        ctx.build_env(),
        pip_wheel=host_pip.find_pip_wheel([ctx.build_python_home]),
        site_prefix=ctx.build_python_home,
    )


def unpack_from_index(ctx: BuildContext, tv: ToolVersion, partial: Path) -> bool:
    """``pip install --no-deps --target partial tool==version`` without
    running pip (see buildpack.package_index); False, with ``partial``
    empty, when pip has to do it."""
    minor = runtime_tag(ctx).removeprefix("python")
    written = _from_index(
        ctx,
        package_index.Pin(tv.tool, tv.version),
        minor,
        lambda wheel: wheel_install.unpack_into_target(wheel, partial),
        instead="pip",
    )
    if written is not None:
        return True
    for child in partial.iterdir():
        fs.remove_tree(child)
    return False


def install_pip(
    ctx: BuildContext, python_home: Path, python: Path, version: str
) -> list[Path] | None:
    """The pinned pip, fetched from the index and unpacked into
    ``python_home``'s site-packages with launchers that run ``python``,
    without running a pip. The files written, or None (with nothing
    written) when a pip has to do it."""
    return install_from_index(
        ctx, python_home, python, package_index.Pin("pip", version), instead="the bundled pip"
    )


def install_from_index(
    ctx: BuildContext,
    python_home: Path,
    python: Path,
    pin: package_index.Pin,
    *,
    instead: str,
    allow_pth: frozenset[str] = frozenset(),
) -> list[Path] | None:
    """``pin`` installed as install_pip installs pip: None when it is there
    already (in any version) or cannot be fetched, and ``instead`` must do it."""
    site = single_site_packages(python_home)
    if site is None:
        ctx.out.info(f"{python_home} has no single site-packages; using {instead}")
        return None
    if any(site.glob(pin.project)) or any(site.glob(f"{pin.project}-*.dist-info")):
        # Another version's files would be left over, unknown to the new RECORD.
        ctx.out.info(f"{pin.project} is installed in {site} already; using {instead}")
        return None
    minor = site.parent.name.removeprefix("python")
    return _from_index(
        ctx,
        pin,
        minor,
        lambda wheel: wheel_install.install_into_prefix(
            wheel,
            site_packages=site,
            scripts_dir=python_home / "bin",
            python=str(python),
            python_minor=minor,
            allow_pth=allow_pth,
        ),
        instead=instead,
    )


def _from_index(
    ctx: BuildContext,
    pin: package_index.Pin,
    minor: str,
    install: Callable[[Path], T],
    *,
    instead: str,
) -> T | None:
    """Fetch ``pin``'s wheel for the runtime ``minor`` and ``install`` it; None,
    saying why and that ``instead`` will do it, when that cannot be done."""
    from buildpack.package_managers import tool_fetch

    try:
        # Reported when it is the package manager's own (not setuptools').
        own = pin.project == ctx.report.fields.get("package_manager")
        plan = tool_fetch.pinned(app_index(ctx), pin, minor)
        with tool_fetch.fetched(ctx, plan, report=own) as wheels:
            return install(wheels[0])
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        ctx.out.info(f"Fetching {pin.project} from the index did not work ({exc}); using {instead}")
        return None


def bundled_pip(ctx: BuildContext, python: Path | str) -> list[str | Path]:
    """``python <the runtime's bundled pip wheel>/pip``: pip run from its zip."""
    wheel = host_pip.find_pip_wheel([ctx.python_home])
    if wheel is None:
        raise errors.bundled_pip_not_found(str(ctx.python_home))
    return [python, f"{wheel}/pip"]


def pip_install(
    ctx: BuildContext, tv: ToolVersion, pip: list[str | Path], options: list[str | Path]
) -> None:
    """``<pip> install <options> tool==version``."""
    # Its working directory, not made yet when the venv is the slug's (Pipenv's).
    tools_root(ctx).mkdir(parents=True, exist_ok=True)
    proc.run(
        [
            *pip,
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-input",
            "--quiet",
            *options,
            tv.requirement,
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=tools_root(ctx),
        line_filter=failures.shorten_version_list,
        on_failure=lambda r: failures.install_failure(tv, r.output),
    )


def install_atomically(final: Path, populate: Callable[[Path], None]) -> None:
    """Build ``final`` in a temporary sibling, then rename it into place."""
    with atomic_dir.building(final) as partial:
        populate(partial)


def prune_other_versions(keep: Path, tool: str) -> None:
    """Other versions of ``tool``: each build uses one, and they are big."""
    for path in keep.parent.glob(f"{tool}-*"):
        if path != keep and path.name[len(tool) + 1 : len(tool) + 2].isdigit():
            fs.remove_tree(path)
