"""Bytecode of rewritten editable finders, and the audit's search of binaries.

setuptools' PEP 660 finders are modules: pip compiles them at install time,
so their .pyc holds the paths that the rewrites change in the source.
"""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

from buildpack.relocation import path_rewrite
from buildpack.relocation.audit import Finding, audit
from buildpack.relocation.boot_script import (
    discard_boot_rewritten_bytecode,
    find_app_path_references,
)
from buildpack.relocation.records import rewrite_build_paths

PY = ".heroku/python"
SP = f"{PY}/lib/python3.11/site-packages"
FINDER = "__editable___vcslib_0_2_0_finder.py"


def finder_source(package_dir: str) -> str:
    return f"MAPPING: dict[str, str] = {{'vcslib': {package_dir!r}}}\nNAMESPACES = {{}}\n"


def compiled(source: Path) -> Path:
    """Compile ``source`` as pip does at install time; return the .pyc."""
    return Path(py_compile.compile(str(source), doraise=True))


def padded_package_dir(prefix: str) -> str:
    """A path under ``prefix`` whose length, as marshal's one-byte length
    prefix in a .pyc, is a byte that can be part of a file name."""
    base = f"{prefix}/src/vcslib/"
    length = len(base) + 1
    while not (chr(length).isalnum() or length >= 128) or length > 255:
        length += 1
    assert length <= 255, "tmp_path too long for a one-byte marshal length"
    return base + "v" * (length - len(base))


def make_site(tmp_path: Path) -> tuple[Path, Path, Path]:
    build = tmp_path / "build_x"
    site = build / SP
    site.mkdir(parents=True)
    return build, site, tmp_path / "app" / PY


def test_audit_finds_a_path_in_bytecode_behind_a_name_like_length_byte(tmp_path: Path) -> None:
    build, site, _ = make_site(tmp_path)
    package_dir = padded_package_dir(f"{build}/{PY}")
    finder = site / FINDER
    finder.write_text(finder_source(package_dir))
    pyc = compiled(finder)
    finder.unlink()  # only the bytecode is left to find
    data = pyc.read_bytes()
    at = data.index(os.fsencode(package_dir))
    # The byte before the path is its length, and looks like part of a name.
    assert data[at - 1] == len(package_dir)
    assert chr(data[at - 1]).isalnum() or data[at - 1] >= 128

    result = audit(build / PY, build_dir=build, boot_rewritten=set())

    rel = pyc.relative_to(build).as_posix()
    assert result.findings == [Finding(rel, "binary")]


def test_audit_of_binaries_still_tells_a_longer_directory_apart(tmp_path: Path) -> None:
    build, site, _ = make_site(tmp_path)
    (site / "x.bin").write_bytes(b"\0\x05" + os.fsencode(f"{build}2/lib") + b"\0")
    result = audit(build / PY, build_dir=build, boot_rewritten=set())
    assert result.findings == []


def test_rewriting_a_finder_deletes_its_bytecode_and_only_its_own(tmp_path: Path) -> None:
    build, site, app = make_site(tmp_path)
    finder = site / FINDER
    finder.write_text(finder_source(f"{build}/{PY}/src/vcslib/vcslib"))
    stale = compiled(finder)
    other = site / "unrelated.py"
    other.write_text("X = 1\n")
    kept = compiled(other)

    changed = rewrite_build_paths(site, build_python_home=build / PY, app_python_home=app)

    assert changed == [finder]
    assert finder.read_text() == finder_source(f"{app}/src/vcslib/vcslib")
    assert not stale.exists()
    assert kept.exists()
    # The new source imports and names the new path.
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import __editable___vcslib_0_2_0_finder as f; print(f.MAPPING['vcslib'])",
            str(site),
        ],
        capture_output=True,
        text=True,
    )
    assert run.stdout == f"{app}/src/vcslib/vcslib\n", run.stderr


def test_bytecode_of_boot_rewritten_finders_is_deleted_at_build_time(tmp_path: Path) -> None:
    build, site, _ = make_site(tmp_path)
    finder = site / FINDER
    finder.write_text(finder_source(f"{build}/libs/vcslib/vcslib"))
    stale = compiled(finder)
    refs = find_app_path_references(build / PY, build)
    assert refs == [f"{SP}/{FINDER}"]

    assert discard_boot_rewritten_bytecode(build, refs) == 1

    assert not stale.exists()
    assert finder.exists()
    result = audit(build / PY, build_dir=build, boot_rewritten=set(refs))
    assert result.report_fields()["relocation_binary_count"] == 0
    assert result.report_fields()["relocation_unfixed_count"] == 0


def test_boot_rewrite_deletes_the_bytecode_of_what_it_rewrites(tmp_path: Path) -> None:
    build, site, _ = make_site(tmp_path)
    finder = site / FINDER
    finder.write_text(finder_source(f"{build}/libs/vcslib/vcslib"))
    # A later buildpack's Python compiled it again after the build's cleanup.
    stale = compiled(finder)
    home = tmp_path / "home"
    build.rename(home)

    status = path_rewrite.main([str(home), str(build), "--", f"{SP}/{FINDER}"])

    assert status == 0
    moved = home / SP / FINDER
    assert moved.read_text() == finder_source(f"{home}/libs/vcslib/vcslib")
    assert not (home / stale.relative_to(build)).exists()


def test_discard_bytecode_ignores_what_is_not_a_module(tmp_path: Path) -> None:
    pth = tmp_path / "x.pth"
    pth.write_text("/src\n")
    (tmp_path / "__pycache__").mkdir()
    keep = tmp_path / "__pycache__" / "x.cpython-311.pyc"
    keep.write_bytes(b"")
    assert path_rewrite.discard_bytecode(str(pth)) == 0
    assert path_rewrite.discard_bytecode(str(tmp_path / "missing.py")) == 0
    assert keep.exists()
