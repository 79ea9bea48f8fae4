"""A runtime archive packed from the interpreter running the tests."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.runtime_archive.pack import pack_runtime


@dataclass(frozen=True)
class RuntimeArchive:
    path: Path  # .../python-X.Y.Z-ubuntu-24.04-ARCH.tar.zst
    version: str  # X.Y.Z
    sha256: Path  # the .sha256 next to it
    dir: Path  # the mirror directory holding both

    @property
    def name(self) -> str:
        return self.path.name


def pack_host_runtime(
    mirror_dir: Path, *, stack: str = "heroku-24", manifest: bool = False
) -> RuntimeArchive:
    """Pack ``sys.base_prefix`` (this interpreter's installation) into ``mirror_dir``.

    Without ``manifest`` the mirror has no runtimes.json, as Heroku's bucket:
    most tests build against that; the manifest's own tests ask for one.
    """
    version = ".".join(map(str, sys.version_info[:3]))
    path = pack_runtime(
        Path(sys.base_prefix), mirror_dir, version=version, stack=stack, list_in_manifest=manifest
    )
    return RuntimeArchive(path, version, path.with_name(path.name + ".sha256"), mirror_dir)


def host_runtime_in(mirror_dir: Path) -> RuntimeArchive:
    """The archive pack_host_runtime made of this interpreter in ``mirror_dir``."""
    version = ".".join(map(str, sys.version_info[:3]))
    [path] = mirror_dir.glob(f"python-{version}-*.tar.zst")
    return RuntimeArchive(path, version, path.with_name(path.name + ".sha256"), mirror_dir)


def publish_as(archive: RuntimeArchive, mirror_dir: Path, *, ubuntu: str) -> RuntimeArchive:
    """The same archive in ``mirror_dir`` under the name of another Ubuntu
    release (its contents do not depend on it), with a .sha256 to match."""
    mirror_dir.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"-ubuntu-\d+\.04-", f"-ubuntu-{ubuntu}.04-", archive.name)
    path = mirror_dir / name
    shutil.copyfile(archive.path, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sha256 = path.with_name(name + ".sha256")
    sha256.write_text(f"{digest}  {name}\n")
    return RuntimeArchive(path, archive.version, sha256, mirror_dir)
