"""Installing real (test-built) wheels without pip, checked against their RECORD:
pypa/installer under the buildpack's rules (wheel_install, wheel_destination)."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.selfdeps.wheel_install import (
    INSTALLER_NAME,
    WheelError,
    add_to_record,
    check_script_name,
    install_into_prefix,
    launcher,
    record_hash,
    unpack_into_target,
    write_record,
)
from tests.unit.wheel_factory import build_wheel, sha256_record

APP_PYTHON = "/app/.heroku/python/bin/python"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tree(root: Path) -> list[str]:
    """Everything under ``root``, directories marked with a trailing slash."""
    return sorted(
        str(p.relative_to(root)) + ("/" if p.is_dir() and not p.is_symlink() else "")
        for p in root.rglob("*")
    )


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    return d


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "target"


# --- record_hash and launcher -----------------------------------------------------------------


def test_record_hash_is_urlsafe_base64_sha256_without_padding() -> None:
    assert record_hash(b"") == "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    data = bytes(range(256)) * 3
    assert record_hash(data) == sha256_record(data)
    assert "=" not in record_hash(data).removeprefix("sha256=")


def test_launcher_text() -> None:
    text = launcher("/usr/bin/python3", "pip._internal.cli.main:main")
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/python3"
    assert "from pip._internal.cli.main import main" in lines
    assert lines[-1] == "    sys.exit(main())"
    compile(text, "launcher", "exec")


def test_launcher_for_an_attribute_path_imports_its_first_part() -> None:
    text = launcher("/py", " tool.cli : App.run ")
    assert "from tool.cli import App\n" in text
    assert text.endswith("    sys.exit(App.run())\n")
    compile(text, "launcher", "exec")


@pytest.mark.parametrize("entry", ["tool.cli", "tool.cli:", ":main", "1tool:main", "to-ol:main"])
def test_launcher_refuses_what_is_not_module_function(entry: str) -> None:
    with pytest.raises(WheelError, match="not module:function"):
        launcher("/py", entry)


# --- unpack_into_target ----------------------------------------------------------------------


def test_unpack_into_target_places_files_like_pip_target(wheels: Path, target: Path) -> None:
    files = {
        "demo/__init__.py": b"VERSION = '1.0'\n",
        "demo/helper.sh": b"#!/bin/sh\necho hi\n",
        "demo/data.txt": b"data\n",
        "demo-1.0.data/purelib/pure_extra.py": b"PURE = 1\n",
        "demo-1.0.data/platlib/plat_extra.py": b"PLAT = 1\n",
        "demo-1.0.data/scripts/demo-run": b"#!/bin/sh\necho run\n",
    }
    wheel = build_wheel(wheels, "demo", "1.0", files, modes={"demo/helper.sh": 0o755})
    written = unpack_into_target(wheel, target)

    # What it wrote, which is also how callers tell it worked.
    assert sorted(p.relative_to(target).as_posix() for p in written) == [
        p for p in _tree(target) if not p.endswith("/")
    ]

    assert (target / "demo/__init__.py").read_bytes() == files["demo/__init__.py"]
    assert (target / "pure_extra.py").read_bytes() == b"PURE = 1\n"
    assert (target / "plat_extra.py").read_bytes() == b"PLAT = 1\n"
    assert (target / "bin/demo-run").read_bytes() == b"#!/bin/sh\necho run\n"
    assert _mode(target / "bin/demo-run") == 0o755
    assert _mode(target / "demo/helper.sh") == 0o755
    assert _mode(target / "demo/data.txt") == 0o644
    assert (target / "demo-1.0.dist-info/METADATA").is_file()
    assert not (target / "demo-1.0.data").exists()
    assert "bin/demo-run" in _tree(target)
    assert (target / "demo-1.0.dist-info/INSTALLER").read_text() == INSTALLER_NAME + "\n"
    assert not (target / "demo-1.0.dist-info/REQUESTED").exists()
    rows = _record_rows(target / "demo-1.0.dist-info/RECORD")
    assert ["bin/demo-run", sha256_record(b"#!/bin/sh\necho run\n"), "19"] in rows


def test_unpack_into_target_writes_no_launchers(wheels: Path, target: Path) -> None:
    """Nothing runs entry points from a --target directory (the buildpack's
    own libraries): their names are checked all the same."""
    wheel = build_wheel(
        wheels, "demo", "1.0", {"demo/__init__.py": b""}, console_scripts={"demo": "demo:main"}
    )
    unpack_into_target(wheel, target)
    assert not (target / "bin").exists()
    paths = [row[0] for row in _record_rows(target / "demo-1.0.dist-info/RECORD")]
    assert not any(path.startswith("bin/") for path in paths)
    bad = build_wheel(
        wheels, "bad", "1.0", {"bad/__init__.py": b""}, console_scripts={"../x": "bad:main"}
    )
    with pytest.raises(WheelError, match="not a plain file name"):
        unpack_into_target(bad, target)


def test_unpack_a_platlib_wheel(wheels: Path, target: Path) -> None:
    wheel = build_wheel(
        wheels,
        "native",
        "2.0",
        {"native/__init__.py": b"", "native/_speedups.so": b"\x7fELF..."},
        tag="cp311-cp311-manylinux_2_17_x86_64",
        root_is_purelib=False,
    )
    unpack_into_target(wheel, target)
    assert (target / "native/_speedups.so").read_bytes() == b"\x7fELF..."


def test_unpack_replaces_a_symlink_instead_of_writing_through_it(
    tmp_path: Path, wheels: Path, target: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("untouched\n")
    (target / "demo").mkdir(parents=True)
    (target / "demo/__init__.py").symlink_to(outside)
    wheel = build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b"new\n"})
    unpack_into_target(wheel, target)
    assert outside.read_text() == "untouched\n"
    assert not (target / "demo/__init__.py").is_symlink()
    assert (target / "demo/__init__.py").read_bytes() == b"new\n"


def test_a_member_that_does_not_match_record(wheels: Path, target: Path) -> None:
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": b"good\n"},
        stored={"demo/__init__.py": b"evil\n"},
    )
    with pytest.raises(WheelError, match=r"demo/__init__\.py does not match"):
        unpack_into_target(wheel, target)
    assert not (target / "demo/__init__.py").exists()


def test_a_member_whose_size_does_not_match_record(wheels: Path, target: Path) -> None:
    data = b"good\n"
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": data},
        record_rows={"demo/__init__.py": (sha256_record(data), "999")},
    )
    with pytest.raises(WheelError, match="size"):
        unpack_into_target(wheel, target)


def test_a_member_missing_from_record(wheels: Path, target: Path) -> None:
    wheel = build_wheel(
        wheels, "demo", "1.0", {"demo/__init__.py": b"", "demo/x.py": b""}, unrecorded=["demo/x.py"]
    )
    with pytest.raises(WheelError, match=r"demo/x\.py"):
        unpack_into_target(wheel, target)


def test_a_record_hash_that_is_not_sha256(wheels: Path, target: Path) -> None:
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": b"x"},
        record_rows={"demo/__init__.py": ("md5=nCZ9fNMNeq3T0OoSC4Cn9g", "1")},
    )
    with pytest.raises(WheelError, match="does not match"):
        unpack_into_target(wheel, target)


def test_record_listing_a_file_the_wheel_lacks(wheels: Path, target: Path) -> None:
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": b""},
        extra_record=[("demo/gone.py", sha256_record(b"x"), "1")],
    )
    with pytest.raises(WheelError, match="lacks files"):
        unpack_into_target(wheel, target)


def test_a_wheel_without_record(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b""}, with_record=False)
    with pytest.raises(WheelError, match="no RECORD"):
        unpack_into_target(wheel, target)


def test_a_member_longer_than_record_says_is_refused_as_it_is_read(
    wheels: Path, target: Path
) -> None:
    """Checked while it streams: the write stops past the recorded size."""
    big = b"x" * (4 * 1024 * 1024)
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": b"", "demo/big.bin": big},
        record_rows={"demo/big.bin": (sha256_record(big), "10")},
    )
    with pytest.raises(WheelError, match="size"):
        unpack_into_target(wheel, target)
    assert not (target / "demo/big.bin").exists()


def test_a_wheel_with_two_dist_info_directories(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"other-2.0.dist-info/METADATA": b"Name: other\n"})
    with pytest.raises(WheelError, match="exactly one"):
        unpack_into_target(wheel, target)


@pytest.mark.parametrize(
    "name",
    [
        "../evil.py",
        "demo/../../evil.py",
        "{tmp}/evil.py",
        "demo-1.0.data/purelib/../../evil.py",
        "demo\\..\\..\\evil.py",
    ],
)
def test_paths_that_escape_are_refused(
    tmp_path: Path, wheels: Path, target: Path, name: str
) -> None:
    name = name.replace("{tmp}", str(tmp_path))  # an absolute path
    wheel = build_wheel(wheels, "demo", "1.0", {name: b"pwned\n"})
    with pytest.raises(WheelError, match="unsafe path"):
        unpack_into_target(wheel, target)
    assert not (tmp_path / "evil.py").exists()
    assert not target.exists()


@pytest.mark.parametrize(
    "name",
    [
        "demo-1.0.data/headers/demo.h",
        "demo-1.0.data/data/share/demo.txt",
        "demo-1.0.data/purelib",
    ],
)
def test_data_it_cannot_place_is_refused(wheels: Path, target: Path, name: str) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {name: b"x"})
    with pytest.raises(WheelError, match="installs"):
        unpack_into_target(wheel, target)


def test_a_data_dir_not_named_like_the_wheel_is_refused(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"Other-1.0.data/purelib/x.py": b"x"})
    with pytest.raises(WheelError, match="not named like the wheel"):
        unpack_into_target(wheel, target)


def test_a_pth_file_is_refused(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"demo.pth": b"import os\n"})
    with pytest.raises(WheelError, match=r"\.pth"):
        unpack_into_target(wheel, target)


def test_a_pth_file_in_the_purelib_data_dir_is_refused(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"demo-1.0.data/purelib/demo.pth": b"import os\n"})
    with pytest.raises(WheelError, match=r"\.pth"):
        unpack_into_target(wheel, target)


def test_a_wheel_without_a_wheel_file(wheels: Path, target: Path) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b""}, with_wheel_file=False)
    with pytest.raises(WheelError):
        unpack_into_target(wheel, target)


# --- install_into_prefix ---------------------------------------------------------------------


class Prefix:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.site = root / "lib" / "python3.11" / "site-packages"
        self.bin = root / "bin"
        self.site.mkdir(parents=True)
        self.bin.mkdir()
        (self.bin / "python3.11").write_text("not really python\n")

    def install(
        self,
        wheel: Path,
        python: str = APP_PYTHON,
        minor: str = "3.11",
        allow_pth: frozenset[str] = frozenset(),
    ) -> list[Path]:
        return install_into_prefix(
            wheel,
            site_packages=self.site,
            scripts_dir=self.bin,
            python=python,
            python_minor=minor,
            allow_pth=allow_pth,
        )

    def record_rows(self, dist_info: str) -> list[list[str]]:
        return _record_rows(self.site / dist_info / "RECORD")


def _record_rows(record: Path) -> list[list[str]]:
    with open(record, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def prefix(tmp_path: Path) -> Prefix:
    return Prefix(tmp_path / "prefix")


DEMO_FILES = {
    "demo/__init__.py": b"",
    "demo/cli.py": b"def main():\n    return 0\n\ndef admin():\n    return 0\n",
    "demo-1.0.data/purelib/demo_extra.py": b"EXTRA = 1\n",
}
DEMO_SCRIPTS = {"demo": "demo.cli:main", "demo-admin": "demo.cli:admin"}


def test_install_into_prefix_writes_the_package_and_launchers(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", DEMO_FILES, console_scripts=DEMO_SCRIPTS)
    written = prefix.install(wheel)

    assert (prefix.site / "demo/cli.py").read_bytes() == DEMO_FILES["demo/cli.py"]
    assert (prefix.site / "demo_extra.py").read_bytes() == b"EXTRA = 1\n"
    for name, target in DEMO_SCRIPTS.items():
        script = prefix.bin / name
        assert script.read_text().splitlines()[0] == "#!" + APP_PYTHON
        assert script.read_text() == launcher(APP_PYTHON, target)
        assert _mode(script) == 0o755
    assert sorted(p.name for p in prefix.bin.iterdir()) == ["demo", "demo-admin", "python3.11"]
    meta = prefix.site / "demo-1.0.dist-info"
    assert (meta / "INSTALLER").read_text() == INSTALLER_NAME + "\n"
    assert (meta / "REQUESTED").read_bytes() == b""
    assert written[-1] == meta / "RECORD"
    assert set(written) == {
        prefix.site / "demo/__init__.py",
        prefix.site / "demo/cli.py",
        prefix.site / "demo_extra.py",
        meta / "METADATA",
        meta / "WHEEL",
        meta / "entry_points.txt",
        meta / "INSTALLER",
        meta / "REQUESTED",
        meta / "RECORD",
        prefix.bin / "demo",
        prefix.bin / "demo-admin",
    }


def test_record_after_install_is_relative_and_verifiable(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", DEMO_FILES, console_scripts=DEMO_SCRIPTS)
    written = prefix.install(wheel)
    rows = prefix.record_rows("demo-1.0.dist-info")

    assert ["demo-1.0.dist-info/RECORD", "", ""] in rows
    paths = [row[0] for row in rows]
    assert len(paths) == len(set(paths))
    assert set(paths) == {os.path.relpath(p, prefix.site) for p in written}
    assert "../../../bin/demo" in paths
    assert "../../../bin/demo-admin" in paths
    assert "demo_extra.py" in paths
    assert "demo-1.0.dist-info/INSTALLER" in paths
    assert "demo-1.0.dist-info/REQUESTED" in paths
    for path, digest, size in rows:
        assert not os.path.isabs(path)
        if path.endswith("/RECORD"):
            continue
        data = (prefix.site / path).read_bytes()
        assert digest == sha256_record(data), path
        assert size == str(len(data)), path
    # The wheel's own RECORD is not copied: this one lists the installed paths.
    assert not any(p.startswith("demo-1.0.data") for p in paths)


def test_pip_gets_a_launcher_for_the_python_version(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(
        wheels,
        "pip",
        "99.0",
        {"pip/__init__.py": b"", "pip/_internal/__init__.py": b""},
        console_scripts={
            "pip": "pip._internal.cli.main:main",
            "pip3": "pip._internal.cli.main:main",
        },
    )
    prefix.install(wheel, minor="3.12")
    assert sorted(p.name for p in prefix.bin.iterdir()) == ["pip", "pip3", "pip3.12", "python3.11"]
    assert (prefix.bin / "pip3.12").read_text() == launcher(
        APP_PYTHON, "pip._internal.cli.main:main"
    )
    assert "../../../bin/pip3.12" in [row[0] for row in prefix.record_rows("pip-99.0.dist-info")]


def test_other_projects_get_no_versioned_launcher(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(
        wheels, "pipx", "1.0", {"pipx/__init__.py": b""}, console_scripts={"pip": "pipx:main"}
    )
    prefix.install(wheel)
    assert sorted(p.name for p in prefix.bin.iterdir()) == ["pip", "python3.11"]


def test_a_wheel_without_entry_points_gets_no_launchers(wheels: Path, prefix: Prefix) -> None:
    prefix.install(build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b""}))
    assert [p.name for p in prefix.bin.iterdir()] == ["python3.11"]


@pytest.mark.parametrize(
    "existing", ["demo/__init__.py", "demo-1.0.dist-info/keep.txt", "../../../bin/demo-admin"]
)
def test_install_refuses_when_the_package_is_there(
    wheels: Path, prefix: Prefix, existing: str
) -> None:
    """A file of its own, its dist-info or a launcher already there: nothing written."""
    wheel = build_wheel(wheels, "demo", "1.0", DEMO_FILES, console_scripts=DEMO_SCRIPTS)
    (prefix.site / existing).parent.mkdir(parents=True, exist_ok=True)
    (prefix.site / existing).write_text("keep\n")
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match="is there already"):
        prefix.install(wheel)
    assert _tree(prefix.root) == before
    assert (prefix.site / existing).read_text() == "keep\n"


def test_wheels_share_a_namespace_directory(wheels: Path, prefix: Prefix) -> None:
    """jaraco.classes and jaraco.context both install into jaraco/; a second
    wheel that fails half way leaves the first one's files and the shared
    directory as they were."""
    first = build_wheel(wheels, "ns.one", "1.0", {"ns/one/__init__.py": b"ONE = 1\n"})
    prefix.install(first)
    before = _tree(prefix.root)
    bad = build_wheel(
        wheels,
        "ns.two",
        "1.0",
        {"ns/two/__init__.py": b"", "ns/two/z.py": b"good"},
        stored={"ns/two/z.py": b"evil"},
    )
    with pytest.raises(WheelError, match="does not match"):
        prefix.install(bad)
    assert _tree(prefix.root) == before
    prefix.install(build_wheel(wheels, "ns.two", "1.0", {"ns/two/__init__.py": b"TWO = 2\n"}))
    assert (prefix.site / "ns/one/__init__.py").read_bytes() == b"ONE = 1\n"
    assert (prefix.site / "ns/two/__init__.py").read_bytes() == b"TWO = 2\n"


def test_a_pth_file_goes_into_site_packages_only_when_the_caller_names_it(
    wheels: Path, prefix: Prefix
) -> None:
    """setuptools' distutils-precedence.pth: read at start-up from a site
    directory, so only the one the caller expects; any other is refused."""
    wheel = build_wheel(
        wheels, "demo", "1.0", {"demo.pth": b"import os\n", "demo/__init__.py": b""}
    )
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match=r"\.pth"):
        prefix.install(wheel, allow_pth=frozenset({"other.pth"}))
    assert _tree(prefix.root) == before
    written = prefix.install(wheel, allow_pth=frozenset({"demo.pth"}))
    assert (prefix.site / "demo.pth").read_bytes() == b"import os\n"
    assert prefix.site / "demo.pth" in written


def test_a_linked_directory_in_site_packages_is_not_written_through(
    tmp_path: Path, wheels: Path, prefix: Prefix
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (prefix.site / "demo").symlink_to(outside)
    wheel = build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b"x"})
    with pytest.raises(WheelError, match="not a directory the install can write into"):
        prefix.install(wheel)
    assert list(outside.iterdir()) == []
    assert not (prefix.site / "demo-1.0.dist-info").exists()


def test_a_failure_half_way_leaves_nothing_behind(wheels: Path, prefix: Prefix) -> None:
    files = {"demo/__init__.py": b"", "demo/a.py": b"a", "demo/z.py": b"good"}
    wheel = build_wheel(wheels, "demo", "1.0", files, stored={"demo/z.py": b"evil"})
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match="does not match"):
        prefix.install(wheel)
    assert _tree(prefix.root) == before


def test_a_bad_entry_point_leaves_nothing_behind(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        DEMO_FILES,
        console_scripts={"a-good": "demo.cli:main", "b-bad": "not a module"},
    )
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match="not module:function"):
        prefix.install(wheel)
    assert _tree(prefix.root) == before


def test_a_wheels_own_scripts_go_to_bin_and_run_the_python(wheels: Path, prefix: Prefix) -> None:
    """dulwich ships scripts of its own: ``#!python`` names the interpreter, as pip does it."""
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {
            "demo/__init__.py": b"",
            "demo-1.0.data/scripts/demo-run": b"#!python\nimport demo\n",
            "demo-1.0.data/scripts/demo-sh": b"#!/bin/sh\necho hi\n",
        },
    )
    written = prefix.install(wheel)
    assert (prefix.bin / "demo-run").read_bytes() == f"#!{APP_PYTHON}\nimport demo\n".encode()
    assert (prefix.bin / "demo-sh").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert _mode(prefix.bin / "demo-run") == 0o755
    assert {prefix.bin / "demo-run", prefix.bin / "demo-sh"} <= set(written)
    rows = {row[0]: row for row in prefix.record_rows("demo-1.0.dist-info")}
    assert rows["../../../bin/demo-run"][1] == sha256_record(
        f"#!{APP_PYTHON}\nimport demo\n".encode()
    )


def test_a_tampered_script_of_its_own_is_caught(wheels: Path, prefix: Prefix) -> None:
    """installer rewrites a ``#!python`` script as it reads it: still checked."""
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {"demo/__init__.py": b"", "demo-1.0.data/scripts/demo-run": b"#!python\nimport demo\n"},
        stored={"demo-1.0.data/scripts/demo-run": b"#!python\nimport evil\n"},
    )
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match="demo-run does not match"):
        prefix.install(wheel)
    assert _tree(prefix.root) == before


@pytest.mark.parametrize(
    "name", ["../../etc/cron.d/x", "/etc/cron.d/x", "sub/x", ".hidden", "..", "../x"]
)
@pytest.mark.parametrize("section", ["console_scripts", "gui_scripts"])
def test_a_script_name_that_is_not_a_plain_file_name_is_refused(
    tmp_path: Path, wheels: Path, prefix: Prefix, name: str, section: str
) -> None:
    """Issue 14: an entry point named like a path would escape bin/."""
    wheel = build_wheel(
        wheels, "demo", "1.0", {"demo/__init__.py": b""}, **{section: {name: "demo:main"}}
    )
    before = _tree(tmp_path)
    with pytest.raises(WheelError, match="not a plain file name"):
        prefix.install(wheel)
    assert _tree(tmp_path) == before


def test_an_empty_script_name_is_refused(wheels: Path, prefix: Prefix) -> None:
    with pytest.raises(WheelError, match="not a plain file name"):
        check_script_name("")
    # entry_points.txt cannot even say it: its parser refuses the line.
    wheel = build_wheel(
        wheels, "demo", "1.0", {"demo/__init__.py": b""}, console_scripts={"": "demo:main"}
    )
    before = _tree(prefix.root)
    with pytest.raises(WheelError, match="entry point"):
        prefix.install(wheel)
    assert _tree(prefix.root) == before


def test_gui_scripts_get_launchers_too(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        DEMO_FILES,
        console_scripts={"demo": "demo.cli:main"},
        gui_scripts={"demo-gui": "demo.cli:admin"},
    )
    written = prefix.install(wheel)
    assert (prefix.bin / "demo-gui").read_text() == launcher(APP_PYTHON, "demo.cli:admin")
    assert _mode(prefix.bin / "demo-gui") == 0o755
    assert prefix.bin / "demo-gui" in written
    assert "../../../bin/demo-gui" in [row[0] for row in prefix.record_rows("demo-1.0.dist-info")]


def test_add_to_record_appends_unhashed_rows(wheels: Path, prefix: Prefix) -> None:
    wheel = build_wheel(wheels, "demo", "1.0", DEMO_FILES, console_scripts=DEMO_SCRIPTS)
    written = prefix.install(wheel)
    record = next(p for p in written if p.name == "RECORD")
    original = record.read_text()
    pycache = prefix.site / "demo" / "__pycache__"
    pycs = [pycache / "__init__.cpython-311.pyc", pycache / "cli.cpython-311.pyc"]
    add_to_record(record, prefix.site, pycs)
    text = record.read_text()
    assert text.startswith(original)
    assert text[len(original) :].splitlines() == [
        "demo/__pycache__/__init__.cpython-311.pyc,,",
        "demo/__pycache__/cli.cpython-311.pyc,,",
    ]


@pytest.mark.parametrize("why", ["a space", "over 127 bytes"])
def test_a_launcher_for_an_awkward_interpreter_path_runs_through_sh(
    tmp_path: Path, wheels: Path, prefix: Prefix, why: str
) -> None:
    """A ``#!`` line cannot hold a path with a space, nor one past 127 bytes
    on Linux: installer writes a /bin/sh trampoline, and the script runs."""
    home = tmp_path / ("with space" if why == "a space" else "long" + "-x" * 64)
    home.mkdir()
    python = home / "python3"
    python.symlink_to(sys.executable)
    assert (" " in str(python)) or len(f"#!{python}\n") > 127
    cli = b"import sys\n\ndef main():\n    print('ran by', sys.executable)\n    return 0\n"
    wheel = build_wheel(
        wheels,
        "hello_tool",
        "0.1",
        {"hello_tool/__init__.py": b"", "hello_tool/cli.py": cli},
        console_scripts={"hello-tool": "hello_tool.cli:main"},
    )
    prefix.install(wheel, python=str(python))
    script = prefix.bin / "hello-tool"
    assert script.read_text().startswith("#!/bin/sh\n")
    assert script.read_text() == launcher(str(python), "hello_tool.cli:main")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(prefix.site)}
    result = subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ran by ")


def test_a_plain_interpreter_path_gets_a_plain_shebang() -> None:
    assert launcher(APP_PYTHON, "demo:main").startswith(f"#!{APP_PYTHON}\n# -*- coding")


def test_write_record_orders_hashed_then_extra_then_itself(tmp_path: Path) -> None:
    site = tmp_path / "lib/python3.11/site-packages"
    record = site / "x-1.0.dist-info/RECORD"
    record.parent.mkdir(parents=True)
    files = [(site / "x/a,b.py", b"comma"), (tmp_path / "bin/x", b"#!/py\n")]
    write_record(record, site, files, extra=[site / "x/__pycache__/a.pyc"])
    with open(record, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["x/a,b.py", sha256_record(b"comma"), "5"],
        ["../../../bin/x", sha256_record(b"#!/py\n"), "6"],
        ["x/__pycache__/a.pyc", "", ""],
        ["x-1.0.dist-info/RECORD", "", ""],
    ]


def test_an_installed_console_script_runs(tmp_path: Path, wheels: Path, prefix: Prefix) -> None:
    cli = (
        b"import os, sys\n\n"
        b"def main():\n"
        b"    print('hello from', os.path.basename(sys.argv[0]), sys.argv[1:])\n"
        b"    return 3\n"
    )
    wheel = build_wheel(
        wheels,
        "hello_tool",
        "0.1",
        {"hello_tool/__init__.py": b"", "hello_tool/cli.py": cli},
        console_scripts={"hello-tool": "hello_tool.cli:main"},
    )
    prefix.install(wheel, python=sys.executable)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(prefix.site)}
    result = subprocess.run(
        [str(prefix.bin / "hello-tool"), "one", "two"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.stderr == ""
    assert result.stdout == "hello from hello-tool ['one', 'two']\n"
    assert result.returncode == 3


def test_a_target_whose_parent_has_gone_is_not_made_again(wheels: Path, tmp_path: Path) -> None:
    """A hook deleted CACHE_DIR while a background unpack ran into it: the
    unpack fails instead of bringing CACHE_DIR back."""
    wheel = build_wheel(wheels, "demo", "1.0", {"demo/__init__.py": b""})
    gone = tmp_path / "cache" / ".heroku" / "partial"
    with pytest.raises(WheelError, match="is not there any more"):
        unpack_into_target(wheel, gone)
    assert not (tmp_path / "cache").exists()
