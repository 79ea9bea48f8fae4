"""A mirror that says what it holds: runtimes.json beside the packed 3.11 runtime.

The mirror has only this machine's 3.11 (3.11.7 here), older than the 3.11
buildpack.toml knows: an app asking for "3.11" gets the mirror's, and one
pinning a 3.11 the mirror lacks is told what the mirror has, before any
download. The successful build's slug runs with the host's Python hidden.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime.manifest import RuntimeEntry
from tests.support.builds import (
    assert_clean_failure,
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
)
from tests.support.fault_server import FaultServer
from tests.support.hidden_host import (
    assert_ran_without_host,
    hide_env,
    host_python_dirs,
    slug_check_command,
)
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.sandbox import Sandbox
from tools.runtime_archive import manifest
from tools.runtime_archive.pack import host_arch
from tools.runtime_archive.writer import sha256_file

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def manifest_mirror(tmp_path_factory, runtime_archive: RuntimeArchive) -> Iterator[FaultServer]:
    mirror = tmp_path_factory.mktemp("manifest-mirror")
    shutil.copy2(runtime_archive.path, mirror)
    shutil.copy2(runtime_archive.sha256, mirror)
    archive = mirror / runtime_archive.name
    entry = RuntimeEntry(
        runtime_archive.name,
        runtime_archive.version,
        "heroku-24",
        host_arch(),
        archive.stat().st_size,
        sha256_file(archive),
    )
    manifest.add(mirror, entry)
    with FaultServer(mirror) as server:
        yield server


def test_a_minor_gets_the_newest_patch_the_mirror_has(
    tmp_path, runtime_archive, manifest_mirror, warm_cache
):
    version = runtime_archive.version
    minor = version.rsplit(".", 1)[0]
    latest = Settings.load(buildpack_root() / "buildpack.toml").latest_patch[minor]
    assert latest != version, "the mirror must lack the patch buildpack.toml knows"
    box = Sandbox.create(
        tmp_path, python_version=minor, cache_from=warm_cache, build_name="build_manifest"
    )
    hidden = host_python_dirs()
    env = box.env(BUILDPACK_S3_BASE_URL=manifest_mirror.url, **hide_env(hidden))
    result = box.build(env, slug_check_command(hidden))
    assert result.returncode == 0, result.log
    assert f"Using Python {version} ({minor} specified in .python-version)" in result.stdout
    assert (
        f"The mirror's runtimes.json lists Python {version} for heroku-24 ({host_arch()}), "
        f"the newest {minor} it has" in result.stdout
    )
    assert "patch update is available" not in result.log
    fields = read_report(box.cache)
    assert fields["python_version"] == version
    assert fields["python_version_resolved_by"] == "runtimes.json"
    # Asked for by a child process while the build imported its modules.
    assert fields["runtime_manifest_read_ahead"] is True
    # The packed 3.11 runs at /app with the pyenv installation it came from hidden.
    assert_ran_without_host(result.stdout, hidden, version)


def test_an_exact_version_the_mirror_lacks_lists_what_it_has(
    tmp_path, runtime_archive, manifest_mirror
):
    minor = runtime_archive.version.rsplit(".", 1)[0]
    app = copy_fixture("pip_app", tmp_path, python_version=f"{minor}.99")
    manifest_mirror.clear()
    cache = tmp_path / "cache"
    result = build_and_run(
        app,
        cache,
        tmp_path / "env",
        env=build_env(BUILDPACK_S3_BASE_URL=manifest_mirror.url),
        command=["true"],
        build_dir=tmp_path / "build",
    )
    assert_clean_failure(result, f"Python {minor}.99 is not on the runtime mirror")
    assert f"lists: {runtime_archive.version}." in result.stderr
    assert f"give only the minor ('{minor}')" in result.stderr
    assert read_report(cache)["failure_reason"] == "python-version::not-on-mirror"
    # Found out from the manifest alone: no archive was asked for.
    assert set(manifest_mirror.hits) == {"/runtimes.json"}, manifest_mirror.hits
