"""tool-locks.json: Poetry's and Pipenv's dependency sets, locked by tools/lock-tools.

The first test is CI's guard: a pin in buildpack.toml that changes without
a new lock (or a supported Python minor added without one) fails it."""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

from buildpack.core.settings import Settings, buildpack_root
from buildpack.package_managers import tool_lock
from buildpack.selfdeps.wheel_choice import Interpreter, manylinux_platforms

ROOT = buildpack_root()
SETTINGS = Settings.load(ROOT / "buildpack.toml")
ENVIRONMENTS = [
    tool_lock.environment(minor, machine)
    for minor in SETTINGS.supported_minors
    for machine in tool_lock.MACHINES
]


@pytest.fixture(scope="module")
def lock() -> dict:
    return tool_lock.load(tool_lock.lock_path(ROOT))


def test_the_lock_matches_the_pins_and_minors_in_buildpack_toml(lock):
    assert tool_lock.problems(lock, SETTINGS.tools, ENVIRONMENTS) == []
    for tool in tool_lock.LOCKED_TOOLS:
        # Every supported minor on both CPUs: no build of a supported Python falls back to pip.
        assert lock["tools"][tool]["environments"] == ENVIRONMENTS, tool


def test_a_pin_changed_without_a_new_lock_is_caught(lock):
    pins = {**SETTINGS.tools, "poetry": "9.9.9"}
    assert tool_lock.problems(lock, pins, ENVIRONMENTS) == [
        "it has no lock of poetry 9.9.9 (the pin in buildpack.toml)"
    ]


def test_a_minor_added_without_a_new_lock_is_caught(lock):
    problems = tool_lock.problems(lock, SETTINGS.tools, [*ENVIRONMENTS, "3.15-x86_64"])
    assert problems and "covers" in problems[0]


def test_a_lock_with_a_wrong_hash_or_file_is_caught(lock):
    broken = copy.deepcopy(lock)
    package = broken["tools"]["pipenv"]["packages"][0]
    package["wheels"][0]["sha256"] = "not-a-hash"
    package["wheels"].append({"file": "other-1.0-py3-none-any.whl", "sha256": "0" * 64})
    found = tool_lock.problems(broken, SETTINGS.tools, ENVIRONMENTS)
    assert any("has no sha256" in p for p in found), found
    assert any("is not one of its wheels" in p for p in found), found


def _env(minor: str, machine: str, glibc: tuple[int, int]) -> tuple[str, Interpreter]:
    """The lock's environment and the interpreter of a glibc ``glibc`` machine."""
    env = tool_lock.environment(minor, machine)
    return env, Interpreter.runtime(minor, manylinux_platforms(machine, glibc))


def test_the_lock_holds_no_address():
    text = tool_lock.lock_path(ROOT).read_text()
    assert "://" not in text and '"url"' not in text


def test_each_package_gets_the_wheel_pip_would_choose(lock):
    tool, version = "poetry", SETTINGS.tools["poetry"]
    x86 = tool_lock.files_for(lock, tool, version, *_env("3.11", "x86_64", (2, 39)))
    arm = tool_lock.files_for(lock, tool, version, *_env("3.10", "aarch64", (2, 35)))
    by_name = {f.project: f for f in x86}
    assert by_name["poetry"].filename == f"poetry-{version}-py3-none-any.whl"
    assert "tomli" not in by_name  # only below 3.11
    assert "tomli" in {f.project for f in arm}
    for name in ("cffi", "dulwich", "msgpack"):  # compiled, one wheel per minor and CPU
        assert "cp311" in by_name[name].filename and "x86_64" in by_name[name].filename
    assert all("aarch64" in f.filename for f in arm if "manylinux" in f.filename)
    assert len({f.project for f in x86}) == len(x86)


def test_what_the_lock_cannot_do_is_said(lock):
    with pytest.raises(tool_lock.LockUnusable, match=r"no lock of poetry 1\.8\.5"):
        tool_lock.files_for(lock, "poetry", "1.8.5", *_env("3.12", "x86_64", (2, 39)))
    with pytest.raises(tool_lock.LockUnusable, match=r"does not cover Python 3\.12-riscv64"):
        tool_lock.files_for(
            lock, "poetry", SETTINGS.tools["poetry"], *_env("3.12", "riscv64", (2, 39))
        )
    # A glibc older than any compiled wheel needs.
    with pytest.raises(tool_lock.LockUnusable, match=r"no wheel of .* for here"):
        tool_lock.files_for(
            lock, "poetry", SETTINGS.tools["poetry"], *_env("3.12", "x86_64", (2, 5))
        )


# --- the generator ---------------------------------------------------------------------


def _lock_tools():
    path = ROOT / "tools" / "lock-tools"
    loader = importlib.machinery.SourceFileLoader("lock_tools", str(path))
    spec = importlib.util.spec_from_loader("lock_tools", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_generator_keeps_linux_wheels_and_drops_addresses():
    gen = _lock_tools()
    url = "https://index.invalid/packages/ab/cd/"
    pylock = {
        "packages": [
            {
                "name": "demo",
                "version": "1.0",
                "marker": "python_full_version < '3.11'",
                "wheels": [
                    {
                        "url": url + f"demo-1.0-cp310-cp310-{plat}.whl",
                        "hashes": {"sha256": "A" * 64},
                    }
                    for plat in ("win_amd64", "manylinux_2_17_x86_64", "manylinux_2_17_aarch64")
                ],
            },
            {
                "name": "winonly",
                "version": "2.0",
                "marker": "sys_platform == 'win32'",
                "wheels": [],
            },
            {
                "name": "pure",
                "version": "3.0",
                "wheels": [
                    {"url": url + "pure-3.0-py3-none-any.whl", "hashes": {"sha256": "b" * 64}}
                ],
            },
        ]
    }
    entry = gen.lock_entry(pylock, SETTINGS, ENVIRONMENTS)
    assert entry["packages"] == [
        {
            "name": "demo",
            "version": "1.0",
            "environments": ["3.10-x86_64", "3.10-aarch64"],
            "wheels": [
                {"file": "demo-1.0-cp310-cp310-manylinux_2_17_aarch64.whl", "sha256": "a" * 64},
                {"file": "demo-1.0-cp310-cp310-manylinux_2_17_x86_64.whl", "sha256": "a" * 64},
            ],
        },
        {
            "name": "pure",
            "version": "3.0",
            "wheels": [{"file": "pure-3.0-py3-none-any.whl", "sha256": "b" * 64}],
        },
    ]
    assert "://" not in repr(entry)


def test_lock_files_are_json_the_standard_library_reads(tmp_path: Path):
    bad = tmp_path / "tool-locks.json"
    bad.write_text("{not json")
    with pytest.raises(tool_lock.LockUnusable, match="could not be read"):
        tool_lock.load(bad)


def _recalled(lock, names: list[str], minor: str = "3.11"):
    from buildpack.package_managers import tool_fetch
    from buildpack.selfdeps.package_index import IndexSettings

    index = IndexSettings("https://index.invalid/simple")
    poetry = SETTINGS.tools["poetry"]
    return tool_fetch.recalled(index, lock, "poetry", poetry, minor, names)


def test_an_earlier_choice_is_taken_only_as_one_locked_wheel_of_each_package(lock, monkeypatch):
    """What packaging chose in an earlier build (kept_venv's mark) is taken
    back without packaging, and only as exactly one locked wheel of each
    package of the set for this Python."""
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    chosen = tool_lock.files_for(
        lock, "poetry", SETTINGS.tools["poetry"], *_env("3.11", "x86_64", (2, 39))
    )
    names = [f.filename for f in chosen]
    plan = _recalled(lock, names)
    assert plan.files == tuple((f.project, f.filename, f.sha256) for f in chosen)

    cffi = next(f for f in chosen if f.project == "cffi")
    others = [
        w["file"]
        for p in lock["tools"]["poetry"]["packages"]
        if p["name"] == "cffi"
        for w in p["wheels"]
        if w["file"] != cffi.filename
    ]
    # Another locked wheel of the package is still a locked file: taken.
    swapped = [others[0] if n == cffi.filename else n for n in names]
    assert cffi.filename not in {f[1] for f in _recalled(lock, swapped).files}
    refused = {
        "a package left out": [n for n in names if n != cffi.filename],
        "two wheels of one package": [*names, others[0]],
        "a file the lock does not name": [*names, "evil-1.0-py3-none-any.whl"],
        "a package of another Python (tomli, below 3.11)": [
            *names,
            next(
                w["file"]
                for p in lock["tools"]["poetry"]["packages"]
                if p["name"] == "tomli"
                for w in p["wheels"]
            ),
        ],
        "nothing": [],
    }
    for why, wrong in refused.items():
        with pytest.raises(tool_lock.LockUnusable):
            _recalled(lock, wrong)
            pytest.fail(why)
