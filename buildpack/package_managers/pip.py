"""pip: installs requirements.txt into the runtime's own site-packages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from buildpack.cache import cache
from buildpack.cache.install_inputs import ManagerInputs
from buildpack.core import errors, proc
from buildpack.core.context import BuildContext, Deferred
from buildpack.core.python_home import site_packages_dirs
from buildpack.package_managers import failures, pip_seed, requirements_files, tool_sources, tools
from buildpack.selfdeps import wheel_install

_ALREADY_SATISFIED = re.compile(r"^(Requirement already satisfied: .+?) in /\S+( \(.*\))?$")


def install_tool(ctx: BuildContext) -> str:
    """Install the pinned pip into the app's Python: kept from the cache,
    copied from the verified seed, fetched from the index, or, when none of
    those can be done, installed by the runtime's bundled pip."""
    tv = tools.requested_version(ctx, "pip")
    version = tv.version
    if installed_pip_version(ctx.build_python_home) == version:
        # A restored cache already has it; running the bundled pip from its
        # wheel costs seconds (it compiles itself on every start).
        ctx.out.step(f"Using cached pip {version}")
        ctx.report.set("package_manager_install_skipped", True)
        tool_sources.set_install_source(ctx, "pip", "cache")
        return version
    seed = (ctx.cache_dir, ctx.build_python_home, ctx.python_home, version)
    if pip_seed.restore(*seed):
        # The same files pip wrote last time, checked against its RECORD.
        ctx.out.step(f"Installing pip {version} (a verified copy from the build cache)")
        ctx.report.set("package_manager_install_from_seed", True)
        tool_sources.set_install_source(ctx, "pip", "cache")
        return version
    ctx.out.step(f"Installing pip {version}")
    if install_from_index(ctx, version, then=lambda: pip_seed.save(*seed)):
        ctx.report.set("package_manager_install_from_index", True)
        tool_sources.set_install_source(ctx, "pip", "index")
        return version
    proc.run(
        [
            *tools.bundled_pip(ctx, ctx.python),
            "install",
            "--disable-pip-version-check",
            *pip_cache_args(ctx),
            "--no-input",
            "--quiet",
            f"pip=={version}",
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=ctx.build_dir,
        line_filter=failures.shorten_version_list,
        on_failure=lambda r: failures.install_failure(tv, r.output),
    )
    tool_sources.set_install_source(ctx, "pip", "pip")
    pip_seed.save(*seed)
    return version


def install_from_index(ctx: BuildContext, version: str, *, then: Callable[[], object]) -> bool:
    """Fetch the pinned pip wheel and install it without running a pip.

    The bundled pip runs from its zip and compiles every module it imports
    on each start: seconds of CPU for one pure-Python wheel. False (nothing
    installed) when pip has to do it, as on a runtime that already has a pip.
    Its bytecode compiles in the background, on the other CPU, while pip
    installs the app's dependencies; ``then`` runs once that is done.
    """
    with ctx.report.timed("pip_download"):
        written = tools.install_pip(ctx, ctx.build_python_home, ctx.python, version)
    if written is None:
        return False
    record = next(p for p in written if p.name == "RECORD")
    site = record.parent.parent
    # As pip does after installing: bytecode for every module, compiled at
    # the /app path so that tracebacks and the relocation audit name /app.
    # One process: the other CPU is pip's, installing the dependencies.
    # (If that pip imports a module first, it compiles it itself; both write
    # the same file by atomic rename.)
    app_pip = ctx.python_home / site.relative_to(ctx.build_python_home) / "pip"
    compiling = proc.start([ctx.python, "-m", "compileall", "-q", app_pip], env=ctx.build_env())

    def finish() -> None:
        with ctx.report.timed("pip_bytecode_wait"):
            compiling.finish(
                out=ctx.out,
                on_failure=lambda r: errors.install_package_manager_failed(
                    "pip", version, r.output
                ),
            )
        wheel_install.add_to_record(record, site, sorted((site / "pip").rglob("*.pyc")))
        then()

    ctx.deferred.append(Deferred(finish=finish, stop=compiling.stop))
    return True


def installed_pip_version(python_home: Path) -> str | None:
    """The version of the pip installed in site-packages, read from its
    dist-info, if exactly one complete install is there."""
    found = []
    for site in site_packages_dirs(python_home):
        for dist in site.glob("pip-*.dist-info"):
            complete = (dist / "RECORD").is_file() and (site / "pip" / "__init__.py").is_file()
            found.append(dist.name[len("pip-") : -len(".dist-info")] if complete else None)
    return found[0] if len(found) == 1 else None


def pip_cache_args(ctx: BuildContext) -> list[str]:
    """pip's download and wheel cache in CACHE_DIR: a build after the cache
    was discarded need not download or build the same wheels again."""
    path = cache.pip_cache_dir(ctx)
    return ["--no-cache-dir"] if path is None else [f"--cache-dir={path}"]


def requirement_files(ctx: BuildContext) -> list[str]:
    files = ["requirements.txt"]
    if ctx.install_dev and (ctx.build_dir / "requirements-test.txt").is_file():
        files.append("requirements-test.txt")
    return files


def install_dependencies(ctx: BuildContext) -> None:
    requirement_args = [arg for f in requirement_files(ctx) for arg in ("-r", f)]
    ctx.out.step("Installing dependencies using 'pip install " + " ".join(requirement_args) + "'")
    proc.run(
        [
            ctx.python,
            "-m",
            "pip",
            "install",
            *requirement_args,
            "--exists-action=w",
            *pip_cache_args(ctx),
            "--no-input",
            "--progress-bar=off",
            f"--src={ctx.python_home / 'src'}",
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=ctx.build_dir,
        line_filter=_shorten,
        on_failure=lambda r: errors.install_dependencies_failed(
            "pip",
            "pip install " + " ".join(requirement_args),
            r.output,
            errors.install_hint(r.output),
        ),
    )


def _shorten(line: str) -> str:
    # "Requirement already satisfied: x in /app/.heroku/python/lib/..." says
    # nothing useful about where; keep the log short.
    m = _ALREADY_SATISFIED.match(line)
    return m.group(1) + (m.group(2) or "") if m else line


# --- build cache inputs -------------------------------------------------------------

SETTINGS_PREFIXES = ("PIP_",)
# The build cache may skip install_dependencies when its inputs are unchanged.
SKIP_INSTALL_WHEN_UNCHANGED = True


def install_inputs(ctx: BuildContext) -> ManagerInputs:
    """pip never uninstalls: a changed requirement file discards the cache."""
    reqs = requirements_files.collect(ctx.build_dir, requirement_files(ctx))
    return ManagerInputs(
        files=dict(reqs.hashes),
        not_plain=list(reqs.not_plain),
        discard_files=dict(reqs.hashes),
        more_not_plain=reqs.names_not_plain,
    )
