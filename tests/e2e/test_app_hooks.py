"""The app's bin/pre_compile and bin/post_compile hooks in a real build."""

from __future__ import annotations

import pytest

from tests.support.builds import bin_report, build_and_run, build_env, copy_fixture

pytestmark = pytest.mark.e2e

PRE_COMPILE = """\
echo "pre_compile sees GREETING=$GREETING in $PWD"
echo "$GREETING" > pre_compile.txt
"""
# Runs after the dependencies: the app's Python and its packages are there.
POST_COMPILE = """\
set -e
python -c 'import gunicorn, sys; print("post_compile python", sys.prefix)' | tee post_compile.txt
"""


def app_with_hooks(tmp_path, version, *, pre=PRE_COMPILE, post=POST_COMPILE):
    app = copy_fixture("pip_app", tmp_path, python_version=version)
    (app / "bin").mkdir()
    (app / "bin" / "pre_compile").write_text(pre)  # not executable, as often committed
    (app / "bin" / "post_compile").write_text(post)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "GREETING").write_text("hello-from-config")
    return app, env_dir


def test_hooks_run_with_config_vars_and_the_apps_python(tmp_path, runtime_archive, mirror_url):
    app, env_dir = app_with_hooks(tmp_path, runtime_archive.version)
    result = build_and_run(
        app,
        tmp_path / "cache",
        env_dir,
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=["bash", "-c", "cat /app/pre_compile.txt /app/post_compile.txt"],
    )
    assert result.returncode == 0, result.log
    out = result.stdout
    assert "-----> Running the bin/pre_compile hook\n" in out
    assert "       pre_compile sees GREETING=hello-from-config in /tmp/build_" in out
    assert "       post_compile python /app/.heroku/python\n" in out
    # pre_compile runs before Python is installed, post_compile after everything.
    assert out.index("bin/pre_compile hook") < out.index("Installing Python")
    assert out.index("Installing dependencies") < out.index("bin/post_compile hook")
    assert "hello-from-config\npost_compile python /app/.heroku/python\n" in out
    fields = bin_report(tmp_path / "cache")
    assert fields["pre_compile_hook"] is True
    assert fields["post_compile_hook"] is True
    assert "post_compile_hook_duration" in fields


@pytest.mark.parametrize("failing", ["pre_compile", "post_compile"])
def test_failing_hook_fails_the_build_and_says_which(
    tmp_path, runtime_archive, mirror_url, failing
):
    hooks = {"pre": PRE_COMPILE, "post": POST_COMPILE}
    hooks[failing.split("_")[0]] = "echo 'the hook is failing now'\nexit 7\n"
    app, env_dir = app_with_hooks(tmp_path, runtime_archive.version, **hooks)
    result = build_and_run(
        app, tmp_path / "cache", env_dir, env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert result.returncode == 1, result.log
    assert "       the hook is failing now\n" in result.stdout
    assert f" !     Error: The bin/{failing} hook failed" in result.stderr
    assert "exited with status 7" in result.stderr
    assert "Traceback" not in result.log
    assert bin_report(tmp_path / "cache")["failure_reason"] == f"hooks::{failing}"
