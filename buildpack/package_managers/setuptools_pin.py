"""setuptools in the runtime of pip and Pipenv apps on Python 3.10-3.12.

Heroku preinstalls it there, at the version it pins, so an app that imports
pkg_resources or setuptools at run time without listing it works. Not for
3.13 and later (as Heroku), nor for uv and Poetry apps, whose lockfiles say
exactly what is installed (their sync would remove it again). Which Pythons
and package managers: ``[setuptools]`` in buildpack.toml; the version:
``[tools]``, overridable with BUILDPACK_SETUPTOOLS_VERSION.
"""

from __future__ import annotations

from pathlib import Path

from buildpack.core import proc
from buildpack.core.context import BuildContext, Deferred
from buildpack.package_managers import tools
from buildpack.selfdeps import package_index, wheel_install

PROJECT = "setuptools"
# setuptools' wheel ships this .pth (it makes `import distutils` find the
# copy setuptools carries); it is expected, and pip installs it too.
_PTH = frozenset({"distutils-precedence.pth"})


def wanted(ctx: BuildContext, manager: str, python_version: str) -> bool:
    minor = ".".join(python_version.split(".")[:2])
    settings = ctx.settings
    return manager in settings.setuptools_managers and minor in settings.setuptools_minors


def installed_version(python_home: Path) -> str | None:
    """The version of the complete setuptools install in site-packages, if one."""
    found = [
        dist.name[len(PROJECT) + 1 : -len(".dist-info")]
        for site in python_home.glob("lib/python3*/site-packages")
        for dist in site.glob(f"{PROJECT}-*.dist-info")
        if (dist / "RECORD").is_file() and (site / PROJECT / "__init__.py").is_file()
    ]
    return found[0] if len(found) == 1 else None


def install(ctx: BuildContext) -> str:
    """Install the pinned setuptools into the runtime; return its version.

    The fast way first, as pip's own install: the pinned wheel from the
    index, checked against the index's sha256, unpacked without running a
    pip; the runtime's bundled pip when that cannot be done.
    """
    tv = tools.requested_version(ctx, PROJECT)
    if installed_version(ctx.build_python_home) == tv.version:
        ctx.out.step(f"Using cached setuptools {tv.version}")
        ctx.report.set("setuptools_install_source", "cache")
        return tv.version
    ctx.out.step(f"Installing setuptools {tv.version}")
    written = tools.install_from_index(
        ctx,
        ctx.build_python_home,
        ctx.python,
        package_index.Pin(PROJECT, tv.version),
        instead="the bundled pip",
        allow_pth=_PTH,
    )
    if written is not None:
        _compile_in_background(ctx, written)
        ctx.report.set("setuptools_install_source", "index")
        return tv.version
    tools.pip_install(ctx, tv, tools.bundled_pip(ctx, ctx.python), ["--no-deps"])
    ctx.report.set("setuptools_install_source", "pip")
    return tv.version


def _compile_in_background(ctx: BuildContext, written: list[Path]) -> None:
    """Bytecode, as pip writes after an install, compiled at the /app path
    while the dependencies install; a module that does not compile is left
    without (pip does the same)."""
    record = next(p for p in written if p.name == "RECORD")
    site = record.parent.parent
    packages = sorted({p.relative_to(site).parts[0] for p in written if p.suffix == ".py"})
    app_site = ctx.python_home / site.relative_to(ctx.build_python_home)
    compiling = proc.start(
        [ctx.python, "-m", "compileall", "-q", *(app_site / name for name in packages)],
        env=ctx.build_env(),
    )

    def finish() -> None:
        compiling.finish(out=ctx.out, show=False)
        compiled = [pyc for name in packages for pyc in sorted((site / name).rglob("*.pyc"))]
        wheel_install.add_to_record(record, site, compiled)

    ctx.deferred.append(Deferred(finish=finish, stop=compiling.stop))
