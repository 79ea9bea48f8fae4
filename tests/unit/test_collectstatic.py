"""Django collectstatic: finding manage.py, deciding to run, and real runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from buildpack.core import errors
from buildpack.steps import collectstatic
from tests.unit.ctx_factory import fake_site_packages, link_python_home, make_ctx

DJANGO_APP = Path(__file__).resolve().parents[1] / "fixtures" / "django_app"


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_find_manage_py_prefers_the_shallowest(tmp_path):
    touch(tmp_path / "a" / "b" / "manage.py")
    touch(tmp_path / "z" / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) == tmp_path / "z" / "manage.py"
    touch(tmp_path / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) == tmp_path / "manage.py"


def test_find_manage_py_breaks_ties_by_path(tmp_path):
    touch(tmp_path / "web" / "manage.py")
    touch(tmp_path / "api" / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) == tmp_path / "api" / "manage.py"


def test_find_manage_py_looks_three_levels_deep_at_most(tmp_path):
    touch(tmp_path / "a" / "b" / "c" / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) is None
    touch(tmp_path / "a" / "b" / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) == tmp_path / "a" / "b" / "manage.py"


def test_find_manage_py_ignores_the_runtime(tmp_path):
    touch(tmp_path / ".heroku" / "python" / "manage.py")
    assert collectstatic.find_manage_py(tmp_path) is None


def django_ctx(tmp_path, **kwargs):
    c = make_ctx(tmp_path, **kwargs)
    fake_site_packages(c.ctx.build_python_home, "django-5.2.19")
    touch(c.ctx.build_dir / "manage.py")
    return c


def test_decide_enabled_for_a_django_app(tmp_path):
    c = django_ctx(tmp_path)
    assert collectstatic.decide(c.ctx) == ("enabled", c.ctx.build_dir / "manage.py")


def test_decide_uppercase_dist_info_counts_as_django(tmp_path):
    c = make_ctx(tmp_path)
    fake_site_packages(c.ctx.build_python_home, "Django-4.2.30")
    touch(c.ctx.build_dir / "manage.py")
    assert collectstatic.decide(c.ctx)[0] == "enabled"


@pytest.mark.parametrize("value", ["1", "true", "yes", "anything"])
def test_decide_disabled_by_config_var(tmp_path, value):
    c = django_ctx(tmp_path, config={"DISABLE_COLLECTSTATIC": value})
    assert collectstatic.decide(c.ctx) == ("disabled-env-var", None)


def test_decide_disabled_by_build_environment(tmp_path):
    c = django_ctx(tmp_path, environ={"PATH": "/bin", "DISABLE_COLLECTSTATIC": "1"})
    assert collectstatic.decide(c.ctx)[0] == "disabled-env-var"


def test_decide_zero_does_not_disable(tmp_path):
    c = django_ctx(tmp_path, config={"DISABLE_COLLECTSTATIC": "0"})
    assert collectstatic.decide(c.ctx)[0] == "enabled"


def test_decide_skipped_in_ci(tmp_path):
    c = django_ctx(tmp_path, install_dev=True)
    assert collectstatic.decide(c.ctx) == ("skipped-ci", None)


def test_decide_without_django_is_silent(tmp_path):
    c = make_ctx(tmp_path)
    fake_site_packages(c.ctx.build_python_home, "flask-3.1.0")
    touch(c.ctx.build_dir / "manage.py")
    assert collectstatic.decide(c.ctx) == (None, None)
    assert collectstatic.run_collectstatic(c.ctx) is None
    assert "django_collectstatic" not in c.ctx.report.fields
    assert c.log == ""


def test_decide_without_manage_py(tmp_path):
    c = make_ctx(tmp_path)
    fake_site_packages(c.ctx.build_python_home, "django-5.2.19")
    assert collectstatic.run_collectstatic(c.ctx) == "skipped-no-manage-py"
    assert c.ctx.report.fields["django_collectstatic"] == "skipped-no-manage-py"
    assert "no manage.py" in c.stdout.getvalue()


def test_deprecated_disable_file_still_works_with_a_warning(tmp_path):
    c = django_ctx(tmp_path)
    touch(c.ctx.build_dir / ".heroku" / "collectstatic_disabled")
    assert collectstatic.run_collectstatic(c.ctx) == "disabled-file"
    assert "deprecated" in c.stderr.getvalue()


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        (
            '  File "/x/settings.py", line 3\n    x =\n       ^\nSyntaxError: invalid syntax',
            "syntax-error",
        ),
        (
            "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty",
            "improper-configuration",
        ),
        (
            "ValueError: The file 'img/x.png' could not be found with <ManifestStaticFilesStorage>",
            "fancy-references",
        ),
        ("FileNotFoundError: [Errno 2] No such file or directory: '/b/static'", "missing-file"),
        ("RuntimeError: something else", "other"),
    ],
)
def test_failure_kinds(output, kind):
    assert collectstatic.failure_kind(output) == kind
    assert collectstatic.error_for("python manage.py collectstatic --noinput", output).reason == (
        f"collectstatic-{kind}"
    )


# Real runs of Django's collectstatic in a Python with Django installed.


def real_django_ctx(tmp_path, app_python_home, **kwargs):
    c = make_ctx(tmp_path, **kwargs)
    c.ctx.build_dir.rmdir()
    shutil.copytree(DJANGO_APP, c.ctx.build_dir)
    link_python_home(c.ctx, app_python_home)
    return c


def test_collectstatic_copies_static_files_into_static_root(tmp_path, app_python_home):
    c = real_django_ctx(tmp_path, app_python_home)
    assert collectstatic.run_collectstatic(c.ctx) == "enabled"
    collected = c.ctx.build_dir / "staticfiles" / "css" / "site.css"
    assert "django-app-static-marker" in collected.read_text()
    assert "-----> $ python manage.py collectstatic --noinput\n" in c.stdout.getvalue()
    assert "       1 static file copied" in c.stdout.getvalue()
    assert c.ctx.report.fields["django_collectstatic"] == "enabled"
    assert "django_collectstatic_duration" in c.ctx.report.fields


def test_collectstatic_in_a_subdirectory_project(tmp_path, app_python_home):
    c = make_ctx(tmp_path)
    c.ctx.build_dir.rmdir()
    shutil.copytree(DJANGO_APP, c.ctx.build_dir / "src")
    link_python_home(c.ctx, app_python_home)
    assert collectstatic.run_collectstatic(c.ctx) == "enabled"
    assert (c.ctx.build_dir / "src" / "staticfiles" / "css" / "site.css").is_file()
    assert "$ python src/manage.py collectstatic --noinput" in c.stdout.getvalue()


def test_missing_static_root_gets_its_own_message(tmp_path, app_python_home):
    c = real_django_ctx(tmp_path, app_python_home)
    settings = c.ctx.build_dir / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace("STATIC_ROOT =", "UNUSED ="))
    with pytest.raises(errors.BuildError) as info:
        collectstatic.run_collectstatic(c.ctx)
    err = info.value
    assert err.reason == "collectstatic-improper-configuration"
    assert "STATIC_ROOT" in err.title
    assert 'STATIC_ROOT = BASE_DIR / "staticfiles"' in err.action
    assert "DISABLE_COLLECTSTATIC=1" in err.action
    assert "STATIC_ROOT setting" in err.detail
    # Django's own output, with the traceback, is in the log above the error.
    assert "       Traceback (most recent call last):" in c.stdout.getvalue()


def test_settings_syntax_error(tmp_path, app_python_home):
    c = real_django_ctx(tmp_path, app_python_home)
    (c.ctx.build_dir / "mysite" / "settings.py").write_text("DEBUG = (\n")
    with pytest.raises(errors.BuildError) as info:
        collectstatic.run_collectstatic(c.ctx)
    assert info.value.reason == "collectstatic-syntax-error"
    assert "DISABLE_COLLECTSTATIC=1" in info.value.action


def test_disabled_collectstatic_runs_nothing(tmp_path, app_python_home):
    c = real_django_ctx(tmp_path, app_python_home, config={"DISABLE_COLLECTSTATIC": "1"})
    assert collectstatic.run_collectstatic(c.ctx) == "disabled-env-var"
    assert not (c.ctx.build_dir / "staticfiles").exists()
    assert "DISABLE_COLLECTSTATIC" in c.stdout.getvalue()
