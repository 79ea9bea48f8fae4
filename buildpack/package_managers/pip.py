"""pip: installs requirements.txt into the runtime's own site-packages."""

from __future__ import annotations

import re

from buildpack import bootstrap, errors, proc
from buildpack.context import BuildContext

_ALREADY_SATISFIED = re.compile(r"^(Requirement already satisfied: .+?) in /\S+( \(.*\))?$")


def bundled_pip_wheel(ctx: BuildContext) -> str:
    wheel = bootstrap.find_pip_wheel([ctx.python_home])
    if wheel is None:
        raise errors.bundled_pip_not_found(str(ctx.python_home))
    return str(wheel)


def install_tool(ctx: BuildContext) -> str:
    """Install the pinned pip into the app's Python, from the bundled pip."""
    version = ctx.tool_version("pip")
    ctx.out.step(f"Installing pip {version}")
    proc.run(
        [
            ctx.python,
            f"{bundled_pip_wheel(ctx)}/pip",
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-input",
            "--quiet",
            f"pip=={version}",
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=ctx.build_dir,
        on_failure=lambda r: errors.install_package_manager_failed("pip", version, r.output),
    )
    return version


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
            "--no-cache-dir",
            "--no-input",
            "--progress-bar=off",
            f"--src={ctx.python_home / 'src'}",
        ],
        out=ctx.out,
        env=ctx.build_env(),
        cwd=ctx.build_dir,
        line_filter=_shorten,
        on_failure=lambda r: errors.install_dependencies_failed(
            "pip", "pip install " + " ".join(requirement_args), r.output, hint_for(r.output)
        ),
    )


def _shorten(line: str) -> str:
    # "Requirement already satisfied: x in /app/.heroku/python/lib/..." says
    # nothing useful about where; keep the log short.
    m = _ALREADY_SATISFIED.match(line)
    return m.group(1) + (m.group(2) or "") if m else line


def hint_for(output: str) -> str:
    if "gdal-config" in output:
        return (
            "\n\nThe package needs the GDAL library, which the build image does "
            "not have. Add a buildpack that provides GDAL before this one."
        )
    if "sqlite3.h" in output:
        return (
            "\n\nThe package needs SQLite's headers. Python's own sqlite3 "
            "module may be enough; otherwise use pysqlite3-binary."
        )
    return ""
