"""Builds that stop before relocation: Heroku CI and multi-buildpack builds.

scripts/build-and-run always runs bin/compile and then moves the slug to /app.
Heroku CI instead runs bin/test-compile and tests in the build directory, and
a multi-buildpack build runs the next buildpack's bin/compile while the build
directory still exists. This runs such a sequence the same way build-and-run
does: as root, in a private mount namespace with a tmpfs on /app (the host's
/app is never touched), in a fresh /tmp/build_* directory.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.builds import ROOT, BuildResult

_PRELUDE = r"""
set -euo pipefail
mount -t tmpfs -o mode=0755 tmpfs /app
BUILD_DIR=$(mktemp -d /tmp/build_XXXXXXXXXX)
trap 'rm -rf "$BUILD_DIR"' EXIT
cp -a "$APP_DIR/." "$BUILD_DIR/"
export BUILD_DIR
"""


def run_staged(
    app: Path,
    cache_dir: Path,
    env_dir: Path,
    steps: str,
    *,
    env: dict[str, str],
    timeout: float = 600,
) -> BuildResult:
    """Run the bash ``steps`` after copying ``app`` to $BUILD_DIR.

    The steps see BUILD_DIR, CACHE_DIR, ENV_DIR and BUILDPACK (this repo).
    """
    env_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    Path("/app").mkdir(exist_ok=True)  # a mount point; nothing is written to it
    run_env = dict(env)
    run_env.update(
        APP_DIR=str(app), CACHE_DIR=str(cache_dir), ENV_DIR=str(env_dir), BUILDPACK=str(ROOT)
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", _PRELUDE + steps],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return BuildResult(proc.returncode, proc.stdout, proc.stderr)
