"""Hostile or broken apps, end to end through bin/compile.

Broken input files must fail the build fast, with a clear message and no
traceback, before anything is downloaded; symbolic links that lead out of the
app must not make the build read (and quote) files from the build machine;
odd but legal names and paths must simply work. The parsing rules themselves
are unit-tested in test_python_version.py, test_app_files.py and
test_core_modules.py (config vars).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.builds import assert_clean_failure
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.sandbox import CHECK_AND_FINGERPRINT, Sandbox

pytestmark = pytest.mark.e2e


def secret_file(root: Path) -> tuple[Path, str]:
    """A file outside the app standing for /etc/shadow: it must never be read."""
    marker = f"TOPSECRET-{secrets.token_hex(8)}"
    outside = root / "outside"
    outside.mkdir()
    secret = outside / "shadow"
    secret.write_text(marker + "\n")
    return secret, marker


def _write(name: str, data: bytes) -> Callable[[Path, Path], None]:
    def change(app: Path, secret: Path) -> None:
        (app / name).write_bytes(data)

    return change


def _sparse(name: str, size: int) -> Callable[[Path, Path], None]:
    def change(app: Path, secret: Path) -> None:
        with open(app / name, "wb") as f:
            f.truncate(size)  # a hole: 50 MB that cost no disk space

    return change


def _link_out(name: str, *, remove: tuple[str, ...] = (), add: tuple[str, ...] = ()):
    def change(app: Path, secret: Path) -> None:
        for other in remove:
            (app / other).unlink()
        for other in add:
            (app / other).write_text("[packages]\n")
        (app / name).unlink(missing_ok=True)
        (app / name).symlink_to(secret)

    return change


def _link_through_dir(app: Path, secret: Path) -> None:
    # Each link looks harmless on its own: the file link stays in the app,
    # the directory link leads out of it.
    (app / "config").symlink_to(secret.parent, target_is_directory=True)
    (app / "requirements.txt").unlink()
    (app / "requirements.txt").symlink_to("config/shadow")


FAST_FAILURES = {
    "python-version-binary": (
        _write(".python-version", b"\x00\x01\x02\xff\xfe\n"),
        ".python-version is not plain UTF-8 text",
    ),
    "python-version-latin-1": (
        _write(".python-version", b"3.13 \xe9\n"),
        ".python-version is not valid UTF-8 (byte 5 is invalid)",
    ),
    "python-version-50-mb": (_sparse(".python-version", 50 * 1024 * 1024), "is too large"),
    "requirements-latin-1": (
        _write("requirements.txt", b"gunicorn==27.0.1  # caf\xe9\n"),
        "requirements.txt is not valid UTF-8 (line 1, byte 23 is invalid)",
    ),
    "requirements-binary": (
        _write("requirements.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00"),
        "requirements.txt is not UTF-8 text",
    ),
    "requirements-50-mb": (_sparse("requirements.txt", 50 * 1024 * 1024), "is too large"),
    "python-version-links-outside": (
        _link_out(".python-version"),
        "it is a symbolic link to a path outside the app",
    ),
    "runtime-txt-links-outside": (
        _link_out("runtime.txt"),
        "it is a symbolic link to a path outside the app",
    ),
    "requirements-links-outside": (
        _link_out("requirements.txt"),
        "requirements.txt points outside the app",
    ),
    "requirements-links-through-a-linked-dir": (
        _link_through_dir,
        "requirements.txt points outside the app",
    ),
    "pipfile-lock-links-outside": (
        _link_out("Pipfile.lock", remove=("requirements.txt",), add=("Pipfile",)),
        "Pipfile.lock points outside the app",
    ),
}


@pytest.mark.parametrize("case", sorted(FAST_FAILURES))
def test_broken_or_hostile_input_fails_fast_and_cleanly(
    tmp_path: Path,
    runtime_archive: RuntimeArchive,
    warm_cache: Path,
    mirror_url: str,
    case: str,
) -> None:
    change, message = FAST_FAILURES[case]
    box = Sandbox.create(tmp_path, python_version=runtime_archive.version, cache_from=warm_cache)
    secret, marker = secret_file(tmp_path)
    change(box.app, secret)
    box.record()
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror_url))
    assert result.returncode == 1, result.log
    assert_clean_failure(result, message)
    # Fast: refused before the runtime download, the first slow step.
    assert "-----> Installing Python" not in result.stdout, result.log
    assert marker not in result.log
    box.assert_app_untouched()
    box.assert_nothing_written_outside()


def test_odd_names_and_paths_build_and_run(
    tmp_path: Path, runtime_archive: RuntimeArchive, warm_cache: Path, mirror_url: str
) -> None:
    """Spaces and newlines in file names, BUILD_DIR and ENV_DIR with spaces, and
    ENV_DIR entries that are not config vars: the build works, leaves every
    app file as it was, and skips the entries with a note."""
    box = Sandbox.create(
        tmp_path,
        python_version=runtime_archive.version,
        cache_from=warm_cache,
        build_name="build dir with spaces",
        env_name="env dir with spaces",
    )
    secret, marker = secret_file(tmp_path)
    app = box.app
    (app / "with space.txt").write_text("a")
    (app / "new\nline.txt").write_text("b")
    (app / "tab\tand 'quote\".txt").write_text("c")
    (app / "caf\u00e9 \u2603.txt").write_text("d")
    (app / "dir with space").mkdir()
    (app / "dir with space" / "inner\nfile").write_bytes(os.urandom(64))
    (app / "link to app.py").symlink_to("app.py")
    (app / "dangling link").symlink_to("does-not-exist")
    box.record()

    env_dir = box.env_dir
    (env_dir / "..x").write_text("dots")
    (env_dir / "NEW\nLINE").write_text("newline")
    (env_dir / "LINKED").symlink_to(secret)
    (env_dir / "A_DIRECTORY").mkdir()
    (env_dir / "GOOD_VAR").write_text("fine")

    result = box.build(box.env(BUILDPACK_S3_BASE_URL=mirror_url), CHECK_AND_FINGERPRINT)
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    for note in (
        "Not exporting config var '..x': not a valid variable name",
        "Not exporting config var 'NEW\\nLINE': not a valid variable name",
        "Not exporting config var 'LINKED': not a regular file",
        "Not exporting config var 'A_DIRECTORY': not a regular file",
    ):
        assert note in result.stdout, result.log
    assert "GOOD_VAR" not in result.stdout
    assert marker not in result.log
    box.assert_relocated_app_untouched(result)
    box.assert_nothing_written_outside()
