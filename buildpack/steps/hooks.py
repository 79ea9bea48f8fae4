"""The app's own build hooks: bin/pre_compile and bin/post_compile."""

from __future__ import annotations

import os
import stat
from typing import Literal

from buildpack.core import errors, proc, safe_fs
from buildpack.core.context import BuildContext

HookName = Literal["pre_compile", "post_compile"]


def hook_command(script_path: str, first_bytes: bytes) -> list[str]:
    """How to run a hook: by its #! line if it has one, else with bash.

    Heroku makes hooks executable and runs them, so a hook written in Python
    with a #! line works there; a hook without one is a shell script, which
    bash runs whether or not the app committed it with the executable bit.
    """
    if first_bytes.startswith(b"#!"):
        return [script_path]
    return ["bash", script_path]


def run_hook(ctx: BuildContext, name: HookName) -> bool:
    """Run BUILD_DIR/bin/<name> if the app has one; True if it ran."""
    script = ctx.build_dir / "bin" / name
    if os.path.lexists(script) and not safe_fs.resolves_inside(ctx.build_dir, script):
        # Never run, read or chmod a file outside the app as the app's hook.
        target = os.readlink(script) if script.is_symlink() else os.path.realpath(script)
        raise errors.app_file_outside_app(f"bin/{name}", target)
    present = script.is_file()
    ctx.report.set(f"{name}_hook", present)
    if not present:
        return False
    with script.open("rb") as f:
        command = hook_command(str(script), f.read(2))
    if command[0] == str(script):
        mode = script.stat().st_mode
        if not mode & stat.S_IXUSR:
            os.chmod(script, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    ctx.out.step(f"Running the bin/{name} hook")
    with ctx.report.timed(f"{name}_hook"):
        proc.run(
            command,
            out=ctx.out,
            env=ctx.app_code_env(),
            cwd=ctx.build_dir,
            on_failure=lambda r: errors.hook_failed(name, r.returncode, r.output),
        )
    return True
