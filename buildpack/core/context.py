"""The small object every build step receives instead of reading globals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack.core.config_vars import ConfigVars, lookup
from buildpack.core.output import Output
from buildpack.core.report import Report
from buildpack.core.settings import Settings

if TYPE_CHECKING:
    from buildpack.cache.cache_guard import CacheDirStamp
    from buildpack.cache.cache_lock import FileLock
    from buildpack.package_managers.tool_fetch import Fetch
    from buildpack.runtime.manifest import Asked
    from buildpack.selfdeps.bootstrap import Dependencies
    from buildpack.selfdeps.tree_scan import Begun

APP_DIR = Path("/app")
# LANG when neither the build's environment nor a config var sets one; the
# same default goes into `export` and .profile.d (slug_env.envfiles).
DEFAULT_LANG = "en_US.UTF-8"
PYTHON_SUBDIR = Path(".heroku/python")

# Variables from the build's own environment that must not leak into the app's
# Python while we build it: they would make it use another stdlib or packages.
_SCRUBBED = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")


@dataclass(frozen=True)
class Deferred:
    finish: Callable[[], None]
    stop: Callable[[], None]


@dataclass
class BuildContext:
    build_dir: Path
    cache_dir: Path
    env_dir: Path | None
    buildpack_dir: Path
    settings: Settings
    out: Output
    report: Report
    config: ConfigVars
    environ: Mapping[str, str]
    app_dir: Path = APP_DIR
    # True for bin/test-compile (Heroku CI): install dev/test dependencies.
    install_dev: bool = False
    stack: str = ""
    # The buildpack's own libraries, perhaps still being fetched (see
    # bootstrap); None where a step needs no more than the standard library.
    deps: Dependencies | None = None
    # Work left running in the background (see proc.start): ``finish_deferred``
    # waits for it, in order; a failed build stops it instead.
    deferred: list[Deferred] = field(default_factory=list)
    # The package manager's wheels, being fetched while the runtime installs
    # (see package_managers.tool_fetch); the build closes it however it ends.
    tool_fetch: Fetch | None = None
    # A kept tool's directory in CACHE_DIR, being read in a child process
    # since the build began (see kept_venv.read_ahead): the check takes it.
    read_ahead: Begun | None = None
    # An own mirror's manifest, being asked for in a child process since the
    # build began (see manifest.read_ahead): manifest.load takes it.
    manifest_ahead: Asked | None = None
    arch: str = ""
    # Which directory CACHE_DIR was when the build began (see cache_guard).
    cache_stamp: CacheDirStamp | None = None
    # The host-wide lock on /app/.heroku/python, held to the end of the build.
    app_link_lock: FileLock | None = None
    # Variables build steps add for later steps and later buildpacks
    # (UV_*, POETRY_*, NLTK_DATA...): the build env and `export` get them.
    extra_env: dict[str, str] = field(default_factory=dict)
    # Directories of programs installed outside the slug (a package manager in
    # the build cache) for later steps and buildpacks: on PATH after the
    # runtime's bin, in the build env and in `export`; never in .profile.d.
    extra_path: list[str] = field(default_factory=list)
    # Variables for the dyno, written to .profile.d; "$HOME" is expanded there.
    profile_env: dict[str, str] = field(default_factory=dict)
    # Directories in the slug put on the dyno's PATH after the runtime's bin
    # ("$HOME/..."), such as Pipenv's.
    profile_path: list[str] = field(default_factory=list)
    # Extra sh snippets for .profile.d/python.sh (boot-time path rewrites...).
    profile_snippets: list[str] = field(default_factory=list)

    @property
    def python_home(self) -> Path:
        """Where every Python runs from: the /app path, never BUILD_DIR."""
        return self.app_dir / PYTHON_SUBDIR

    @property
    def build_python_home(self) -> Path:
        """Where the runtime's files really are during the build."""
        return self.build_dir / PYTHON_SUBDIR

    @property
    def python(self) -> Path:
        return self.python_home / "bin" / "python"

    @property
    def deps_ready(self) -> bool:
        """True once the buildpack's own libraries are importable."""
        return self.deps is None or self.deps.ready

    def cache_dir_problem(self) -> str | None:
        """Why CACHE_DIR can no longer take this build's cache (a hook
        deleted or replaced it), or None."""
        return self.cache_stamp.problem() if self.cache_stamp is not None else None

    def finish_deferred(self) -> None:
        while self.deferred:
            self.deferred.pop(0).finish()

    def stop_deferred(self) -> None:
        while self.deferred:
            self.deferred.pop(0).stop()

    def close_tool_fetch(self) -> None:
        """Stop fetching the package manager's files, and remove them."""
        if self.tool_fetch is not None:
            self.tool_fetch.close()
            self.tool_fetch = None

    def setting(self, name: str) -> str | None:
        return lookup(name, self.config, self.environ)

    def tool_version(self, tool: str) -> str:
        return self.setting(f"BUILDPACK_{tool.upper()}_VERSION") or self.settings.tools[tool]

    def build_env(self, *, with_config_vars: bool = True) -> dict[str, str]:
        """Environment for installers, hooks and other build steps."""
        env = {k: v for k, v in self.environ.items() if k not in _SCRUBBED}
        if with_config_vars:
            env.update(self.config.exportable())
        home = str(self.python_home)
        path = env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        for entry in reversed(self.extra_path):
            path = _prepend(entry, path)
        env["PATH"] = _prepend(f"{home}/bin", path)
        for var, sub in (
            ("LD_LIBRARY_PATH", "lib"),
            ("LIBRARY_PATH", "lib"),
            ("C_INCLUDE_PATH", "include"),
            ("CPLUS_INCLUDE_PATH", "include"),
            ("PKG_CONFIG_PATH", "lib/pkgconfig"),
        ):
            env[var] = _prepend(f"{home}/{sub}", env.get(var, ""))
        env["PYTHONUNBUFFERED"] = "1"
        # Heroku's default. Python is in UTF-8 mode either way when the
        # machine lacks that locale (PEP 538/540), so the build does not break.
        env.setdefault("LANG", DEFAULT_LANG)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        # Classic builds often run as root; pip's warning about it is noise there.
        env["PIP_ROOT_USER_ACTION"] = "ignore"
        env["BUILD_DIR"] = str(self.build_dir)
        env["CACHE_DIR"] = str(self.cache_dir)
        if self.env_dir is not None:
            env["ENV_DIR"] = str(self.env_dir)
        env.update(self.extra_env)
        return env

    def app_code_env(self) -> dict[str, str]:
        """build_env for the app's own build code (hooks, collectstatic): with
        the config vars installers never get, such as PYTHONPATH."""
        env = self.build_env()
        env.update(self.config.app_code_only())
        return env


def _prepend(entry: str, current: str) -> str:
    return f"{entry}:{current}" if current else entry
