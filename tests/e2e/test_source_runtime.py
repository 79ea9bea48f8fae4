"""A second Python version end to end: CPython 3.13 built from source by
tools/build-runtime (from Debian's copy of the upstream tarball), served
with its runtimes.json, and every package manager's app built on it and run
at /app with the build host's Python hidden. One build runs bin/compile
itself on that 3.13, from a venv without pip, as a newer host would.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from tests.support.archives import tar_members
from tests.support.builds import build_and_run, build_env, copy_fixture, read_report
from tests.support.hidden_host import (
    assert_ran_without_host,
    hide_env,
    host_python_dirs,
    slug_check_command,
)
from tests.support.source_runtime import DEBIAN_PACKAGE, VERSION, SourceRuntime
from tools.runtime_archive import manifest
from tools.runtime_archive.writer import sha256_file

pytestmark = pytest.mark.e2e


def test_the_archive_passes_its_checksum_and_layout(source_runtime: SourceRuntime) -> None:
    runtime = source_runtime.archive
    provenance = source_runtime.provenance
    # What it was built from, pinned: Debian's tarball of the pinned release
    # (or, said in the session's log line, the 3.13 Debian has instead).
    assert provenance["debian_package"] == DEBIAN_PACKAGE
    assert str(provenance["version"]).startswith("3.13.")
    if provenance["version"] == VERSION:
        assert provenance["debian_version"] == "3.13.15-1"
        assert provenance["tarball"] == "python3.13_3.13.15.orig.tar.xz"
    assert runtime.name == f"python-{runtime.version}-ubuntu-24.04-amd64.tar.zst"

    digest = sha256_file(runtime.path)
    assert runtime.sha256.read_text() == f"{digest}  {runtime.name}\n"
    [listed] = manifest.read(runtime.dir)
    assert (listed.file, listed.version, listed.sha256) == (runtime.name, runtime.version, digest)
    assert (listed.stack, listed.arch, listed.size) == (
        "heroku-24",
        "amd64",
        runtime.path.stat().st_size,
    )

    found = tar_members(runtime.path)
    assert found["bin/python"].issym() and found["bin/python"].linkname == "python3"
    assert found["bin/python3"].issym() or found["bin/python3"].isreg()
    assert found["lib/python3.13"].isdir() and "lib/python3.13/os.py" in found
    assert found["include/python3.13"].isdir()
    assert "lib/libpython3.13.so.1.0" in found
    names = list(found)
    assert not [n for n in names if {"test", "tests", "idle_test"} & set(n.split("/"))]
    assert not [n for n in names if n.endswith(".a")]
    assert not [n for n in names if n.startswith(("bin/idle", "bin/pydoc", "bin/2to3"))]
    assert [n for n in names if n.startswith("lib/python3.13/ensurepip/_bundled/pip-")]
    assert not [n for n in names if n.startswith("lib/python3.13/site-packages/")]


def test_bytecode_is_unchecked_hash(source_runtime: SourceRuntime) -> None:
    """PEP 552 flags 0b01: hash-based, never checked against the source's date."""
    with (
        open(source_runtime.archive.path, "rb") as raw,
        zstandard.ZstdDecompressor().stream_reader(raw) as reader,
        tarfile.open(fileobj=reader, mode="r|") as tf,
    ):
        for member in tf:
            if member.name == "lib/python3.13/__pycache__/os.cpython-313.pyc":
                header = tf.extractfile(member).read(8)  # type: ignore[union-attr]
                break
        else:
            pytest.fail("no bytecode for os.py")
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_pip_app_with_a_313_host_python_without_pip(
    tmp_path, source_runtime, source_mirror_url, installed_313
):
    app = copy_fixture("pip_app", tmp_path, python_version="3.13")
    cache = tmp_path / "cache"
    hidden = host_python_dirs(installed_313)
    env = build_env(
        BUILDPACK_S3_BASE_URL=source_mirror_url,
        LD_LIBRARY_PATH=str(installed_313 / "python/lib"),
        **hide_env(hidden),
    )
    env["PATH"] = f"{installed_313 / 'venv/bin'}:{env['PATH']}"
    build_on_313(app, cache, env, hidden, source_runtime.archive.version)
    # The buildpack ran on the 3.13 host: its own libraries were fetched for it.
    [complete] = (cache / ".heroku" / "buildpack-deps").glob("*/.complete")
    deps = complete.parent
    assert deps.name.startswith("cpython-313-"), deps.name
    assert read_report(cache)["buildpack_dependencies_source"] == "index"


@pytest.mark.parametrize("manager", ["uv", "poetry", "pipenv"])
def test_locked_apps_on_the_313_runtime(
    tmp_path, manager, locked_apps, warm_cache, source_runtime, source_mirror_url
):
    app = locked_apps.app(f"{manager}_app", tmp_path, manager)
    # The lockfiles do not depend on it: ask for the runtime's minor.
    (app / ".python-version").write_text("3.13\n")
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache, symlinks=True)
    hidden = host_python_dirs()
    env = locked_apps.build_env(BUILDPACK_S3_BASE_URL=source_mirror_url, **hide_env(hidden))
    build_on_313(app, cache, env, hidden, source_runtime.archive.version)
    fields = read_report(cache)
    assert fields["package_manager"] == manager
    assert f"{manager}_version" in fields


def build_on_313(
    app: Path, cache: Path, env: dict[str, str], hidden: list[Path], version: str
) -> None:
    """Build ``app`` on the from-source runtime, run it at /app with ``hidden``
    out of reach, and check both."""
    result = build_and_run(
        app, cache, app.parent / "env", env=env, command=slug_check_command(hidden)
    )
    assert result.returncode == 0, result.log
    assert_resolved_by_manifest(result.stdout, cache, version)
    assert_ran_without_host(result.stdout, hidden, version)


def assert_resolved_by_manifest(stdout: str, cache: Path, version: str) -> None:
    assert f"Using Python {version} (3.13 specified in .python-version)" in stdout, stdout
    assert (
        f"The mirror's runtimes.json lists Python {version} for heroku-24 (amd64), "
        "the newest 3.13 it has" in stdout
    ), stdout
    fields = read_report(cache)
    assert fields["python_version"] == version
    assert fields["python_version_resolved_by"] == "runtimes.json"
