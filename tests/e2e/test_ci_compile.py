"""bin/test-compile (Heroku CI): test dependencies installed, collectstatic skipped."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.e2e.staging import run_staged
from tests.support.builds import ROOT, build_env, copy_fixture

pytestmark = pytest.mark.e2e

# Heroku CI runs the tests in the build directory, with no relocation.
TEST_COMPILE = r"""
"$BUILDPACK/bin/test-compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
echo "=== tests"
cd "$BUILD_DIR"
/app/.heroku/python/bin/python -c "import iniconfig, django; print('test deps ok')"
test ! -e "$BUILD_DIR/staticfiles" && echo "no staticfiles"
"""


def test_test_compile_installs_test_requirements_and_skips_collectstatic(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("django_app", tmp_path, python_version=runtime_archive.version)
    (app / "requirements-test.txt").write_text("iniconfig==2.3.1\n")
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
    report = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "report"), "b", str(tmp_path / "cache"), "e"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert yaml.safe_load(report.stdout)["django_collectstatic"] == "skipped-ci"
