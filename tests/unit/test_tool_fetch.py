"""Fetching exact files (a tool lock's) and the background fetch of the
package manager's files (a child process), against a real loopback index."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from buildpack.core import proc
from buildpack.package_managers import tool_fetch
from buildpack.selfdeps.package_index import (
    ExactFile,
    IndexSettings,
    IndexUnavailable,
    Pin,
    fetch_exact,
    find_exact,
)
from tests.support.fault_server import Fault, FaultServer
from tests.unit.ctx_factory import make_ctx
from tests.unit.wheel_factory import Index


def _exact(wheel: Path, project: str) -> ExactFile:
    return ExactFile(project, wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest())


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "dest"
    path.mkdir()
    return path


# --- find_exact and fetch_exact ----------------------------------------------------------


def test_exact_files_are_found_by_name_and_checked_against_the_given_sha256(
    index: Index, dest: Path
) -> None:
    a, b = index.add_wheel("alpha", "1.0"), index.add_wheel("beta", "2.0")
    index.publish("alpha", [index.add_wheel("alpha", "0.9"), a])
    index.publish("beta", [b])
    wanted = [_exact(a, "alpha"), _exact(b, "beta")]
    fetched = fetch_exact(index.settings, wanted, dest, workers=2)
    assert fetched == [dest / a.name, dest / b.name]
    assert fetched[0].read_bytes() == a.read_bytes()


def test_a_page_without_hashes_is_fine_when_the_lock_has_them(index: Index, dest: Path) -> None:
    wheel = index.add_wheel("alpha", "1.0")
    index.publish("alpha", [wheel])
    page = index.root / "simple" / "alpha" / "index.html"
    page.write_text(page.read_text().split("#sha256=")[0] + f'">{wheel.name}</a>\n')
    [fetched] = fetch_exact(index.settings, [_exact(wheel, "alpha")], dest, workers=2)
    assert fetched.read_bytes() == wheel.read_bytes()


def test_a_page_whose_sha256_is_not_the_locks_is_refused_before_downloading(
    index: Index, dest: Path
) -> None:
    wheel = index.add_wheel("alpha", "1.0")
    index.publish("alpha", [wheel], sha={wheel.name: "b" * 64})
    with pytest.raises(IndexUnavailable, match="is not the lock's"):
        find_exact(index.settings, _exact(wheel, "alpha"))


def test_a_file_with_other_bytes_is_refused_and_not_kept(index: Index, dest: Path) -> None:
    wheel = index.add_wheel("alpha", "1.0")
    index.publish("alpha", [wheel])
    wrong = ExactFile("alpha", wheel.name, "c" * 64)
    index.publish("alpha", [wheel], sha={wheel.name: "c" * 64})
    with pytest.raises(IndexUnavailable, match="does not match the sha256 it should have"):
        fetch_exact(index.settings, [wrong], dest, workers=2)
    assert list(dest.iterdir()) == []


def test_a_file_the_index_lacks_is_said(index: Index, dest: Path) -> None:
    index.publish("alpha", [index.add_wheel("alpha", "1.0")])
    missing = ExactFile("alpha", "alpha-1.1-py3-none-any.whl", "d" * 64)
    with pytest.raises(IndexUnavailable, match=r"the index has no alpha-1\.1-py3-none-any\.whl"):
        fetch_exact(index.settings, [missing], dest, workers=2)


# --- the background fetch ------------------------------------------------------------------


def test_the_started_fetch_is_taken_when_the_plan_matches(tmp_path: Path, index: Index) -> None:
    wheel = index.add_wheel("alpha", "1.0")
    index.publish("alpha", [wheel])
    c = make_ctx(tmp_path)
    plan = tool_fetch.pinned(index.settings, Pin("alpha", "1.0"), "3.11")
    tool_fetch.start(c.ctx, plan)
    started = c.ctx.tool_fetch
    assert started is not None
    with tool_fetch.fetched(c.ctx, plan) as [path]:
        assert path.parent == started.dir and path.read_bytes() == wheel.read_bytes()
    assert not started.dir.exists()  # removed after use
    assert c.ctx.tool_fetch is None
    fields = c.ctx.report.fields
    assert fields["package_manager_fetch_overlapped"] is True
    assert fields["package_manager_fetch_duration"] >= 0


def test_another_plan_is_fetched_there_and_then(tmp_path: Path, index: Index) -> None:
    index.publish("alpha", [index.add_wheel("alpha", "1.0")])
    index.publish("beta", [index.add_wheel("beta", "2.0")])
    c = make_ctx(tmp_path)
    tool_fetch.start(c.ctx, tool_fetch.pinned(index.settings, Pin("alpha", "1.0"), "3.11"))
    other = tool_fetch.pinned(index.settings, Pin("beta", "2.0"), "3.11")
    with tool_fetch.fetched(c.ctx, other) as [path]:
        assert path.name.startswith("beta-2.0-")
    assert c.ctx.report.fields["package_manager_fetch_overlapped"] is False
    started = c.ctx.tool_fetch
    assert started is not None  # still the build's to close
    c.ctx.close_tool_fetch()
    assert not started.dir.exists()


def test_a_failed_fetch_is_raised_where_the_files_are_taken(tmp_path: Path, index: Index) -> None:
    c = make_ctx(tmp_path)
    plan = tool_fetch.pinned(index.settings, Pin("missing", "1.0"), "3.11")
    tool_fetch.start(c.ctx, plan)
    with pytest.raises(IndexUnavailable, match="404"), tool_fetch.fetched(c.ctx, plan):
        pass
    assert c.log == ""  # the background says nothing; the install step does


def test_closing_a_fetch_stuck_on_a_stalled_index_stops_it_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    with FaultServer(tmp_path) as stalled:
        stalled.add("/simple/alpha/", Fault("stall", times=None))
        c = make_ctx(tmp_path)
        settings = IndexSettings(stalled.url + "/simple")
        tool_fetch.start(c.ctx, tool_fetch.pinned(settings, Pin("alpha", "1.0"), "3.11"))
        fetch = c.ctx.tool_fetch
        assert fetch is not None
        while not stalled.hits["/simple/alpha/"]:
            time.sleep(0.01)
        child = fetch._child
        assert child is not None
        # The fetch takes what CPU the build leaves.
        stat = Path(f"/proc/{child._proc.pid}/stat").read_text()
        assert int(stat[stat.rfind(")") + 2 :].split()[16]) == min(19, os.nice(0) + 19)
        began = time.monotonic()
        c.ctx.close_tool_fetch()
        assert time.monotonic() - began < proc.STOP_GRACE_SECONDS
        assert child._proc.poll() is not None
        assert not fetch.dir.exists()


def test_a_helpers_fetch_is_not_reported_as_the_package_managers(
    tmp_path: Path, index: Index
) -> None:
    """setuptools for a pip app: fetched the same way, said nowhere."""
    index.publish("alpha", [index.add_wheel("alpha", "1.0")])
    c = make_ctx(tmp_path)
    plan = tool_fetch.pinned(index.settings, Pin("alpha", "1.0"), "3.11")
    with tool_fetch.fetched(c.ctx, plan, report=False) as [path]:
        assert path.is_file()
    assert not [k for k in c.ctx.report.fields if k.startswith("package_manager_fetch")]
