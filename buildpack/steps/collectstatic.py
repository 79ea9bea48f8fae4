"""Django's collectstatic, run at build time as Heroku does.

Static files collected during the build ship in the slug, so the app serves
them (with WhiteNoise or its own view) without running collectstatic at boot.
"""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.app import installed
from buildpack.core import errors, proc
from buildpack.core.context import PYTHON_SUBDIR, BuildContext

# Heroku looks no deeper than this for manage.py (find -maxdepth 3).
MAX_DEPTH = 3
DISABLED_FILE = Path(".heroku/collectstatic_disabled")


def find_manage_py(build_dir: Path) -> Path | None:
    """The shallowest manage.py at most MAX_DEPTH levels down, ties by path."""
    found: list[tuple[int, str]] = []
    for root, dirs, files in os.walk(build_dir):
        rel = Path(root).relative_to(build_dir)
        depth = len(rel.parts) + 1  # a file directly in build_dir is depth 1
        if "manage.py" in files:
            found.append((depth, (rel / "manage.py").as_posix()))
        if depth >= MAX_DEPTH:
            dirs.clear()
        else:
            # Our own runtime is not part of the app.
            dirs[:] = sorted(d for d in dirs if (rel / d) != PYTHON_SUBDIR.parent)
    if not found:
        return None
    return build_dir / min(found)[1]


def is_disabled_value(value: str | None) -> bool:
    # Heroku: any value except "0" disables (DISABLE_COLLECTSTATIC=1, =true...).
    return value is not None and value != "0"


def decide(ctx: BuildContext) -> tuple[str | None, Path | None]:
    """The report value for this build and the manage.py to run.

    None as the status means "not a Django app": say and record nothing.
    """
    if ctx.install_dev:
        return "skipped-ci", None
    if is_disabled_value(ctx.setting("DISABLE_COLLECTSTATIC")):
        return "disabled-env-var", None
    if (ctx.build_dir / DISABLED_FILE).exists():
        return "disabled-file", None
    if not installed.has_any(ctx.build_python_home, "django"):
        return None, None
    manage_py = find_manage_py(ctx.build_dir)
    if manage_py is None:
        return "skipped-no-manage-py", None
    return "enabled", manage_py


def failure_kind(output: str) -> str:
    """Which of Heroku's failure reasons Django's output shows."""
    if "SyntaxError" in output:
        return "syntax-error"
    if "ImproperlyConfigured" in output:
        return "improper-configuration"
    if "could not be found with" in output or "The CSS file" in output:
        # ManifestStaticFilesStorage checks the files a url()/import names.
        return "fancy-references"
    if "FileNotFoundError" in output or "No such file or directory" in output:
        return "missing-file"
    return "other"


def error_for(command: str, output: str) -> errors.BuildError:
    kind = failure_kind(output)
    if kind == "improper-configuration" and "STATIC_ROOT" in output:
        return errors.collectstatic_no_static_root(command, output)
    return errors.collectstatic_failed(kind, command, output)


def run_collectstatic(ctx: BuildContext) -> str | None:
    status, manage_py = decide(ctx)
    if status is not None:
        ctx.report.set("django_collectstatic", status)
    if status == "disabled-file":
        ctx.out.warning(
            "The .heroku/collectstatic_disabled file is deprecated",
            "Set the config var DISABLE_COLLECTSTATIC=1 instead, and delete the file.",
        )
    if status == "disabled-env-var":
        ctx.out.step("Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set")
    elif status == "skipped-no-manage-py":
        ctx.out.step("Skipping Django collectstatic: no manage.py found in the app")
    if status != "enabled" or manage_py is None:
        return status
    rel = manage_py.relative_to(ctx.build_dir).as_posix()
    shown = f"python {rel} collectstatic --noinput"
    ctx.out.step(f"$ {shown}")
    env = ctx.app_code_env()
    # As Heroku's PYTHONPATH=${PYTHONPATH:-.} in the build directory: the
    # app's own modules are importable, and a src layout can set PYTHONPATH=src.
    env["PYTHONPATH"] = env.get("PYTHONPATH") or "."

    def failed(result: proc.Completed) -> errors.BuildError:
        # Any value but "0", as DISABLE_COLLECTSTATIC (Heroku: "1").
        if is_disabled_value(ctx.setting("DEBUG_COLLECTSTATIC")):
            show_environment(ctx, env)
        return error_for(shown, result.output)

    with ctx.report.timed("django_collectstatic"):
        proc.run(
            [ctx.python, rel, "collectstatic", "--noinput", "--traceback"],
            out=ctx.out,
            env=env,
            cwd=ctx.build_dir,
            on_failure=failed,
        )
    return status


def show_environment(ctx: BuildContext, env: dict[str, str]) -> None:
    """DEBUG_COLLECTSTATIC=1, as Heroku: the environment collectstatic ran
    with, to debug settings that read it (the log masks URL credentials)."""
    ctx.out.step("Collectstatic environment variables (DEBUG_COLLECTSTATIC is set):")
    for name in sorted(env):
        ctx.out.info(f"{name}={env[name]}")
