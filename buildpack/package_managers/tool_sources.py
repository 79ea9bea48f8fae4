"""Poetry's and Pipenv's venv: made bare, then filled from the buildpack's lock.

The fast way installs the tool's locked dependency set (see locked_venv)
without pip; whenever that cannot be done the log says why and the caller
lets pip install the tool into a fresh venv, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack.core import tool_names
from buildpack.core.context import BuildContext

# The fetching and unpacking modules are imported by the function that
# fetches: a rebuild with every tool cached loads none of them.
if TYPE_CHECKING:
    from buildpack.package_managers.tools import ToolVersion

# The .pth files a locked wheel may bring (setuptools', in Pipenv's set).
LOCKED_PTH = frozenset({"distutils-precedence.pth"})


def set_install_source(ctx: BuildContext, tool: str, source: str) -> None:
    """``<tool>_install_source`` in the report: ``index`` (fetched and
    unpacked without running pip), ``pip`` (pip installed it) or ``cache``."""
    ctx.report.set(f"{tool}_install_source", source)


@dataclass(frozen=True)
class FromLock:
    """A tool installed from the buildpack's lock."""

    source: str  # "cache" (every wheel from the build cache) or "index"
    files: tuple[str, ...]  # the locked wheel files, in the lock's order


def install_from_lock(
    ctx: BuildContext,
    tv: ToolVersion,
    minor: str,
    venv: Path,
    final_venv: Path,
    executable: str,
    *,
    bare: Callable[[Path], None],
) -> FromLock | None:
    """The tool's locked dependency set for the runtime ``minor``, installed
    into a new venv at ``venv`` (made by ``bare``) without pip (see
    locked_venv), with ``executable`` in its bin/;
    what it installed and from where (see FromLock), or None, saying why,
    when pip has to do it. Says the build step either way."""
    from buildpack.package_managers import locked_venv, tool_lock, tool_wheels, tools
    from buildpack.selfdeps import package_index, wheel_install

    name = f"{tool_names.display_name(tv.tool)} {tv.version}"
    try:
        plan = locked_venv.plan(ctx, tv.tool, tv.version, tools.app_index(ctx), minor)
    except tool_lock.LockUnusable as exc:
        why = f"{exc}, which {tv.origin} asks for" if tv.overridden else str(exc)
        _say_pip_instead(ctx, name, f"Not installing {name} from the buildpack's lock ({why})")
        return None
    except package_index.IndexUnavailable as exc:
        _say_pip_instead(
            ctx, name, f"Installing {name} from the buildpack's lock did not work ({exc})"
        )
        return None
    fetching = bool(tool_wheels.present(ctx, plan).files)
    if fetching:
        ctx.out.step(f"Installing {name}")
    else:
        ctx.out.step(f"Using cached {name} (its wheels, checked against the buildpack's lock)")
    bare(venv)
    try:
        cached = locked_venv.install(ctx, plan, minor=minor, venv=venv, final_venv=final_venv)
        if not (venv / "bin" / executable).is_file():
            raise OSError(f"the locked wheels installed no bin/{executable}")
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        why = f"Installing {name} from the buildpack's lock did not work ({exc})"
        _say_pip_instead(ctx, name, why, step=not fetching)
        return None
    return FromLock("cache" if cached else "index", tuple(entry[1] for entry in plan.files))


def _say_pip_instead(ctx: BuildContext, name: str, why: str, *, step: bool = True) -> None:
    if step:  # unless the step is already "Installing" it
        ctx.out.step(f"Installing {name}")
    ctx.out.info(
        f"{why}; using pip. Nothing can check what pip installs, so no later build reuses it."
    )
