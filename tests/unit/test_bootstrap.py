"""The buildpack's own dependencies: pins, markers, and concurrent installs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.core import errors, fs
from buildpack.core.output import Output
from buildpack.core.settings import Settings, buildpack_root
from buildpack.selfdeps import bootstrap, wheel_lock
from tests.support.fault_server import Fault, FaultServer
from tests.support.polling import wait_for
from tests.unit.wheel_factory import Index, build_wheel, write_deps_lock


def test_pins_come_from_buildpack_toml():
    pins = bootstrap.read_pins(buildpack_root() / "buildpack.toml")
    assert {"zstandard", "requests", "pyyaml", "tomli"} <= set(pins)


def test_tomli_only_for_old_interpreters():
    reqs = bootstrap.requirements({"tomli": "2.5.0", "requests": "2.0"})
    assert reqs == ["requests==2.0", "tomli==2.5.0; python_version < '3.11'"]


def test_deps_dir_changes_with_pins(tmp_path):
    a = bootstrap.deps_dir_for(tmp_path, {"requests": "1"})
    b = bootstrap.deps_dir_for(tmp_path, {"requests": "2"})
    assert a != b and a.parent == b.parent
    assert sys.implementation.cache_tag in a.name


def test_process_alive():
    assert fs.process_alive(str(os.getpid()))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not fs.process_alive(str(dead.pid))
    assert not fs.process_alive("notapid")


def test_a_zombie_is_not_alive():
    """A SIGKILLed build nobody reaped yet must not keep its partial dir forever."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])

    def is_zombie() -> bool:
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"

    try:
        wait_for(is_zombie, "the child to exit (unreaped)")
        os.kill(child.pid, 0)  # the kernel still knows the pid...
        assert not fs.process_alive(child.pid)  # ...but it is dead
    finally:
        child.wait()


# --- fetching them from the index, in the background -------------------------------


def _buildpack_dir(tmp_path: Path, pins: dict[str, str], wheels: list[Path] | None = None) -> Path:
    """A buildpack directory whose buildpack.toml pins ``pins`` only, locked
    to ``wheels`` (None: no lock at all)."""
    root = tmp_path / "buildpack"
    root.mkdir(exist_ok=True)
    lines = "".join(f'{name} = "{version}"\n' for name, version in pins.items())
    (root / "buildpack.toml").write_text(f"[buildpack-dependencies]\n{lines}")
    if wheels is not None:
        write_deps_lock(root, pins, wheels)
    # The fetch process imports the buildpack package from this directory.
    if not (root / "buildpack").exists():
        (root / "buildpack").symlink_to(buildpack_root() / "buildpack")
    return root


def _deps(
    tmp_path: Path, index_url: str, pins: dict[str, str], wheels: list[Path] | None = ()
) -> tuple[bootstrap.Dependencies, io.StringIO]:
    # No pip config of this machine's: only the index given.
    env = {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index_url}
    log = io.StringIO()
    deps = bootstrap.Dependencies(
        buildpack_dir=_buildpack_dir(tmp_path, pins, None if wheels is None else list(wheels)),
        cache_dir=tmp_path / "cache",
        env=env,
        out=Output(log, log),
    )
    return deps, log


def test_pins_for_this_interpreter_skip_tomli_where_tomllib_exists():
    pins = {"tomli": "2.5.0", "requests": "2.0"}
    names = [p.project for p in bootstrap.pins_for_this_interpreter(pins)]
    assert names == (["requests", "tomli"] if sys.version_info < (3, 11) else ["requests"])


def test_dependencies_come_from_the_index_in_the_background(tmp_path, index: Index):
    wheels = [index.add_wheel("bpdemo", "1.0"), index.add_wheel("bpother", "2.0")]
    index.publish("bpdemo", wheels[:1])
    index.publish("bpother", wheels[1:])
    pins = {"bpdemo": "1.0", "bpother": "2.0"}
    deps, _log = _deps(tmp_path, index.url + "/simple", pins, wheels)
    assert not deps.ready and deps.source == ""
    deps.start([])
    assert deps.started and not deps.ready
    try:
        assert deps.wait([])
    finally:
        sys.path.remove(str(deps.target))
    assert deps.ready and deps.source == "index"
    assert (deps.target / "bpdemo" / "__init__.py").read_text() == "V = '1.0'\n"
    assert (deps.target / "bpother-2.0.dist-info" / "METADATA").is_file()
    # The wheels stay, to check the files against at every later use; no
    # bytecode, which could not be checked.
    assert sorted(p.name for p in (deps.target / ".wheels").iterdir()) == sorted(
        w.name for w in wheels
    )
    assert not list(deps.target.rglob("__pycache__"))
    assert [p.name for p in deps.target.parent.iterdir()] == [deps.target.name]
    # The next build finds them complete.
    again_same_cache = bootstrap.Dependencies(
        buildpack_dir=deps.buildpack_dir,
        cache_dir=tmp_path / "cache",
        env={},
        out=Output(io.StringIO(), io.StringIO()),
    )
    try:
        assert again_same_cache.ready and again_same_cache.source == "cache"
    finally:
        sys.path.remove(str(again_same_cache.target))


def test_without_a_usable_index_or_pip_nothing_is_published(tmp_path, index: Index):
    """The fetch finds no such release and pip (the real one) cannot either:
    the build gets the buildpack's own error, and the cache stays clean."""
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpmissing": "1.0"})
    deps.start([])
    with pytest.raises(errors.BuildError) as failure:
        deps.wait([])
    assert failure.value.reason == "internal-error::buildpack-dependencies"
    assert "Could not fetch them from the index" in log.getvalue()
    # The test runner's python3 has pip: that one, not a runtime's bundled one.
    assert f"Installing them with the pip of {sys.executable}" in log.getvalue()
    assert not deps.ready
    assert list(deps.target.parent.iterdir()) == []


def test_keeping_a_failed_fetch_does_not_run_pip(tmp_path, index: Index):
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpmissing": "1.0"})
    deps.start([])
    deps.keep_fetched(within=30)
    assert not deps.ready and list(deps.target.parent.iterdir()) == []


def test_a_failed_build_keeps_a_finished_fetch(tmp_path, index: Index):
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel])
    deps.start([])
    try:
        deps.keep_fetched(within=30)
        assert deps.ready and (deps.target / "bpdemo" / "__init__.py").is_file()
    finally:
        sys.path.remove(str(deps.target))


# An index page whose headers arrive and whose body never does, until released.
_STALLED_PAGE = Fault("stall", body=b"<html><body></body></html>\n", times=None)


def _start_stalled_fetch(tmp_path: Path, stalled: FaultServer) -> bootstrap.Dependencies:
    stalled.add("/simple/bpdemo/", _STALLED_PAGE)
    deps, _log = _deps(tmp_path, stalled.url + "/simple", {"bpdemo": "1.0"})
    deps.start([])
    wait_for(lambda: stalled.stalling == 1, "the fetch to wait on the stalled index page")
    return deps


def test_a_failed_build_does_not_wait_for_a_stalled_fetch(tmp_path):
    with FaultServer(tmp_path) as stalled:
        deps = _start_stalled_fetch(tmp_path, stalled)
        deps.keep_fetched(within=0.5)
        # It returned while the index still held the fetch: it did not wait it out.
        assert stalled.stalling == 1 and deps._fetch is not None
        assert deps._fetch._proc.poll() is None
        deps.abandon()
        assert deps._fetch._proc.poll() is not None
    assert not deps.ready and list(deps.target.parent.iterdir()) == []


def test_abandon_stops_the_fetch_and_removes_its_partial(tmp_path):
    with FaultServer(tmp_path) as stalled:
        deps = _start_stalled_fetch(tmp_path, stalled)
        deps.abandon()
        # Stopped, not waited for: the index still holds the page it asked for.
        assert stalled.stalling == 1
        assert deps._fetch is not None and deps._fetch._proc.poll() is not None
    assert list(deps.target.parent.iterdir()) == []


# --- what is kept in CACHE_DIR is checked against the lock before every use ------------


def _published(tmp_path: Path, index: Index) -> tuple[bootstrap.Dependencies, list[Path]]:
    wheels = [index.add_wheel("bpdemo", "1.0"), index.add_wheel("bpother", "2.0")]
    index.publish("bpdemo", wheels[:1])
    index.publish("bpother", wheels[1:])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0", "bpother": "2.0"}, wheels)
    try:
        assert deps.wait([])
    finally:
        sys.path.remove(str(deps.target))
    return deps, wheels


def _next_build(deps: bootstrap.Dependencies, tmp_path: Path) -> bootstrap.Dependencies:
    env = {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    again = bootstrap.Dependencies(
        buildpack_dir=deps.buildpack_dir,
        cache_dir=tmp_path / "cache",
        env=env,
        out=Output(io.StringIO(), io.StringIO()),
    )
    if again.ready:
        sys.path.remove(str(again.target))
    return again


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda t: (t / "bpdemo" / "__init__.py").write_text("import os\n"), "differs from"),
        (lambda t: (t / "json.py").write_text("import os\n"), "json.py is in no locked wheel"),
        (
            lambda t: (
                (t / "bpdemo" / "__pycache__").mkdir()
                or (t / "bpdemo" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"x")
            ),
            "__init__.cpython-311.pyc is in no locked wheel",
        ),
        (lambda t: (t / "bpother" / "__init__.py").unlink(), "is missing"),
        (
            lambda t: (
                (t / "bpdemo" / "__init__.py").unlink()
                or (t / "bpdemo" / "__init__.py").symlink_to("/etc/hostname")
            ),
            "is a symbolic link",
        ),
        (
            lambda t: (t / ".wheels" / "bpdemo-1.0-py3-none-any.whl").write_bytes(b"PK"),
            "is not the wheel the buildpack locked",
        ),
    ],
    ids=["changed", "added-module", "planted-bytecode", "removed", "linked", "other-wheel"],
)
def test_a_tampered_cached_copy_is_not_imported(tmp_path, index: Index, tamper, reason):
    deps, _wheels = _published(tmp_path, index)
    again = _next_build(deps, tmp_path)
    assert again.ready and again.untrusted == []  # untouched: used as it is
    tamper(deps.target)
    again = _next_build(deps, tmp_path)
    assert not again.ready and str(deps.target) not in sys.path
    [why] = again.untrusted
    assert reason in why and "not the locked wheels' files" in why
    assert not os.path.lexists(deps.target)  # removed, to be fetched again
    assert bootstrap.verified_dir(deps.buildpack_dir, tmp_path / "cache") is None


def test_bin_report_imports_only_a_verified_copy(tmp_path, index: Index):
    deps, _wheels = _published(tmp_path, index)
    assert bootstrap.verified_dir(deps.buildpack_dir, tmp_path / "cache") == deps.target
    (deps.target / "bpdemo" / "__init__.py").write_text("raise SystemExit('planted')\n")
    assert bootstrap.verified_dir(deps.buildpack_dir, tmp_path / "cache") is None


def test_an_index_serving_another_file_than_the_locked_one_is_refused(tmp_path, index: Index):
    other = tmp_path / "other"
    other.mkdir()
    locked = build_wheel(other, "bpdemo", "1.0", {"bpdemo/__init__.py": b"V = 'locked'\n"})
    index.publish("bpdemo", [index.add_wheel("bpdemo", "1.0")])
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [locked])
    deps.start([])
    with pytest.raises(errors.BuildError):
        deps.wait([])  # the real pip, held to the lock's hash, refuses it too
    assert "is not the file the buildpack locked" in log.getvalue()
    assert list(deps.target.parent.iterdir()) == []


def test_an_interpreter_the_lock_does_not_cover_gets_them_for_this_build_only(
    tmp_path, index: Index
):
    index.publish("bpdemo", [index.add_wheel("bpdemo", "1.0")])
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, wheels=None)
    try:
        assert deps.wait([])
    finally:
        sys.path.remove(str(deps.target))
    assert deps.source == "index" and (deps.target / "bpdemo" / "__init__.py").is_file()
    assert "For this build only" in log.getvalue()
    assert not (tmp_path / "cache").exists()
    fs.remove_tree(deps.target.parent)


def test_the_lock_matches_buildpack_toml():
    """Fails when a pin changes without running tools/lock-wheels."""
    root = buildpack_root()
    settings = Settings.load(root / "buildpack.toml")
    pins = bootstrap.read_pins(root / "buildpack.toml")
    expected = {
        wheel_lock.BUILDPACK_DEPENDENCIES: wheel_lock.pins_version(pins),
        "pip": settings.tools["pip"],
    }
    data = wheel_lock.load(root)
    assert wheel_lock.problems(data, expected) == []
    assert "://" not in wheel_lock.lock_path(root).read_text()
    # This interpreter (a supported CPython) is covered: its copy is cached.
    assert bootstrap.locked_files(root, pins)
