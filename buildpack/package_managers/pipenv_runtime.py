"""Pipenv in the slug, so that `pipenv run ...` in a Procfile works, as on Heroku.

    BUILD_DIR/.heroku/python/pipenv/
        venv/              a venv of the runtime, made as /app/.heroku/python/pipenv/venv
        bin/pipenv  ->  ../venv/bin/pipenv   on PATH at build time, in `export` and .profile.d

The venv is made through the /app path (see runtime.link_into_app), so its
scripts, bytecode and pyvenv.cfg name /app/.heroku/python, where it runs:
from the lock, written as kept_venv.make_bare writes Poetry's; by pip's
way, by ``python -m venv``, which writes the real path of the interpreter
into pyvenv.cfg, pointed back at /app. The relocation audit checks it with
the rest of .heroku/python.

It is part of the app's Python home, cached with it (as on Heroku). When the
restored home lacks it, it is made again from its locked wheels, which the
build cache keeps and checks before use (see tool_wheels): a venv kept
anywhere else in CACHE_DIR would be run without a check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from buildpack.core import fs
from buildpack.core.context import BuildContext
from buildpack.package_managers import kept_venv, tool_sources, tools, venv_check

SUBDIR = Path("pipenv")
EXECUTABLE = "pipenv"


def install(ctx: BuildContext, tv: tools.ToolVersion) -> Path:
    """Put Pipenv ``tv`` into the slug; return its bin directory (as /app sees it)."""
    home = ctx.build_python_home / SUBDIR
    app_home = ctx.python_home / SUBDIR
    if usable(home, app_home, tv.version):
        return _cached(ctx, tv, app_home)
    _remove(home)
    # Copies of earlier versions of this buildpack, never run now.
    tools.prune_other_versions(tools.venv_tool_dir(ctx, tv), EXECUTABLE)
    fs.remove_tree(tools.venv_tool_dir(ctx, tv))
    home.mkdir(parents=True)
    venv = app_home / "venv"
    minor = tools.runtime_tag(ctx).removeprefix("python")
    # From the buildpack's lock, without pip, into a venv written in
    # process (starting the runtime for `python -m venv` took 0.46 s); else
    # by the venv's own pip.
    made = tool_sources.install_from_lock(
        ctx,
        tv,
        minor,
        venv,
        venv,
        EXECUTABLE,
        bare=lambda where: kept_venv.make_bare(where, ctx.python, minor),
    )
    if made is None:
        _remove(home / "venv")
        tools.make_venv(ctx, tv, venv, executable=EXECUTABLE)
    tool_sources.set_install_source(ctx, "pipenv", made.source if made else "pip")
    point_pyvenv_cfg_at_app(ctx, home / "venv" / "pyvenv.cfg")
    tools.link_executable(home, EXECUTABLE)
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


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
