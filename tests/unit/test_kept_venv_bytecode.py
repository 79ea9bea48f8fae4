"""kept_venv.drop_bytecode: what Poetry compiled into its venv goes, nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.package_managers import kept_venv

MINOR = "3.13"


def site_packages(tool_dir: Path) -> Path:
    site = tool_dir / "venv" / "lib" / f"python{MINOR}" / "site-packages"
    site.mkdir(parents=True)
    return site


def test_module_bytecode_and_its_emptied_directories_go(tmp_path):
    site = site_packages(tmp_path / "tool")
    cache = site / "poetry" / "core" / "__pycache__"
    cache.mkdir(parents=True)
    (site / "poetry" / "core" / "api.py").write_text("")
    for name in ("api.cpython-313.pyc", "api.cpython-313.opt-1.pyc", "api.cpython-313.opt-2.pyc"):
        (cache / name).write_bytes(b"\0")
    top = site / "__pycache__"
    top.mkdir()
    (top / "six.cpython-313.pyc").write_bytes(b"\0")

    assert kept_venv.drop_bytecode(tmp_path / "tool", MINOR) == 4
    assert not cache.exists() and not top.exists()
    assert (site / "poetry" / "core" / "api.py").is_file()


def test_what_is_not_module_bytecode_in_a_pycache_is_left_for_the_check(tmp_path):
    site = site_packages(tmp_path / "tool")
    cache = site / "pkg" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "notes.txt").write_text("")
    (cache / "lone.pyc").write_bytes(b"\0")  # no tag: not a module's bytecode
    (cache / "mod.cpython-313.pyc").write_bytes(b"\0")
    # Bytecode outside a __pycache__ is imported on its own: the check's to judge.
    (site / "pkg" / "loose.cpython-313.pyc").write_bytes(b"\0")

    assert kept_venv.drop_bytecode(tmp_path / "tool", MINOR) == 1
    assert sorted(os.listdir(cache)) == ["lone.pyc", "notes.txt"]
    assert (site / "pkg" / "loose.cpython-313.pyc").is_file()


def test_links_are_neither_followed_nor_removed(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "__pycache__"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x.cpython-313.pyc").write_bytes(b"\0")
    site = site_packages(tmp_path / "tool")
    cache = site / "pkg" / "__pycache__"
    cache.mkdir(parents=True)
    os.symlink(elsewhere / "x.cpython-313.pyc", cache / "y.cpython-313.pyc")
    os.symlink(elsewhere.parent, site / "linked")

    assert kept_venv.drop_bytecode(tmp_path / "tool", MINOR) == 0
    assert (cache / "y.cpython-313.pyc").is_symlink()
    assert (elsewhere / "x.cpython-313.pyc").is_file()


def test_a_site_packages_reached_through_a_link_is_not_walked(tmp_path):
    outside = tmp_path / "outside"
    real_site = site_packages(outside)
    (real_site / "__pycache__").mkdir()
    (real_site / "__pycache__" / "m.cpython-313.pyc").write_bytes(b"\0")
    (tmp_path / "tool" / "venv").mkdir(parents=True)
    os.symlink(outside / "venv" / "lib", tmp_path / "tool" / "venv" / "lib")

    assert kept_venv.drop_bytecode(tmp_path / "tool", MINOR) == 0
    assert (real_site / "__pycache__" / "m.cpython-313.pyc").is_file()


def test_no_venv_is_nothing_to_do(tmp_path):
    assert kept_venv.drop_bytecode(tmp_path / "missing", MINOR) == 0
