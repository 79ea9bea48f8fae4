"""The buildpack's own dependencies: pins, markers, and concurrent installs.

Every buildpack directory here pins and locks the real PyPA wheels too, and
every index serves them (copied from the real index once per session): the
fetch runs on packaging and installer imported from those files."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from buildpack.core import errors, fs
from buildpack.core.output import Output
from buildpack.core.settings import Settings, buildpack_root
from buildpack.selfdeps import bootstrap, pure_wheels, verified_copy, wheel_lock
from tests.support.fault_server import Fault, FaultServer
from tests.support.polling import wait_for
from tests.unit.wheel_factory import Index, build_wheel, write_deps_lock


def test_pins_come_from_buildpack_toml():
    pins = bootstrap.read_pins(buildpack_root() / "buildpack.toml")
    assert {"zstandard", "requests", "pyyaml", "tomli", "packaging", "installer"} <= set(pins)


def test_the_pypa_libraries_are_never_unpacked_with_the_rest():
    """They are imported from their checked wheel files only (pure_wheels)."""
    pins = {"tomli": "2.5.0", "packaging": "26.3", "installer": "1.1.0", "requests": "2.0"}
    assert bootstrap.requirements(pins) == ["requests==2.0"]
    assert [p.project for p in bootstrap.pins_for_this_interpreter(pins)] == ["requests"]


def test_deps_dir_changes_with_pins(tmp_path):
    a = bootstrap.deps_dir_for(tmp_path, {"requests": "1"})
    b = bootstrap.deps_dir_for(tmp_path, {"requests": "2"})
    assert a != b and a.parent == b.parent
    assert sys.implementation.cache_tag in a.name


def test_process_alive():
    assert fs.process_alive(str(os.getpid()))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not fs.process_alive(str(dead.pid))
    assert not fs.process_alive("notapid")


def test_a_zombie_is_not_alive():
    """A SIGKILLed build nobody reaped yet must not keep its partial dir forever."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])

    def is_zombie() -> bool:
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"

    try:
        wait_for(is_zombie, "the child to exit (unreaped)")
        os.kill(child.pid, 0)  # the kernel still knows the pid...
        assert not fs.process_alive(child.pid)  # ...but it is dead
    finally:
        child.wait()


# --- fetching them from the index, in the background -------------------------------


@pytest.fixture(autouse=True)
def _pure(pure_wheel_files: dict[str, Path]) -> None:
    _PURE.clear()
    _PURE.update(pure_wheel_files)


_PURE: dict[str, Path] = {}


def _serve_pure(root: Path) -> None:
    """Put the PyPA wheels on the index served from ``root``."""
    for project, wheel in _PURE.items():
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f'<a href="../../files/{wheel.name}#sha256={digest}">x</a>\n')
        (root / "files").mkdir(exist_ok=True)
        shutil.copyfile(wheel, root / "files" / wheel.name)


def _deps_dirs(deps: bootstrap.Dependencies) -> list[Path]:
    """Beside the dependencies' directory, but the PyPA wheels' one."""
    if not deps.target.parent.is_dir():
        return []
    return [p for p in deps.target.parent.iterdir() if p.name != "wheels"]


def _buildpack_dir(
    tmp_path: Path, pins: dict[str, str], wheels: list[Path] | None = None, env: str = ""
) -> Path:
    """A buildpack directory whose buildpack.toml pins ``pins`` and the PyPA
    wheels, locked to ``wheels`` and those (None: no lock at all)."""
    root = tmp_path / "buildpack"
    root.mkdir(exist_ok=True)
    pure = {project: wheel.name.split("-")[1] for project, wheel in _PURE.items()}
    pins = {**pins, **pure}
    lines = "".join(f'{name} = "{version}"\n' for name, version in pins.items())
    (root / "buildpack.toml").write_text(f"[buildpack-dependencies]\n{lines}")
    if wheels is not None:
        write_deps_lock(root, pins, [*wheels, *_PURE.values()], env)
    # The fetch process imports the buildpack package from this directory.
    if not (root / "buildpack").exists():
        (root / "buildpack").symlink_to(buildpack_root() / "buildpack")
    return root


def _deps(
    tmp_path: Path,
    index_url: str,
    pins: dict[str, str],
    wheels: list[Path] | None = (),  # type: ignore[assignment]
    *,
    root: Path | None = None,
    env: str = "",
    serve_pure: bool = True,
) -> tuple[bootstrap.Dependencies, io.StringIO]:
    """``root``: the directory the index at ``index_url`` serves."""
    if serve_pure:
        _serve_pure(root or tmp_path / "index")
    # No pip config of this machine's: only the index given.
    environ = {
        "PATH": os.environ["PATH"],
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": index_url,
    }
    log = io.StringIO()
    deps = bootstrap.Dependencies(
        buildpack_dir=_buildpack_dir(tmp_path, pins, None if wheels is None else list(wheels), env),
        cache_dir=tmp_path / "cache",
        env=environ,
        out=Output(log, log),
        work_dir=tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}",
    )
    return deps, log


def _forget(deps: bootstrap.Dependencies) -> None:
    """Take what ``deps`` put on sys.path off it again."""
    for path in [deps.target, *deps.pure.paths]:
        while str(path) in sys.path:
            sys.path.remove(str(path))


def test_dependencies_come_from_the_index_in_the_background(tmp_path, index: Index):
    wheels = [index.add_wheel("bpdemo", "1.0"), index.add_wheel("bpother", "2.0")]
    index.publish("bpdemo", wheels[:1])
    index.publish("bpother", wheels[1:])
    pins = {"bpdemo": "1.0", "bpother": "2.0"}
    deps, _log = _deps(tmp_path, index.url + "/simple", pins, wheels)
    assert not deps.ready and deps.source == ""
    deps.start([])
    assert deps._fetch is not None and not deps.ready
    try:
        assert deps.wait([])
    finally:
        _forget(deps)
    assert deps.ready and deps.source == "index"
    assert (deps.target / "bpdemo" / "__init__.py").read_text() == "V = '1.0'\n"
    assert (deps.target / "bpother-2.0.dist-info" / "METADATA").is_file()
    # The wheels stay, to check the files against at every later use; no
    # bytecode, which could not be checked.
    assert sorted(p.name for p in (deps.target / ".wheels").iterdir()) == sorted(
        w.name for w in wheels
    )
    assert not list(deps.target.rglob("__pycache__"))
    assert _deps_dirs(deps) == [deps.target]
    # The next build finds them complete.
    again_same_cache = bootstrap.Dependencies(
        buildpack_dir=deps.buildpack_dir,
        cache_dir=tmp_path / "cache",
        env={},
        out=Output(io.StringIO(), io.StringIO()),
    )
    try:
        assert again_same_cache.ready and again_same_cache.source == "cache"
    finally:
        _forget(again_same_cache)


def test_without_a_usable_index_or_pip_nothing_is_published(tmp_path, index: Index):
    """The fetch finds no such release and pip (the real one) cannot either:
    the build gets the buildpack's own error, and the cache stays clean."""
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpmissing": "1.0"})
    deps.start([])
    with pytest.raises(errors.BuildError) as failure:
        deps.wait([])
    assert failure.value.reason == "internal-error::buildpack-dependencies"
    assert "Could not fetch them from the index" in log.getvalue()
    # The test runner's python3 has pip: that one, not a runtime's bundled one.
    assert f"Installing them with the pip of {sys.executable}" in log.getvalue()
    assert not deps.ready
    assert _deps_dirs(deps) == []


def test_keeping_a_failed_fetch_does_not_run_pip(tmp_path, index: Index):
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpmissing": "1.0"})
    deps.start([])
    deps.keep_fetched(within=30)
    assert not deps.ready and _deps_dirs(deps) == []


def test_a_failed_build_keeps_a_finished_fetch(tmp_path, index: Index):
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel])
    deps.start([])
    try:
        deps.keep_fetched(within=30)
        assert deps.ready and (deps.target / "bpdemo" / "__init__.py").is_file()
    finally:
        _forget(deps)


# An index page whose headers arrive and whose body never does, until released.
_STALLED_PAGE = Fault("stall", body=b"<html><body></body></html>\n", times=None)


def _start_stalled_fetch(tmp_path: Path, stalled: FaultServer) -> bootstrap.Dependencies:
    stalled.add("/simple/bpdemo/", _STALLED_PAGE)
    deps, _log = _deps(tmp_path, stalled.url + "/simple", {"bpdemo": "1.0"}, root=tmp_path)
    deps.start([])
    wait_for(lambda: stalled.stalling == 1, "the fetch to wait on the stalled index page")
    return deps


def test_a_failed_build_does_not_wait_for_a_stalled_fetch(tmp_path):
    with FaultServer(tmp_path) as stalled:
        deps = _start_stalled_fetch(tmp_path, stalled)
        deps.keep_fetched(within=0.5)
        # It returned while the index still held the fetch: it did not wait it out.
        assert stalled.stalling == 1 and deps._fetch is not None
        assert deps._fetch._proc.poll() is None
        deps.abandon()
        assert deps._fetch._proc.poll() is not None
    assert not deps.ready and _deps_dirs(deps) == []


def test_settle_waits_for_the_fetch_to_end_before_a_hook_runs(tmp_path):
    """A post_compile hook may remove CACHE_DIR, where the fetch writes: the
    build lets the fetch end first (and takes its result later)."""
    with FaultServer(tmp_path) as stalled:
        deps = _start_stalled_fetch(tmp_path, stalled)
        settling = threading.Thread(target=deps.settle)
        settling.start()
        # The index holds the fetch until released, so settle cannot return yet.
        settling.join(timeout=0.2)
        assert settling.is_alive()
        stalled.release_stalls()
        settling.join(timeout=120)
        assert not settling.is_alive()
        assert deps._fetch is not None and deps._fetch._proc.poll() is not None
        assert not deps.ready
        deps.abandon()


def test_abandon_stops_the_fetch_and_removes_its_partial(tmp_path):
    with FaultServer(tmp_path) as stalled:
        deps = _start_stalled_fetch(tmp_path, stalled)
        deps.abandon()
        # Stopped, not waited for: the index still holds the page it asked for.
        assert stalled.stalling == 1
        assert deps._fetch is not None and deps._fetch._proc.poll() is not None
    assert _deps_dirs(deps) == []


# --- what is kept in CACHE_DIR is checked against the lock before every use ------------


def _published(tmp_path: Path, index: Index) -> tuple[bootstrap.Dependencies, list[Path]]:
    wheels = [index.add_wheel("bpdemo", "1.0"), index.add_wheel("bpother", "2.0")]
    index.publish("bpdemo", wheels[:1])
    index.publish("bpother", wheels[1:])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0", "bpother": "2.0"}, wheels)
    try:
        assert deps.wait([])
    finally:
        _forget(deps)
    return deps, wheels


def _next_build(
    deps: bootstrap.Dependencies,
    tmp_path: Path,
    on_untrusted: Callable[[list[str]], None] | None = None,
) -> bootstrap.Dependencies:
    env = {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    again = bootstrap.Dependencies(
        buildpack_dir=deps.buildpack_dir,
        cache_dir=tmp_path / "cache",
        env=env,
        out=Output(io.StringIO(), io.StringIO()),
        work_dir=tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}",
        on_untrusted=on_untrusted,
    )
    _forget(again)
    return again


def test_a_kept_copy_is_checked_when_first_needed_and_not_before(tmp_path, index: Index):
    """An unchanged rebuild downloads and unpacks nothing, so it never needs
    them: nothing checks the copy or puts it on sys.path until ``ready`` is
    asked, and then the check sees the files as they are at that moment."""
    deps, _wheels = _published(tmp_path, index)
    said: list[str] = []
    again = _next_build(deps, tmp_path, on_untrusted=said.extend)
    assert again.available and again.source == "cache" and not again.checked
    assert str(deps.target) not in sys.path
    # A copy is there: starting and finishing neither fetch nor check it.
    again.start([])
    again.finish([])
    assert again._fetch is None and not again.checked
    (deps.target / "bpdemo" / "__init__.py").write_text("raise SystemExit('planted')\n")
    assert not again.ready and again.checked and not again.available
    assert str(deps.target) not in sys.path and not os.path.lexists(deps.target)
    [why] = said
    assert "__init__.py differs from" in why and again.untrusted == said
    assert again.source == ""


def test_a_kept_copy_found_whole_is_activated_when_first_needed(tmp_path, index: Index):
    deps, _wheels = _published(tmp_path, index)
    said: list[str] = []
    again = _next_build(deps, tmp_path, on_untrusted=said.extend)
    try:
        assert again.ready and again.checked and str(deps.target) in sys.path
    finally:
        _forget(again)
    assert said == [] and again.source == "cache"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda t: (t / "bpdemo" / "__init__.py").write_text("import os\n"), "differs from"),
        (lambda t: (t / "json.py").write_text("import os\n"), "json.py is in no locked wheel"),
        (
            lambda t: (
                (t / "bpdemo" / "__pycache__").mkdir()
                or (t / "bpdemo" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"x")
            ),
            "__init__.cpython-311.pyc is in no locked wheel",
        ),
        (lambda t: (t / "bpother" / "__init__.py").unlink(), "is missing"),
        (
            lambda t: (
                (t / "bpdemo" / "__init__.py").unlink()
                or (t / "bpdemo" / "__init__.py").symlink_to("/etc/hostname")
            ),
            "is a symbolic link",
        ),
        (
            lambda t: (t / ".wheels" / "bpdemo-1.0-py3-none-any.whl").write_bytes(b"PK"),
            "is not the wheel the buildpack locked",
        ),
    ],
    ids=["changed", "added-module", "planted-bytecode", "removed", "linked", "other-wheel"],
)
def test_a_tampered_cached_copy_is_not_imported(tmp_path, index: Index, tamper, reason):
    deps, _wheels = _published(tmp_path, index)
    again = _next_build(deps, tmp_path)
    assert again.ready and again.untrusted == []  # untouched: used as it is
    tamper(deps.target)
    again = _next_build(deps, tmp_path)
    assert not again.ready and str(deps.target) not in sys.path
    [why] = again.untrusted
    assert reason in why and "not the locked wheels' files" in why
    assert not os.path.lexists(deps.target)  # removed, to be fetched again
    assert verified_copy.verified_dir(deps.buildpack_dir, tmp_path / "cache") is None


def test_bin_report_imports_only_a_verified_copy(tmp_path, index: Index):
    deps, _wheels = _published(tmp_path, index)
    assert verified_copy.verified_dir(deps.buildpack_dir, tmp_path / "cache") == deps.target
    (deps.target / "bpdemo" / "__init__.py").write_text("raise SystemExit('planted')\n")
    assert verified_copy.verified_dir(deps.buildpack_dir, tmp_path / "cache") is None


def test_an_index_serving_another_file_than_the_locked_one_is_refused(tmp_path, index: Index):
    other = tmp_path / "other"
    other.mkdir()
    locked = build_wheel(other, "bpdemo", "1.0", {"bpdemo/__init__.py": b"V = 'locked'\n"})
    index.publish("bpdemo", [index.add_wheel("bpdemo", "1.0")])
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [locked])
    deps.start([])
    with pytest.raises(errors.BuildError):
        deps.wait([])  # the real pip, held to the lock's hash, refuses it too
    assert "is not the file the buildpack locked" in log.getvalue()
    assert _deps_dirs(deps) == []


def test_an_interpreter_the_lock_does_not_cover_gets_them_for_this_build_only(
    tmp_path, index: Index
):
    """(The PyPA wheels still come, checked: the lock holds them for every Python.)"""
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    deps, log = _deps(
        tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel], env="3.99-riscv64"
    )
    try:
        assert deps.wait([])
    finally:
        _forget(deps)
    assert deps.source == "index" and (deps.target / "bpdemo" / "__init__.py").is_file()
    assert deps.pure.source == "index"
    assert "For this build only" in log.getvalue()
    assert not list((tmp_path / "cache").glob(".heroku/buildpack-deps/*/.complete"))
    fs.remove_tree(deps.target.parent)


def test_the_pypa_wheels_come_first_then_the_rest_in_the_background(tmp_path, index: Index):
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel])
    assert not deps.pure.ready and deps.pure.source == ""
    try:
        deps.start([])
        assert deps.pure.ready and deps.pure.source == "index" and deps._fetch is not None
        assert deps.wait([]) and deps.source == "index"
    finally:
        _forget(deps)
    assert not (deps.target / "packaging").exists()  # imported from its wheel only
    kept = sorted(p.name for p in (tmp_path / "cache" / pure_wheels.WHEELS_DIR).iterdir())
    assert kept == sorted(w.name for w in _PURE.values() if _needed(w))
    again = _next_build(deps, tmp_path)
    assert again.ready and again.pure.ready and again.pure.source == "cache"
    assert "Could not fetch" not in log.getvalue()


def _needed(wheel: Path) -> bool:
    return pure_wheels.needed(wheel.name.split("-")[0], sys.version_info[:2])


def test_a_tampered_pypa_wheel_in_the_cache_is_fetched_again(tmp_path, index: Index):
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    deps, _log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel])
    try:
        assert deps.wait([])
    finally:
        _forget(deps)
    cached = tmp_path / "cache" / pure_wheels.WHEELS_DIR / _PURE["installer"].name
    cached.write_bytes(cached.read_bytes()[:-10] + b"x" * 10)
    again = _next_build(deps, tmp_path)
    assert again.ready and not again.pure.ready and not cached.exists()
    assert any(_PURE["installer"].name in why for why in again.untrusted)
    # The libraries themselves are cached and fine: only the wheel is fetched again.
    again._env.update(PIP_INDEX_URL=index.url + "/simple", PIP_NO_INDEX="")
    try:
        again.start([])
    finally:
        _forget(again)
    assert again.pure.ready and again.pure.source == "index" and cached.is_file()


def test_without_the_pypa_wheels_pip_downloads_them_and_says_why(tmp_path, index: Index):
    """The index lacks packaging and installer: the fast path cannot be
    taken, and the real pip downloads them and the rest, held to the lock."""
    wheel = index.add_wheel("bpdemo", "1.0")
    index.publish("bpdemo", [wheel])
    (tmp_path / "elsewhere").mkdir()
    _serve_pure(tmp_path / "elsewhere")  # pip finds them through --find-links
    deps, log = _deps(tmp_path, index.url + "/simple", {"bpdemo": "1.0"}, [wheel], serve_pure=False)
    deps._env["PIP_FIND_LINKS"] = str(tmp_path / "elsewhere" / "files")
    try:
        deps.start([])
        assert not deps.pure.ready and deps._fetch is None
        assert deps.wait([])
    finally:
        _forget(deps)
    text = log.getvalue()
    assert "Could not fetch packaging, installer" in text and "/simple/packaging/" in text
    assert "Could not fetch them from the index (the buildpack's PyPA libraries" in text
    assert deps.source == "pip" and deps.pure.source == "pip"
    assert (deps.target / "bpdemo" / "__init__.py").is_file()


def test_the_lock_matches_buildpack_toml():
    """Fails when a pin changes without running tools/lock-wheels."""
    root = buildpack_root()
    settings = Settings.load(root / "buildpack.toml")
    pins = bootstrap.read_pins(root / "buildpack.toml")
    expected = {
        wheel_lock.BUILDPACK_DEPENDENCIES: wheel_lock.pins_version(pins),
        "pip": settings.tools["pip"],
    }
    data = wheel_lock.load(root)
    assert wheel_lock.problems(data, expected) == []
    assert "://" not in wheel_lock.lock_path(root).read_text()
    # This interpreter (a supported CPython) is covered: its copy is cached.
    assert bootstrap.locked_files(root, pins)
