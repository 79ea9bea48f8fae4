"""setuptools preinstalled for pip and Pipenv apps on 3.10-3.12, and Pipenv's slug venv.

The setuptools install runs for real against a loopback index serving a
wheel made here (with the .pth setuptools' own wheel has), into a runtime
directory of the test's own: its site-packages is empty, as in the runtime
archives, and its python is this interpreter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from buildpack.core.context import BuildContext
from buildpack.package_managers import pipenv_runtime, setuptools_pin
from buildpack.selfdeps import wheel_install
from tests.unit.ctx_factory import make_ctx
from tests.unit.wheel_factory import Index, build_wheel

MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"
PTH = b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n"


@pytest.mark.parametrize(
    ("manager", "version", "wanted"),
    [
        ("pip", "3.10.21", True),
        ("pip", "3.11.7", True),
        ("pipenv", "3.12.14", True),
        ("pip", "3.13.15", False),
        ("pipenv", "3.14.7", False),
        ("uv", "3.12.14", False),
        ("poetry", "3.11.16", False),
    ],
)
def test_which_apps_get_setuptools(tmp_path: Path, manager: str, version: str, wanted: bool):
    assert setuptools_pin.wanted(make_ctx(tmp_path).ctx, manager, version) is wanted


def fake_runtime(ctx: BuildContext) -> Path:
    """BUILD_DIR/.heroku/python with an empty site-packages; /app links to it."""
    home = ctx.build_python_home
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").symlink_to(Path(sys.base_prefix, "bin", "python3"))
    site = home / "lib" / f"python{MINOR}" / "site-packages"
    site.mkdir(parents=True)
    ctx.python_home.parent.mkdir(parents=True, exist_ok=True)
    ctx.python_home.symlink_to(home)
    return site


def publish_setuptools(index: Index, version: str) -> None:
    wheel = build_wheel(
        index.files,
        "setuptools",
        version,
        {
            "setuptools/__init__.py": f"__version__ = {version!r}\n".encode(),
            "pkg_resources/__init__.py": b"WORKING = True\n",
            "_distutils_hack/__init__.py": b"",
            "distutils-precedence.pth": PTH,
        },
    )
    index.publish("setuptools", [wheel])


def ctx_with_index(tmp_path: Path, index: Index, **config: str):
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PIP_INDEX_URL": index.url + "/simple",
        "PIP_CONFIG_FILE": os.devnull,
    }
    return make_ctx(tmp_path, environ=environ, config=config)


def test_setuptools_comes_from_the_index_the_fast_way(tmp_path: Path, index: Index) -> None:
    c = ctx_with_index(tmp_path, index)
    site = fake_runtime(c.ctx)
    version = c.ctx.settings.tools["setuptools"]
    publish_setuptools(index, version)
    assert setuptools_pin.install(c.ctx) == version
    c.ctx.finish_deferred()
    assert f"-----> Installing setuptools {version}\n" in c.stdout.getvalue()
    assert "using the bundled pip" not in c.stdout.getvalue()
    assert c.ctx.report.fields["setuptools_install_source"] == "index"
    # As pip installs it: the .pth, an INSTALLER, bytecode listed in RECORD.
    assert (site / "distutils-precedence.pth").read_bytes() == PTH
    dist_info = site / f"setuptools-{version}.dist-info"
    assert (dist_info / "INSTALLER").read_text() == f"{wheel_install.INSTALLER_NAME}\n"
    record = (dist_info / "RECORD").read_text()
    assert "pkg_resources/__pycache__/__init__." in record
    assert list((site / "setuptools" / "__pycache__").glob("__init__.*.pyc"))
    assert setuptools_pin.installed_version(c.ctx.build_python_home) == version

    # The next build with this Python home (a restored cache) keeps it.
    again = ctx_with_index(tmp_path, index)
    assert setuptools_pin.install(again.ctx) == version
    assert f"-----> Using cached setuptools {version}\n" in again.stdout.getvalue()
    assert again.ctx.report.fields["setuptools_install_source"] == "cache"


def test_buildpack_setuptools_version_picks_another_release(tmp_path: Path, index: Index):
    c = ctx_with_index(tmp_path, index, BUILDPACK_SETUPTOOLS_VERSION="69.5.1")
    site = fake_runtime(c.ctx)
    publish_setuptools(index, "69.5.1")
    assert setuptools_pin.install(c.ctx) == "69.5.1"
    c.ctx.finish_deferred()
    assert (site / "setuptools-69.5.1.dist-info").is_dir()


def test_only_the_expected_pth_is_accepted(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "sneaky", "1.0", {"sneaky.pth": b"import os\n"})
    site = tmp_path / "site"
    site.mkdir()
    with pytest.raises(wheel_install.WheelError, match=r"\.pth"):
        wheel_install.install_into_prefix(
            wheel,
            site_packages=site,
            scripts_dir=tmp_path / "bin",
            python="/app/.heroku/python/bin/python",
            python_minor=MINOR,
            allow_pth=frozenset({"distutils-precedence.pth"}),
        )
    assert list(site.iterdir()) == []


# --- Pipenv's venv in the slug -------------------------------------------------------------


def test_pyvenv_cfg_is_pointed_at_app(tmp_path: Path) -> None:
    """venv writes the real path of the interpreter: BUILD_DIR's, not /app's."""
    c = make_ctx(tmp_path)
    real_home = os.path.realpath(c.ctx.build_python_home)
    cfg = tmp_path / "pyvenv.cfg"
    cfg.write_text(
        f"home = {c.ctx.python_home}/bin\n"
        "include-system-site-packages = false\n"
        f"executable = {real_home}/bin/python{MINOR}\n"
        f"command = {c.ctx.python_home}/bin/python -m venv --without-pip /app/x\n"
    )
    pipenv_runtime.point_pyvenv_cfg_at_app(c.ctx, cfg)
    text = cfg.read_text()
    assert f"executable = {c.ctx.python_home}/bin/python{MINOR}\n" in text
    assert str(c.ctx.build_dir) not in text


def slug_pipenv(root: Path, app_home: Path, version: str, shebang: Path) -> Path:
    """A Pipenv tool directory as pipenv_runtime leaves it."""
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "bin" / "pipenv").write_text(f"#!{shebang}\nimport pipenv\n")
    (venv / "bin" / "pipenv").chmod(0o755)
    (venv / "lib" / f"python{MINOR}" / "site-packages" / f"pipenv-{version}.dist-info").mkdir(
        parents=True
    )
    (root / "bin").mkdir()
    (root / "bin" / "pipenv").symlink_to(Path("..", "venv", "bin", "pipenv"))
    return root


def test_a_slug_pipenv_is_reused_only_if_made_for_app_at_this_version(tmp_path: Path) -> None:
    app_home = Path("/app/.heroku/python/pipenv")
    good = slug_pipenv(tmp_path / "good", app_home, "2026.10.3", app_home / "venv/bin/python")
    assert pipenv_runtime.usable(good, app_home, "2026.10.3")
    assert not pipenv_runtime.usable(good, app_home, "2026.1.1")
    # Made by an earlier release, in the build cache: its scripts name the cache.
    cached = tmp_path / "cache-made"
    slug_pipenv(cached, app_home, "2026.10.3", cached / "venv/bin/python")
    assert not pipenv_runtime.usable(cached, app_home, "2026.10.3")
