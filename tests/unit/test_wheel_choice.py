"""Which wheels an interpreter can install, and which it prefers: packaging.tags."""

from __future__ import annotations

import platform
import sys

import pytest
from packaging.tags import platform_tags, sys_tags

from buildpack.selfdeps.wheel_choice import Interpreter, best_wheel, manylinux_platforms


def cpython(minor: int, machine: str = "x86_64", glibc: tuple[int, int] | None = (2, 36)):
    """The app's runtime 3.``minor`` on a machine other than this one."""
    return Interpreter.runtime(f"3.{minor}", manylinux_platforms(machine, glibc))


CP311 = cpython(11)
MANYLINUX_217 = "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"


def _glibc() -> tuple[int, int] | None:
    libc, version = platform.libc_ver()
    if libc != "glibc":
        return None
    major, minor = (int(part) for part in version.split(".")[:2])
    return major, minor


# --- the interpreters' tags --------------------------------------------------------------


def test_the_running_interpreter_has_the_tags_packaging_gives_it() -> None:
    assert Interpreter.running().tags == tuple(sys_tags())


def test_a_runtime_of_the_running_version_has_the_same_tags() -> None:
    """The app's runtime, described from outside, is what pip inside it sees
    (when this interpreter is a standard CPython build, as Heroku's is)."""
    if sys.implementation.name != "cpython" or getattr(sys, "abiflags", ""):
        pytest.skip("needs a standard CPython build")
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert Interpreter.runtime(minor).tags == tuple(sys_tags())


def test_a_runtime_of_another_version_gets_its_own_tags() -> None:
    other = 12 if sys.version_info[:2] != (3, 12) else 13
    tags = [str(tag) for tag in Interpreter.runtime(f"3.{other}").tags]
    best_platform = next(iter(platform_tags()))
    assert tags[0] == f"cp3{other}-cp3{other}-{best_platform}"
    assert f"cp3{other}-abi3-{best_platform}" in tags
    assert tags[-1] == "py30-none-any" and "py3-none-any" in tags
    assert not any(tag.startswith(f"cp3{other + 1}") for tag in tags)
    assert Interpreter.runtime(f"3.{other}.7").tags == Interpreter.runtime(f"3.{other}").tags


def test_manylinux_platforms_agree_with_packaging_on_this_machine() -> None:
    glibc = _glibc()
    if glibc is None:
        pytest.skip("not a glibc machine")
    assert manylinux_platforms(platform.machine(), glibc) == list(platform_tags())


# --- rank: what is installable ---------------------------------------------------------------


@pytest.mark.parametrize(
    "interp",
    [
        CP311,
        cpython(12),
        cpython(11, "aarch64"),
        cpython(11, glibc=(2, 12)),
        cpython(11, glibc=None),
    ],
)
@pytest.mark.parametrize(
    "filename", ["pip-24.0-py3-none-any.whl", "six-1.16.0-py2.py3-none-any.whl"]
)
def test_a_pure_wheel_suits_any_interpreter(filename: str, interp: Interpreter) -> None:
    assert interp.rank(filename) is not None


@pytest.mark.parametrize(
    "filename",
    [
        "pip-24.0.tar.gz",
        "pip-24.0-py3-none.whl",
        "pip-py3-none-any.whl",
        "pip-24.0-x-py3-none-any.whl",
        "",
    ],
)
def test_what_is_no_wheel_file_name_ranks_none(filename: str) -> None:
    assert CP311.rank(filename) is None


def test_a_pure_wheel_for_another_major_version_is_rejected() -> None:
    assert CP311.rank("old-1.0-py2-none-any.whl") is None


def test_manylinux_wheel_accepted_for_matching_interpreter() -> None:
    assert CP311.rank(MANYLINUX_217) is not None


@pytest.mark.parametrize(
    ("interp", "why"),
    [
        (cpython(12), "another Python minor version"),
        (cpython(11, "aarch64"), "another architecture"),
        (cpython(11, glibc=(2, 12)), "a glibc older than the wheel needs"),
        (cpython(11, glibc=None), "no glibc at all"),
    ],
)
def test_manylinux_wheel_rejected(interp: Interpreter, why: str) -> None:
    assert interp.rank(MANYLINUX_217) is None, why


def test_manylinux_needing_exactly_the_glibc_there_is_accepted() -> None:
    glibc_217 = cpython(11, glibc=(2, 17))
    assert glibc_217.rank(MANYLINUX_217) is not None
    assert glibc_217.rank("x-1.0-cp311-cp311-manylinux_2_18_x86_64.whl") is None


@pytest.mark.parametrize(
    ("tag", "needs"),
    [("manylinux1", (2, 5)), ("manylinux2010", (2, 12)), ("manylinux2014", (2, 17))],
)
def test_legacy_manylinux_aliases(tag: str, needs: tuple[int, int]) -> None:
    filename = f"x-1.0-cp311-cp311-{tag}_x86_64.whl"
    assert cpython(11, glibc=needs).rank(filename) is not None
    assert cpython(11, glibc=(needs[0], needs[1] - 1)).rank(filename) is None
    assert cpython(11, "aarch64", needs).rank(filename) is None
    # The alias ranks next to the PEP 600 tag it stands for.
    pep600 = f"x-1.0-cp311-cp311-manylinux_{needs[0]}_{needs[1]}_x86_64.whl"
    assert CP311.rank(pep600) == CP311.rank(filename) + 1  # type: ignore[operator]


def test_abi3_wheel_for_an_older_python_is_accepted() -> None:
    assert CP311.rank("cryptography-42.0.0-cp38-abi3-manylinux_2_28_x86_64.whl") is not None
    assert CP311.rank("x-1.0-cp311-abi3-manylinux_2_17_x86_64.whl") is not None


def test_abi3_wheel_for_a_newer_python_is_rejected() -> None:
    assert CP311.rank("x-1.0-cp312-abi3-manylinux_2_17_x86_64.whl") is None


def test_abi3_needs_a_platform() -> None:
    assert CP311.rank("x-1.0-cp38-abi3-any.whl") is None


@pytest.mark.parametrize(
    "platform_tag",
    ["musllinux_1_1_x86_64", "win_amd64", "macosx_11_0_arm64", "manylinux_2_17_i686"],
)
def test_other_platforms_are_rejected(platform_tag: str) -> None:
    assert CP311.rank(f"x-1.0-cp311-cp311-{platform_tag}.whl") is None


def test_a_wheel_built_for_this_very_platform_comes_first_as_pip_takes_it() -> None:
    linux = CP311.rank("x-1.0-cp311-cp311-linux_x86_64.whl")
    assert linux is not None
    assert linux > CP311.rank("x-1.0-cp311-cp311-manylinux_2_36_x86_64.whl")  # type: ignore[operator]


def test_binary_wheel_for_another_abi_is_rejected() -> None:
    assert CP311.rank("x-1.0-cp311-cp311d-manylinux_2_17_x86_64.whl") is None
    assert CP311.rank("x-1.0-cp311-cp312-manylinux_2_17_x86_64.whl") is None
    assert CP311.rank("x-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl") is None
    assert CP311.rank("x-1.0-cp311-cp311t-manylinux_2_17_x86_64.whl") is None


# --- which is best ---------------------------------------------------------------------


def _best(filenames: list[str], interp: Interpreter = CP311) -> str | None:
    return best_wheel(filenames, "x", "1.0", interp)


def test_exact_cpython_beats_abi3_beats_pure() -> None:
    exact = "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    abi3 = "x-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    pure = "x-1.0-py3-none-any.whl"
    ranks = [CP311.rank(name) for name in (exact, abi3, pure)]
    assert ranks[0] > ranks[1] > ranks[2]  # type: ignore[operator]
    assert _best([pure, abi3, exact]) == exact
    assert _best([pure, abi3]) == abi3


def test_exact_beats_abi3_even_on_an_older_manylinux() -> None:
    exact_old = "x-1.0-cp311-cp311-manylinux1_x86_64.whl"
    abi3_new = "x-1.0-cp38-abi3-manylinux_2_34_x86_64.whl"
    assert _best([abi3_new, exact_old]) == exact_old


def test_a_newer_manylinux_is_preferred_among_equals() -> None:
    older = "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    newer = "x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert _best([older, newer]) == newer


def test_compressed_tag_set_counts_its_best_member() -> None:
    both = "x-1.0-cp311-cp311-manylinux_2_28_x86_64.manylinux2014_x86_64.whl"
    glibc_217 = cpython(11, glibc=(2, 17))
    assert glibc_217.rank(both) == glibc_217.rank("x-1.0-cp311-cp311-manylinux2014_x86_64.whl")
    assert CP311.rank(both) == CP311.rank("x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert CP311.rank("x-1.0-cp310.cp311-abi3-manylinux_2_17_x86_64.whl") is not None
    assert CP311.rank("x-1.0-cp311-cp311-win_amd64.macosx_11_0_arm64.whl") is None


def test_best_wheel_takes_only_the_pinned_project_and_version() -> None:
    names = [
        "x-2.0-py3-none-any.whl",
        "x_extra-1.0-py3-none-any.whl",
        "X-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",  # 1.0.0 is version 1.0
        "x-1.0-cp311-cp311-win_amd64.whl",
    ]
    assert _best(names) == names[2]
    assert best_wheel(names, "X", "1.0", CP311) == names[2]
    assert best_wheel(names, "x", "not a version", CP311) is None
    assert _best(["x-1.0-cp311-cp311-win_amd64.whl"]) is None
