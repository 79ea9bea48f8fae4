"""Poetry's venv, kept in CACHE_DIR and run again by a later build only once checked in place.

    CACHE_DIR/.heroku/tools/poetry-2.5.1-python3.13-amd64/
        .from-lock                      the locked wheels it was made from, one a line
        bin/poetry -> ../venv/bin/poetry
        venv/pyvenv.cfg, venv/lib64 -> lib
        venv/bin/python -> /app/.heroku/python/bin/python (python3, python3.13 -> python)
        venv/bin/poetry, ...            launchers and scripts of the locked wheels
        venv/lib/python3.13/site-packages/...   the locked wheels' files

Earlier builds' hooks and dependencies ran as root and could have changed
any of it. So before a build runs it, every part must be what the buildpack
makes from the lock, judged by what the buildpack holds outside CACHE_DIR:

- each locked wheel kept in the wheel store is the file tool-locks.json
  names, by sha256 (tool_wheels);
- every file in site-packages is a member of one of them, byte for byte, as
  the wheel's RECORD says, or an installer's record in a ``.dist-info``;
  nothing is missing; nothing is a link (verified_tree);
- bin/ holds exactly the launchers and scripts the installer writes for
  those wheels (wheel_install.scripts_written), and pyvenv.cfg and the
  links are exactly the ones ``make_bare`` writes;
- bytecode is never trusted: Poetry writes ``__pycache__`` when it runs
  (the build that ran it removes that: drop_bytecode), and every ``.pyc``
  there (a module's, by its name) is removed before Poetry runs again (it
  compiles what it imports); any other ``.pyc`` fails (Python imports a
  lone one).

Which of a package's locked wheels fits this machine is packaging's answer
(its tags), and importing packaging costs an unchanged rebuild a sixth of
its time. So ``.from-lock`` names the files the venv was made from, and a
later build takes them when they are exactly one locked wheel of each
package of the set (tool_fetch.recalled); else packaging chooses again.
Rewriting the names can only pick another of the files the buildpack
locked for this tool and Python, each still checked by its sha256: at
worst a wheel for another machine, which fails to load, never code the
lock does not name.

Anything else is said under "Not trusting parts of the build cache" (the
report's ``cache_untrusted``) and the venv is made again from the checked
wheels (tools.install_venv_tool). A venv pip made (an index without
sha256s, a version the lock lacks) has no ``.from-lock``: nothing could
check it, so it is made again without a word of distrust.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack.cache import cache_guard
from buildpack.core import errors, fs, safe_fs, tool_names
from buildpack.core.context import BuildContext, Deferred
from buildpack.package_managers import venv_check
from buildpack.selfdeps import tree_scan, verified_tree

if TYPE_CHECKING:
    from buildpack.package_managers.tools import ToolVersion

MARK = ".from-lock"
# Sixty-odd file names; far more is not a mark the buildpack wrote.
_MARK_MAX_BYTES = 64 * 1024
# A module's bytecode in its __pycache__: NAME.TAG.pyc or NAME.TAG.opt-N.pyc.
_BYTECODE = re.compile(r"(?P<module>[^.]+)\.[^.]+(?:\.opt-[12])?\.pyc")


def make_bare(venv: Path, app_python: Path, minor: str) -> None:
    """A venv of ``app_python`` (Python ``minor``, "3.13") without pip, as
    ``python -m venv --without-pip`` makes one but with only what Python
    reads, and nothing naming where it was made: checkable byte for byte."""
    made, links = _bare_parts(app_python, minor)
    (venv / "lib" / f"python{minor}" / "site-packages").mkdir(parents=True)
    (venv / "bin").mkdir()
    for rel, target in links.items():
        os.symlink(target, venv / rel)
    for rel, data in made.items():
        (venv / rel).write_bytes(data)


def _bare_parts(app_python: Path, minor: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """(file -> bytes, link -> target) of a bare venv, relative to it."""
    cfg = f"home = {app_python.parent}\ninclude-system-site-packages = false\n"
    links = {
        "bin/python": str(app_python),
        "bin/python3": "python",
        f"bin/python{minor}": "python",
        "lib64": "lib",
    }
    return {"pyvenv.cfg": cfg.encode()}, links


def reuse(ctx: BuildContext, tv: ToolVersion, final: Path, *, executable: str) -> bool:
    """Whether the kept tool directory ``final`` may run, checked as above
    (its bytecode then removed). When it may not, it is removed, the log
    saying why unless pip made it; the caller makes it again."""
    from buildpack.package_managers import locked_venv, tool_lock, tool_wheels, tools
    from buildpack.selfdeps import package_index, wheel_install

    # A link or a file at ``final`` is not read: problem() says what it is.
    is_dir = safe_fs.describe(final) is None
    if is_dir and not os.path.lexists(final / MARK):
        fs.remove_tree(final)  # pip made it: nothing can check it
        return False
    minor = tools.runtime_tag(ctx).removeprefix("python")
    mark = _read_mark(final) if is_dir else None
    # Reading and hashing the venv's files, the check's longest part, goes
    # on in a child or a thread while the lock and the wheels are read; in a
    # rebuild, since the build began (see read_ahead).
    ahead = take_read_ahead(ctx, final if is_dir else None)
    ctx.report.set(f"{tv.tool}_venv_read_ahead", ahead is not None)
    if ahead is not None:
        scanning: contextlib.AbstractContextManager[tree_scan.Begun] | None = tree_scan.taken(ahead)
    else:
        scanning = tree_scan.started(final) if is_dir else None
    why, lost = None, False  # lost: made again without a word of distrust
    with scanning or contextlib.nullcontext() as scanned:
        if scanned is not None:
            ctx.report.set(f"{tv.tool}_venv_scan", scanned.how)
        try:
            index = tools.app_index(ctx)
            recall = _names(mark)
            plan = locked_venv.plan(ctx, tv.tool, tv.version, index, minor, recall=recall)
            if tool_wheels.present(ctx, plan).files:
                lost = True  # the store lost wheels: the venv is made again from the lock
            else:
                with tool_wheels.fetched(ctx, plan) as (wheels, _):
                    why = problem(
                        final,
                        wheels,
                        app_python=ctx.python,
                        minor=minor,
                        executable=executable,
                        mark=mark,
                        scanned=scanned,
                    )
        except (tool_lock.LockUnusable, package_index.IndexUnavailable, wheel_install.WheelError):
            lost = True  # the install that follows says why it cannot use the lock
    if lost:
        fs.remove_tree(final)
        return False
    if why is not None:
        shown = final.relative_to(ctx.cache_dir)
        cache_guard.say_untrusted(
            ctx.out,
            ctx.report,
            [f"CACHE_DIR/{shown} was not run ({why}): removed, installed again"],
        )
        fs.remove_tree(final)
        return False
    expected = mark_bytes(entry[1] for entry in plan.files)
    if mark != expected:  # an older buildpack's empty mark: named for next time
        with contextlib.suppress(OSError):  # only the next build's speed is at stake
            safe_fs.write_atomic(final / MARK, expected, durable=False)
    name = tool_names.display_name(tv.tool)
    ctx.out.step(f"Using cached {name} {tv.version} (checked against the buildpack's lock)")
    return True


def read_ahead(ctx: BuildContext, tool: str, previous_python: str | None) -> None:
    """Begin reading ``tool``'s kept venv for the runtime of the previous
    build (``previous_python``, its full version), in a child process, so
    that its check (``reuse``) finds the files hashed.

    Until the install step, a rebuild reads the mirror's manifest, restores
    the cache and links the runtime: about as long as the venv's hashing
    (58 MB for Poetry), which otherwise comes first in that step. Only in a
    child, where a fork is safe: a thread would take turns with that work.
    Nothing begins without a venv this buildpack made; the build stops the
    child however it ends, and ``reuse`` does when it is for another venv.
    """
    from buildpack.package_managers import tools

    if previous_python is None:
        return
    try:
        tv = tools.requested_version(ctx, tool)
    except errors.BuildError:
        return  # the install step says so, in its place in the log
    minor = ".".join(previous_python.split(".")[:2])
    final = tools.venv_tool_dir_for(ctx, tv, f"python{minor}")
    if safe_fs.describe(final) is not None or not os.path.lexists(final / MARK):
        return
    begun = tree_scan.in_child(final)
    if begun is not None:
        ctx.read_ahead = begun
        ctx.deferred.append(Deferred(finish=begun.stop, stop=begun.stop))


def take_read_ahead(ctx: BuildContext, final: Path | None) -> tree_scan.Begun | None:
    """The scan ``read_ahead`` began, if it is of ``final``; one of another
    directory (the runtime changed) is stopped, unread."""
    ahead, ctx.read_ahead = ctx.read_ahead, None
    if ahead is not None and ahead.root != final:
        ahead.stop()
        return None
    return ahead


def problem(
    final: Path,
    wheels: list[Path],
    *,
    app_python: Path,
    minor: str,
    executable: str,
    mark: bytes | None,
    scanned: tree_scan.Begun | None = None,
) -> str | None:
    """Why ``final`` is not exactly the venv made from ``wheels`` (each
    checked against the lock) for ``app_python``, or None, once its
    bytecode is removed (``mark``: what ``.from-lock`` held when read, None
    when it could not be; ``scanned``: its listing, begun earlier). Raises
    WheelError for a wheel the buildpack would not install."""
    from buildpack.selfdeps import wheel_install

    site = f"venv/lib/python{minor}/site-packages"
    bare_made, bare_links = _bare_parts(app_python, minor)
    made = {f"venv/{rel}": data for rel, data in bare_made.items()}
    links = {f"venv/{rel}": target for rel, target in bare_links.items()}
    links[f"bin/{executable}"] = f"../venv/bin/{executable}"
    files: dict[str, str] = {}
    bytecode: set[str] = set()

    def accept(rel: str) -> bool:
        inner = rel.removeprefix(site + "/")
        if inner == rel:
            return False
        parts = rel.split("/")
        if len(parts) < 2 or parts[-2] != "__pycache__":
            return verified_tree.installer_metadata(inner)
        found = _BYTECODE.fullmatch(parts[-1])
        if found is None or "/".join([*parts[:-2], f"{found['module']}.py"]) not in files:
            raise verified_tree.Untrusted(f"{rel} is bytecode of no module in the locked wheels")
        bytecode.add(rel)
        return True

    try:
        if safe_fs.describe(final) is not None:
            return "it is not a directory of the buildpack's"
        # Its names chose the wheels (or packaging did); a mark that could not
        # be read as a small file is a difference.
        made[MARK] = mark if mark is not None else mark_bytes(wheel.name for wheel in wheels)
        python = str(final / "venv" / "bin" / "python")
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:  # opened once, for both
                for placed, sha256 in verified_tree.members(wheel, zf):
                    if not placed.startswith("bin/"):  # its scripts: below, as written
                        files[f"{site}/{placed}"] = sha256
                for name, data in wheel_install.scripts_written(wheel, python, zf).items():
                    made[f"venv/bin/{name}"] = data
        verified_tree.check_tree(
            final, files, made=made, links=links, accept=accept, scanned=scanned
        )
        if not venv_check.is_executable(final / "venv" / "bin" / executable):
            return f"venv/bin/{executable} is not executable"
        # The files only: removing a directory costs far more here, and an
        # empty __pycache__ holds nothing to run.
        for rel in sorted(bytecode):
            os.unlink(final / rel)
    except verified_tree.Untrusted as exc:
        return str(exc)
    except verified_tree.CHECK_ERRORS as exc:
        return f"it could not be checked ({exc})"
    return None


def drop_bytecode(final: Path, minor: str) -> int:
    """Remove the module bytecode Poetry wrote into its kept venv ``final``
    by running; returns how many files. The next build would remove it
    anyway before trusting the venv (above); done here, where Poetry ran,
    that build checks a smaller tree. Links are neither followed nor removed,
    and anything else in a ``__pycache__`` is left for that check."""
    site = final / "venv" / "lib" / f"python{minor}" / "site-packages"
    if not safe_fs.resolves_inside(final, site):
        return 0  # a link on the way: the next build's check says so
    removed = 0
    # os.walk lists a link to a directory but does not go into it.
    for directory, _, names in os.walk(site):
        if os.path.basename(directory) != "__pycache__":
            continue
        for name in names:
            path = os.path.join(directory, name)
            with contextlib.suppress(FileNotFoundError):
                if _BYTECODE.fullmatch(name) and stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed += 1
        with contextlib.suppress(OSError):  # not empty: the check decides
            os.rmdir(directory)
    return removed


def mark_bytes(names: Iterable[str]) -> bytes:
    """What ``.from-lock`` holds: the locked wheel files, one a line."""
    return "".join(f"{name}\n" for name in names).encode()


def write_mark(tool_dir: Path, names: Iterable[str]) -> None:
    (tool_dir / MARK).write_bytes(mark_bytes(names))


def _read_mark(final: Path) -> bytes | None:
    """``.from-lock``'s bytes, or None when it is no small regular file (a
    link is not followed)."""
    try:
        return safe_fs.read_small(final / MARK, _MARK_MAX_BYTES)
    except OSError:
        return None


def _names(mark: bytes | None) -> list[str] | None:
    if not mark:
        return None
    try:
        return mark.decode("ascii").splitlines()
    except UnicodeDecodeError:
        return None
