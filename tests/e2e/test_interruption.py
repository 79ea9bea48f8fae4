"""Builds stopped by SIGTERM or SIGKILL at each phase, then built again.

For each phase the test holds the build inside it, deterministically, with
something real rather than a timer:

- buildpack bootstrap, pip bootstrap, dependency install: the build (its own
  fetch from the index, or pip) is pointed at a loopback package index
  (PIP_INDEX_URL, or an --extra-index-url line in requirements.txt) that
  stalls on the page it asks for; the build is signalled once a request
  waits on it;
- runtime download: the mirror stalls mid-archive, and the build is signalled
  once extraction has begun (its .partial directory exists);
- cache save: the build stops at the cache's own test pause point
  (BUILDPACK_TEST_PAUSE_AT, see buildpack/pause_points.py) mid-copy.

SIGTERM goes to bin/compile alone, as a build system's does: the build must
say it was interrupted, exit 1 without a traceback, and leave no child
process running. SIGKILL goes to every process of the build, as a container
kill does. Either way the app's files in BUILD_DIR are untouched, the cache
is the previous good one or empty (a tree without its metadata is never
trusted), and the next build on the same CACHE_DIR succeeds, cleans up what
the killed build left, and serves a request from /app.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import sandbox
from tests.support.builds import RunningBuild, require_namespaces
from tests.support.fault_server import Fault, FaultServer
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.sandbox import CHECK_AND_FINGERPRINT, Sandbox
from tests.support.tree import files_only, tree_digest

pytestmark = pytest.mark.e2e

# An index page that arrives only after the stall (which the test cuts short).
_INDEX_PAGE = b"<!DOCTYPE html><html><body></body></html>\n"
# Names of what a killed build may leave in CACHE_DIR, for the next one to remove.
_LEFTOVER_MARKS = (".partial-", ".saving-", ".old-", ".tmp-")


@dataclass(frozen=True)
class Phase:
    step: str  # the step line that starts the phase
    gate_paths: tuple[str, ...] = ()  # index pages the loopback index stalls on
    gate_in_requirements: bool = False  # else the gate is PIP_INDEX_URL
    # The cache the build starts from: "cold" (empty), "deps" (the buildpack's
    # own dependencies only), "warm" (a good cache without the runtime tree),
    # "good" (a successful build's).
    cache: str = "warm"
    stall_runtime: bool = False
    pause_at: str = ""


PHASES = {
    # The buildpack's own dependencies are fetched beside the build, which
    # goes on meanwhile: the gate holds pip's page too, so that the build
    # cannot get past installing pip while the fetch is held.
    "buildpack-bootstrap": Phase(
        step="-----> Installing the buildpack's own dependencies",
        gate_paths=("/simple/pyyaml/", "/simple/requests/", "/simple/zstandard/", "/simple/pip/"),
        cache="cold",
    ),
    "runtime-download": Phase(step="-----> Installing Python", stall_runtime=True),
    # A first build: urllib and the zstd tool, while the buildpack's own
    # libraries are fetched beside it.
    "runtime-download-cold": Phase(
        step="-----> Installing Python", stall_runtime=True, cache="cold"
    ),
    # From a cache without a copy of pip, so that pip is fetched from the index.
    "pip-bootstrap": Phase(
        step="-----> Installing pip", gate_paths=("/simple/pip/",), cache="deps"
    ),
    "dependency-install": Phase(
        step="-----> Installing dependencies",
        gate_paths=("/simple/gunicorn/",),
        gate_in_requirements=True,
    ),
    "cache-save": Phase(step="-----> Saving cache", pause_at="cache-save-copy", cache="good"),
}
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


@pytest.fixture(scope="module")
def deps_cache(tmp_path_factory: pytest.TempPathFactory, mirror_url: str) -> Path:
    require_namespaces()
    return sandbox.deps_cache(tmp_path_factory, mirror_url)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[FaultServer]:
    """A loopback package index that has nothing, and stalls where told."""
    empty = tmp_path / "gate-index"
    empty.mkdir()
    with FaultServer(empty) as server:
        yield server


@pytest.fixture
def mirror(runtime_archive: RuntimeArchive) -> Iterator[FaultServer]:
    with FaultServer(runtime_archive.dir) as server:
        yield server


# --- the cache: previous good one, or empty ---------------------------------------


def cache_state(cache: Path) -> dict[str, dict[str, str]]:
    """What a build trusts in CACHE_DIR, by part.

    - "runtime": .heroku/python with .heroku/cache.json; a tree without that
      metadata is never used (buildpack/cache.py), so it counts as nothing;
    - "deps:<tag>": a buildpack dependencies directory, only once complete.
    Not included: pip's HTTP cache, the lock file and the build report.
    """
    digest = files_only(tree_digest(cache, exclude_top=("build-data",)))
    parts: dict[str, dict[str, str]] = {}
    if ".heroku/cache.json" in digest:
        parts["runtime"] = {
            k: v
            for k, v in digest.items()
            if k == ".heroku/cache.json" or k.startswith(".heroku/python/")
        }
    for key in digest:
        if key.startswith(".heroku/buildpack-deps/") and key.endswith("/.complete"):
            prefix = key[: -len(".complete")]
            parts[f"deps:{prefix}"] = {k: v for k, v in digest.items() if k.startswith(prefix)}
    return parts


def assert_previous_or_empty(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> None:
    for part in set(before) | set(after):
        assert after.get(part) in (before.get(part), None), f"{part} changed in the cache"


def leftovers(cache: Path) -> list[str]:
    return sorted(
        str(p.relative_to(cache))
        for p in cache.rglob("*")
        if any(m in p.name for m in _LEFTOVER_MARKS)
    )


# --- holding a build inside a phase -------------------------------------------------


def start_in_phase(
    box: Sandbox,
    phase: Phase,
    *,
    gate: FaultServer,
    mirror: FaultServer,
    runtime_archive: RuntimeArchive,
) -> RunningBuild:
    extra = {"BUILDPACK_S3_BASE_URL": mirror.url}
    for path in phase.gate_paths:
        gate.add(path, Fault("stall", body=_INDEX_PAGE, times=None))
    if phase.gate_paths and not phase.gate_in_requirements:
        extra["PIP_INDEX_URL"] = gate.url + "/simple/"
    if phase.gate_in_requirements:
        requirements = box.app / "requirements.txt"
        requirements.write_text(
            requirements.read_text() + f"--extra-index-url {gate.url}/simple/\n"
        )
        box.record()
    archive = "/" + runtime_archive.name
    if phase.stall_runtime:
        # Less than the download's read-ahead holds: once the stall begins, the
        # reading thread waits on the network, not on a full queue.
        mirror.add(archive, Fault("stall", after=64 * 1024))
    fifo = box.root / "pause.fifo"
    if phase.pause_at:
        os.mkfifo(fifo)
        extra.update(BUILDPACK_TEST_PAUSE_AT=phase.pause_at, BUILDPACK_TEST_PAUSE_FIFO=str(fifo))
        box.record()

    build = box.start(box.env(**extra), ["true"])
    build.wait_until(lambda: build.saw(phase.step), f"the step {phase.step!r}")
    if phase.gate_paths:
        build.wait_until(
            lambda: any(gate.hits[p] for p in phase.gate_paths), "pip to ask the stalling index"
        )
    if phase.stall_runtime:
        build.wait_until(
            lambda: (
                bool(list((box.build_dir / ".heroku").glob(".python.partial-*")))
                and mirror.stalling > 0
            ),
            "the runtime extraction to begin and the download to stall",
        )
    if phase.pause_at:
        with _fifo_reader(fifo) as read:
            build.wait_until(lambda: phase.pause_at in read(), f"the pause point {phase.pause_at}")
    return build


@contextlib.contextmanager
def _fifo_reader(fifo: Path) -> Iterator[object]:
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    seen: list[str] = []

    def read() -> str:
        with contextlib.suppress(BlockingIOError):
            seen.append(os.read(fd, 4096).decode())
        return "".join(seen)

    try:
        yield read
    finally:
        os.close(fd)


# --- the test ------------------------------------------------------------------------


@pytest.mark.parametrize("signame", sorted(SIGNALS))
@pytest.mark.parametrize("phase_name", list(PHASES))
def test_interrupted_build_then_next_build_succeeds(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    runtime_archive: RuntimeArchive,
    mirror_url: str,
    gate: FaultServer,
    mirror: FaultServer,
    phase_name: str,
    signame: str,
) -> None:
    phase = PHASES[phase_name]
    cache_from = None if phase.cache == "cold" else request.getfixturevalue(f"{phase.cache}_cache")
    box = Sandbox.create(tmp_path, python_version=runtime_archive.version, cache_from=cache_from)
    original_requirements = (box.app / "requirements.txt").read_bytes()
    before = cache_state(box.cache)

    build = start_in_phase(box, phase, gate=gate, mirror=mirror, runtime_archive=runtime_archive)
    if phase.stall_runtime:
        # Which way the archive is decompressed: the zstd tool on a cold cache
        # (this python3 has no zstandard), the zstandard module on a warm one.
        assert build.running("zstd") == (phase.cache == "cold"), build.log
    if signame == "SIGTERM":
        build.signal_compile(signal.SIGTERM)
    else:
        build.kill_all()
    result = build.finish()

    if signame == "SIGTERM":
        assert result.returncode == 1, result.log
        assert " !     Error: The build was interrupted" in result.stderr, result.log
        assert "Traceback" not in result.log
        # bin/compile stopped its child (pip) before exiting: no orphan goes on writing.
        assert build.survivors() == []
    else:
        assert result.returncode == -signal.SIGKILL, result.log
    box.assert_app_untouched()
    if phase.stall_runtime and signame == "SIGTERM":
        box.assert_no_runtime_left()
        # It ended at once, not after waiting out the stalled read.
        assert mirror.stalling == 1
    # A killed pip cannot clean its temporary files; a terminated build must.
    box.assert_nothing_written_outside(tmpdir=signame == "SIGTERM")
    assert_previous_or_empty(before, cache_state(box.cache))

    # The next build, on the same cache, in a fresh BUILD_DIR, with no faults.
    (box.app / "requirements.txt").write_bytes(original_requirements)
    box.record()
    box.new_build_dir("build-next")
    result = box.build(box.env(BUILDPACK_S3_BASE_URL=mirror_url), CHECK_AND_FINGERPRINT)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Traceback" not in result.log
    box.assert_relocated_app_untouched(result)
    assert leftovers(box.cache) == []
    assert "runtime" in cache_state(box.cache)
