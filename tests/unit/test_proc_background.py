"""proc.start: programs run in the background with real child processes."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import pytest

from buildpack.core import proc
from buildpack.core.errors import BuildError
from buildpack.core.output import INDENT, Output
from tests.support.polling import wait_for

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _output() -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(stdout, stderr), stdout, stderr


def _release(bg: proc.Background) -> None:
    """Close the pipe stop() leaves open (see test_stop_releases_the_pipe)."""
    bg._reader.join(timeout=10)
    assert bg._proc.stdout is not None
    bg._proc.stdout.close()


def test_finish_returns_merged_output_and_returncode() -> None:
    out, stdout, stderr = _output()
    code = "import sys; print('one'); print('two', file=sys.stderr, flush=True); print('three')"
    bg = proc.start(_py(code), env=ENV)
    result = bg.finish(out=out, show=False)
    assert result.returncode == 0
    assert sorted(result.output.splitlines()) == ["one", "three", "two"]
    assert result.args == (sys.executable, "-c", code)
    assert stdout.getvalue() == stderr.getvalue() == ""


def test_finish_shows_the_output_indented() -> None:
    out, stdout, _ = _output()
    bg = proc.start(_py("print('first'); print(); print('  second')"), env=ENV)
    result = bg.finish(out=out)
    assert result.output == "first\n\n  second"
    assert stdout.getvalue() == f"{INDENT}first\n\n{INDENT}  second\n"


def test_a_non_zero_exit_without_on_failure_is_returned() -> None:
    out, _, _ = _output()
    result = proc.start(_py("import sys; print('bye'); sys.exit(4)"), env=ENV).finish(out=out)
    assert result.returncode == 4
    assert result.output == "bye"


def test_on_failure_raises_the_error_it_returns() -> None:
    out, _, _ = _output()
    seen: list[proc.Completed] = []
    error = BuildError(reason="test::failed", title="It failed", cause="the child said no")

    def on_failure(result: proc.Completed) -> BuildError:
        seen.append(result)
        return error

    bg = proc.start(_py("import sys; print('no way'); sys.exit(3)"), env=ENV)
    with pytest.raises(BuildError) as raised:
        bg.finish(out=out, on_failure=on_failure, show=False)
    assert raised.value is error
    [result] = seen
    assert (result.returncode, result.output) == (3, "no way")


def test_on_failure_is_not_called_on_success() -> None:
    out, _, _ = _output()

    def on_failure(result: proc.Completed) -> BuildError:
        raise AssertionError("called on success")

    result = proc.start(_py("pass"), env=ENV).finish(out=out, on_failure=on_failure)
    assert (result.returncode, result.output) == (0, "")


def test_env_and_cwd_are_the_ones_given(tmp_path: Path) -> None:
    out, _, _ = _output()
    code = "import os; print(os.getcwd()); print(os.environ.get('ONLY_HERE'), 'HOME' in os.environ)"
    bg = proc.start(_py(code), env={**ENV, "ONLY_HERE": "yes"}, cwd=tmp_path)
    result = bg.finish(out=out, show=False)
    assert result.output.splitlines() == [str(tmp_path), "yes False"]


def test_undecodable_output_is_replaced() -> None:
    out, _, _ = _output()
    code = "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')"
    result = proc.start(_py(code), env=ENV).finish(out=out, show=False)
    assert result.output == "ok \ufffd\ufffd end"


def test_a_missing_program_is_a_build_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    with pytest.raises(BuildError) as raised:
        proc.start([missing], env=ENV)
    assert raised.value.reason == "internal-error::tool-not-found"
    assert missing in raised.value.title


def test_stop_terminates_and_reaps_a_sleeping_child() -> None:
    bg = proc.start(_py("import time; time.sleep(60)"), env=ENV)
    child = bg._proc
    assert child.poll() is None
    bg.stop()
    assert child.poll() is not None  # reaped: no zombie left
    # Terminated, not waited for (it sleeps for a minute).
    assert child.returncode == -signal.SIGTERM
    _release(bg)


def test_stop_kills_a_child_that_ignores_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proc, "STOP_GRACE_SECONDS", 0.3)
    ready = tmp_path / "ready"
    code = (
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(60)\n"
    )
    bg = proc.start([sys.executable, "-c", code, str(ready)], env=ENV)
    try:
        wait_for(ready.exists, "the child to start")
        bg.stop()
        assert bg._proc.poll() == -signal.SIGKILL
    finally:
        if bg._proc.poll() is None:
            bg._proc.kill()
            bg._proc.wait()
        _release(bg)


def test_stop_after_the_child_exited_is_harmless() -> None:
    bg = proc.start(_py("pass"), env=ENV)
    wait_for(lambda: bg._proc.poll() is not None, "the child to exit")
    bg.stop()
    assert bg._proc.returncode == 0
    _release(bg)


def test_stop_releases_the_pipe() -> None:
    bg = proc.start(_py("import time; time.sleep(60)"), env=ENV)
    bg.stop()
    assert bg._reader.join(timeout=10) is None and not bg._reader.is_alive()
    try:
        assert bg._proc.stdout is not None and bg._proc.stdout.closed
    finally:
        _release(bg)


def test_a_chatty_child_never_blocks_on_its_pipe() -> None:
    """More than a pipe holds (64 KiB), while nobody calls finish yet."""
    size = 3 * 1024 * 1024
    code = f"import sys; sys.stdout.buffer.write(b'x' * {size} + b'\\nend\\n')"
    bg = proc.start(_py(code), env=ENV)
    try:
        wait_for(lambda: bg._proc.poll() is not None, "the child to finish writing")
    finally:
        bg.stop()
    out, stdout, _ = _output()
    result = bg.finish(out=out, show=False)
    assert result.returncode == 0
    lines = result.output.splitlines()
    assert lines == ["x" * size, "end"]
    assert stdout.getvalue() == ""


def test_work_goes_on_while_the_child_runs(tmp_path: Path) -> None:
    flag = tmp_path / "go"
    code = (
        "import pathlib, sys, time\n"
        "flag = pathlib.Path(sys.argv[1])\n"
        "while not flag.exists(): time.sleep(0.01)\n"
        "print('saw it')\n"
    )
    bg = proc.start([sys.executable, "-c", code, str(flag)], env=ENV)
    # start returned while the child still waits for us.
    assert bg._proc.poll() is None
    flag.touch()
    out, _, _ = _output()
    assert bg.finish(out=out, show=False).output == "saw it"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may lower a nice value")
def test_waiting_gives_a_niced_program_the_builds_priority() -> None:
    """The dependency fetch nices itself to 19; a build that waits for it
    must not wait at the lowest priority on a busy machine."""
    code = "import os, time; os.nice(19); print('niced', flush=True); time.sleep(30)"
    bg = proc.start(_py(code), env=ENV)
    try:
        wait_for(lambda: b"niced" in b"".join(bg._chunks), "the program to nice itself")
        pid = bg._proc.pid
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        assert bg.wait_for(0.1) is False
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        bg.stop()
