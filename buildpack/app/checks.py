"""Refuse app layouts the build cannot work with, before installing anything."""

from __future__ import annotations

import os

from buildpack.core import errors, safe_fs
from buildpack.core.context import PYTHON_SUBDIR, BuildContext

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
