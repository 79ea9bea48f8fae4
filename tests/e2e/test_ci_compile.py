"""bin/test-compile (Heroku CI): test dependencies installed, collectstatic skipped."""

from __future__ import annotations

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import bin_report, build_env, copy_fixture

pytestmark = pytest.mark.e2e

# Heroku CI runs the tests in the build directory, with no relocation.
TEST_COMPILE = r"""
"$BUILDPACK/bin/test-compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
echo "=== tests"
cd "$BUILD_DIR"
/app/.heroku/python/bin/python -c "import iniconfig, django; print('test deps ok')"
test ! -e "$BUILD_DIR/staticfiles" && echo "no staticfiles"
echo "=== release"
"$BUILDPACK/bin/release" "$BUILD_DIR"
"""


def test_test_compile_installs_test_requirements_and_skips_collectstatic(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("django_app", tmp_path, python_version=runtime_archive.version)
    # A PostgreSQL driver among the test dependencies, for bin/release to find.
    (app / "requirements-test.txt").write_text("iniconfig==2.3.1\npsycopg2-binary==2.9.13\n")
    result = run_staged(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        TEST_COMPILE,
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
    )
    assert result.returncode == 0, result.log
    assert "pip install -r requirements.txt -r requirements-test.txt" in result.stdout
    assert "collectstatic --noinput" not in result.stdout
    assert "test deps ok\n" in result.stdout
    assert "no staticfiles\n" in result.stdout
    # bin/release through its shebang, with the build's pip-less python3,
    # found the driver in the build's Python.
    release = result.stdout.split("=== release\n", 1)[1]
    assert release == "---\naddons:\n- heroku-postgresql\n", result.log
    assert bin_report(tmp_path / "cache")["django_collectstatic"] == "skipped-ci"
