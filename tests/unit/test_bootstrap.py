"""The buildpack's own dependencies: pins, markers, and concurrent installs."""

from __future__ import annotations

import io
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildpack.core import errors, fs
from buildpack.core.output import Output
from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import bootstrap
from tests.support.fault_server import Fault, FaultServer
from tests.unit.wheel_factory import Index


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


def test_publish_keeps_a_concurrent_builds_complete_install(tmp_path):
    target = tmp_path / "deps"
    target.mkdir()
    (target / ".complete").write_text("theirs")
    ours = tmp_path / ".deps.partial-1"
    ours.mkdir()
    (ours / ".complete").write_text("ours")
    bootstrap._publish(ours, target)
    assert (target / ".complete").read_text() == "theirs"


def test_publish_replaces_an_incomplete_leftover(tmp_path):
    target = tmp_path / "deps"
    target.mkdir()
    (target / "half").write_text("x")
    ours = tmp_path / ".deps.partial-1"
    ours.mkdir()
    (ours / ".complete").write_text("ours")
    bootstrap._publish(ours, target)
    assert (target / ".complete").read_text() == "ours"
    assert not (target / "half").exists()


def test_process_alive():
    assert fs.process_alive(str(os.getpid()))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not fs.process_alive(str(dead.pid))
    assert not fs.process_alive("notapid")


def test_a_zombie_is_not_alive():
    """A SIGKILLed build nobody reaped yet must not keep its partial dir forever."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            with open(f"/proc/{child.pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    break
            time.sleep(0.01)
        else:
            raise AssertionError("the child never became a zombie")
        os.kill(child.pid, 0)  # the kernel still knows the pid...
        assert not fs.process_alive(child.pid)  # ...but it is dead
    finally:
        child.wait()


# --- fetching them from the index, in the background -------------------------------


def _buildpack_dir(tmp_path: Path, pins: dict[str, str]) -> Path:
    """A buildpack directory whose buildpack.toml pins ``pins`` only."""
    root = tmp_path / "buildpack"
    root.mkdir()
    lines = "".join(f'{name} = "{version}"\n' for name, version in pins.items())
    (root / "buildpack.toml").write_text(f"[buildpack-dependencies]\n{lines}")
    # The fetch process imports the buildpack package from this directory.
    (root / "buildpack").symlink_to(buildpack_root() / "buildpack")
    return root


def _deps(
    tmp_path: Path, index_url: str, pins: dict[str, str]
) -> tuple[bootstrap.Dependencies, io.StringIO]:
    # No pip config of this machine's: only the index given.
    env = {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index_url}
    log = io.StringIO()
    deps = bootstrap.Dependencies(
        buildpack_dir=_buildpack_dir(tmp_path, pins),
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
    index.publish("bpdemo", [index.add_wheel("bpdemo", "1.0")])
    index.publish("bpother", [index.add_wheel("bpother", "2.0")])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0", "bpother": "2.0"})
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
    assert not (deps.target / ".wheels").exists()
    # Compiled where the files are now, not in the partial directory.
    [pyc] = (deps.target / "bpdemo" / "__pycache__").glob("*.pyc")
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == str(deps.target / "bpdemo" / "__init__.py")
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
    assert not deps.ready
    assert list(deps.target.parent.iterdir()) == []


def test_keeping_a_failed_fetch_does_not_run_pip(tmp_path, index: Index):
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpmissing": "1.0"})
    deps.start([])
    deps.keep_fetched(within=30)
    assert not deps.ready and list(deps.target.parent.iterdir()) == []


def test_a_failed_build_keeps_a_finished_fetch(tmp_path, index: Index):
    index.publish("bpdemo", [index.add_wheel("bpdemo", "1.0")])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"})
    deps.start([])
    try:
        deps.keep_fetched(within=30)
        assert deps.ready and (deps.target / "bpdemo" / "__init__.py").is_file()
    finally:
        sys.path.remove(str(deps.target))


def test_a_failed_build_does_not_wait_long_for_a_stalled_fetch(tmp_path):
    with FaultServer(tmp_path) as stalled:
        stalled.add("/simple/bpdemo/", Fault("stall", seconds=10, times=None))
        deps, _log = _deps(tmp_path, stalled.url + "/simple", {"bpdemo": "1.0"})
        deps.start([])
        started = time.monotonic()
        deps.keep_fetched(within=0.5)
        deps.abandon()
        assert time.monotonic() - started < 5
    assert not deps.ready and list(deps.target.parent.iterdir()) == []


def test_abandon_stops_the_fetch_and_removes_its_partial(tmp_path, index: Index):
    stalled = FaultServer(tmp_path)  # answers nothing for 10 s
    with stalled:
        stalled.add("/simple/bpdemo/", Fault("stall", seconds=10, times=None))
        deps, _log = _deps(tmp_path, stalled.url + "/simple", {"bpdemo": "1.0"})
        deps.start([])
        for _ in range(200):
            if stalled.hits["/simple/bpdemo/"]:
                break
            time.sleep(0.02)
        started = time.monotonic()
        deps.abandon()
        assert time.monotonic() - started < 5
    assert deps._fetch is not None and deps._fetch._proc.poll() is not None
    assert list(deps.target.parent.iterdir()) == []
