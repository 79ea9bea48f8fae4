"""The one way the buildpack runs another program.

Output is streamed to the build log indented by seven spaces as it arrives and
captured at the same time, so a failure can quote it. Commands are argument
lists, never shell strings, so user input cannot become shell syntax.

``start`` runs a program in the background while the build goes on (work that
does not have to be in order, such as compiling bytecode): its output is
captured, and shown, indented, when the caller collects it with ``finish``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack.core import errors
from buildpack.core.output import Output


@dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    output: str


LineFilter = Callable[[str], str | None]


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    out: Output,
    env: Mapping[str, str],
    cwd: Path | None = None,
    on_failure: Callable[[Completed], errors.BuildError] | None = None,
    show: bool = True,
    line_filter: LineFilter | None = None,
) -> Completed:
    """Run ``args``, stream its merged stdout/stderr, return what it printed.

    On a non-zero exit, raises ``on_failure(result)`` when given; otherwise the
    caller inspects ``returncode``. ``line_filter`` may rewrite a line for the
    log or drop it (return None); the capture keeps the original.
    """
    argv, proc = _spawn(args, env, cwd)
    captured: list[str] = []
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            captured.append(line)
            if not show:
                continue
            shown = line_filter(line) if line_filter else line
            if shown is not None:
                out.tool_line(shown)
        returncode = proc.wait()
    except BaseException:
        # Interrupted (SIGTERM, Ctrl-C) or failing ourselves: the child must not
        # go on writing into BUILD_DIR or the cache after the build has ended.
        stop(proc)
        raise
    finally:
        proc.stdout.close()
    result = Completed(argv, returncode, "\n".join(captured))
    if returncode != 0 and on_failure is not None:
        raise on_failure(result)
    return result


# How long a child may take to exit after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 5.0


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc``, then kill it if it does not exit in time; reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Background:
    """A program started by ``start``; ``finish`` or ``stop`` it, once."""

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[bytes]) -> None:
        self.argv = argv
        self._proc = proc
        self._chunks: list[bytes] = []
        # Drains the pipe so that a chatty program never blocks on it.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._proc.stdout
        # Unbuffered pipes would be raw FileIO; Popen's default gives read1.
        assert isinstance(stdout, io.BufferedReader)
        for chunk in iter(lambda: stdout.read1(65536), b""):
            self._chunks.append(chunk)

    def hurry(self) -> None:
        """Give the program back the build's own CPU priority: it was
        started niced because nothing waited for it, and now something does."""
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        # Lowering a nice value needs root; an unprivileged build waits as is.
        with contextlib.suppress(OSError):
            if os.getpriority(os.PRIO_PROCESS, self._proc.pid) > mine:
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, mine)

    def wait_for(self, seconds: float | None) -> bool:
        """True if the program has ended, waiting at most ``seconds`` (None:
        until it ends)."""
        self.hurry()
        try:
            self._proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def finish(
        self,
        *,
        out: Output,
        on_failure: Callable[[Completed], errors.BuildError] | None = None,
        show: bool = True,
    ) -> Completed:
        """Wait for the program; show what it printed; raise ``on_failure``
        on a non-zero exit, as ``run`` does."""
        self.hurry()
        try:
            returncode = self._proc.wait()
            self._reader.join()
        except BaseException:
            self.stop()
            raise
        finally:
            assert self._proc.stdout is not None
            self._proc.stdout.close()
        text = b"".join(self._chunks).decode("utf-8", "replace")
        lines = text.splitlines()
        if show:
            for line in lines:
                out.tool_line(line)
        result = Completed(self.argv, returncode, "\n".join(lines))
        if returncode != 0 and on_failure is not None:
            raise on_failure(result)
        return result

    def stop(self) -> None:
        stop(self._proc)
        self._reader.join(timeout=STOP_GRACE_SECONDS)
        assert self._proc.stdout is not None
        self._proc.stdout.close()


def start(
    args: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> Background:
    return Background(*_spawn(args, env, cwd))


def _spawn(
    args: Sequence[str | os.PathLike[str]], env: Mapping[str, str], cwd: Path | None
) -> tuple[tuple[str, ...], subprocess.Popen[bytes]]:
    """Start ``args`` with no input and stdout and stderr merged into a pipe."""
    argv = tuple(os.fspath(a) for a in args)
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except FileNotFoundError as exc:
        raise errors.tool_not_found(argv[0]) from exc
    return argv, proc
