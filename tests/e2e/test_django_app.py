"""A real Django app: collectstatic at build time, static files served at /app."""

from __future__ import annotations

import pytest

from tests.support.builds import ROOT, bin_report, build_and_run, build_env, copy_fixture

pytestmark = pytest.mark.e2e

CHECK_SLUG = str(ROOT / "scripts" / "check-slug")
STATIC_MARKER = "django-app-static-marker"


def test_static_files_are_collected_and_served_after_relocation(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("django_app", tmp_path, python_version=runtime_archive.version)
    # At /app, with the build directory gone: the collected file is under
    # STATIC_ROOT, and Django serves it through its own WSGI stack.
    check = (
        "test -f /app/staticfiles/css/site.css && echo STATIC_ROOT_HAS_FILE; "
        'test ! -e "$BUILD_DIR_WAS"; exec "$0"'
    )
    result = build_and_run(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        env=build_env(
            BUILDPACK_S3_BASE_URL=mirror_url,
            CHECK_APP="mysite.wsgi:application",
            CHECK_PATH="/static/css/site.css",
        ),
        command=["bash", "-c", check, CHECK_SLUG],
    )
    assert result.returncode == 0, result.log
    assert "-----> $ python manage.py collectstatic --noinput\n" in result.stdout
    assert "       1 static file copied to '/tmp/build_" in result.stdout
    assert "STATIC_ROOT_HAS_FILE" in result.stdout, result.log
    assert f"RESPONSE: body {{ color: #0c4b33; }} /* {STATIC_MARKER} */" in result.stdout, (
        result.log
    )
    report = bin_report(tmp_path / "cache")
    assert report["django_collectstatic"] == "enabled"
    assert report["django_collectstatic_duration"] > 0


def test_django_without_static_root_fails_with_a_clear_message(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("django_app", tmp_path, python_version=runtime_archive.version)
    settings = app / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace("STATIC_ROOT =", "NOT_STATIC_ROOT ="))
    result = build_and_run(
        app, tmp_path / "cache", tmp_path / "env", env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert result.returncode != 0, result.log
    # Django's own output is in the log, then our message says what to do.
    assert "       django.core.exceptions.ImproperlyConfigured:" in result.stdout
    assert " !     Error: Django's collectstatic needs STATIC_ROOT" in result.stderr
    assert 'STATIC_ROOT = BASE_DIR / "staticfiles"' in result.stderr
    assert "DISABLE_COLLECTSTATIC=1" in result.stderr
    assert "=== relocate" not in result.stdout
    assert bin_report(tmp_path / "cache")["failure_reason"] == (
        "collectstatic-improper-configuration"
    )


def test_disable_collectstatic_config_var(tmp_path, runtime_archive, mirror_url):
    app = copy_fixture("django_app", tmp_path, python_version=runtime_archive.version)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "DISABLE_COLLECTSTATIC").write_text("1")
    result = build_and_run(
        app,
        tmp_path / "cache",
        env_dir,
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=["bash", "-c", "test ! -e /app/staticfiles && echo NOTHING_COLLECTED"],
    )
    assert result.returncode == 0, result.log
    assert "Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set" in result.stdout
    assert "NOTHING_COLLECTED" in result.stdout
    assert bin_report(tmp_path / "cache")["django_collectstatic"] == "disabled-env-var"
