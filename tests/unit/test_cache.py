"""The build cache's decisions: metadata, invalidation, restore/save, skips.

Real directories and files throughout; the "Python home" is a small tree of
files standing in for a runtime, since restore and save only move files.
"""

from __future__ import annotations

import json
import os
import sysconfig
import threading
from pathlib import Path

import pytest

from buildpack.cache import cache, cache_key, install_inputs
from buildpack.cache.cache import (
    BuildCache,
    CacheKey,
    Metadata,
    MetadataProblem,
    discard_reasons,
    parse_metadata,
)
from buildpack.cache.cache_lock import FileLock
from buildpack.package_managers import pip, pip_seed, requirements_files
from buildpack.selfdeps import wheel_install
from tests.support.fresh_python import run_without_site
from tests.unit.ctx_factory import Captured, make_ctx
from tests.unit.wheel_factory import write_pip_lock

REPO_ROOT = Path(__file__).resolve().parents[2]

KEY = CacheKey(
    stack="heroku-24",
    arch="amd64",
    python_version="3.13.5",
    package_manager="pip",
    package_manager_version="26.3",
    install_dev=False,
    dependency_files={"requirements.txt": "aaa"},
)


def _key(**changes: object) -> CacheKey:
    fields = {**KEY.__dict__, **changes}
    return CacheKey(**fields)  # type: ignore[arg-type]


def _meta(key: CacheKey = KEY, **changes: object) -> Metadata:
    fields: dict[str, object] = {
        "key": key,
        "install_inputs": "digest",
        "build_dir": ("/tmp/build_old",),
        "app_refs": (),
    }
    fields.update(changes)
    return Metadata(**fields)  # type: ignore[arg-type]


# --- metadata and invalidation -------------------------------------------------------


def test_metadata_round_trips():
    meta = _meta(app_refs=(".heroku/python/lib/x.pth",))
    assert parse_metadata(meta.to_json()) == meta


def test_same_key_has_no_reason():
    assert discard_reasons(KEY, _key()) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"stack": "heroku-22"}, "The stack has changed from heroku-24 to heroku-22"),
        ({"arch": "arm64"}, "The CPU architecture has changed from amd64 to arm64"),
        (
            {"python_version": "3.13.6"},
            "The Python version has changed from 3.13.5 to 3.13.6",
        ),
        (
            {"package_manager": "uv", "package_manager_version": "0.13.9", "dependency_files": {}},
            "The package manager has changed from pip to uv",
        ),
        ({"package_manager_version": "26.4"}, "The pip version has changed from 26.3 to 26.4"),
        (
            {"dependency_files": {"requirements.txt": "bbb"}},
            "The contents of requirements.txt changed",
        ),
        (
            {"dependency_files": {"requirements.txt": "aaa", "base.txt": "ccc"}},
            "base.txt is new since the cached build",
        ),
    ],
)
def test_each_invalidation_reason(change, reason):
    assert discard_reasons(KEY, _key(**change)) == [reason]


def test_a_file_no_longer_included_is_a_reason():
    previous = _key(dependency_files={"requirements.txt": "aaa", "requirements/dev.txt": "d"})
    assert discard_reasons(previous, KEY) == ["requirements/dev.txt is no longer used"]


def test_several_reasons_are_all_given():
    reasons = discard_reasons(KEY, _key(stack="heroku-22", python_version="3.12.1"))
    assert reasons == [
        "The stack has changed from heroku-24 to heroku-22",
        "The Python version has changed from 3.13.5 to 3.12.1",
    ]


def test_dev_dependencies_change_is_a_reason():
    pipenv = _key(package_manager="pipenv", package_manager_version="1", dependency_files={})
    assert discard_reasons(pipenv, _key(**{**pipenv.__dict__, "install_dev": True})) == [
        "The build now installs development dependencies"
    ]


@pytest.mark.parametrize(("manager", "kept"), [("pipenv", True), ("pip", True), ("uv", False)])
def test_dev_dependencies_are_part_of_the_key_only_for_installers_that_never_uninstall(
    tmp_path, manager, kept
):
    from buildpack.package_managers import installer_for

    captured = _ctx(tmp_path, install_dev=True)
    for name in ("requirements.txt", "Pipfile.lock", "uv.lock"):
        (captured.ctx.build_dir / name).write_text("{}\n")
    key = cache_key.build_key(captured.ctx, manager, installer_for(manager), "3.13.5")
    # uv and Poetry sync away what a CI build added: the same tree serves both.
    assert key.install_dev is kept


def test_every_key_field_discards_the_cache_when_it_changes():
    import dataclasses

    for f in dataclasses.fields(cache_key.CacheKey):
        before = getattr(KEY, f.name)
        after = (
            (not before)
            if isinstance(before, bool)
            else ({"x": "1"} if isinstance(before, dict) else f"{before}-changed")
        )
        changed = dataclasses.replace(KEY, **{f.name: after})
        assert discard_reasons(KEY, changed), f"a change of {f.name} went unnoticed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "The cache metadata is unreadable"),
        ("[1, 2]", "not a JSON object"),
        ('{"key": {}}', "unversioned format"),
        ('{"format": "1"}', "unversioned format"),
        ('{"format": 0, "key": {}}', "older format (format 0, now 1)"),
        ('{"format": 99, "key": {}}', "newer buildpack release (format 99"),
        ('{"format": 1, "key": {"stack": "heroku-24"}}', "The cache metadata is incomplete"),
        ('{"format": 1, "key": {"stack": 24}}', "The cache metadata is incomplete"),
    ],
)
def test_unusable_metadata_is_a_reason_never_misread(text, message):
    with pytest.raises(MetadataProblem, match=None) as info:
        parse_metadata(text)
    assert message in str(info.value)


# --- requirement files ------------------------------------------------------------------


def test_nested_includes_are_hashed_relative_to_the_including_file(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements.txt").write_text("-r requirements/prod.txt\n")
    (tmp_path / "requirements" / "prod.txt").write_text(
        "-r base.txt  # comment\n--constraint=constraints.txt\ngunicorn==27.0.1\n"
    )
    (tmp_path / "requirements" / "base.txt").write_text("six==1.17.0\n-rprod.txt\n")
    (tmp_path / "requirements" / "constraints.txt").write_text("six<2\n")
    found = requirements_files.collect(tmp_path, ["requirements.txt"])
    assert sorted(found.hashes) == [
        "requirements.txt",
        "requirements/base.txt",
        "requirements/constraints.txt",
        "requirements/prod.txt",
    ]
    assert found.plain, found.not_plain


def test_a_change_in_a_nested_file_discards(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r base.txt\n")
    (tmp_path / "base.txt").write_text("six==1.16.0\n")
    before = requirements_files.collect(tmp_path, ["requirements.txt"]).hashes
    (tmp_path / "base.txt").write_text("six==1.17.0\n")
    after = requirements_files.collect(tmp_path, ["requirements.txt"]).hashes
    assert before["requirements.txt"] == after["requirements.txt"]
    reasons = discard_reasons(_key(dependency_files=before), _key(dependency_files=after))
    assert reasons == ["The contents of base.txt changed"]


def test_missing_include_and_continuation_lines(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r \\\n  nowhere.txt\nsix \\\n  ==1.17.0\n")
    found = requirements_files.collect(tmp_path, ["requirements.txt"])
    assert found.hashes["nowhere.txt"] == requirements_files.MISSING
    assert found.plain, found.not_plain


@pytest.mark.parametrize(
    "line",
    [
        "-e .",
        "--editable=git+https://example.invalid/x.git#egg=x",
        "./libs/mylib",
        "mylib @ file:///tmp/mylib",
        "https://example.invalid/pkg-1.0.tar.gz",
        "pkg-1.0.tar.gz",
        "git+https://example.invalid/x.git",
        "${SECRET_REQ}",
        "-r https://example.invalid/reqs.txt",
        "--upgrade-strategy eager",
    ],
)
def test_requirements_that_can_change_without_the_file_are_not_plain(tmp_path, line):
    (tmp_path / "requirements.txt").write_text(f"six==1.17.0\n{line}\n")
    assert not requirements_files.collect(tmp_path, ["requirements.txt"]).plain


@pytest.mark.parametrize(
    "line",
    [
        "Django[argon2]>=5.2,<6 ; python_version >= '3.10'",
        "numpy==2.3.1 --hash=sha256:abc --hash=sha256:def",
        "--index-url https://example.invalid/simple",
        "--only-binary :all:",
        "requests",
        "zope.interface~=7.0",
    ],
)
def test_named_requirements_are_plain(tmp_path, line):
    (tmp_path / "requirements.txt").write_text(f"{line}\n")
    found = requirements_files.collect(tmp_path, ["requirements.txt"])
    assert found.plain, found.not_plain


def test_without_packaging_nothing_is_plain(tmp_path):
    """Before the buildpack has its packaging library (a real interpreter
    without site-packages), a requirement cannot be proven plain."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from buildpack.package_managers.requirements_files import named_requirement\n"
        "print(named_requirement('requests'))"
    )
    assert run_without_site(code, str(REPO_ROOT)) == "None\n"
    assert requirements_files.named_requirement("requests") == "requests"
    assert requirements_files.named_requirement("Django[argon2] (>=5.2)") == "Django"
    assert requirements_files.named_requirement("x @ https://example.invalid/x.whl") is None


def test_include_cycles_end(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r a.txt\n")
    (tmp_path / "a.txt").write_text("-r requirements.txt\nsix\n")
    found = requirements_files.collect(tmp_path, ["requirements.txt"])
    assert sorted(found.hashes) == ["a.txt", "requirements.txt"]


# --- restore and save with real directories ----------------------------------------------


def _ctx(tmp_path: Path, **kwargs: object) -> Captured:
    captured = make_ctx(tmp_path, **kwargs)  # type: ignore[arg-type]
    captured.ctx.stack = "heroku-24"
    captured.ctx.arch = "amd64"
    (captured.ctx.build_dir / "requirements.txt").write_text("gunicorn==27.0.1\n")
    return captured


def _fake_home(home: Path, marker: str = "v1") -> None:
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").write_text("#!/bin/sh\n")
    site = home / "lib" / "python3.13" / "site-packages"
    site.mkdir(parents=True)
    (site / "marker.txt").write_text(marker)
    (home / "bin" / "python3").symlink_to("python")


def _build(captured: Captured, *, app_refs: tuple[str, ...] = ()) -> BuildCache:
    """One build's cache use: open, restore, (install,) save."""
    ctx = captured.ctx
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    if not ctx.build_python_home.exists():
        _fake_home(ctx.build_python_home)
    session.skip_install(ctx, pip)
    session.save(ctx, app_refs=set(app_refs))
    return session


def _new_build_dir(captured: Captured, name: str) -> None:
    """The next build of the same app, in a fresh BUILD_DIR."""
    ctx = captured.ctx
    new = ctx.build_dir.with_name(name)
    new.mkdir()
    (new / "requirements.txt").write_bytes((ctx.build_dir / "requirements.txt").read_bytes())
    ctx.build_dir = new
    captured.stdout.seek(0)
    captured.stdout.truncate()
    captured.stderr.seek(0)
    captured.stderr.truncate()


def test_first_build_is_empty_then_reused_by_rename(tmp_path):
    captured = _ctx(tmp_path)
    first = _build(captured)
    assert first.status == cache.EMPTY
    ctx = captured.ctx
    cached = ctx.cache_dir / cache.TREE
    marker = cached / "lib/python3.13/site-packages/marker.txt"
    # Saved by hard links: the slug keeps the original, the cache costs nothing.
    built = ctx.build_python_home / "lib/python3.13/site-packages/marker.txt"
    assert os.stat(marker).st_ino == os.stat(built).st_ino
    assert (cached / "bin" / "python3").is_symlink()
    meta = json.loads((ctx.cache_dir / cache.METADATA).read_text())
    assert meta["format"] == cache_key.FORMAT
    assert meta["key"]["dependency_files"].keys() == {"requirements.txt"}

    _new_build_dir(captured, "build2")
    session = BuildCache.open(ctx)
    assert session.previous_python_version == "3.13.5"
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.REUSED
    assert "-----> Restoring cache" in captured.stdout.getvalue()
    # Taken by rename: the cache holds neither tree nor metadata until save.
    assert not cached.exists()
    assert not (ctx.cache_dir / cache.METADATA).exists()
    assert (ctx.build_python_home / "lib/python3.13/site-packages/marker.txt").read_text() == "v1"
    assert session.skip_install(ctx, pip)
    assert ctx.report.fields["dependencies_install_skipped"] is True
    session.save(ctx, app_refs=set())
    assert (ctx.cache_dir / cache.METADATA).is_file()
    assert not session.lock.held


def _discarded_by(captured: Captured, change) -> list[str]:
    _build(captured)
    _new_build_dir(captured, "build2")
    change(captured.ctx)
    session = _build(captured)
    assert session.status == cache.DISCARDED
    out = captured.stdout.getvalue()
    assert "-----> Discarding cache since:\n" in out
    for reason in session.reasons:
        assert f"       - {reason}\n" in out
    assert captured.ctx.report.fields["cache_discard_reasons"] == session.reasons
    assert captured.ctx.report.fields["cache_status"] == "discarded"
    return session.reasons


def test_requirements_change_discards(tmp_path):
    def change(ctx):
        (ctx.build_dir / "requirements.txt").write_text("gunicorn==27.0.0\n")

    assert _discarded_by(_ctx(tmp_path), change) == ["The contents of requirements.txt changed"]


def test_pip_version_change_discards(tmp_path):
    def change(ctx):
        ctx.config.values["BUILDPACK_PIP_VERSION"] = "25.0"

    assert _discarded_by(_ctx(tmp_path), change) == [
        "The pip version has changed from 26.3 to 25.0"
    ]


def test_stack_change_discards(tmp_path):
    def change(ctx):
        ctx.stack = "heroku-22"

    assert _discarded_by(_ctx(tmp_path), change) == [
        "The stack has changed from heroku-24 to heroku-22"
    ]


def _write_tree_only(ctx, metadata_text: str | None) -> None:
    _fake_home(ctx.cache_dir / cache.TREE, "stale")
    if metadata_text is not None:
        (ctx.cache_dir / cache.METADATA).write_text(metadata_text)


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (None, "The cache has no metadata"),
        ("{broken", "The cache metadata is unreadable"),
        (json.dumps({"format": 0, "key": {}}), "older format (format 0, now 1)"),
    ],
)
def test_tree_without_usable_metadata_is_discarded(tmp_path, metadata, reason):
    captured = _ctx(tmp_path)
    _write_tree_only(captured.ctx, metadata)
    session = _build(captured)
    assert session.status == cache.DISCARDED
    assert reason in session.reasons[0]
    site = captured.ctx.build_python_home / "lib/python3.13/site-packages"
    assert (site / "marker.txt").read_text() == "v1"  # a fresh tree, not the stale one


def test_metadata_that_is_a_fifo_is_discarded_without_blocking(tmp_path):
    captured = _ctx(tmp_path)
    _write_tree_only(captured.ctx, None)
    fifo = captured.ctx.cache_dir / cache.METADATA
    os.mkfifo(fifo)
    opened: list[BuildCache] = []
    opening = threading.Thread(target=lambda: opened.append(BuildCache.open(captured.ctx)))
    opening.start()
    opening.join(30)
    if opening.is_alive():
        # Blocked opening the fifo: a writer lets it go, so the failure ends.
        with open(fifo, "wb"):
            pass
        opening.join()
    [session] = opened
    session.lock.release()
    assert session.problem == "The cache metadata is unreadable (not a regular file)"


def test_metadata_over_the_bound_is_not_read(tmp_path):
    captured = _ctx(tmp_path)
    _write_tree_only(captured.ctx, " " * (cache._MAX_METADATA_BYTES + 1))
    session = _build(captured)
    assert session.status == cache.DISCARDED
    assert "The cache metadata is unreadable (too large)" in session.reasons[0]


def test_another_buildpacks_cache_is_discarded_but_its_version_is_sticky(tmp_path):
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    _write_tree_only(ctx, None)
    (ctx.cache_dir / ".heroku" / "python-version").write_text("python-3.12.8\n")
    session = BuildCache.open(ctx)
    assert session.previous_python_version == "3.12.8"
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.12.8"))
    assert session.status == cache.DISCARDED
    assert session.reasons == ["The cache was written by another Python buildpack"]
    session.lock.release()


def test_metadata_without_tree_is_dropped(tmp_path):
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    (ctx.cache_dir / ".heroku").mkdir(parents=True)
    (ctx.cache_dir / cache.METADATA).write_text(_meta().to_json())
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.EMPTY
    assert not (ctx.cache_dir / cache.METADATA).exists()
    session.lock.release()


def test_leftovers_of_killed_saves_are_removed(tmp_path):
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    _build(captured)
    heroku = ctx.cache_dir / ".heroku"
    _fake_home(heroku / ".python.saving-999999", "half")
    (heroku / ".python.old-999999").mkdir()
    (heroku / ".cache.json.tmp-9a8b7c6d5e4f").write_text("{")
    _new_build_dir(captured, "build2")
    session = _build(captured)
    assert session.status == cache.REUSED
    assert sorted(p.name for p in heroku.iterdir()) == ["cache.json", "cache.lock", "python"]


def test_restore_repoints_install_records_to_the_new_build_dir(tmp_path):
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    old_build = os.fspath(ctx.build_dir)
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    _fake_home(ctx.build_python_home)
    site = ctx.build_python_home / "lib/python3.13/site-packages"
    (site / "__editable__.app-0.1.pth").write_text(f"{old_build}/src\n")
    session.skip_install(ctx, pip)
    session.save(
        ctx, app_refs={".heroku/python/lib/python3.13/site-packages/__editable__.app-0.1.pth"}
    )

    _new_build_dir(captured, "build2")
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.REUSED
    pth = ctx.build_python_home / "lib/python3.13/site-packages/__editable__.app-0.1.pth"
    assert pth.read_text() == f"{ctx.build_dir}/src\n"
    # The app's own code is installed: pip must run (it may have new packages).
    assert not session.skip_install(ctx, pip)
    session.lock.release()


# --- when the installer is skipped --------------------------------------------------


def _skips_after(tmp_path: Path, change) -> bool:
    captured = _ctx(tmp_path)
    _build(captured)
    return _rebuild(captured, change)


def _rebuild(captured: Captured, change=lambda ctx: None) -> bool:
    """The next build, after ``change``: whether it skips the installer."""
    _new_build_dir(captured, "build2")
    ctx = captured.ctx
    change(ctx)
    ctx.report.fields.pop("dependency_files_checked", None)
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    try:
        return session.skip_install(ctx, pip)
    finally:
        session.lock.release()


def test_unchanged_rebuild_skips(tmp_path):
    assert _skips_after(tmp_path, lambda ctx: None)


def test_changed_pip_setting_runs_the_installer(tmp_path):
    assert not _skips_after(tmp_path, lambda ctx: ctx.config.values.update(PIP_NO_BINARY="x"))


def test_upgrade_setting_always_runs_the_installer(tmp_path):
    captured = _ctx(tmp_path, config={"PIP_UPGRADE": "1"})
    _build(captured)
    _new_build_dir(captured, "build2")
    ctx = captured.ctx
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.REUSED
    assert not session.skip_install(ctx, pip)
    session.lock.release()


def test_an_installer_may_opt_out_of_skipping(tmp_path):
    class NeverSkip:
        SETTINGS_PREFIXES = pip.SETTINGS_PREFIXES
        SKIP_INSTALL_WHEN_UNCHANGED = False
        install_tool = staticmethod(pip.install_tool)
        install_dependencies = staticmethod(pip.install_dependencies)
        install_inputs = staticmethod(pip.install_inputs)

    captured = _ctx(tmp_path)
    _build(captured)
    _new_build_dir(captured, "build2")
    ctx = captured.ctx
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert not session.skip_install(ctx, NeverSkip())
    session.lock.release()


def test_editable_requirement_never_skips(tmp_path):
    captured = _ctx(tmp_path)
    (captured.ctx.build_dir / "requirements.txt").write_text("-e .\n")
    _build(captured)
    _new_build_dir(captured, "build2")
    ctx = captured.ctx
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.REUSED
    assert not session.skip_install(ctx, pip)
    session.lock.release()


def test_pip_config_file_is_an_input(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    conf = home / ".config" / "pip" / "pip.conf"
    conf.write_text("[global]\nconstraint = " + str(tmp_path / "c.txt") + "\n")
    (tmp_path / "c.txt").write_text("six<2\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    captured = _ctx(tmp_path, environ=env)
    first = install_inputs.compute(captured.ctx, "pip", pip, "3.13.5")
    assert str(conf) in first.files and str(tmp_path / "c.txt") in first.files
    (tmp_path / "c.txt").write_text("six<1.17\n")
    assert install_inputs.compute(captured.ctx, "pip", pip, "3.13.5").digest != first.digest


# --- filesystems, the lock ---------------------------------------------------------


def _other_filesystem(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm)")
    return shm


def test_cache_on_another_filesystem_is_copied_both_ways(tmp_path):
    import tempfile

    shm = _other_filesystem(tmp_path)
    with tempfile.TemporaryDirectory(dir=shm) as other:
        captured = _ctx(tmp_path)
        ctx = captured.ctx
        ctx.cache_dir = Path(other) / "cache"
        _build(captured)
        assert ctx.report.fields["cache_files_copied"] > 0
        assert ctx.report.fields["cache_files_linked"] == 0
        _new_build_dir(captured, "build2")
        session = BuildCache.open(ctx)
        session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
        assert session.status == cache.REUSED
        # Copied, so the cache is still whole (and still described) meanwhile.
        assert (ctx.cache_dir / cache.TREE / "bin" / "python").is_file()
        assert (ctx.cache_dir / cache.METADATA).is_file()
        assert (ctx.build_python_home / "bin" / "python3").is_symlink()
        session.lock.release()


def test_a_busy_cache_is_waited_for_then_bypassed(tmp_path):
    captured = _ctx(tmp_path, config={"BUILDPACK_CACHE_LOCK_TIMEOUT": "0.3"})
    ctx = captured.ctx
    other = FileLock(ctx.cache_dir / cache.LOCK)
    assert other.acquire(0)
    try:
        session = BuildCache.open(ctx)
        assert session.status == cache.BYPASSED
        assert session.previous_python_version is None
        session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
        _fake_home(ctx.build_python_home)
        session.save(ctx, app_refs=set())
    finally:
        other.release()
    assert "Waiting for another build using this cache" in captured.stdout.getvalue()
    assert "Building without the build cache" in captured.stderr.getvalue()
    assert ctx.report.fields["cache_status"] == "bypassed"
    # Neither read nor written.
    assert not (ctx.cache_dir / cache.TREE).exists()


def test_the_lock_is_free_after_save_and_taken_by_the_next_build(tmp_path):
    captured = _ctx(tmp_path)
    _build(captured)
    probe = FileLock(captured.ctx.cache_dir / cache.LOCK)
    assert probe.acquire(0)
    probe.release()


# --- pip ------------------------------------------------------------------------------


def test_installed_pip_version(tmp_path):
    site = tmp_path / "lib" / "python3.13" / "site-packages"
    assert pip.installed_pip_version(tmp_path) is None
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__init__.py").write_text("")
    (site / "pip-26.3.dist-info").mkdir()
    assert pip.installed_pip_version(tmp_path) is None  # no RECORD: half installed
    (site / "pip-26.3.dist-info" / "RECORD").write_text("")
    assert pip.installed_pip_version(tmp_path) == "26.3"
    (site / "pip-25.0.dist-info").mkdir()
    assert pip.installed_pip_version(tmp_path) is None  # two: trust neither


# --- the pip seed -----------------------------------------------------------------------


def _pip_version(home: Path) -> str:
    found = pip.installed_pip_version(home)
    assert found is not None
    return found


def _empty_home(tmp_path: Path, like: Path) -> Path:
    home = tmp_path / "fresh"
    site = next(like.glob("lib/python3*/site-packages"))
    (home / site.relative_to(like)).mkdir(parents=True)
    (home / "bin").mkdir()
    return home


@pytest.fixture
def pip_lock(tmp_path: Path, app_python_home: Path) -> Path:
    """A lock of the pip the test venv has: the one this Python bundles."""
    version = _pip_version(app_python_home)
    [wheel] = Path(sysconfig.get_path("stdlib")).glob(f"ensurepip/_bundled/pip-{version}-*.whl")
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    write_pip_lock(lock_dir, version, wheel)
    return lock_dir


def test_pip_seed_round_trip_is_exactly_pips_files(tmp_path, app_python_home, pip_lock):
    version = _pip_version(app_python_home)
    cache_dir = tmp_path / "cache"
    # The venv's scripts run the venv's python: it is the "app" home here.
    assert pip_seed.save(cache_dir, app_python_home, app_python_home, version)
    home = _empty_home(tmp_path, app_python_home)
    assert pip_seed.restore(cache_dir, home, app_python_home, version, lock_dir=pip_lock)
    assert pip.installed_pip_version(home) == version
    site = next(home.glob("lib/python3*/site-packages"))
    original = next(app_python_home.glob("lib/python3*/site-packages"))
    for path in (site / "pip").rglob("*.py"):
        assert path.read_bytes() == (original / path.relative_to(site)).read_bytes()
    assert os.access(home / "bin" / "pip", os.X_OK)
    # Its RECORD is written anew: every file it lists is one restored.
    record = next(site.glob("pip-*.dist-info")) / "RECORD"
    listed = {row.split(",")[0] for row in record.read_text().splitlines()}
    assert all((site / path).exists() for path in listed)
    assert not list((site / "pip").rglob("*.pyc"))  # bytecode is never taken from the seed
    # A second restore into a home that has pip does nothing and keeps the seed.
    assert not pip_seed.restore(cache_dir, home, app_python_home, version, lock_dir=pip_lock)
    assert pip_seed.seed_dir(cache_dir, version, site.parent.name, app_python_home).is_dir()


def _tamper_file(path: Path, extra: str) -> None:
    text = path.read_text()
    path.unlink()  # the seed may share the file with the venv: replace, never edit
    path.write_text(text + extra)


@pytest.mark.parametrize(
    "tamper",
    ["module", "module-and-record", "launcher", "added-module", "planted-bytecode-only"],
)
def test_a_tampered_pip_seed_is_dropped(tmp_path, app_python_home, pip_lock, tamper):
    """The seed's own RECORD proves nothing (whoever changed a file could
    change it too): the lock, outside CACHE_DIR, decides."""
    version = _pip_version(app_python_home)
    cache_dir = tmp_path / "cache"
    assert pip_seed.save(cache_dir, app_python_home, app_python_home, version)
    site = next(app_python_home.glob("lib/python3*/site-packages"))
    seed = pip_seed.seed_dir(cache_dir, version, site.parent.name, app_python_home)
    files = seed / "files"
    seed_site = files / site.relative_to(app_python_home)
    init = seed_site / "pip" / "__init__.py"
    if tamper in ("module", "module-and-record"):
        _tamper_file(init, "\nimport os\n")
    if tamper == "module-and-record":
        record = next(seed_site.glob("pip-*.dist-info")) / "RECORD"
        rows = record.read_text().splitlines()
        fixed = wheel_install.record_hash(init.read_bytes())
        size = init.stat().st_size
        _tamper_file(record, "")
        record.write_text(
            "\n".join(
                f"pip/__init__.py,{fixed},{size}" if r.startswith("pip/__init__.py,") else r
                for r in rows
            )
            + "\n"
        )
    if tamper == "launcher":
        _tamper_file(files / "bin" / "pip", "import os; os.system('id')\n")
    if tamper == "added-module":
        (seed_site / "sitecustomize.py").write_text("import os\n")
    if tamper == "planted-bytecode-only":
        # Bytecode is never restored, so a planted .pyc cannot run: the seed is usable.
        (seed_site / "pip" / "__pycache__").mkdir(exist_ok=True)
        (seed_site / "pip" / "__pycache__" / "evil.cpython-311.pyc").write_bytes(b"x")
    home = _empty_home(tmp_path, app_python_home)
    restored = pip_seed.restore(cache_dir, home, app_python_home, version, lock_dir=pip_lock)
    if tamper == "planted-bytecode-only":
        assert restored and not list(home.rglob("*.pyc"))
        return
    assert not restored
    assert not seed.exists()
    assert not list(home.rglob("*.py")) and not list((home / "bin").iterdir())


def test_a_pip_seed_the_lock_cannot_vouch_for_is_not_used(tmp_path, app_python_home):
    version = _pip_version(app_python_home)
    cache_dir = tmp_path / "cache"
    assert pip_seed.save(cache_dir, app_python_home, app_python_home, version)
    home = _empty_home(tmp_path, app_python_home)
    # The buildpack's own lock has pip 26.x, not the venv's pip.
    assert not pip_seed.restore(cache_dir, home, app_python_home, version)


def test_no_seed_from_scripts_that_run_another_python(tmp_path, app_python_home):
    version = _pip_version(app_python_home)
    cache_dir = tmp_path / "cache"
    # The venv's scripts name the venv, not this home: not a copy to reuse.
    assert not pip_seed.save(cache_dir, app_python_home, Path("/app/.heroku/python"), version)
    assert not list((cache_dir / pip_seed.SEEDS_DIR).iterdir())


# --- caches that cannot be used ---------------------------------------------------------


def test_an_unusable_cache_dir_is_bypassed_not_fatal(tmp_path):
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    ctx.cache_dir.mkdir()
    (ctx.cache_dir / ".heroku").write_text("not a directory")
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    _fake_home(ctx.build_python_home)
    session.save(ctx, app_refs=set())
    assert session.status == cache.BYPASSED
    assert "cannot lock the cache" in ctx.report.fields["cache_bypass_reason"]
    assert "Building without the build cache" in captured.stderr.getvalue()


def test_a_restore_that_fails_midway_builds_without_the_cache(tmp_path, monkeypatch):
    # A fake fault: running out of space while copying a cache from another
    # filesystem cannot be staged without mounting a small filesystem.
    captured = _ctx(tmp_path)
    ctx = captured.ctx
    _build(captured)
    _new_build_dir(captured, "build2")

    def no_space(src: Path, dst: Path) -> str:
        (dst / "bin").mkdir(parents=True)  # a half-made copy
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(cache.cache_tree, "same_filesystem", lambda a, b: False)
    monkeypatch.setattr(cache.cache_tree, "move_tree", no_space)
    session = BuildCache.open(ctx)
    session.restore(ctx, cache_key.build_key(ctx, "pip", pip, "3.13.5"))
    assert session.status == cache.BYPASSED
    assert not ctx.build_python_home.exists()  # no half-restored runtime left
    assert "No space left on device" in captured.stderr.getvalue()
    assert not session.lock.held
    # The cache itself was not touched: it stays whole and described.
    assert (ctx.cache_dir / cache.METADATA).is_file()
    assert (ctx.cache_dir / cache.TREE / "bin" / "python").is_file()


# --- the cached build's verdict on pip's requirements ----------------------------


def test_unchanged_requirements_are_not_parsed_again(tmp_path, monkeypatch):
    captured = _ctx(tmp_path)
    _build(captured)
    assert captured.ctx.report.fields["dependency_files_checked"] == "parsed"

    def parse(spec: str) -> str | None:
        raise AssertionError(f"parsed {spec!r} again")

    # The files are byte for byte those the cached build found plain.
    monkeypatch.setattr(requirements_files, "named_requirement", parse)
    assert _rebuild(captured)
    assert captured.ctx.report.fields["dependency_files_checked"] == "cache"


def test_requirements_are_parsed_again_when_another_input_changed(tmp_path):
    captured = _ctx(tmp_path)
    _build(captured)
    # The same files, a new pip setting: the cached tree is kept, but the
    # verdict belongs to other inputs.
    assert not _rebuild(captured, lambda ctx: ctx.config.values.update(PIP_NO_BINARY="x"))
    assert captured.ctx.report.fields["dependency_files_checked"] == "parsed"


def test_another_buildpack_versions_verdict_is_not_reused(tmp_path):
    captured = _ctx(tmp_path)
    _build(captured)
    metadata = captured.ctx.cache_dir / cache.METADATA
    data = json.loads(metadata.read_text())
    data["buildpack_version"] = "0.0.1-elsewhere"
    metadata.write_text(json.dumps(data))
    assert _rebuild(captured)  # the same inputs: still skipped, once parsed
    assert captured.ctx.report.fields["dependency_files_checked"] == "parsed"
