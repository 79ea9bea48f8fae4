"""bin/compile's way out: cli.main.leave, in real processes.

Each case runs a fresh interpreter that writes to its (block-buffered)
standard streams and registers an atexit handler, which only the usual
exit runs: whether it ran says which way the process ended.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROLOGUE = """
import atexit, sys, threading, time
sys.path.insert(0, sys.argv[1])
from buildpack.cli.main import leave
atexit.register(lambda: print("usual exit", file=sys.stderr))
"""


def run(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = PROLOGUE + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-I", "-c", code, str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_alone_it_skips_the_teardown_and_loses_no_output():
    result = run(
        """
        for i in range(20000):
            print(f"line {i}")
        print("to stderr", file=sys.stderr)
        leave(3)
        """
    )
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert len(lines) == 20000 and lines[-1] == "line 19999"
    assert result.stderr == "to stderr\n"


def test_daemon_threads_do_not_keep_the_teardown():
    result = run(
        """
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        print("done")
        leave(0)
        """
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")


def test_another_thread_still_working_gets_the_usual_exit(tmp_path):
    marker = tmp_path / "written"
    result = run(
        """
        def work():
            time.sleep(0.5)
            open(sys.argv[2], "w").write("finished")
        threading.Thread(target=work).start()
        leave(4)
        """,
        str(marker),
    )
    assert result.returncode == 4
    assert marker.read_text() == "finished"
    assert result.stderr == "usual exit\n"
