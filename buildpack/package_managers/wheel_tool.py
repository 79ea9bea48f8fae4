"""uv in CACHE_DIR: its unpacked wheel, run by a later build only once checked.

    CACHE_DIR/.heroku/tools/uv-0.13.9-amd64/
        .wheels/uv-0.13.9-py3-none-manylinux_....whl   the wheel it came from
        bin/uv, bin/uvx, uv/, uv-0.13.9.dist-info/      unpacked from it

An earlier build's hook could have replaced the binary. Before a build runs
the cached copy, the kept wheel must be one tool-locks.json lists for this
uv version (its sha256), and every unpacked file exactly that wheel's, as
its RECORD says (see selfdeps.verified_tree): about 50 ms, a seventh of
unpacking it again. Anything else is removed, saying why, and installed
again. A uv installed by pip (an index without sha256s, or a version the
lock lacks) cannot be checked, so no later build reuses it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from buildpack.cache import cache_guard
from buildpack.core import errors, fs, safe_fs, tool_names
from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_lock, tool_sources, tools, venv_check
from buildpack.selfdeps import package_index, verified_tree, wheel_install, wheel_lock


def install(ctx: BuildContext, tv: tools.ToolVersion, *, executable: str) -> Path:
    """uv ``tv`` in the build cache, checked or installed; returns its
    directory, whose bin/ holds ``executable``."""
    final = tools.wheel_tool_dir(ctx, tv)
    if os.path.lexists(final):
        problem = cached_problem(ctx, final, tv)
        if problem is None and venv_check.is_executable(final / "bin" / executable):
            tool_sources.set_install_source(ctx, tv.tool, "cache")
            ctx.out.step(f"Using cached {tool_names.display_name(tv.tool)} {tv.version}")
            return final
        shown = final.relative_to(ctx.cache_dir)
        why = problem or f"it has no bin/{executable}"
        cache_guard.say_untrusted(
            ctx.out,
            ctx.report,
            [f"CACHE_DIR/{shown} was not run ({why}): removed, installed again"],
        )
        fs.remove_tree(final)
    ctx.out.step(f"Installing {tool_names.display_name(tv.tool)} {tv.version}")

    def populate(partial: Path) -> None:
        if _unpack_locked(ctx, tv, partial) or tools.unpack_from_index(ctx, tv, partial):
            tool_sources.set_install_source(ctx, tv.tool, "index")
        else:
            # --no-deps: uv's wheel is self-contained; --only-binary: never build it.
            options: list[str | Path] = ["--no-deps", "--only-binary=:all:", "--target", partial]
            tools.pip_install(ctx, tv, tools.bundled_pip(ctx, ctx.python), options)
            tool_sources.set_install_source(ctx, tv.tool, "pip")
        if not venv_check.is_executable(partial / "bin" / executable):
            raise errors.install_package_manager_failed(
                tv.tool, tv.version, f"The {tv.tool} wheel installed no bin/{executable}."
            )

    tools.install_atomically(final, populate)
    tools.prune_other_versions(final, tv.tool)
    return final


def cached_problem(ctx: BuildContext, final: Path, tv: tools.ToolVersion) -> str | None:
    """Why the cached ``final`` is not exactly a wheel the lock vouches for, or None."""
    try:
        lock = tool_lock.load(tool_lock.lock_path(ctx.buildpack_dir))
        sums = tool_lock.sha256s(lock, tv.tool, tv.version)
    except tool_lock.LockUnusable as exc:
        return f"nothing to check it against: {exc}"
    kept = final / verified_tree.WHEELS
    if safe_fs.describe(final) is not None or safe_fs.describe(kept) is not None:
        return "it is not a directory of the buildpack's"
    try:
        names = os.listdir(kept)
    except OSError:
        return "it was not unpacked from a locked wheel (installed by pip?)"
    if len(names) != 1 or names[0] not in sums:
        return f"{verified_tree.WHEELS} does not hold one of the locked wheels"
    locked = wheel_lock.LockedFile(tv.tool, tv.version, names[0], sums[names[0]])
    return verified_tree.problem(final, [locked])


def _unpack_locked(ctx: BuildContext, tv: tools.ToolVersion, partial: Path) -> bool:
    """The locked wheel for here, fetched, checked against the lock, kept in
    ``partial/.wheels`` and unpacked into ``partial``; False (with
    ``partial`` empty, the log saying why) when that cannot be done."""
    from buildpack.package_managers import tool_fetch

    minor = tools.runtime_tag(ctx).removeprefix("python")
    try:
        lock = tool_lock.load(tool_lock.lock_path(ctx.buildpack_dir))
        plan = tool_fetch.locked(tools.app_index(ctx), lock, tv.tool, tv.version, minor)
        with tool_fetch.fetched(ctx, plan) as wheels:
            [wheel] = wheels
            (partial / verified_tree.WHEELS).mkdir()
            shutil.copyfile(wheel, partial / verified_tree.WHEELS / wheel.name)
            wheel_install.unpack_into_target(wheel, partial)
        return True
    except tool_lock.LockUnusable as exc:
        why = f"{exc}, which {tv.origin} asks for" if tv.overridden else str(exc)
        ctx.out.info(
            f"Not installing uv {tv.version} from the buildpack's lock ({why}): "
            "no later build reuses it, as nothing can check it"
        )
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        ctx.out.info(
            f"Installing uv {tv.version} from the buildpack's lock did not work ({exc}): "
            "no later build reuses it, as nothing can check it"
        )
    for child in partial.iterdir():
        with contextlib.suppress(OSError):
            fs.remove_tree(child)
    return False
