"""Running a slug with the build host's Python out of reach.

scripts/build-and-run mounts an empty tmpfs over each directory in
BUILD_AND_RUN_HIDE once the build is done, inside the build's mount
namespace. A slug that still leaned on the host's interpreter (its
libpython through an RPATH, its stdlib, its site-packages) fails then,
instead of passing by accident. SLUG_CHECK proves what the slug used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support.builds import ROOT

CHECK_SLUG = ROOT / "scripts" / "check-slug"
MODULES = "ssl, sqlite3, ctypes, zlib, lzma, bz2, readline"

# Runs in /app after relocation: the usual slug check (a request through
# gunicorn), the stdlib modules apps rely on, where libpython and the
# extension modules were loaded from, and that the hidden directories are
# empty.
_SLUG_CHECK = rf"""
"$1"
shift
python -c 'import {MODULES}'
python - <<'PY'
import {MODULES}, sys
maps = {{line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}}
ours = sorted(p for p in maps if "libpython" in p or "/lib-dynload/" in p)
print("PYTHON:", sys.version.split()[0], sys.prefix)
print("LOADED:", " ".join(ours))
PY
for dir in "$@"; do
  [ -z "$(ls -A "$dir")" ] && echo "EMPTY: $dir"
done
"""


def host_python_dirs(*extra: Path) -> list[Path]:
    """The installation of the Python running the tests (and so bin/compile):
    its prefix, or its stdlib for a system Python in /usr; pyenv's root."""
    base = Path(sys.base_prefix).resolve()
    if base in (Path("/usr"), Path("/usr/local")):
        base = base / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    dirs = {base, *(p.resolve() for p in extra)}
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if pyenv.is_dir():
        dirs.add(pyenv.resolve())
    # A directory inside another is hidden with it (and could not be mounted on).
    return sorted(d for d in dirs if not any(o != d and o in d.parents for o in dirs))


def hide_env(dirs: list[Path]) -> dict[str, str]:
    return {"BUILD_AND_RUN_HIDE": ":".join(map(str, dirs))}


def slug_check_command(dirs: list[Path]) -> list[str]:
    return [
        "bash",
        "-euo",
        "pipefail",
        "-c",
        _SLUG_CHECK,
        "check",
        str(CHECK_SLUG),
        *map(str, dirs),
    ]


def assert_ran_without_host(stdout: str, dirs: list[Path], version: str) -> None:
    """The slug served a request and imported the modules with only /app's Python."""
    for d in dirs:
        assert f"hidden: {d}\n" in stdout, stdout
        assert f"EMPTY: {d}\n" in stdout, stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in stdout, stdout
    assert f"PYTHON: {version} /app/.heroku/python\n" in stdout, stdout
    [loaded] = [line for line in stdout.splitlines() if line.startswith("LOADED:")]
    paths = loaded.split()[1:]
    assert any("libpython" in p for p in paths), loaded
    assert any("/lib-dynload/_ssl" in p for p in paths), loaded
    assert all(p.startswith("/app/.heroku/python/lib/") for p in paths), loaded
