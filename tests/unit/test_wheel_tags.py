"""Which wheels an interpreter can install, and which it prefers."""

from __future__ import annotations

import platform
import sys

import pytest

from buildpack.selfdeps.wheel_tags import Interpreter, glibc_version, parse_wheel_name, rank

CP311 = Interpreter(3, 11, "", "x86_64", (2, 36))
CP312 = Interpreter(3, 12, "", "x86_64", (2, 36))
CP311_ARM = Interpreter(3, 11, "", "aarch64", (2, 36))
CP311_OLD_GLIBC = Interpreter(3, 11, "", "x86_64", (2, 12))
CP311_MUSL = Interpreter(3, 11, "", "x86_64", None)
CP313T = Interpreter(3, 13, "t", "x86_64", (2, 36))

MANYLINUX_217 = "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"


# --- parse_wheel_name -----------------------------------------------------------------


def test_parse_wheel_name_splits_the_tags() -> None:
    wheel = parse_wheel_name("pip-24.0-py3-none-any.whl")
    assert wheel is not None
    assert (wheel.name, wheel.version) == ("pip", "24.0")
    assert wheel.python == {"py3"}
    assert wheel.abi == {"none"}
    assert wheel.platform == {"any"}


def test_parse_wheel_name_expands_compressed_tag_sets() -> None:
    wheel = parse_wheel_name(
        "charset_normalizer-3.3.2-cp311.cp312-cp311.abi3-"
        "manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert wheel is not None
    assert wheel.name == "charset_normalizer"
    assert wheel.python == {"cp311", "cp312"}
    assert wheel.abi == {"cp311", "abi3"}
    assert wheel.platform == {"manylinux_2_17_x86_64", "manylinux2014_x86_64"}


def test_parse_wheel_name_accepts_a_build_tag() -> None:
    wheel = parse_wheel_name("foo-1.0-1local-py3-none-any.whl")
    assert wheel is not None
    assert (wheel.name, wheel.version, wheel.python) == ("foo", "1.0", {"py3"})


@pytest.mark.parametrize(
    "filename",
    [
        "pip-24.0.tar.gz",
        "pip-24.0-py3-none.whl",
        "pip-py3-none-any.whl",
        "pip-24.0-py3-none-any.whl.metadata",
        "pip-24.0-x-py3-none-any.whl",  # a build tag must start with a digit
        "",
    ],
)
def test_unparsable_filenames(filename: str) -> None:
    assert parse_wheel_name(filename) is None
    assert rank(filename, CP311) is None


# --- glibc_version and Interpreter ---------------------------------------------------------


def test_glibc_version_agrees_with_the_platform_module() -> None:
    libc, version = platform.libc_ver()
    if libc != "glibc":
        assert glibc_version() is None
        return
    major, minor = (int(p) for p in version.split(".")[:2])
    assert glibc_version() == (major, minor)


def test_interpreter_running_describes_this_python() -> None:
    interp = Interpreter.running()
    assert (interp.major, interp.minor) == sys.version_info[:2]
    assert interp.abiflags == getattr(sys, "abiflags", "")
    assert interp.machine == platform.machine()
    assert interp.glibc == glibc_version()


def test_interpreter_runtime_is_a_standard_build_of_that_version() -> None:
    interp = Interpreter.runtime("3.12")
    assert (interp.major, interp.minor, interp.abiflags) == (3, 12, "")
    assert interp.machine == platform.machine()
    assert interp.glibc == glibc_version()
    assert (Interpreter.runtime("3.9.7").major, Interpreter.runtime("3.9.7").minor) == (3, 9)


# --- rank: what is installable ---------------------------------------------------------------


@pytest.mark.parametrize("interp", [CP311, CP312, CP311_ARM, CP311_OLD_GLIBC, CP311_MUSL, CP313T])
@pytest.mark.parametrize(
    "filename",
    ["pip-24.0-py3-none-any.whl", "six-1.16.0-py2.py3-none-any.whl"],
)
def test_a_pure_wheel_suits_any_interpreter(filename: str, interp: Interpreter) -> None:
    assert rank(filename, interp) is not None


def test_a_pure_wheel_for_another_major_version_is_rejected() -> None:
    assert rank("old-1.0-py2-none-any.whl", CP311) is None


def test_manylinux_wheel_accepted_for_matching_interpreter() -> None:
    assert rank(MANYLINUX_217, CP311) is not None


@pytest.mark.parametrize(
    ("interp", "why"),
    [
        (CP312, "another Python minor version"),
        (CP311_ARM, "another architecture"),
        (CP311_OLD_GLIBC, "a glibc older than the wheel needs"),
        (CP311_MUSL, "no glibc at all"),
    ],
)
def test_manylinux_wheel_rejected(interp: Interpreter, why: str) -> None:
    assert rank(MANYLINUX_217, interp) is None, why


def test_manylinux_needing_exactly_the_glibc_there_is_accepted() -> None:
    glibc_217 = Interpreter(3, 11, "", "x86_64", (2, 17))
    assert rank(MANYLINUX_217, glibc_217) is not None
    assert rank("x-1.0-cp311-cp311-manylinux_2_18_x86_64.whl", glibc_217) is None


@pytest.mark.parametrize(
    ("tag", "needs"),
    [("manylinux1", (2, 5)), ("manylinux2010", (2, 12)), ("manylinux2014", (2, 17))],
)
def test_legacy_manylinux_aliases(tag: str, needs: tuple[int, int]) -> None:
    filename = f"x-1.0-cp311-cp311-{tag}_x86_64.whl"
    assert rank(filename, Interpreter(3, 11, "", "x86_64", needs)) is not None
    older = (needs[0], needs[1] - 1)
    assert rank(filename, Interpreter(3, 11, "", "x86_64", older)) is None
    assert rank(filename, Interpreter(3, 11, "", "aarch64", needs)) is None
    # The alias ranks like the PEP 600 tag it stands for.
    pep600 = f"x-1.0-cp311-cp311-manylinux_{needs[0]}_{needs[1]}_x86_64.whl"
    assert rank(filename, CP311) == rank(pep600, CP311)


def test_abi3_wheel_for_an_older_python_is_accepted() -> None:
    assert rank("cryptography-42.0.0-cp38-abi3-manylinux_2_28_x86_64.whl", CP311) is not None
    assert rank("x-1.0-cp311-abi3-manylinux_2_17_x86_64.whl", CP311) is not None


def test_abi3_wheel_for_a_newer_python_is_rejected() -> None:
    assert rank("x-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", CP311) is None


def test_abi3_needs_a_platform() -> None:
    assert rank("x-1.0-cp38-abi3-any.whl", CP311) is None


@pytest.mark.parametrize(
    "platform_tag",
    [
        "musllinux_1_1_x86_64",
        "win_amd64",
        "macosx_11_0_arm64",
        "linux_x86_64",
        "manylinux_2_17_i686",
    ],
)
def test_other_platforms_are_rejected(platform_tag: str) -> None:
    assert rank(f"x-1.0-cp311-cp311-{platform_tag}.whl", CP311) is None


def test_binary_wheel_for_another_abi_is_rejected() -> None:
    assert rank("x-1.0-cp311-cp311d-manylinux_2_17_x86_64.whl", CP311) is None
    assert rank("x-1.0-cp311-cp312-manylinux_2_17_x86_64.whl", CP311) is None
    assert rank("x-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", CP311) is None


def test_free_threaded_build_takes_pure_wheels_only() -> None:
    assert rank("x-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", CP313T) is None
    assert rank("x-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", CP313T) is None
    assert rank("x-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", CP313T) is None
    assert rank("x-1.0-py3-none-any.whl", CP313T) is not None


# --- rank: which is best ---------------------------------------------------------------------


def _best(filenames: list[str], interp: Interpreter) -> str:
    ranked = [(rank(f, interp), f) for f in filenames]
    usable = [(r, f) for r, f in ranked if r is not None]
    return max(usable)[1]


def test_exact_cpython_beats_abi3_beats_pure() -> None:
    exact = "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    abi3 = "x-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    pure = "x-1.0-py3-none-any.whl"
    ranks = [rank(name, CP311) for name in (exact, abi3, pure)]
    assert None not in ranks
    assert ranks[0] > ranks[1] > ranks[2]  # type: ignore[operator]
    assert _best([pure, abi3, exact], CP311) == exact
    assert _best([pure, abi3], CP311) == abi3


def test_exact_beats_abi3_even_on_an_older_manylinux() -> None:
    exact_old = "x-1.0-cp311-cp311-manylinux1_x86_64.whl"
    abi3_new = "x-1.0-cp38-abi3-manylinux_2_34_x86_64.whl"
    assert _best([abi3_new, exact_old], CP311) == exact_old


def test_a_newer_manylinux_is_preferred_among_equals() -> None:
    older = "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    newer = "x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert _best([older, newer], CP311) == newer


def test_compressed_tag_set_counts_its_best_member() -> None:
    # Usable through its manylinux2014 alias only on this old glibc.
    both = "x-1.0-cp311-cp311-manylinux_2_28_x86_64.manylinux2014_x86_64.whl"
    glibc_217 = Interpreter(3, 11, "", "x86_64", (2, 17))
    assert rank(both, glibc_217) == rank("x-1.0-cp311-cp311-manylinux2014_x86_64.whl", glibc_217)
    assert rank(both, CP311) == rank("x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", CP311)
    # One usable interpreter tag in a set is enough.
    assert rank("x-1.0-cp310.cp311-abi3-manylinux_2_17_x86_64.whl", CP311) is not None
    assert rank("x-1.0-py2.py3-none-any.whl", CP311) is not None
    # And a set of unusable platforms stays unusable.
    assert rank("x-1.0-cp311-cp311-win_amd64.macosx_11_0_arm64.whl", CP311) is None


def test_rank_of_the_running_interpreter_for_its_own_tag() -> None:
    interp = Interpreter.running()
    if interp.glibc is None or interp.glibc < (2, 17) or interp.abiflags:
        pytest.skip("needs a standard CPython on glibc 2.17 or later")
    tag = f"cp{interp.major}{interp.minor}"
    name = f"x-1.0-{tag}-{tag}-manylinux_2_17_{interp.machine}.whl"
    assert rank(name, interp) is not None
