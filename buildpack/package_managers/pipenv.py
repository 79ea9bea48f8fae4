"""Pipenv: installs Pipfile.lock into the runtime's own site-packages.

Pipenv runs from a venv in the slug (pipenv_runtime), and stays there so that
`pipenv run gunicorn ...` works when the app runs, as on Heroku. With --system
it installs with the first python3 on PATH, which build_env makes
/app/.heroku/python/bin's, and runs its own vendored pip there, so the
runtime needs no pip of its own. VIRTUAL_ENV names the runtime, as on
Heroku: it makes Pipenv treat the runtime as the app's environment, so
`pipenv run` uses it instead of making a virtualenv.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from buildpack.cache.install_inputs import ManagerInputs, hash_files
from buildpack.core import errors, proc
from buildpack.core.context import PYTHON_SUBDIR, BuildContext
from buildpack.package_managers import pipenv_runtime, tools

LOCKFILE = "Pipfile.lock"
# Pipenv's words when --deploy finds Pipfile.lock's hash out of date.
# (Pipenv wraps its messages at 80 columns, so any space may be a line break.)
_STALE_LOCK = re.compile(r"Pipfile\.lock\s+\(\w+\)\s+is\s+out\s+of\s+date")
# Before "ERROR:: Aborting deploy", Pipenv prints its own stack frames, each
# line starting with this. They say nothing to the app's developer, so the
# log leaves them out (the captured output keeps them).
_FRAMES_START = re.compile(r"^\[DeployException\]: ")
_FRAMES_END = "ERROR:"
# Pipenv's console wraps at 80 columns when not on a terminal, splitting
# messages (and the paths in them) over several lines.
_COLUMNS = "500"


def install_tool(ctx: BuildContext) -> str:
    tv = tools.requested_version(ctx, "pipenv")
    bin_dir = pipenv_runtime.install(ctx, tv)
    # Later buildpacks and the dyno running pipenv use the runtime too.
    settings = {"PIPENV_SYSTEM": "1", "PIPENV_VERBOSITY": "-1"}
    ctx.extra_env.update(
        settings,
        PIPENV_CACHE_DIR=str(tools.download_cache(ctx, "pipenv")),
        VIRTUAL_ENV=str(ctx.python_home),
    )
    ctx.profile_env.update(settings, VIRTUAL_ENV="$HOME/.heroku/python")
    tools.add_to_path(ctx, bin_dir)
    ctx.profile_path.append(f"$HOME/{PYTHON_SUBDIR / pipenv_runtime.SUBDIR / 'bin'}")
    return tv.version


def install_command(ctx: BuildContext) -> list[str]:
    command = ["pipenv", "install", "--deploy", "--system"]
    if ctx.install_dev:
        command.append("--dev")
    return command


def install_dependencies(ctx: BuildContext) -> None:
    command = install_command(ctx)
    shown = " ".join(command)
    ctx.out.step(f"Installing dependencies using '{shown}'")
    home = ctx.python_home / pipenv_runtime.SUBDIR
    env = ctx.build_env()
    # VCS checkouts go where the /app symlink makes their paths valid at run time.
    env["PIP_SRC"] = str(ctx.python_home / "src")
    env["PIPENV_NOSPIN"] = "1"
    env["COLUMNS"] = _COLUMNS
    # -B: Pipenv writes no bytecode of its own into the slug, where every
    # later build would audit and cache each file (pip, which it runs, still
    # compiles what it installs).
    proc.run(
        [home / "venv" / "bin" / "python", "-B", home / "bin" / "pipenv", *command[1:]],
        out=ctx.out,
        env=env,
        cwd=ctx.build_dir,
        line_filter=_WithoutStackFrames(),
        on_failure=lambda r: failure(shown, r.output),
    )


class _WithoutStackFrames:
    """A line filter for proc.run that drops Pipenv's stack frames."""

    def __init__(self) -> None:
        self.in_frames = False

    def __call__(self, line: str) -> str | None:
        if _FRAMES_START.match(line):
            self.in_frames = True
        elif self.in_frames and line.startswith(_FRAMES_END):
            self.in_frames = False
        return None if self.in_frames else line


def failure(command: str, output: str) -> errors.BuildError:
    # Not "Aborting deploy" alone: --deploy also aborts when the Python
    # version differs from the Pipfile's, which a new lockfile would not fix.
    if _STALE_LOCK.search(output):
        return errors.lockfile_outdated("pipenv", LOCKFILE, command, output)
    return errors.install_dependencies_failed(
        "pipenv", command, output, errors.install_hint(output)
    )


# --- build cache inputs -------------------------------------------------------------

# Pipenv installs with its vendored pip, which reads pip's settings too.
SETTINGS_PREFIXES = ("PIPENV_", "PIP_")
# The build cache may skip install_dependencies when its inputs are unchanged.
SKIP_INSTALL_WHEN_UNCHANGED = True
# Pipfile.lock keys of entries whose contents the lock does not pin.
_UNPINNED_KEYS = ("path", "file", "editable", "git", "hg", "svn", "bzr")


def install_inputs(ctx: BuildContext) -> ManagerInputs:
    """Pipenv never uninstalls: a changed Pipfile.lock discards the cache."""
    files = hash_files(ctx.build_dir, ("Pipfile", LOCKFILE))
    return ManagerInputs(
        files=files,
        not_plain=unpinned(ctx.build_dir / LOCKFILE, ctx.install_dev),
        discard_files={LOCKFILE: files[LOCKFILE]},
    )


def unpinned(lock: Path, install_dev: bool) -> list[str]:
    """Pipfile.lock entries whose contents can change while the lock does not."""
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{LOCKFILE} is unreadable"]
    sections = ("default", "develop") if install_dev else ("default",)
    found = []
    for section in sections:
        entries = data.get(section) if isinstance(data, dict) else None
        for name, entry in (entries or {}).items():
            if isinstance(entry, dict) and any(k in entry for k in _UNPINNED_KEYS):
                found.append(f"{LOCKFILE}: {name} is not from a package index")
    return found
