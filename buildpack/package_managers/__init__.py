"""Choosing the package manager from the app's files."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from buildpack.cache.install_inputs import ManagerInputs
from buildpack.core import errors
from buildpack.core.context import BuildContext


class Installer(Protocol):
    """What each package manager module provides (see pip.py)."""

    # Environment variables that change what the installer does: a change of
    # any of them means an unchanged rebuild must run it again.
    SETTINGS_PREFIXES: tuple[str, ...]
    # Whether the build cache may skip install_dependencies when nothing changed.
    SKIP_INSTALL_WHEN_UNCHANGED: bool

    def install_tool(self, ctx: BuildContext) -> str:
        """Make the tool available; return its version."""
        ...

    def install_dependencies(self, ctx: BuildContext) -> None: ...

    def install_inputs(self, ctx: BuildContext) -> ManagerInputs:
        """The app files that decide the installer's result (see install_inputs)."""
        ...


# The file that selects each package manager, in the order they are reported.
LOCKFILES = {
    "Pipfile.lock": "pipenv",
    "requirements.txt": "pip",
    "poetry.lock": "poetry",
    "uv.lock": "uv",
}


def select(app_dir: Path) -> str:
    found = [name for name in LOCKFILES if (app_dir / name).is_file()]
    # As Heroku: a Pipfile says Pipenv even beside a requirements.txt, which
    # may be stale; building with pip would install something else.
    if (app_dir / "Pipfile").is_file() and "Pipfile.lock" not in found:
        raise errors.pipfile_lock_missing(found)
    if len(found) > 1:
        raise errors.multiple_package_managers(found)
    if found:
        return LOCKFILES[found[0]]
    if (app_dir / "setup.py").is_file() or (app_dir / "setup.cfg").is_file():
        raise errors.setup_py_only()
    if (app_dir / "pyproject.toml").is_file():
        raise errors.pyproject_without_lockfile()
    raise errors.no_package_manager_files()


# The package managers whose venv the build keeps in CACHE_DIR (see kept_venv).
KEPT_VENVS = ("poetry",)


def read_ahead(ctx: BuildContext, manager: str, previous_python: str | None) -> None:
    """Begin reading what the install step will check (see kept_venv.read_ahead)."""
    if manager in KEPT_VENVS:
        from buildpack.package_managers import kept_venv

        kept_venv.read_ahead(ctx, manager, previous_python)


def installer_for(manager: str) -> Installer:
    module = importlib.import_module(f"buildpack.package_managers.{manager}")
    return module
