"""What an app moving from Heroku's classic Python buildpack relies on, end to end.

One build covers three of them (a build costs a minute on this machine): the
pip app on the heroku-26 stack, from a loopback mirror that publishes only
Ubuntu 26.04 archives, relocated to /app with the build directory deleted.
At /app it serves a request, imports pkg_resources from the setuptools the
buildpack preinstalled on the 3.11 runtime (the app does not list it, and
the runtime archive has an empty site-packages), and runs with LANG
en_US.UTF-8 from .profile.d, since the build and the dyno set none, with
Python still in UTF-8 for files and stdio although this machine has no such
locale.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buildpack.core.settings import Settings, buildpack_root
from tests.support.builds import BuildResult, read_report
from tests.support.fault_server import FaultServer
from tests.support.runtime_mirror import RuntimeArchive, publish_as
from tests.support.sandbox import CHECK_SLUG, Sandbox

pytestmark = pytest.mark.e2e

SETTINGS = Settings.load(buildpack_root() / "buildpack.toml")

# Runs in /app after relocation, after .profile.d was sourced.
_AT_RUN_TIME = r"""
"$1"
python - <<'PY'
import locale
import os
import sys
from pathlib import Path

import pkg_resources
import setuptools

print("PKG_RESOURCES:", pkg_resources.__file__)
print("SETUPTOOLS:", setuptools.__version__)
print("LANG:", os.environ["LANG"])
encodings = (sys.stdout.encoding, sys.getfilesystemencoding(), locale.getpreferredencoding(False))
print("ENCODINGS:", *encodings)
path = Path(os.environ["HOME"], "naïve-été.txt")
path.write_text("snow ☃\n")
with open(path) as f:
    print("FILE:", f.encoding, f.read() == "snow ☃\n")
try:
    locale.setlocale(locale.LC_CTYPE, "en_US.UTF-8")
    print("HOST LOCALE: present")
except locale.Error:
    print("HOST LOCALE: missing")
PY
"""


@pytest.fixture
def mirror_26(tmp_path_factory: pytest.TempPathFactory, runtime_archive: RuntimeArchive):
    """A mirror with the packed runtime under its Ubuntu 26.04 name, and nothing else."""
    published = publish_as(runtime_archive, tmp_path_factory.mktemp("mirror-26"), ubuntu="26")
    assert sorted(p.name for p in published.dir.iterdir()) == [
        published.name,
        published.name + ".sha256",
    ]
    with FaultServer(published.dir) as server:
        yield server, published


@pytest.fixture
def heroku_26_build(
    tmp_path: Path,
    runtime_archive: RuntimeArchive,
    warm_cache: Path,
    mirror_26: tuple[FaultServer, RuntimeArchive],
) -> Iterator[tuple[Sandbox, BuildResult, FaultServer, RuntimeArchive]]:
    server, published = mirror_26
    box = Sandbox.create(tmp_path, python_version=runtime_archive.version, cache_from=warm_cache)
    env = box.env(STACK="heroku-26", BUILDPACK_S3_BASE_URL=server.url)
    # Neither the build nor the dyno sets a locale.
    for name in ("LANG", "LC_ALL", "LC_CTYPE"):
        env.pop(name, None)
    command = ["bash", "-euo", "pipefail", "-c", _AT_RUN_TIME, "check", str(CHECK_SLUG)]
    yield box, box.build(env, command), server, published


def test_heroku_26_build_serves_from_app_with_setuptools_and_lang(heroku_26_build) -> None:
    box, result, server, published = heroku_26_build
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log
    # heroku-26: the 26.04 archive, the only one the mirror has.
    assert server.hits["/" + published.name] == 1, result.log
    assert f"Installing Python {published.version}" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log

    # setuptools, from the buildpack: the app and the runtime archive have none.
    version = SETTINGS.tools["setuptools"]
    assert f"-----> Installing setuptools {version}" in result.stdout
    fields = read_report(box.cache)
    assert fields["setuptools_version"] == version
    assert fields["setuptools_install_source"] == "index"
    assert f"SETUPTOOLS: {version}" in result.stdout
    minor = ".".join(published.version.split(".")[:2])
    assert (
        f"PKG_RESOURCES: /app/.heroku/python/lib/python{minor}/site-packages/"
        "pkg_resources/__init__.py" in result.stdout
    ), result.log

    # LANG: Heroku's default from .profile.d; UTF-8 whether or not the host has it.
    assert "LANG: en_US.UTF-8" in result.stdout, result.log
    assert "ENCODINGS: utf-8 utf-8 utf-8" in result.stdout, result.log
    assert "FILE: utf-8 True" in result.stdout, result.log
    assert "HOST LOCALE: " in result.stdout
