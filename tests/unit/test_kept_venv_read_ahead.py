"""kept_venv.read_ahead: a rebuild's kept Poetry venv, read in a child from the start.

A fork happens only in a process running no other thread, unlike a test
worker: each case runs in a fresh interpreter (tests/support/threads.py).
"""

from __future__ import annotations

import hashlib
import textwrap

from buildpack.package_managers import kept_venv, tools
from tests.support import threads
from tests.unit.ctx_factory import make_ctx

CONTENT = b"print('poetry')\n"

SETUP = """
import os, sys
from pathlib import Path
from buildpack.package_managers import kept_venv, tools
from buildpack.selfdeps import tree_scan
from tests.unit.ctx_factory import make_ctx

ctx = make_ctx(Path(sys.argv[1])).ctx

def kept_venv_dir(minor):
    tv = tools.requested_version(ctx, "poetry")
    final = tools.venv_tool_dir_for(ctx, tv, f"python{minor}")
    (final / "venv" / "bin").mkdir(parents=True)
    (final / "venv" / "bin" / "poetry").write_bytes(b"print('poetry')\\n")
    (final / kept_venv.MARK).write_text("poetry-2.0-py3-none-any.whl\\n")
    return final
"""


def alone(tmp_path, body: str) -> list[str]:
    code = SETUP + textwrap.dedent(body)
    return threads.printed_alone(code, str(tmp_path)).splitlines()


def test_the_venv_of_the_previous_runtime_is_read_in_a_child(tmp_path):
    printed = alone(
        tmp_path,
        """
        final = kept_venv_dir("3.13")
        kept_venv.read_ahead(ctx, "poetry", "3.13.5")
        begun = ctx.read_ahead
        print(type(begun).__name__, begun.root == final)
        print(kept_venv.take_read_ahead(ctx, final) is begun, ctx.read_ahead)
        print(dict((e.rel, e.sha256) for e in begun.entries())["venv/bin/poetry"])
        ctx.stop_deferred()  # however the build ends, the child is reaped
        print(begun.child.pid)
        """,
    )
    digest = hashlib.sha256(CONTENT).hexdigest()
    assert printed == ["ChildScan True", "True None", digest, "None"]


def test_a_read_ahead_of_another_venv_is_stopped_unread(tmp_path):
    printed = alone(
        tmp_path,
        """
        kept_venv_dir("3.12")
        kept_venv.read_ahead(ctx, "poetry", "3.12.9")
        begun = ctx.read_ahead
        pid = begun.child.pid
        other = kept_venv_dir("3.13")  # the app moved to 3.13
        print(kept_venv.take_read_ahead(ctx, other), ctx.read_ahead, begun.child.pid)
        # Reaped: no process of that number is left, not even a zombie.
        print(pid is not None, os.path.exists(f"/proc/{pid}"))
        """,
    )
    assert printed == ["None None None", "True False"]


def test_nothing_is_read_without_a_venv_this_buildpack_marked(tmp_path):
    printed = alone(
        tmp_path,
        """
        kept_venv.read_ahead(ctx, "poetry", None)  # no previous build
        print(ctx.read_ahead)
        final = kept_venv_dir("3.13")
        (final / kept_venv.MARK).unlink()  # pip made it: nothing can check it
        kept_venv.read_ahead(ctx, "poetry", "3.13.5")
        print(ctx.read_ahead)
        elsewhere = final.with_name("elsewhere")
        final.rename(elsewhere)
        (elsewhere / kept_venv.MARK).write_text("")
        final.symlink_to(elsewhere)  # a link is never followed
        kept_venv.read_ahead(ctx, "poetry", "3.13.5")
        print(ctx.read_ahead, ctx.deferred)
        """,
    )
    assert printed == ["None", "None", "None []"]


def test_nothing_is_read_ahead_beside_another_thread(tmp_path):
    # A thread would take turns with the build's own work: no gain.
    c = make_ctx(tmp_path)
    tv = tools.requested_version(c.ctx, "poetry")
    final = tools.venv_tool_dir_for(c.ctx, tv, "python3.13")
    (final / "venv").mkdir(parents=True)
    (final / kept_venv.MARK).write_text("")
    with threads.another_thread():
        kept_venv.read_ahead(c.ctx, "poetry", "3.13.5")
    assert c.ctx.read_ahead is None and c.ctx.deferred == []


def test_a_tool_version_it_cannot_use_is_left_to_the_install_step(tmp_path):
    c = make_ctx(tmp_path, config={"BUILDPACK_POETRY_VERSION": "not a version"})
    kept_venv.read_ahead(c.ctx, "poetry", "3.13.5")  # raises nothing, says nothing
    assert c.ctx.read_ahead is None and c.stdout.getvalue() == ""
