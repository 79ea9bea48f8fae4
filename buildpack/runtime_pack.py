"""Pack an installed CPython into a runtime archive, as the mirror serves them.

The archive has ``bin/``, ``include/``, ``lib/`` (and ``share/``) at its root,
like Heroku's. It leaves out what a deployed app never needs and what would
make the runtime differ from a fresh one: installed packages (site-packages is
kept, empty), their scripts in ``bin/``, bytecode caches, the stdlib test
suite and the static libpython (the same cuts as the official Docker images).
The bundled pip wheel in ``ensurepip/_bundled`` stays: the buildpack installs
pip from it. Tests and self-hosting users run this on an existing install.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import platform
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from buildpack.core.output import Output
from buildpack.core.proc import run
from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime.zstd_stream import zstandard_module

# Where the buildpack runs every runtime from; scripts in bin/ get it in their
# shebang instead of the prefix they were installed to on the packing host.
APP_PYTHON_HOME = "/app/.heroku/python"
TOP_LEVEL = ("bin", "include", "lib", "share")
TEST_DIRS = frozenset({"test", "tests", "idle_test"})
# CPython's own programs: python3, python3.13, python3.13t, python3-config,
# pydoc3, idle3.13, 2to3-3.11... Anything else in bin/ was installed by a
# package from site-packages (which is not packed) or by the tool that built
# Python (pyenv's python3.X-gdb.py, a gdb helper with a #!/usr/bin/python line).
_CPYTHON_PROGRAM = re.compile(r"(python|pydoc|idle|2to3)(\d+(\.\d+)?t?)?(-\d+\.\d+)?(-config)?\Z")
_VERSION = re.compile(r"\d+\.\d+\.\d+\Z")
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_ZSTD_LEVEL = 3


class PackError(Exception):
    """The installation cannot be packed as asked; the message says why."""


@dataclass
class _Entry:
    info: tarfile.TarInfo
    source: Path | None = None  # a regular file's data
    data: bytes | None = None  # or rewritten data


def pack_runtime(
    prefix: Path,
    out_dir: Path,
    *,
    version: str | None = None,
    ubuntu: str = "24",
    arch: str | None = None,
    force_zstd_tool: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``python-X.Y.Z-ubuntu-NN.04-ARCH.tar.zst`` and its ``.sha256`` to ``out_dir``."""
    prefix = Path(prefix)
    if not (prefix / "bin" / "python3").exists():
        raise PackError(f"{prefix} is not a Python installation (no bin/python3)")
    version = version or detect_version(prefix)
    if not _VERSION.match(version):
        raise PackError(f"'{version}' is not a full Python version such as 3.13.1")
    arch = arch or host_arch()
    minor = ".".join(version.split(".")[:2])
    stdlib = _stdlib_dir(prefix, minor)
    bundled = prefix / "lib" / stdlib / "ensurepip" / "_bundled"
    if not list(bundled.glob("pip-*.whl")):
        raise PackError(f"{bundled} has no pip wheel; the buildpack installs pip from it")

    settings = Settings.load(buildpack_root() / "buildpack.toml")
    name = settings.archive_name.format(version=version, ubuntu=ubuntu, arch=arch)
    entries = _Planner(prefix, stdlib, minor, log or (lambda _msg: None)).plan()

    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / name
    tmp = out_dir / f".{name}.tmp-{secrets.token_hex(4)}"
    try:
        with open(tmp, "wb") as raw, _compressor(raw, force_tool=force_zstd_tool) as zw:
            _write_tar(zw, entries)
        digest = _sha256_file(tmp)
        os.replace(tmp, archive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    checksum = out_dir / f"{name}.sha256"
    tmp_sum = out_dir / f".{name}.sha256.tmp-{secrets.token_hex(4)}"
    tmp_sum.write_text(f"{digest}  {name}\n")
    os.replace(tmp_sum, checksum)
    return archive


def detect_version(prefix: Path) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LD_LIBRARY_PATH": str(prefix / "lib"),
        "LANG": "C.UTF-8",
    }
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    result = run([prefix / "bin" / "python3", "-I", "-c", code], out=Output(), env=env, show=False)
    version = result.output.strip().splitlines()[-1] if result.output.strip() else ""
    if result.returncode != 0 or not _VERSION.match(version):
        raise PackError(f"could not run {prefix}/bin/python3 to find its version:\n{result.output}")
    return version


def host_arch() -> str:
    if shutil.which("dpkg"):
        result = run(
            ["dpkg", "--print-architecture"], out=Output(), env=dict(os.environ), show=False
        )
        if result.returncode == 0 and result.output.strip() in ("amd64", "arm64"):
            return result.output.strip()
    machine = platform.machine().lower()
    if machine not in _ARCHES:
        raise PackError(f"runtimes are built for amd64 and arm64, not for '{machine}'")
    return _ARCHES[machine]


def _stdlib_dir(prefix: Path, minor: str) -> str:
    for candidate in (f"python{minor}", f"python{minor}t"):
        if (prefix / "lib" / candidate / "os.py").is_file():
            return candidate
    raise PackError(f"no standard library for Python {minor} under {prefix}/lib")


# --- choosing what goes in --------------------------------------------------------


class _Planner:
    def __init__(self, prefix: Path, stdlib: str, minor: str, log: Callable[[str], None]) -> None:
        self.prefix = prefix
        # Absolute links may name the prefix as given or as resolved.
        self.prefix_forms = {os.path.abspath(prefix), os.path.realpath(prefix)}
        self.stdlib = stdlib
        self.stdlib_rel = f"lib/{stdlib}"
        self.site_packages = f"lib/{stdlib}/site-packages"
        self.minor = minor
        self.log = log
        self.entries: list[_Entry] = []
        self.left_out: list[str] = []

    def plan(self) -> list[_Entry]:
        for top in TOP_LEVEL:
            path = self.prefix / top
            if path.is_dir() and not path.is_symlink():
                self._walk(path, top)
        if self.left_out:
            self.log(
                f"Left out {len(self.left_out)} entries that are not CPython's own: "
                f"{', '.join(self.left_out)}"
            )
        return self.entries

    def _walk(self, path: Path, rel: str) -> None:
        dir_st = os.lstat(path)
        self.entries.append(_Entry(self._info(rel, dir_st, tarfile.DIRTYPE)))
        if rel == self.site_packages:
            return  # kept, empty: the app's packages go here
        children = os.listdir(path)
        added = self._missing_python_links(children) if rel == "bin" else {}
        for child in sorted([*children, *added]):
            child_path = path / child
            child_rel = f"{rel}/{child}"
            if child in added:
                info = self._info(child_rel, dir_st, tarfile.SYMTYPE)
                info.mode = 0o777
                info.linkname = added[child]
                self.entries.append(_Entry(info))
                continue
            if self._skipped(child_rel, child, child_path):
                continue
            st = os.lstat(child_path)
            if stat.S_ISDIR(st.st_mode):
                self._walk(child_path, child_rel)
            elif stat.S_ISLNK(st.st_mode):
                self._symlink(child_path, child_rel, st)
            elif stat.S_ISREG(st.st_mode):
                self._file(child_path, child_rel, st)
            else:
                raise PackError(f"{child_path} is not a file, directory or symlink")

    def _skipped(self, rel: str, name: str, path: Path) -> bool:
        if name == "__pycache__" or name.endswith((".pyc", ".pyo")):
            return True
        if not self._cpython_owns(rel.rpartition("/")[0], name):
            self.left_out.append(rel)
            return True
        if rel.startswith(self.stdlib_rel + "/") and name in TEST_DIRS and path.is_dir():
            return True
        # The static library is only for embedding; a shared one is in lib/.
        return name.startswith("libpython") and name.endswith(".a")

    def _cpython_owns(self, parent: str, name: str) -> bool:
        """Whether CPython's ``make install`` puts ``name`` in ``parent``.

        In a shared prefix such as /usr/local, bin/, lib/, include/ and share/
        also hold other software, which must not end up in the runtime.
        """
        if parent == "bin":
            return bool(_CPYTHON_PROGRAM.match(name))
        if parent == "lib":
            return name in (self.stdlib, "pkgconfig") or name.startswith("libpython")
        if parent in ("lib/pkgconfig", "share/man/man1"):
            return name.startswith("python")
        if parent == "include":
            return name.startswith(f"python{self.minor}")
        if parent == "share":
            return name == "man"
        if parent == "share/man":
            return name == "man1"
        return True

    def _info(self, rel: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(rel)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode) & 0o777
        info.mtime = int(st.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def _file(self, path: Path, rel: str, st: os.stat_result) -> None:
        info = self._info(rel, st, tarfile.REGTYPE)
        data = self._rewritten_shebang(path) if rel.startswith("bin/") else None
        if data is not None:
            info.size = len(data)
            self.entries.append(_Entry(info, data=data))
        else:
            info.size = st.st_size
            self.entries.append(_Entry(info, source=path))

    def _rewritten_shebang(self, path: Path) -> bytes | None:
        with open(path, "rb") as f:
            if f.read(2) != b"#!":
                return None
            data = b"#!" + f.read()
        first, sep, rest = data.partition(b"\n")
        for form in sorted(self.prefix_forms, key=len, reverse=True):
            old = os.fsencode(form) + b"/bin/"
            if old in first:
                new = first.replace(old, APP_PYTHON_HOME.encode() + b"/bin/")
                return new + sep + rest
        return None

    def _symlink(self, path: Path, rel: str, st: os.stat_result) -> None:
        target = os.readlink(path)
        if os.path.isabs(target):
            target = self._relative_link(rel, target)
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        if resolved == ".." or resolved.startswith("../"):
            raise PackError(f"{path} links to '{target}', outside {self.prefix}")
        info = self._info(rel, st, tarfile.SYMTYPE)
        info.mode = 0o777
        info.linkname = target
        self.entries.append(_Entry(info))

    def _relative_link(self, rel: str, target: str) -> str:
        target = os.path.normpath(target)
        for form in self.prefix_forms:
            if target == form or target.startswith(form + "/"):
                inside = os.path.relpath(target, form)
                return os.path.relpath(inside, os.path.dirname(rel) or ".")
        raise PackError(f"{self.prefix}/{rel} links to '{target}', outside {self.prefix}")

    def _missing_python_links(self, present: list[str]) -> dict[str, str]:
        """``python3`` and ``python`` links to add to bin/, where the install lacks them."""
        names = set(present)
        links = {}
        for link, target in (("python3", f"python{self.minor}"), ("python", "python3")):
            if link not in names and target in names:
                links[link] = target
                names.add(link)
        return links


# --- writing ------------------------------------------------------------------------


def _write_tar(stream: BinaryIO, entries: list[_Entry]) -> None:
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for entry in entries:
            if entry.data is not None:
                tf.addfile(entry.info, io.BytesIO(entry.data))
            elif entry.source is not None:
                with open(entry.source, "rb") as f:
                    tf.addfile(entry.info, f)
            else:
                tf.addfile(entry.info)


@contextlib.contextmanager
def _compressor(raw: BinaryIO, *, force_tool: bool) -> Iterator[BinaryIO]:
    zstandard = None if force_tool else zstandard_module()
    if zstandard is not None:
        cctx = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, threads=-1, write_checksum=True)
        with cctx.stream_writer(raw, closefd=False) as writer:
            yield writer
        return
    # Not proc.run(): the tool reads the tar from a pipe we write to.
    try:
        proc = subprocess.Popen(
            ["zstd", f"-{_ZSTD_LEVEL}", "-T0", "-q", "-c"], stdin=subprocess.PIPE, stdout=raw
        )
    except FileNotFoundError:
        raise PackError("neither the zstandard module nor the zstd tool is installed") from None
    assert proc.stdin is not None
    try:
        yield proc.stdin  # type: ignore[misc]
        proc.stdin.close()
    except BaseException:
        proc.kill()
        raise
    finally:
        returncode = proc.wait()
    if returncode != 0:
        raise PackError(f"zstd failed with exit status {returncode}")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# --- command line ---------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pack-runtime",
        description="Pack an installed CPython into a runtime archive for a buildpack mirror.",
    )
    parser.add_argument(
        "prefix",
        type=Path,
        nargs="?",
        default=Path(sys.base_prefix),
        help="the installation's prefix (default: this Python's, %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--out-dir",
        type=Path,
        default=Path("."),
        help="where to write the archive and its .sha256 (default: .)",
    )
    parser.add_argument("--version", help="X.Y.Z (default: ask the installation's python3)")
    parser.add_argument("--ubuntu", default="24", help="Ubuntu major in the name: 22 or 24")
    parser.add_argument("--arch", choices=("amd64", "arm64"), help="default: this machine's")
    parser.add_argument(
        "--zstd-tool",
        action="store_true",
        help="compress with the zstd tool even if the zstandard module is there",
    )
    args = parser.parse_args(argv)
    try:
        path = pack_runtime(
            args.prefix,
            args.out_dir,
            version=args.version,
            ubuntu=args.ubuntu,
            arch=args.arch,
            force_zstd_tool=args.zstd_tool,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except PackError as exc:
        print(f"pack-runtime: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
