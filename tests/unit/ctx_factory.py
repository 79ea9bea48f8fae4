"""A real BuildContext over temporary directories, for unit tests of build steps.

The app dir is a temporary stand-in for /app, linked to the build's runtime
the way runtime.link_into_app links the real /app, so steps run their
commands through "app" paths exactly as in a build.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from buildpack.core.config_vars import ConfigVars
from buildpack.core.context import BuildContext
from buildpack.core.output import Output
from buildpack.core.report import Report
from buildpack.core.settings import Settings, buildpack_root


@dataclass
class Captured:
    ctx: BuildContext
    stdout: io.StringIO
    stderr: io.StringIO

    @property
    def log(self) -> str:
        return self.stdout.getvalue() + self.stderr.getvalue()


def make_ctx(
    tmp_path: Path,
    *,
    config: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
    install_dev: bool = False,
) -> Captured:
    build_dir = tmp_path / "build"
    app_dir = tmp_path / "app"
    build_dir.mkdir(exist_ok=True)
    app_dir.mkdir(exist_ok=True)
    (tmp_path / "buildpack").mkdir(exist_ok=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    ctx = BuildContext(
        build_dir=build_dir,
        cache_dir=tmp_path / "cache",
        env_dir=None,
        buildpack_dir=tmp_path / "buildpack",
        settings=Settings.load(buildpack_root() / "buildpack.toml"),
        out=Output(stdout, stderr),
        report=Report(),
        config=ConfigVars(values=dict(config or {})),
        environ=base_env if environ is None else environ,
        app_dir=app_dir,
        install_dev=install_dev,
    )
    return Captured(ctx, stdout, stderr)


def link_python_home(ctx: BuildContext, shared_home: Path) -> None:
    """A runtime for this test that uses ``shared_home``'s files.

    BUILD_DIR/.heroku/python is a real directory of links to the shared
    home's entries, so files a step adds there (nltk_data...) stay in this
    test; app/.heroku/python links to it as /app/.heroku/python does.
    """
    build_home = ctx.build_python_home
    build_home.mkdir(parents=True, exist_ok=True)
    for entry in shared_home.iterdir():
        (build_home / entry.name).symlink_to(entry)
    app_link = ctx.python_home
    app_link.parent.mkdir(parents=True, exist_ok=True)
    app_link.symlink_to(build_home)


def fake_site_packages(python_home: Path, *dists: str) -> Path:
    """A site-packages holding only the metadata dirs of ``dists`` ("Django-5.2")."""
    site = python_home / "lib" / f"python3.{sys.version_info.minor}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        (site / f"{dist}.dist-info").mkdir()
    return site
