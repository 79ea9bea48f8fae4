"""Poetry: installs poetry.lock into the runtime's own site-packages.

Poetry runs from a venv in the build cache that was made by the app's runtime
(tools.install_venv_tool). With virtualenvs.create off and no VIRTUAL_ENV,
Poetry installs into the base Python of the venv it runs from: the runtime,
seen through /app/.heroku/python, so scripts get /app shebangs.
"""

from __future__ import annotations

from pathlib import Path

from buildpack.cache.install_inputs import ManagerInputs, hash_files, read_toml
from buildpack.core import errors, proc
from buildpack.core.context import BuildContext
from buildpack.package_managers import failures, kept_venv, tools

LOCKFILE = "poetry.lock"
# Poetry's words when poetry.lock no longer matches pyproject.toml.
_STALE_LOCK_MARKERS = ("changed significantly since poetry.lock was last generated",)
# Printed for every command when virtualenvs.create is off; it is expected.
_NOISE = ("Skipping virtualenv creation, as specified in config file.",)
# Variables that would make Poetry install into some other environment.
_OTHER_ENVIRONMENTS = ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")


def install_tool(ctx: BuildContext) -> str:
    tv = tools.requested_version(ctx, "poetry")
    tool_dir = tools.install_venv_tool(ctx, tv, executable="poetry")
    ctx.extra_env.update(
        {
            "POETRY_VIRTUALENVS_CREATE": "false",
            "POETRY_CACHE_DIR": str(tools.download_cache(ctx, "poetry")),
        }
    )
    tools.add_to_path(ctx, tool_dir / "bin")
    return tv.version


def sync_command(ctx: BuildContext) -> list[str]:
    command = ["poetry", "sync"]
    if not ctx.install_dev:
        command += ["--only", "main"]
    return command


def install_dependencies(ctx: BuildContext) -> None:
    command = sync_command(ctx)
    shown = " ".join(command)
    tools.warn_if_procfile_runs(ctx, "poetry")
    ctx.out.step(f"Installing dependencies using '{shown}'")
    tag = tools.runtime_tag(ctx)
    tool_dir = tools.venv_tool_dir_for(ctx, tools.requested_version(ctx, "poetry"), tag)
    env = ctx.build_env()
    for name in _OTHER_ENVIRONMENTS:
        env.pop(name, None)
    # Not -B: Poetry's own imports also compile the runtime's standard
    # library through /app. Without them, the build backend Poetry runs for a
    # path dependency (through the runtime's real path) writes that bytecode
    # naming the build directory (tests/e2e/test_editable_installs.py).
    proc.run(
        [tool_dir / "bin" / "poetry", *command[1:], "--no-interaction", "--no-ansi", "--compile"],
        out=ctx.out,
        env=env,
        cwd=ctx.build_dir,
        line_filter=lambda line: None if line.strip() in _NOISE else line,
        on_failure=lambda r: failure(shown, r.output),
    )
    # What Poetry compiled into its own venv is not kept for the next build.
    removed = kept_venv.drop_bytecode(tool_dir, tag.removeprefix("python"))
    ctx.report.set("poetry_bytecode_dropped", removed)


def failure(command: str, output: str) -> errors.BuildError:
    return failures.sync_failure("poetry", LOCKFILE, _STALE_LOCK_MARKERS, command, output)


# --- build cache inputs -------------------------------------------------------------

SETTINGS_PREFIXES = ("POETRY_",)
# The build cache may skip install_dependencies when its inputs are unchanged.
SKIP_INSTALL_WHEN_UNCHANGED = True
# Sources whose contents poetry.lock does not pin.
_UNPINNED_SOURCES = ("directory", "file", "git", "url")


def install_inputs(ctx: BuildContext) -> ManagerInputs:
    """poetry sync prunes what poetry.lock no longer lists: no file discards the cache."""
    files = hash_files(ctx.build_dir, ("pyproject.toml", LOCKFILE, "poetry.toml"))
    return ManagerInputs(files=files, not_plain=unpinned(ctx.build_dir))


def unpinned(app: Path) -> list[str]:
    """What Poetry installs that can change while poetry.lock does not."""
    lock = read_toml(app / LOCKFILE)
    project = read_toml(app / "pyproject.toml")
    if lock is None or project is None:
        return [f"{LOCKFILE} or pyproject.toml is unreadable"]
    found = []
    for package in lock.get("package", []):
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict) and source.get("type") in _UNPINNED_SOURCES:
            found.append(f"{LOCKFILE}: {package.get('name')} is from a {source.get('type')}")
        elif isinstance(package, dict) and package.get("develop"):
            found.append(f"{LOCKFILE}: {package.get('name')} is installed in develop mode")
    if project.get("tool", {}).get("poetry", {}).get("package-mode", True) is not False:
        found.append("Poetry installs the app itself")
    return found
