"""Build CPython from an upstream source tarball into a runtime archive.

The steps of Heroku's runtime builds: configure (toolchain.py) and build
under a temporary prefix that is neither /app nor where the runtime ends
up; fail if a static library was installed; delete the test directories
and the bytecode ``make install`` wrote, then compile the bytecode again
with unchecked-hash invalidation (no timestamps to go stale when the slug's
files get new dates); remove the programs a runtime does not ship; add the
relative ``bin/python`` link; check the modules apps rely on import; and
pack it with the same code as tools/pack-runtime (pax, sorted names,
``zstd --long``). Each phase is printed with its duration; the output of
configure and make goes to a log file, quoted when a step fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.app.stack import stack_from_os_release
from buildpack.core.output import Output
from buildpack.core.proc import run
from tools.runtime_archive import source as sources
from tools.runtime_archive import toolchain
from tools.runtime_archive.layout import TEST_DIRS
from tools.runtime_archive.pack import PackError, host_arch, pack_runtime
from tools.runtime_archive.versions import (
    MinorFacts,
    VersionError,
    parse_version,
    ubuntu_for_stack,
)
from tools.runtime_archive.writer import LONG_WINDOW_LOG, Compression, sha256_file

DEFAULT_ZSTD_LEVEL = 19
_LOG_TAIL_LINES = 30


class BuildFailed(Exception):
    """The build stopped; the message says why and what to do."""


@dataclass(frozen=True)
class BuildRequest:
    version: str
    source: str  # a path, or an http(s)/file URL
    dest: Path
    sha256: str | None = None
    stack: str = "heroku-24"
    arch: str | None = None
    optimize: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    zstd_level: int = DEFAULT_ZSTD_LEVEL
    work_parent: Path | None = None  # where the temporary work directory goes
    verbose: bool = False  # show configure's and make's output


@dataclass
class BuildResult:
    archive: Path
    sha256: str
    phases: dict[str, float]  # seconds each phase took, in order

    @property
    def total(self) -> float:
        return sum(self.phases.values())


def build_runtime(request: BuildRequest, out: Output) -> BuildResult:
    try:
        version, facts = parse_version(request.version)
        ubuntu_for_stack(request.stack)
        sha256 = sources.check_sha256_arg(request.source, request.sha256)
        arch = _check_arch(request.arch)
    except (VersionError, sources.SourceError, PackError) as exc:
        raise BuildFailed(str(exc)) from None
    _note_stack(request.stack, out)
    run_ = _Build(request, out, facts)
    with run_.phase("Checking build dependencies"):
        missing = toolchain.missing_build_dependencies(run_.env)
        if missing:
            raise BuildFailed(
                "the machine lacks what building CPython needs. Install it with:\n"
                f"  apt-get install {' '.join(missing)}"
            )
    work = Path(tempfile.mkdtemp(prefix=f"build-runtime-{version}-", dir=request.work_parent))
    run_.log_path = work / "build.log"
    prefix = work / "prefix"
    ok = False
    try:
        with run_.phase("Getting the source"):
            tarball = sources.obtain(request.source, sha256, work)
        with run_.phase("Unpacking the source"):
            src = sources.unpack(tarball, work / "src", version)
        with run_.phase("Configuring"):
            run_.command(toolchain.configure_args(facts, prefix, optimize=request.optimize), src)
        with run_.phase("Compiling" + (" with PGO and LTO" if request.optimize else "")):
            run_.command(toolchain.make_args(request.jobs, src), src)
        with run_.phase("Installing into a temporary prefix"):
            run_.command(["make", "install"], src)
        with run_.phase("Removing what a runtime does not ship"):
            _trim(prefix, facts, out)
        with run_.phase("Compiling bytecode (unchecked-hash)"):
            run_.compile_bytecode(src, prefix)
        with run_.phase("Checking the runtime's modules"):
            run_.check_modules(prefix)
        with run_.phase("Packing"):
            archive = pack_runtime(
                prefix,
                request.dest,
                version=version,
                stack=request.stack,
                arch=arch,
                compression=Compression(request.zstd_level, window_log=LONG_WINDOW_LOG),
                keep_bytecode=True,
                log=out.info,
            )
        ok = True
    except PackError as exc:
        raise BuildFailed(str(exc)) from None
    finally:
        if ok or not run_.log_path.exists():
            shutil.rmtree(work, ignore_errors=True)
        else:
            out.info(f"The work directory is kept for a look: {work}")
    result = BuildResult(archive, sha256_file(archive), run_.phases)
    out.step(f"Built {archive} in {result.total:.1f}s")
    return result


class _Build:
    def __init__(self, request: BuildRequest, out: Output, facts: MinorFacts) -> None:
        self.request = request
        self.out = out
        self.facts = facts
        self.phases: dict[str, float] = {}
        self.log_path = Path(os.devnull)
        skipped = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")
        self.env = {k: v for k, v in os.environ.items() if k not in skipped}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.out.step(name)
        started = time.monotonic()
        try:
            yield
        except (sources.SourceError, OSError) as exc:
            raise BuildFailed(f"{name}: {exc}") from None
        seconds = time.monotonic() - started
        self.phases[name] = seconds
        self.out.info(f"{name}: {seconds:.1f}s")

    def command(
        self, args: Sequence[str | os.PathLike[str]], cwd: Path, env: dict[str, str] | None = None
    ) -> str:
        result = run(args, out=self.out, env=env or self.env, cwd=cwd, show=self.request.verbose)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(map(str, args))}\n{result.output}\n")
        if result.returncode != 0:
            tail = "\n".join(result.output.splitlines()[-_LOG_TAIL_LINES:])
            raise BuildFailed(
                f"{os.path.basename(str(args[0]))} failed with exit status "
                f"{result.returncode}. Its last lines:\n{tail}\n"
                f"Everything it printed is in {self.log_path}"
            )
        return result.output

    def compile_bytecode(self, src: Path, prefix: Path) -> None:
        # The interpreter just built, from the source tree, as make install does.
        env = dict(self.env, LD_LIBRARY_PATH=str(src))
        self.command(
            [
                src / "python",
                "-m",
                "compileall",
                "-f",
                "-q",
                "--invalidation-mode",
                "unchecked-hash",
                "--workers",
                "0",
                prefix,
            ],
            src,
            env,
        )

    def check_modules(self, prefix: Path) -> None:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LD_LIBRARY_PATH": str(prefix / "lib")}
        code = toolchain.import_check_code()
        output = self.command([prefix / "bin" / "python3", "-I", "-c", code], prefix, env)
        missing = [line.split()[1] for line in output.splitlines() if line.startswith("MISSING ")]
        if missing:
            packages = toolchain.missing_modules_packages(missing)
            raise BuildFailed(
                f"the runtime was built without {', '.join(missing)}. Install "
                f"what they need and build again:\n  apt-get install {' '.join(packages)}"
            )


def _trim(prefix: Path, facts: MinorFacts, out: Output) -> None:
    static = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*.a"))
    if static:
        raise BuildFailed(f"the install has static libraries, which it must not: {static}")
    removed = 0
    for path in sorted(prefix.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink() and path.name in TEST_DIRS:
            shutil.rmtree(path)
            removed += 1
        elif path.suffix == ".pyc" and path.is_file():
            path.unlink()
    programs = [p for pattern in facts.removed_programs for p in (prefix / "bin").glob(pattern)]
    for program in programs:
        program.unlink()
    python = prefix / "bin" / "python"
    if not os.path.lexists(python):
        python.symlink_to("python3")
    out.info(
        f"Removed {removed} test directories and {len(programs)} programs "
        f"({', '.join(sorted(p.name for p in programs))}); bin/python -> python3"
    )


def _check_arch(arch: str | None) -> str:
    host = host_arch()
    if arch is not None and arch != host:
        raise BuildFailed(f"this machine builds for {host}, not {arch}: build on an {arch} machine")
    return host


def _note_stack(stack: str, out: Output) -> None:
    here = stack_from_os_release()
    if here != stack:
        machine = f"an image of {here}" if here else "not Ubuntu"
        out.info(
            f"Note: this machine is {machine}. The runtime links against its system "
            f"libraries (glibc, OpenSSL...): for {stack}, build on {stack}'s build image."
        )
