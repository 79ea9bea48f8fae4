"""The version table of tools/runtime_archive: one row per supported minor,
checked against buildpack.toml, the buildpack's own rules and the CPython
installations this machine has."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from buildpack.core.settings import Settings, buildpack_root
from buildpack.selfdeps.pure_wheels import needed
from tools.runtime_archive.toolchain import configure_args
from tools.runtime_archive.versions import (
    MINORS,
    VersionError,
    archive_name,
    parse_version,
    ubuntu_for_stack,
)

SETTINGS = Settings.load(buildpack_root() / "buildpack.toml")
SUPPORTED = ["3.10", "3.11", "3.12", "3.13", "3.14"]

# What each minor bundles in ensurepip/_bundled (a pip wheel of the kind it
# ships, whose version changes with each patch release), and whether it has
# tomllib.
EXPECTED = {
    "3.10": ({"pip", "setuptools"}, "pip-23.0.1-py3-none-any.whl", False),
    "3.11": ({"pip", "setuptools"}, "pip-24.0-py3-none-any.whl", True),
    "3.12": ({"pip"}, "pip-25.0.1-py3-none-any.whl", True),
    "3.13": ({"pip"}, "pip-26.2.1-py3-none-any.whl", True),
    "3.14": ({"pip"}, "pip-25.2-py3-none-any.whl", True),
}


def test_the_table_covers_exactly_the_supported_minors() -> None:
    assert list(SETTINGS.supported_minors) == SUPPORTED
    assert list(MINORS) == SUPPORTED


@pytest.mark.parametrize("minor", SUPPORTED)
def test_archive_name_and_stdlib_dir(minor: str) -> None:
    latest = SETTINGS.latest_patch[minor]
    version, facts = parse_version(latest)
    name = archive_name(SETTINGS.archive_name, version, ubuntu_for_stack("heroku-24"), "amd64")
    assert name == f"python-{latest}-ubuntu-24.04-amd64.tar.zst"
    assert facts.stdlib_dir == f"lib/python{minor}"
    assert facts.bundled_dir == f"lib/python{minor}/ensurepip/_bundled"


@pytest.mark.parametrize("minor", SUPPORTED)
def test_bundled_wheels(minor: str) -> None:
    projects, pip_wheel, _ = EXPECTED[minor]
    facts = MINORS[minor]
    assert {pattern.split("-")[0] for pattern in facts.bundled_wheels} == projects
    assert Path(pip_wheel).match(facts.bundled_wheels[0])


@pytest.mark.parametrize("minor", SUPPORTED)
def test_tomllib_for_the_host(minor: str) -> None:
    _, _, has_tomllib = EXPECTED[minor]
    major, minor_number = map(int, minor.split("."))
    assert MINORS[minor].has_tomllib is has_tomllib
    # The buildpack's bootstrap installs tomli exactly where tomllib is missing.
    assert needed("tomli", (major, minor_number)) is not has_tomllib


def test_tomllib_on_this_interpreter() -> None:
    minor = "{}.{}".format(*sys.version_info[:2])
    assert (importlib.util.find_spec("tomllib") is not None) is MINORS[minor].has_tomllib
    assert (
        needed("tomli", (sys.version_info[0], sys.version_info[1])) is not MINORS[minor].has_tomllib
    )


@pytest.mark.parametrize("minor", SUPPORTED)
def test_configure_options(minor: str) -> None:
    args = configure_args(MINORS[minor], Path("/tmp/prefix"), optimize=False)
    assert "--enable-shared" in args and "--without-static-libpython" in args
    assert ("--disable-test-modules" in args) is (minor != "3.10")
    assert "--with-lto" not in args
    optimized = configure_args(MINORS[minor], Path("/tmp/prefix"), optimize=True)
    assert {"--enable-optimizations", "--with-lto"} <= set(optimized)


@pytest.mark.parametrize("minor", SUPPORTED)
def test_programs_a_runtime_leaves_out(minor: str) -> None:
    removed = MINORS[minor].removed_programs
    assert {"idle*", "pydoc*"} <= set(removed)
    assert ("2to3*" in removed) is (minor in ("3.10", "3.11", "3.12"))


def _installations() -> list[tuple[Path, str]]:
    """Installations of supported minors on this machine: the one running the
    tests (always), and pyenv's."""
    found = {Path(sys.base_prefix).resolve()}
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        found |= {p.resolve() for p in pyenv.iterdir() if (p / "bin" / "python3").exists()}
    pairs = []
    for prefix in sorted(found):
        for stdlib in prefix.glob("lib/python3.*/os.py"):
            minor = stdlib.parent.name.removeprefix("python")
            if minor in MINORS:
                pairs.append((prefix, minor))
    return pairs


@pytest.mark.parametrize(("prefix", "minor"), _installations(), ids=str)
def test_the_table_agrees_with_real_installations(prefix: Path, minor: str) -> None:
    facts = MINORS[minor]
    bundled = prefix / facts.bundled_dir
    wheels = {p.name.split("-")[0] for p in bundled.glob("*.whl")}
    expected = {pattern.split("-")[0] for pattern in facts.bundled_wheels}
    assert wheels == expected, f"{bundled}: {sorted(bundled.glob('*.whl'))}"
    assert (prefix / facts.stdlib_dir / "tomllib").is_dir() is facts.has_tomllib
    assert (prefix / facts.stdlib_dir / "lib2to3").is_dir() is facts.ships_2to3


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("3.13", "not a full Python release version"),
        ("3.13.1rc1", "not a full Python release version"),
        ("03.13.1", "not a full Python release version"),
        ("3.13.x", "not a full Python release version"),
        ("3.9.18", "Python 3.9 is not one of the minors this tool knows"),
        ("3.15.0", "Python 3.15 is not one of the minors this tool knows"),
    ],
)
def test_versions_the_tools_refuse(version: str, message: str) -> None:
    with pytest.raises(VersionError, match=message):
        parse_version(version)


@pytest.mark.parametrize(
    ("stack", "ubuntu"), [("heroku-22", "22"), ("heroku-24", "24"), ("heroku-26", "26")]
)
def test_stack_names_the_ubuntu_release(stack: str, ubuntu: str) -> None:
    assert ubuntu_for_stack(stack) == ubuntu
