"""The PyPA wheel files buildpack.toml pins, fetched for real from the index
pip is set up to use, for tests that serve them from a loopback index."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import wheel_lock
from buildpack.selfdeps.bootstrap import read_pins
from buildpack.selfdeps.pure_wheels import PROJECTS, PureWheel, pinned


def all_pinned() -> list[PureWheel]:
    """Every pure wheel the buildpack pins and locks, tomli included (3.10's)."""
    root = buildpack_root()
    pins = read_pins(root / "buildpack.toml")
    return pinned(wheel_lock.load(root), pins, (3, 10))


def download(dest: Path, env: dict[str, str] | None = None) -> dict[str, Path]:
    """project -> its pinned py3-none-any file in ``dest``, each checked
    against the lock's sha256 (a test fails here if the lock is wrong);
    pip runs with ``env`` (default: this process's)."""
    wheels = all_pinned()
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
            *("--only-binary=:all:", "--platform=any", "--implementation=py", "--abi=none"),
            *("--python-version=3.10", "-d", str(dest)),
            *(f"{w.project}=={w.version}" for w in wheels),
        ],
        check=True,
        env=env,
    )
    found = {}
    for wheel in wheels:
        path = dest / wheel.filename
        assert hashlib.sha256(path.read_bytes()).hexdigest() == wheel.sha256, wheel
        found[wheel.project] = path
    assert set(found) == set(PROJECTS)
    return found
