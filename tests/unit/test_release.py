"""bin/release: the heroku-postgresql add-on for Django apps with a driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from buildpack.cli import release
from buildpack.core import yaml_out
from buildpack.core.output import Output
from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import bootstrap
from tests.unit.ctx_factory import fake_site_packages

BIN_RELEASE = buildpack_root() / "bin" / "release"


def app(tmp_path, *dists, manage_py=True):
    tmp_path.mkdir(parents=True, exist_ok=True)
    if manage_py:
        (tmp_path / "manage.py").write_text("")
    fake_site_packages(tmp_path / ".heroku" / "python", *dists)
    return tmp_path


@pytest.mark.parametrize(
    "driver", ["psycopg2-2.9.13", "psycopg2_binary-2.9.13", "psycopg-3.2.0", "psycopg_binary-3.2.0"]
)
def test_django_with_a_postgres_driver_gets_the_addon(tmp_path, driver):
    build = app(tmp_path, "django-5.2.19", driver)
    assert release.release_yaml(build) == "---\naddons:\n- heroku-postgresql\n"
    assert yaml.safe_load(release.release_yaml(build)) == {"addons": ["heroku-postgresql"]}


@pytest.mark.parametrize(
    ("dists", "manage_py"),
    [
        (("django-5.2.19",), True),  # no driver
        (("psycopg2-2.9.13",), True),  # no Django
        (("Django-5.2.19", "psycopg2-2.9.13"), False),  # not a Django project
        ((), False),
    ],
)
def test_anything_else_gets_an_empty_config(tmp_path, dists, manage_py):
    build = app(tmp_path, *dists, manage_py=manage_py)
    assert release.release_yaml(build) == "--- {}\n"


def test_minimal_writer_matches_pyyaml_for_release():
    data = {"addons": ["heroku-postgresql"]}
    assert yaml_out.dump_minimal(data, explicit_start=True) == yaml_out.dump(
        data, explicit_start=True
    )
    assert yaml_out.dump_minimal({}, explicit_start=True) == "--- {}\n"


def test_bin_release_prints_yaml(tmp_path):
    build = app(tmp_path, "Django-5.2.19", "psycopg2_binary-2.9.13")
    result = subprocess.run(
        [sys.executable, str(BIN_RELEASE), str(build)], capture_output=True, text=True, check=True
    )
    assert yaml.safe_load(result.stdout) == {"addons": ["heroku-postgresql"]}


@pytest.fixture(scope="module")
def installed_libraries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The buildpack's own libraries as bin/compile installs them, fetched
    from the index (the locked wheels for this interpreter)."""
    cache = tmp_path_factory.mktemp("release-libs") / "cache"
    was = sys.dont_write_bytecode
    deps = bootstrap.Dependencies(
        buildpack_dir=buildpack_root(), cache_dir=cache, env=dict(os.environ), out=Output()
    )
    try:
        assert deps.wait([])
    finally:
        sys.path.remove(str(deps.target))
        sys.dont_write_bytecode = was
    return deps.target


def _library_dir(tmp_path: Path, installed: Path) -> Path:
    deps = tmp_path / "cache" / installed.relative_to(installed.parents[2])
    shutil.copytree(installed, deps, symlinks=True)
    return deps


_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from buildpack.cli import release; "
    "code = release.release_main(sys.argv[2:]); "
    "print('pyyaml' if 'yaml' in sys.modules else 'minimal', file=sys.stderr); "
    "sys.exit(code)"
)


def _release_without_site_packages(build: Path) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages, so PyYAML can only come from the build's libraries.
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, str(buildpack_root()), str(build)],
        capture_output=True,
        text=True,
        check=True,
    )


def test_bin_release_uses_the_pyyaml_bin_compile_installed(tmp_path, installed_libraries):
    from buildpack.selfdeps import locate

    build = app(tmp_path / "build", "Django-5.2.19", "psycopg2_binary-2.9.13")
    before = _release_without_site_packages(build)
    assert before.stderr.strip() == "minimal"  # no note for this BUILD_DIR yet
    locate.remember(buildpack_root(), build, _library_dir(tmp_path, installed_libraries))
    try:
        after = _release_without_site_packages(build)
    finally:
        locate._note(buildpack_root(), build).unlink()
    assert after.stderr.strip() == "pyyaml"
    assert yaml.safe_load(after.stdout) == {"addons": ["heroku-postgresql"]}


@pytest.mark.parametrize("change", ["incomplete", "tampered"])
def test_a_library_directory_not_as_locked_is_not_used(tmp_path, installed_libraries, change):
    """They are in CACHE_DIR: imported only when every file is the locked wheels'."""
    from buildpack.selfdeps import locate

    build = app(tmp_path / "build", "Django-5.2.19")
    deps = _library_dir(tmp_path, installed_libraries)
    marker = tmp_path / "planted-code-ran"
    if change == "incomplete":
        (deps / "yaml" / "__init__.py").unlink()
    else:
        with open(deps / "yaml" / "__init__.py", "a") as f:
            f.write(f"\nopen({str(marker)!r}, 'w').write('ran')\n")
    locate.remember(buildpack_root(), build, deps)
    try:
        result = _release_without_site_packages(build)
    finally:
        locate._note(buildpack_root(), build).unlink()
    assert result.stderr.strip() == "minimal"
    assert not marker.exists()
