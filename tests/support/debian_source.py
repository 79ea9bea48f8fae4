"""CPython's upstream tarball, as Debian's unstable source archive carries it.

``apt-get source --download-only`` runs with a private apt configuration
(its own sources list with one deb-src line, its own lists and cache
directories) so that the system's apt configuration is never changed. The
archive's address is the one the machine's own apt sources use for Debian.
apt checks the files against the signed Sources index; the .dsc's SHA-256
of the upstream tarball is passed on to tools/build-runtime, which checks it
again.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOURCES_FILES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SUITE = "unstable"


class SourceUnavailable(Exception):
    pass


@dataclass(frozen=True)
class DebianSource:
    package: str  # python3.13
    debian_version: str  # 3.13.15-1
    upstream_version: str  # 3.13.15
    tarball: Path  # .../python3.13_3.13.15.orig.tar.xz
    sha256: str  # of the tarball, from the .dsc
    archive_url: str  # the Debian mirror it came from

    def describe(self) -> str:
        return (
            f"{self.tarball.name} from Debian {SUITE}'s {self.package} {self.debian_version} "
            f"({self.archive_url}), sha256 {self.sha256}"
        )


def debian_archive_url(files: tuple[Path, ...] = SOURCES_FILES) -> str:
    """The Debian archive the machine's apt uses (not its security archive)."""
    for path in _source_files(files):
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            uris = re.findall(r"(?im)^URIs:\s*(\S+)", text)
        else:
            uris = re.findall(r"(?m)^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)", text)
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise SourceUnavailable(f"no Debian archive in the machine's apt sources ({files})")


def fetch(package: str, debian_version: str, work: Path) -> DebianSource:
    """Download ``package``'s source at ``debian_version`` into ``work``; if
    the archive no longer has that version, the one it has (say so)."""
    url = debian_archive_url()
    apt = _PrivateApt(work / "apt", url)
    apt.update()
    dest = work / "source"
    dest.mkdir(parents=True, exist_ok=True)
    wanted = f"{package}={debian_version}"
    if apt.run(["source", "--download-only", wanted], cwd=dest).returncode != 0:
        available = apt.source_version(package)
        if available is None:
            raise SourceUnavailable(f"Debian {SUITE} has no source package {package}")
        apt.check(["source", "--download-only", f"{package}={available}"], cwd=dest)
        debian_version = available
    dsc = next(dest.glob(f"{package}_*.dsc"))
    tarball, sha256 = _orig_tarball(dsc)
    upstream = debian_version.split(":")[-1].rsplit("-", 1)[0]
    return DebianSource(package, debian_version, upstream, dest / tarball, sha256, url)


def _source_files(files: tuple[Path, ...]) -> list[Path]:
    found = []
    for path in files:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".list", ".sources"))
        elif path.is_file():
            found.append(path)
    return found


def _orig_tarball(dsc: Path) -> tuple[str, str]:
    section = dsc.read_text().split("Checksums-Sha256:", 1)[-1]
    for line in section.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 3 and ".orig.tar." in fields[2]:
            return fields[2], fields[0]
        if line and not line.startswith(" "):
            break
    raise SourceUnavailable(f"{dsc} names no upstream tarball")


class _PrivateApt:
    def __init__(self, root: Path, archive_url: str) -> None:
        self.root = root
        for sub in ("lists/partial", "cache/archives/partial", "parts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        signed_by = f"[signed-by={KEYRING}] " if KEYRING.is_file() else ""
        (root / "sources.list").write_text(f"deb-src {signed_by}{archive_url} {SUITE} main\n")
        self.options = [
            "-o",
            f"Dir::Etc::SourceList={root / 'sources.list'}",
            "-o",
            f"Dir::Etc::SourceParts={root / 'parts'}",
            "-o",
            f"Dir::State::Lists={root / 'lists'}",
            "-o",
            f"Dir::Cache={root / 'cache'}",
            "-o",
            "APT::Sandbox::User=root",
        ]

    def run(self, args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["apt-get", "-q", *self.options, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )

    def check(self, args: list[str], cwd: Path | None = None) -> None:
        result = self.run(args, cwd)
        if result.returncode != 0:
            raise SourceUnavailable(f"apt-get {' '.join(args)}:\n{result.stdout}{result.stderr}")

    def update(self) -> None:
        self.check(["update"])

    def source_version(self, package: str) -> str | None:
        result = subprocess.run(
            ["apt-cache", *self.options, "showsrc", package],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        versions = re.findall(r"(?m)^Version:\s*(\S+)", result.stdout)
        return versions[0] if versions else None
