"""A later buildpack uses the app's Python through the `export` file."""

from __future__ import annotations

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import build_env, copy_fixture

pytestmark = pytest.mark.e2e

# The next buildpack starts from a bare environment: only what `export` sets
# can make `python` and the app's console scripts (gunicorn) found.
NEXT_BUILDPACK = r"""
"$BUILDPACK/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
echo "=== next buildpack"
env -i HOME=/nonexistent PATH=/usr/bin:/bin BUILD_DIR="$BUILD_DIR" BUILDPACK="$BUILDPACK" \
  bash -c '
    set -euo pipefail
    . "$BUILDPACK/export"
    cd "$BUILD_DIR"
    echo "python is $(command -v python)"
    python -c "import sys; print(\"prefix\", sys.prefix)"
    echo "gunicorn is $(command -v gunicorn)"
    gunicorn --version
    python -c "import gunicorn; print(\"gunicorn from\", gunicorn.__file__)"
  '
"""


def test_next_buildpack_runs_python_and_console_scripts_via_app(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    result = run_staged(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        NEXT_BUILDPACK,
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
    )
    assert result.returncode == 0, result.log
    after = result.stdout.split("=== next buildpack\n", 1)[1]
    assert "python is /app/.heroku/python/bin/python\n" in after
    assert "prefix /app/.heroku/python\n" in after
    assert "gunicorn is /app/.heroku/python/bin/gunicorn\n" in after
    assert "gunicorn (version 27.0.1)" in after
    assert "gunicorn from /app/.heroku/python/lib/python" in after
