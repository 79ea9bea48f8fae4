"""bin/compile imports the build with the garbage collector off, and collects from then on.

The real bin/compile runs in a fresh interpreter, on an app directory that
fails the first check (so the build ends right after its imports), with a
collector callback that notes each collection from the first of the
build's modules on, and whether the imported objects were frozen by
then. ``os._exit`` (how cli.main.leave ends the process) is wrapped to
print what was seen first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WATCH = """
import gc, json, os, runpy, sys
seen = []
# From the first of the build's modules on.
gc.callbacks.append(
    lambda phase, info: phase == "start"
    and "buildpack" in sys.modules
    and seen.append(gc.get_freeze_count())
)
exit_now = os._exit

def report_and_exit(status):
    print(json.dumps({"frozen_at_each": seen, "enabled": gc.isenabled(),
                      "frozen": gc.get_freeze_count(), "status": status}))
    sys.stdout.flush()
    exit_now(status)

os._exit = report_and_exit
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script", ["compile", "test-compile"])
def test_the_build_is_imported_without_collections_and_collects_after(
    tmp_path: Path, script: str
) -> None:
    build = tmp_path / "build"
    build.mkdir()  # no app in it: the build fails at its first check
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            WATCH,
            str(ROOT / "bin" / script),
            str(build),
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == 1, done.stderr  # the app's error, after the imports
    # Not one collection while the build's modules came in; every later one
    # leaves them out, and the collector is on for the build's own objects.
    assert 0 not in seen["frozen_at_each"]
    assert seen["frozen"] > 10_000 and seen["enabled"]
