"""Which distributions a Python home has, read from site-packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.app import installed
from tests.unit.ctx_factory import fake_site_packages

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("present", "asked"),
    [
        ("Django-5.2.dist-info", "django"),
        ("django-5.2.dist-info", "Django"),
        ("psycopg2_binary-2.9.10.dist-info", "psycopg2-binary"),
        ("zope.interface-7.2.dist-info", "zope-interface"),
        ("nltk-3.9.egg-info", "nltk"),
    ],
)
def test_a_distribution_is_found_whatever_its_spelling(tmp_path, present, asked):
    site = fake_site_packages(tmp_path)
    (site / present).mkdir()
    assert installed.has_any(tmp_path, asked)


@pytest.mark.parametrize("present", ["django_extensions-3.2.dist-info", "djangorestframework"])
def test_a_name_that_only_begins_the_same_is_not_the_distribution(tmp_path, present):
    site = fake_site_packages(tmp_path)
    (site / present).mkdir()
    assert not installed.has_any(tmp_path, "django")


def test_any_of_several_names(tmp_path):
    fake_site_packages(tmp_path, "psycopg-3.2")
    assert installed.has_any(tmp_path, "psycopg2", "psycopg")
    assert not installed.has_any(tmp_path, "psycopg2", "pg8000")


def test_no_site_packages_is_nothing_installed(tmp_path):
    assert not installed.has_any(tmp_path, "django")


def test_importlib_metadata_is_imported_only_for_a_likely_name(tmp_path):
    # Asked in every build: an app with nothing of the name must not pay for
    # importing importlib.metadata and email (a fresh interpreter, -S so
    # that no .pth file of the host imports them first).
    fake_site_packages(tmp_path, "gunicorn-23.0", "Django-5.2")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from buildpack.app import installed; home = Path(sys.argv[2]); "
        "before = installed.has_any(home, 'nltk'); "
        "print(before, 'importlib.metadata' in sys.modules, end=' '); "
        "print(installed.has_any(home, 'django'), 'importlib.metadata' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["False", "False", "True", "True"]
