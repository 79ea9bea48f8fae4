"""Refuse app layouts the build cannot work with, before installing anything."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from buildpack.core import errors, safe_fs
from buildpack.core.context import APP_DIR, PYTHON_SUBDIR, BuildContext

# Set in the environment of later buildpacks by this buildpack's `export`
# (PYTHON_BUILDPACK_HOME) or by Heroku's own Python buildpack (PYTHONHOME).
_EXPORTED_BY_A_PYTHON_BUILDPACK = ("PYTHON_BUILDPACK_HOME", "PYTHONHOME")
VENV_DIRS = (".venv", "venv")


def check_not_duplicate(ctx: BuildContext) -> None:
    """A second Python buildpack in one build would install over the first."""
    exported = any(ctx.environ.get(name) for name in _EXPORTED_BY_A_PYTHON_BUILDPACK)
    if exported and (ctx.build_python_home / "bin" / "python").exists():
        raise errors.duplicate_python_buildpack()


def check_heroku_dir(ctx: BuildContext) -> None:
    """The runtime is unpacked into .heroku: a committed link that leads out
    of the app would have it (and its cleanup) write there."""
    heroku = ctx.build_dir / PYTHON_SUBDIR.parent
    if heroku.is_symlink() and not safe_fs.resolves_inside(ctx.build_dir, heroku):
        raise errors.app_dir_outside_app(str(PYTHON_SUBDIR.parent), os.readlink(heroku))


def check_before_build(
    build_dir: Path, environ: Mapping[str, str], app_dir: Path = APP_DIR
) -> None:
    """What a build by hand can get wrong, refused before anything is fetched."""
    # After an earlier Python buildpack in the same build, check_not_duplicate
    # says what is wrong.
    exported = any(environ.get(name) for name in _EXPORTED_BY_A_PYTHON_BUILDPACK)
    if not exported and built_already(build_dir, app_dir):
        raise errors.already_built()
    check_app_dir_writable(build_dir, app_dir)


def built_already(build_dir: Path, app_dir: Path = APP_DIR) -> bool:
    """BUILD_DIR holds a build's output: a runtime, and the dyno script or the
    /app link that a build (even a failed one) leaves pointing at it."""
    python_dir = build_dir / PYTHON_SUBDIR
    if not python_dir.is_dir() or os.path.islink(build_dir / PYTHON_SUBDIR.parent):
        return False
    if (build_dir / ".profile.d" / "python.sh").is_file():
        return True
    link = app_dir / PYTHON_SUBDIR
    return os.path.islink(link) and os.path.realpath(link) == os.path.realpath(python_dir)


def check_app_dir_writable(build_dir: Path, app_dir: Path = APP_DIR) -> None:
    """The build links /app/.heroku/python to BUILD_DIR: can this user?"""
    if os.path.realpath(build_dir) == os.path.realpath(app_dir):
        return
    link = app_dir / PYTHON_SUBDIR
    # The nearest directory that exists is where the link (or its parents) go.
    for parent in (link.parent, app_dir, app_dir.parent):
        if os.path.isdir(parent):
            if not os.access(parent, os.W_OK | os.X_OK):
                raise errors.app_dir_not_writable(str(link), str(parent), os.geteuid())
            return


def check_no_python_dir(ctx: BuildContext) -> None:
    heroku = ctx.build_dir / PYTHON_SUBDIR.parent
    if os.path.lexists(heroku / PYTHON_SUBDIR.name) and not os.path.islink(heroku):
        # A committed runtime would be mixed with ours and break at run time.
        raise errors.existing_python_dir()


def check_no_venv(ctx: BuildContext) -> None:
    for name in VENV_DIRS:
        if (ctx.build_dir / name / "pyvenv.cfg").exists():
            raise errors.existing_venv_dir(name)


def check_app(ctx: BuildContext) -> None:
    """Every layout check after the pre_compile hook, in Heroku's order."""
    check_heroku_dir(ctx)
    check_no_python_dir(ctx)
    check_no_venv(ctx)
