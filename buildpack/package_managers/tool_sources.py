"""Where a package manager's files come from: the index, or pip.

The fast ways fetch exact files from the index pip would use and unpack
them without running pip: the pinned wheel of pip or uv (checked against
the index's sha256), or the locked dependency set of Poetry or Pipenv
(checked against the lock's; see locked_venv). Whenever that cannot be done
the log says why and pip does it, as it always did: the venv's own pip, or
the runtime's bundled pip run from its wheel.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from buildpack.core import errors, proc
from buildpack.core.context import BuildContext
from buildpack.selfdeps import bootstrap

# The fetching and unpacking modules are imported by the functions that
# fetch: a rebuild with every tool cached loads none of them.
if TYPE_CHECKING:
    from buildpack.package_managers.tools import ToolVersion
    from buildpack.selfdeps import package_index

T = TypeVar("T")

# pip lists every release it saw ("from versions: 0.0.5, ..., 0.13.9"): for
# uv that is hundreds. The log keeps the newest few.
_FROM_VERSIONS = re.compile(r"^(.*\(from versions: )(.*)(\).*)$")
_SHOWN_VERSIONS = 12


def make_venv(ctx: BuildContext, tv: ToolVersion, venv: Path) -> None:
    """A venv of the app's Python, through /app: its python links to
    /app/.heroku/python/bin/python and works from any build directory."""
    proc.run(
        [ctx.python, "-m", "venv", "--without-pip", venv],
        out=ctx.out,
        env=ctx.build_env(),
        on_failure=lambda r: errors.install_package_manager_failed(tv.tool, tv.version, r.output),
    )


def install_from_lock(
    ctx: BuildContext, tv: ToolVersion, minor: str, venv: Path, final_venv: Path
) -> bool:
    """The tool's locked dependency set for the runtime ``minor``, installed
    into ``venv`` without pip (see locked_venv); False, saying why, when pip
    has to do it."""
    from buildpack.package_managers import locked_venv, tool_lock
    from buildpack.selfdeps import package_index, wheel_install

    name = f"{errors.tool_display_name(tv.tool)} {tv.version}"
    try:
        plan = locked_venv.plan(ctx, tv.tool, tv.version, app_index(ctx), minor)
        locked_venv.install(ctx, plan, minor=minor, venv=venv, final_venv=final_venv)
    except tool_lock.LockUnusable as exc:
        why = f"{exc}, which {tv.origin} asks for" if tv.overridden else str(exc)
        ctx.out.info(f"Not installing {name} from the buildpack's lock ({why}); using pip")
        return False
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        ctx.out.info(f"Installing {name} from the buildpack's lock did not work ({exc}); using pip")
        return False
    return True


def app_index(ctx: BuildContext) -> package_index.IndexSettings:
    """The index the app's pip would use (raises IndexUnavailable)."""
    from buildpack.selfdeps import package_index

    return package_index.pip_index(
        ctx.build_env(),
        pip_wheel=bootstrap.find_pip_wheel([ctx.build_python_home]),
        site_prefix=ctx.build_python_home,
    )


def unpack_from_index(ctx: BuildContext, tv: ToolVersion, partial: Path, minor: str) -> bool:
    """``pip install --no-deps --target partial tool==version`` for the
    runtime ``minor`` without running pip (see selfdeps.package_index);
    False, with ``partial`` empty, when pip has to do it."""
    from buildpack.selfdeps import package_index, wheel_install

    written = _from_index(
        ctx,
        package_index.Pin(tv.tool, tv.version),
        minor,
        lambda wheel: wheel_install.unpack_into_target(wheel, partial),
        instead="pip",
    )
    if written is not None:
        return True
    for child in partial.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return False


def install_pip(
    ctx: BuildContext, python_home: Path, python: Path, version: str
) -> list[Path] | None:
    """The pinned pip, fetched from the index and unpacked into
    ``python_home``'s site-packages with launchers that run ``python``,
    without running a pip. The files written, or None (with nothing
    written) when a pip has to do it."""
    from buildpack.selfdeps import package_index, wheel_install

    found = sorted(python_home.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        ctx.out.info(f"{python_home} has no single site-packages; using the bundled pip")
        return None
    if any(found[0].glob("pip")) or any(found[0].glob("pip-*.dist-info")):
        # Another pip's files would be left over, unknown to the new RECORD.
        ctx.out.info(f"A pip is installed in {found[0]} already; using the bundled pip")
        return None
    site = found[0]
    minor = site.parent.name.removeprefix("python")
    return _from_index(
        ctx,
        package_index.Pin("pip", version),
        minor,
        lambda wheel: wheel_install.install_into_prefix(
            wheel,
            site_packages=site,
            scripts_dir=python_home / "bin",
            python=str(python),
            python_minor=minor,
        ),
        instead="the bundled pip",
    )


def _from_index(
    ctx: BuildContext,
    pin: package_index.Pin,
    minor: str,
    install: Callable[[Path], T],
    *,
    instead: str,
) -> T | None:
    """Fetch ``pin``'s wheel for the runtime ``minor`` and ``install`` it; None,
    saying why and that ``instead`` will do it, when that cannot be done."""
    from buildpack.package_managers import tool_fetch
    from buildpack.selfdeps import package_index, wheel_install

    try:
        with tool_fetch.fetched(ctx, tool_fetch.pinned(app_index(ctx), pin, minor)) as wheels:
            return install(wheels[0])
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        ctx.out.info(f"Fetching {pin.project} from the index did not work ({exc}); using {instead}")
        return None


def bundled_pip(ctx: BuildContext, python: Path | str) -> list[str | Path]:
    """``python <the runtime's bundled pip wheel>/pip``: pip run from its zip."""
    wheel = bootstrap.find_pip_wheel([ctx.python_home])
    if wheel is None:
        raise errors.bundled_pip_not_found(str(ctx.python_home))
    return [python, f"{wheel}/pip"]


def pip_install(
    ctx: BuildContext,
    tv: ToolVersion,
    pip: list[str | Path],
    options: list[str | Path],
    *,
    cwd: Path,
) -> None:
    """``<pip> install <options> tool==version``, run in ``cwd``."""
    proc.run(
        [
            *pip,
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-input",
            "--quiet",
            *options,
            tv.requirement,
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=cwd,
        line_filter=shorten_version_list,
        on_failure=lambda r: install_failure(tv, r.output),
    )


def install_failure(tv: ToolVersion, output: str) -> errors.BuildError:
    """A missing release gets its own error; anything else the generic one."""
    if version_not_on_index(output):
        return errors.tool_version_not_found(tv.tool, tv.version, tv.origin, output)
    return errors.install_package_manager_failed(tv.tool, tv.version, output)


def version_not_on_index(pip_output: str) -> bool:
    """pip reached the index, which lists releases of the tool, but not this one.

    "(from versions: none)" means pip saw no release at all: the index is
    unreachable or the name is wrong, which is not the user's version's fault.
    """
    if "No matching distribution found for" not in pip_output:
        return False
    return "(from versions: " in pip_output and "(from versions: none)" not in pip_output


def shorten_version_list(line: str) -> str:
    m = _FROM_VERSIONS.match(line)
    if not m:
        return line
    versions = m.group(2).split(", ")
    if len(versions) <= _SHOWN_VERSIONS:
        return line
    hidden = len(versions) - _SHOWN_VERSIONS
    shown = ", ".join(versions[-_SHOWN_VERSIONS:])
    return f"{m.group(1)}{hidden} older, ..., {shown}{m.group(3)}"
