"""The buildpack's own dependencies: pins, markers, and concurrent installs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from buildpack import bootstrap, cache_tree
from buildpack.settings import buildpack_root


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
    assert cache_tree.process_alive(str(os.getpid()))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not cache_tree.process_alive(str(dead.pid))
    assert not cache_tree.process_alive("notapid")


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
        assert not cache_tree.process_alive(child.pid)  # ...but it is dead
    finally:
        child.wait()
