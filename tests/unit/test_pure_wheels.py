"""The PyPA libraries as pinned wheel files: fetched by exact name and sha256
from a loopback index serving the real files, kept in CACHE_DIR, checked on
every use, and imported from the file itself."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import package_index, pure_wheels, wheel_lock
from buildpack.selfdeps.bootstrap import read_pins
from buildpack.selfdeps.package_index import IndexSettings, IndexUnavailable
from buildpack.selfdeps.pure_wheels import WHEELS_DIR, PureWheels, copy_verified, pinned
from tests.support.fault_server import FaultServer
from tests.support.pure_wheel_files import all_pinned
from tests.unit.wheel_factory import Index

LOCK = wheel_lock.load(buildpack_root())
PINS = read_pins(buildpack_root() / "buildpack.toml")


def _wheels(tmp_path: Path, name: str = "work") -> PureWheels:
    work = tmp_path / name
    work.mkdir()
    return PureWheels(tmp_path / "cache", all_pinned(), work)


def _imported_from(paths: list[Path]) -> dict[str, str]:
    """Where a Python with only ``paths`` (no site-packages) imports each from."""
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import packaging.tags, packaging.requirements, installer, installer.destinations, tomli\n"
        "for m in (packaging, installer, tomli): print(m.__name__, m.__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def _restore_sys_path(wheels: PureWheels) -> None:
    for path in wheels.paths:
        while str(path) in sys.path:
            sys.path.remove(str(path))


# --- the pins --------------------------------------------------------------------------


def test_each_pure_wheel_is_pinned_and_locked_with_a_sha256() -> None:
    wheels = {w.project: w for w in pinned(LOCK, PINS, (3, 10))}
    for project in pure_wheels.PROJECTS:
        assert wheels[project].version == PINS[project]
        assert wheels[project].filename == f"{project}-{PINS[project]}-py3-none-any.whl"
        assert len(wheels[project].sha256) == 64


def test_tomli_only_before_python_3_11() -> None:
    assert [w.project for w in pinned(LOCK, PINS, (3, 10))] == ["packaging", "installer", "tomli"]
    assert [w.project for w in pinned(LOCK, PINS, (3, 11))] == ["packaging", "installer"]


def test_a_lock_of_other_pins_vouches_for_nothing() -> None:
    with pytest.raises(wheel_lock.LockUnusable):
        pinned(LOCK, {**PINS, "packaging": "99.0"}, (3, 11))


def test_the_pins_are_the_files_the_index_serves(pure_wheel_files: dict[str, Path]) -> None:
    """The fixture checks each real file against buildpack.toml's sha256."""
    assert sorted(p.name for p in pure_wheel_files.values()) == sorted(
        w.filename for w in all_pinned()
    )


# --- fetched, kept, checked, imported ------------------------------------------------------


def test_fetched_from_the_index_kept_in_the_cache_and_imported_from_the_files(
    tmp_path: Path, pure_index: Index
) -> None:
    wheels = _wheels(tmp_path)
    wheels.use_cached()
    assert not wheels.ready and wheels.source == ""
    try:
        assert wheels.fetch(pure_index.settings)
        assert wheels.ready and wheels.source == "index"
        assert {str(p) for p in wheels.paths} <= set(sys.path[:3])
    finally:
        _restore_sys_path(wheels)
    cached = sorted(p.name for p in (tmp_path / "cache" / WHEELS_DIR).iterdir())
    assert cached == sorted(w.filename for w in all_pinned())
    # The build imports its own checked copies, straight from the wheel files.
    where = _imported_from(wheels.paths)
    for project, path in where.items():
        assert path.startswith(str(tmp_path / "work" / f"{project}-")), where
        assert ".whl/" in path


def test_the_next_build_uses_the_cached_files_without_the_index(
    tmp_path: Path, pure_index: Index
) -> None:
    first = _wheels(tmp_path)
    try:
        assert first.fetch(pure_index.settings)
    finally:
        _restore_sys_path(first)
    second = _wheels(tmp_path, "work2")
    try:
        second.use_cached()
        assert second.ready and second.source == "cache" and not second.discarded
        unreachable = IndexSettings("http://127.0.0.1:9/simple")
        assert second.fetch(unreachable)  # nothing left to fetch
    finally:
        _restore_sys_path(second)
    assert all(str(p).startswith(str(tmp_path / "work2")) for p in second.paths)


def test_a_tampered_cached_file_is_discarded_and_fetched_again(
    tmp_path: Path, pure_index: Index
) -> None:
    first = _wheels(tmp_path)
    try:
        assert first.fetch(pure_index.settings)
    finally:
        _restore_sys_path(first)
    cached = tmp_path / "cache" / WHEELS_DIR / all_pinned()[0].filename
    data = bytearray(cached.read_bytes())
    data[-100] ^= 0xFF
    cached.write_bytes(bytes(data))
    second = _wheels(tmp_path, "work2")
    try:
        second.use_cached()
        assert second.discarded == [cached.name]
        assert not second.ready and not cached.exists()
        assert not (tmp_path / "work2" / cached.name).exists()
        assert second.fetch(pure_index.settings)
        assert second.ready and second.source == "index"
    finally:
        _restore_sys_path(second)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == all_pinned()[0].sha256


def test_a_link_in_the_cache_is_never_followed(tmp_path: Path, pure_wheel_files) -> None:
    """Even to the right file: a link is not something the buildpack made."""
    wanted = all_pinned()[0]
    cache = tmp_path / "cache" / WHEELS_DIR
    cache.mkdir(parents=True)
    (cache / wanted.filename).symlink_to(pure_wheel_files[wanted.project])
    wheels = _wheels(tmp_path)
    wheels.use_cached()
    assert wheels.discarded == [wanted.filename]
    assert not os.path.lexists(cache / wanted.filename)
    assert pure_wheel_files[wanted.project].is_file()
    assert not any(p.name == wanted.filename for p in wheels.paths)


def test_nothing_is_written_through_a_linked_cache_directory(
    tmp_path: Path, pure_index: Index
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ".heroku").symlink_to(outside)
    wheels = _wheels(tmp_path)
    try:
        assert wheels.fetch(pure_index.settings)  # used from the build's own copies
        assert wheels.ready
    finally:
        _restore_sys_path(wheels)
    assert list(outside.iterdir()) == []


def test_an_index_without_them_says_why(tmp_path: Path, index: Index) -> None:
    wheels = _wheels(tmp_path)
    assert not wheels.fetch(index.settings)
    assert "packaging-26.3-py3-none-any.whl" in wheels.problem or "404" in wheels.problem
    assert not wheels.ready and wheels.source == ""
    assert not (tmp_path / "cache" / WHEELS_DIR).exists()


def test_an_unreachable_index_says_why(tmp_path: Path) -> None:
    with FaultServer(tmp_path) as server:
        url = server.url
    wheels = _wheels(tmp_path)
    assert not wheels.fetch(IndexSettings(url + "/simple"))
    assert wheels.problem and not wheels.ready


def test_a_file_that_is_not_the_pinned_one_is_refused(
    tmp_path: Path, index: Index, pure_wheel_files: dict[str, Path]
) -> None:
    """The index lists a different file under the pinned name (and its own
    sha256 for it): the pin's sha256 decides, and nothing is kept."""
    wanted = all_pinned()[0]
    impostor = index.add_wheel(wanted.project, wanted.version)
    fake = index.files / wanted.filename
    impostor.rename(fake)
    index.publish(wanted.project, [fake])
    with pytest.raises(IndexUnavailable, match="not the file the buildpack locked"):
        package_index.fetch_locked(index.settings, wanted.locked, tmp_path)
    index.publish(wanted.project, [fake], sha={fake.name: wanted.sha256})
    wheels = _wheels(tmp_path)
    assert not wheels.fetch(index.settings)
    assert "sha256" in wheels.problem
    assert not (tmp_path / "cache" / WHEELS_DIR / wanted.filename).exists()


def test_copy_verified_needs_a_regular_file_with_the_sha256(tmp_path: Path) -> None:
    source = tmp_path / "a.whl"
    source.write_bytes(b"wheel")
    good = hashlib.sha256(b"wheel").hexdigest()
    assert copy_verified(source, tmp_path / "copy.whl", good)
    assert (tmp_path / "copy.whl").read_bytes() == b"wheel"
    assert not copy_verified(source, tmp_path / "bad.whl", "0" * 64)
    assert not (tmp_path / "bad.whl").exists()
    assert not copy_verified(tmp_path, tmp_path / "dir.whl", good)
    assert not copy_verified(tmp_path / "missing.whl", tmp_path / "none.whl", good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.whl", "copy.whl"]


def test_without_them_the_fast_paths_say_why_and_callers_fall_back(tmp_path: Path) -> None:
    """A real interpreter without site-packages and without the wheels: wheel
    choice and wheel installs raise the errors their callers turn into the pip
    fallback, naming the missing library; TOML from the app is not read on 3.10."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from buildpack.selfdeps import package_index, wheel_install\n"
        "try:\n"
        "    package_index.interpreter('3.13')\n"
        "except package_index.IndexUnavailable as exc:\n"
        "    print('index:', exc)\n"
        "try:\n"
        "    wheel_install.unpack_into_target(Path(sys.argv[2]), Path(sys.argv[2]))\n"
        "except wheel_install.WheelError as exc:\n"
        "    print('install:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(buildpack_root()), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "index: the buildpack's packaging library is not available (No module named 'packaging')",
        "install: the buildpack's installer library is not available (No module named 'installer')",
    ]
