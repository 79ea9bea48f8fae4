"""The one way the buildpack runs another program.

Output is streamed to the build log indented by seven spaces as it arrives and
captured at the same time, so a failure can quote it. Commands are argument
lists, never shell strings, so user input cannot become shell syntax.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack import errors
from buildpack.output import Output


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
