"""Work done in a forked child beside the build (core.forked), with real forks."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from buildpack.core import forked
from buildpack.relocation import audit
from buildpack.selfdeps import tree_scan
from tests.support import threads
from tests.unit.test_relocation import clean_tree, write


def test_a_childs_result_comes_back_whole() -> None:
    odd = os.fsdecode(b"caf\xe9\nline.py")
    child = forked.Child(lambda: {"name": odd, "error": FileNotFoundError(2, "gone")}, "a test")
    result = child.result()
    assert result["name"] == odd
    assert isinstance(result["error"], FileNotFoundError)
    assert child.result() is result  # read once
    assert child.pid is None  # reaped


def test_a_child_whose_work_raises_is_a_failure_without_a_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def work() -> None:
        raise RuntimeError("planted")

    child = forked.Child(work, "the planted work")
    with pytest.raises(forked.ChildFailed, match="the planted work ended with status 1"):
        child.result()
    assert "planted" not in capfd.readouterr().err


def test_a_child_stopped_early_is_killed_and_reaped() -> None:
    child = forked.Child(lambda: time.sleep(60), "a long wait")
    pid = child.pid
    assert pid is not None
    started = time.monotonic()
    child.stop()
    assert time.monotonic() - started < 30
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_fork_is_possible_only_when_no_other_thread_runs(tmp_path: Path) -> None:
    code = "from buildpack.core import forked; print(forked.possible())"
    assert threads.printed_alone(code) == "True"
    with threads.another_thread():
        assert not forked.possible()


@pytest.mark.parametrize("child", [False, True], ids=["build process", "child process"])
def test_the_audit_finds_the_same_in_a_child(tmp_path: Path, child: bool) -> None:
    build, home, _ = clean_tree(tmp_path)
    write(home / "lib/python3.11/site-packages/gunicorn/config.txt", f"root = {build}/static\n")
    begun = audit.Begun(home, build_dir=build, boot_rewritten=set(), child=child)
    assert begun.how == ("child process" if child else "build process")
    try:
        assert begun.result() == audit.audit(home, build_dir=build, boot_rewritten=set())
        assert begun.result().unfixed
    finally:
        begun.stop()


def test_an_audit_whose_child_is_killed_is_done_in_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGKILL from outside: the build reads the tree itself. (The
    child is held back first, so that it cannot finish before the kill.)"""
    build, home, _ = clean_tree(tmp_path)
    write(home / "bin/stray", f"#!{build}/bin/python\n")
    parent, real = os.getpid(), audit.audit

    def held_in_the_child(*args: object, **kwargs: object) -> audit.AuditResult:
        if os.getpid() != parent:
            time.sleep(60)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "audit", held_in_the_child)
    begun = audit.Begun(home, build_dir=build, boot_rewritten=set(), child=True)
    assert begun._child is not None and begun._child.pid is not None
    os.kill(begun._child.pid, signal.SIGKILL)
    assert begun.result() == audit.audit(home, build_dir=build, boot_rewritten=set())
    assert [f.path for f in begun.result().findings] == [".heroku/python/bin/stray"]


def test_without_a_process_to_spare_the_work_is_done_in_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake fork failure (EAGAIN): root is not held to a process limit,
    so it cannot be staged for real."""
    build, home, _ = clean_tree(tmp_path)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(forked.ChildFailed, match="could not start a process for a test"):
        forked.Child(lambda: 1, "a test")
    begun = audit.Begun(home, build_dir=build, boot_rewritten=set(), child=True)
    assert begun.how == "build process"
    assert begun.result() == audit.audit(home, build_dir=build, boot_rewritten=set())
    with tree_scan.started(home, child=True) as scanning:
        assert scanning.how == "thread"
        assert scanning.entries() == tree_scan.scan(home)
