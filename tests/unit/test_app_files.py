"""The checks on app files handed to installers (buildpack/app_files.py)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from buildpack.app import app_files
from buildpack.core import errors


@pytest.fixture
def app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("gunicorn==27.0.1\n")
    return app


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0\n")
    return secret


def check(app: Path, manager: str = "pip", *, install_dev: bool = False) -> None:
    app_files.check_package_manager_files(app, manager, install_dev=install_dev)


def refused(app: Path, manager: str = "pip", **kwargs: bool) -> errors.BuildError:
    with pytest.raises(errors.BuildError) as info:
        check(app, manager, **kwargs)
    return info.value


# --- where the file is ----------------------------------------------------------


def test_a_plain_requirements_file_passes(app: Path) -> None:
    check(app)


def test_a_link_to_another_file_in_the_app_passes(app: Path) -> None:
    (app / "requirements").mkdir()
    (app / "requirements.txt").rename(app / "requirements" / "prod.txt")
    (app / "requirements.txt").symlink_to("requirements/prod.txt")
    check(app)


def test_a_link_out_of_the_app_is_refused(app: Path, outside: Path) -> None:
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to(outside)
    error = refused(app)
    assert error.reason == "checks::app-file::outside-app"
    assert str(outside) in error.cause


def test_a_relative_link_out_of_the_app_is_refused(app: Path, outside: Path) -> None:
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to("../outside/shadow")
    assert refused(app).reason == "checks::app-file::outside-app"


def test_a_link_through_a_linked_directory_is_refused(app: Path, outside: Path) -> None:
    (app / "config").symlink_to(outside.parent, target_is_directory=True)
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to("config/shadow")
    assert refused(app).reason == "checks::app-file::outside-app"


def test_an_app_reached_through_a_link_is_still_the_app(tmp_path: Path, app: Path) -> None:
    # BUILD_DIR itself may be a path through a symlink (/tmp -> /private/tmp).
    alias = tmp_path / "alias"
    alias.symlink_to(app, target_is_directory=True)
    check(alias)


def test_a_dangling_link_is_refused(app: Path) -> None:
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to("nowhere.txt")
    error = refused(app)
    assert error.reason == "checks::app-file::not-a-file"
    assert "does not exist" in error.cause


def test_a_directory_link_is_refused(app: Path) -> None:
    (app / "reqs").mkdir()
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to("reqs")
    error = refused(app)
    assert error.reason == "checks::app-file::not-a-file"
    assert "a directory" in error.cause


@pytest.mark.parametrize(
    ("manager", "name"),
    [
        ("pipenv", "Pipfile.lock"),
        ("pipenv", "Pipfile"),
        ("poetry", "poetry.lock"),
        ("poetry", "pyproject.toml"),
        ("uv", "uv.lock"),
        ("uv", "pyproject.toml"),
    ],
)
def test_other_package_managers_files_are_checked_too(
    app: Path, outside: Path, manager: str, name: str
) -> None:
    (app / name).symlink_to(outside)
    error = refused(app, manager)
    assert error.reason == "checks::app-file::outside-app"
    assert name in error.title


def test_missing_optional_files_are_left_to_the_package_manager(app: Path) -> None:
    check(app, "poetry")  # no pyproject.toml, no poetry.lock: not our error to give


def test_requirements_test_txt_only_for_ci_builds(app: Path, outside: Path) -> None:
    (app / "requirements-test.txt").symlink_to(outside)
    check(app)
    assert refused(app, install_dev=True).reason == "checks::app-file::outside-app"


# --- what is in it --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"gunicorn==27.0.1\n",
        "caf\u00e9==1.0  # UTF-8\n".encode(),
        codecs.BOM_UTF8 + b"gunicorn\n",
        codecs.BOM_UTF16_LE + "gunicorn\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "gunicorn\n".encode("utf-16-be"),
        b"# -*- coding: latin-1 -*-\ngunicorn  # caf\xe9\n",
        b"",
    ],
)
def test_text_pip_can_decode_passes(app: Path, data: bytes) -> None:
    (app / "requirements.txt").write_bytes(data)
    check(app)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"gunicorn  # caf\xe9\n", "is not valid UTF-8 (line 1, byte 15 is invalid)"),
        (b"flask\ngunicorn\xff\n", "line 2"),
        (b"\x7fELF\x02\x01\x01\x00", "contains NUL bytes"),
        ("gunicorn\n".encode("utf-16-le"), "contains NUL bytes"),
    ],
)
def test_text_pip_would_crash_on_is_refused(app: Path, data: bytes, problem: str) -> None:
    (app / "requirements.txt").write_bytes(data)
    error = refused(app)
    assert error.reason == "checks::app-file::invalid-encoding"
    assert problem in error.cause


def test_a_huge_requirements_file_is_refused(app: Path) -> None:
    with open(app / "requirements.txt", "wb") as f:
        f.truncate(app_files.MAX_TEXT_BYTES + 1)  # sparse: no disk space used
    assert refused(app).reason == "checks::app-file::too-large"


def test_lockfiles_are_not_decoded(app: Path) -> None:
    # Their tools parse them with their own error messages.
    (app / "requirements.txt").unlink()
    (app / "Pipfile.lock").write_bytes(b"\xff\xfe not json")
    check(app, "pipenv")
