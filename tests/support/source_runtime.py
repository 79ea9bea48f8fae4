"""The test runtime built from source: CPython 3.13 from Debian's copy of
the upstream tarball, built once per machine with tools/build-runtime.

The archive, its .sha256, the mirror's runtimes.json and ``provenance.json``
(what was built from what, and how long it took) live in a cache directory
outside the clone, keyed by the version and a hash of the build tool's code,
so that later test runs on the same machine reuse it and a change to the
tool builds it again. Test sessions running at once take turns (a lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import debian_source
from tests.support.builds import ROOT
from tests.support.runtime_mirror import RuntimeArchive
from tools.runtime_archive import manifest

VERSION = "3.13.15"
DEBIAN_PACKAGE = "python3.13"
DEBIAN_VERSION = "3.13.15-1"
STACK = "heroku-24"
BUILD_RUNTIME = ROOT / "tools" / "build-runtime"
# The build tool's code that shapes the archive (not its command line, nor
# the manifest, which _usable checks by reading it).
_TOOL_FILES = (
    BUILD_RUNTIME,
    *sorted(
        path
        for path in (ROOT / "tools" / "runtime_archive").glob("*.py")
        if path.name not in ("build_cli.py", "manifest.py")
    ),
)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "python-classic-buildpack" / "test-runtimes"


def tool_hash() -> str:
    digest = hashlib.sha256()
    for path in _TOOL_FILES:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_command(version: str, source: str, sha256: str, dest: str) -> list[str]:
    """The tools/build-runtime command line (the README shows the same)."""
    return [str(BUILD_RUNTIME), version, "--source", source, "--sha256", sha256, "--dest", dest]


@dataclass(frozen=True)
class SourceRuntime:
    archive: RuntimeArchive
    provenance: dict[str, object]
    reused: bool  # True: the cached archive; False: built in this session

    def log_line(self) -> str:
        how = "reused the cached" if self.reused else "built the"
        line = (
            f"from-source runtime: {how} {self.archive.path} "
            f"({self.provenance['source']}; build took {self.provenance['build_seconds']}s)"
        )
        if self.provenance["version"] != VERSION:
            line += f" -- Debian no longer has {DEBIAN_VERSION}, so {self.provenance['version']}"
        return line


def source_runtime() -> SourceRuntime:
    """The cached runtime, built first if this machine has none for this tool."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = root / f"{VERSION}-{tool_hash()}"
    with open(root / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reused = _usable(key)
        if not reused:
            _build_into(key)
    provenance = json.loads((key / "provenance.json").read_text())
    version = str(provenance["version"])
    [path] = key.glob(f"python-{version}-ubuntu-*.tar.zst")
    archive = RuntimeArchive(path, version, path.with_name(path.name + ".sha256"), key)
    return SourceRuntime(archive, provenance, reused)


def _usable(key: Path) -> bool:
    if not (key / "provenance.json").is_file():
        return False
    return bool(manifest.read(key)) and not manifest.problems(key)


def _build_into(key: Path) -> None:
    shutil.rmtree(key, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="source-runtime-", dir=key.parent) as tmp:
        work = Path(tmp)
        source = debian_source.fetch(DEBIAN_PACKAGE, DEBIAN_VERSION, work)
        dest = work / "mirror"
        started = time.monotonic()
        command = build_command(
            source.upstream_version, str(source.tarball), source.sha256, str(dest)
        )
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=3600,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        provenance = {
            "version": source.upstream_version,
            "debian_package": source.package,
            "debian_version": source.debian_version,
            "tarball": source.tarball.name,
            "tarball_sha256": source.sha256,
            "source": source.describe(),
            "build_seconds": round(time.monotonic() - started, 1),
            "build_log": result.stdout[-4000:],
            "built_with": sys.version.split()[0],
        }
        (dest / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        os.rename(dest, key)
