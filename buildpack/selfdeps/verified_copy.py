"""Whether a directory of the buildpack's own libraries may be imported by
bin/report and bin/release, which check it for themselves."""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.selfdeps import verified_tree, wheel_lock
from buildpack.selfdeps.bootstrap import activate, deps_dir_for, present_files, read_pins


def verified_dir(buildpack_dir: Path, cache_dir: Path) -> Path | None:
    """The cached libraries, if they are exactly the locked wheels (for bin/report)."""
    target = deps_dir_for(cache_dir, read_pins(buildpack_dir / "buildpack.toml"))
    return target if is_verified(buildpack_dir, target) else None


def is_verified(buildpack_dir: Path, path: Path) -> bool:
    """Whether ``path`` holds exactly the locked wheels of this buildpack's
    pins for the interpreter running it (what bin/report and bin/release
    may import; never a directory that merely exists)."""
    try:
        locked = present_files(buildpack_dir, read_pins(buildpack_dir / "buildpack.toml"), path)
    except wheel_lock.LockUnusable:
        return False
    return os.path.lexists(path) and verified_tree.problem(path, locked) is None


def activate_if_verified(buildpack_dir: Path, path: Path) -> bool:
    """Activate a library directory only when every file in it is vouched for."""
    if not path.is_absolute() or not is_verified(buildpack_dir, path):
        return False
    activate(path)
    return True
