"""Pipenv in the slug, so that `pipenv run ...` in a Procfile works, as on Heroku.

    BUILD_DIR/.heroku/python/pipenv/
        venv/              a venv of the runtime, made as /app/.heroku/python/pipenv/venv
        bin/pipenv  ->  ../venv/bin/pipenv   on PATH at build time, in `export` and .profile.d

The venv is made through the /app path (see runtime.link_into_app), so its
scripts, bytecode and pyvenv.cfg name /app/.heroku/python, where it runs
(venv writes the real path of the interpreter into pyvenv.cfg, which is
pointed back at /app). The relocation audit checks it with the rest of
.heroku/python.

It is cached like the other tools: a copy in tools.venv_tool_dir, keyed by
Pipenv's version, the runtime's minor and the CPU, copied back when the
restored Python home does not already have it. Its paths name /app, so the
copy works in any build directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from buildpack.cache import cache_tree
from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_sources, tools, venv_check

SUBDIR = Path("pipenv")
EXECUTABLE = "pipenv"


def install(ctx: BuildContext, tv: tools.ToolVersion) -> Path:
    """Put Pipenv ``tv`` into the slug; return its bin directory (as /app sees it)."""
    home = ctx.build_python_home / SUBDIR
    app_home = ctx.python_home / SUBDIR
    cached = tools.venv_tool_dir(ctx, tv)
    if usable(home, app_home, tv.version):
        return _cached(ctx, tv, app_home)
    _remove(home)
    if usable(cached, app_home, tv.version):
        cache_tree.clone_tree(cached, home)
        return _cached(ctx, tv, app_home)
    ctx.out.step(f"Installing Pipenv {tv.version}")
    home.mkdir(parents=True)
    venv = app_home / "venv"
    minor = tools.runtime_tag(ctx).removeprefix("python")
    # From the buildpack's lock, without pip; else the venv's own pip.
    if tool_sources.install_from_lock(ctx, tv, minor, venv, venv, EXECUTABLE):
        tool_sources.set_install_source(ctx, "pipenv", "index")
    else:
        _remove(home / "venv")
        tools.make_venv(ctx, tv, venv, executable=EXECUTABLE)
        tool_sources.set_install_source(ctx, "pipenv", "pip")
    point_pyvenv_cfg_at_app(ctx, home / "venv" / "pyvenv.cfg")
    tools.link_executable(home, EXECUTABLE)
    _keep_in_cache(ctx, home, cached)
    return app_home / "bin"


def _cached(ctx: BuildContext, tv: tools.ToolVersion, app_home: Path) -> Path:
    ctx.out.step(f"Using cached Pipenv {tv.version}")
    tool_sources.set_install_source(ctx, "pipenv", "cache")
    return app_home / "bin"


def usable(tool_dir: Path, app_home: Path, version: str) -> bool:
    """``tool_dir`` holds Pipenv ``version`` in a venv made to run at ``app_home``."""
    if not venv_check.venv_tool_usable(tool_dir, EXECUTABLE, app_home / "venv"):
        return False
    return any(tool_dir.glob(f"venv/lib/python3*/site-packages/pipenv-{version}.dist-info"))


def point_pyvenv_cfg_at_app(ctx: BuildContext, cfg: Path) -> None:
    """venv records os.path.realpath(sys.executable): BUILD_DIR, not /app."""
    text = cfg.read_text(encoding="utf-8")
    for spelling in {os.path.realpath(ctx.build_python_home), str(ctx.build_python_home)}:
        text = text.replace(spelling, str(ctx.python_home))
    cfg.write_text(text, encoding="utf-8")


def _keep_in_cache(ctx: BuildContext, home: Path, cached: Path) -> None:
    def populate(partial: Path) -> None:
        partial.rmdir()  # clone_tree makes it
        cache_tree.clone_tree(home, partial)

    try:
        tools.install_atomically(cached, populate)
        tools.prune_other_versions(cached, EXECUTABLE)
    except OSError as exc:
        # The slug has Pipenv; only the next build's speed is at stake.
        ctx.out.info(f"Could not keep Pipenv in the build cache: {exc}")


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
