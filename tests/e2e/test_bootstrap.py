"""The buildpack's own dependencies on a host python3 without pip.

Every e2e build runs bin/compile with a pip-less python3 first on PATH (the
session fixture in conftest.py); this test follows one such host from its
first build to the next.
"""

from __future__ import annotations

import shutil

import pytest

from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import locate
from tests.support.builds import (
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
    require_namespaces,
)

pytestmark = pytest.mark.e2e


def test_compile_bootstraps_on_a_pipless_host(tmp_path, runtime_archive, mirror_url):
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    env = build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    build_dir = tmp_path / "build_first"
    first = build_and_run(app, cache, tmp_path / "env", env=env, build_dir=build_dir)
    assert first.returncode == 0, first.log
    assert "Installing the buildpack's own dependencies" in first.stdout
    # Installed for the pip-less interpreter's tag, from the index the
    # runtime's bundled pip names, with packaging and installer imported
    # from their wheel files (this Python has neither).
    deps = [p.parent for p in (cache / ".heroku/buildpack-deps").glob("*/.complete")]
    assert len(deps) == 1 and (deps[0] / "zstandard").is_dir() and (deps[0] / "yaml").is_dir()
    assert "RESPONSE: Hello from /app/.heroku/python" in first.stdout
    report = read_report(cache)
    assert report["pypa_libraries_source"] == "index"
    assert report["buildpack_dependencies_source"] == "index"
    assert "Could not fetch" not in first.log, first.log
    wheels = sorted(p.name for p in (cache / ".heroku/buildpack-deps/wheels").iterdir())
    assert wheels[0].startswith("installer-") and wheels[1].startswith("packaging-")
    # Nothing but the standard library until they arrive: urllib and the zstd tool.
    assert report["python_download_transport"] == "urllib"
    assert "Downloaded with urllib and the zstd tool" in first.stdout
    # bin/release (which gets no CACHE_DIR) is told where they are.
    note = locate._note(buildpack_root(), build_dir)
    assert note.read_text() == str(deps[0])
    note.unlink()

    # Without the cached runtime, the second build downloads it again: now
    # with requests, from the libraries the first build installed.
    shutil.rmtree(cache / ".heroku/python")
    (cache / ".heroku/cache.json").unlink()
    second = build_and_run(app, cache, tmp_path / "env", env=env)
    assert second.returncode == 0, second.log
    assert "Installing the buildpack's own dependencies" not in second.stdout
    report = read_report(cache)
    assert report["python_download_transport"] == "requests"
    assert report["buildpack_dependencies_source"] == "cache"
    assert report["buildpack_dependencies_checked"] is True  # before requests was imported
    assert report["pypa_libraries_source"] == "cache"
    assert "Downloaded with urllib" not in second.stdout
