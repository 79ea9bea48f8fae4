"""bin/pre_compile and bin/post_compile: run with real bash and real scripts."""

from __future__ import annotations

import pytest

from buildpack.core import errors
from buildpack.steps import hooks
from tests.unit.ctx_factory import make_ctx


def write_hook(ctx, name: str, text: str, *, executable: bool = False):
    path = ctx.build_dir / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)
    return path


def test_no_hook_is_recorded_as_unused(tmp_path):
    c = make_ctx(tmp_path)
    assert hooks.run_hook(c.ctx, "pre_compile") is False
    assert c.ctx.report.fields["pre_compile_hook"] is False
    assert "pre_compile_hook_duration" not in c.ctx.report.fields
    assert c.log == ""


def test_hook_runs_with_bash_in_build_dir_with_config_vars(tmp_path):
    c = make_ctx(tmp_path, config={"SECRET_KEY": "s3cret"})
    # Not executable, and bash-only syntax: it must still run, with bash.
    write_hook(
        c.ctx,
        "pre_compile",
        'if [[ -n "$SECRET_KEY" ]]; then echo "key=$SECRET_KEY" > hook-ran.txt; fi\n'
        'echo "$PATH" > hook-path.txt\n'
        "echo hello from the hook\n",
    )
    assert hooks.run_hook(c.ctx, "pre_compile") is True
    assert (c.ctx.build_dir / "hook-ran.txt").read_text() == "key=s3cret\n"
    first_path_entry = (c.ctx.build_dir / "hook-path.txt").read_text().split(":")[0]
    assert first_path_entry == str(c.ctx.python_home / "bin")
    assert "-----> Running the bin/pre_compile hook\n" in c.stdout.getvalue()
    assert "       hello from the hook\n" in c.stdout.getvalue()
    assert c.ctx.report.fields["pre_compile_hook"] is True
    assert isinstance(c.ctx.report.fields["pre_compile_hook_duration"], float)


def test_hook_with_a_shebang_runs_with_that_interpreter(tmp_path):
    c = make_ctx(tmp_path)
    hook = write_hook(
        c.ctx,
        "post_compile",
        "#!/usr/bin/env python3\nimport sys\nopen('py-hook.txt', 'w').write(sys.version[:1])\n",
    )
    assert hooks.run_hook(c.ctx, "post_compile") is True
    assert (c.ctx.build_dir / "py-hook.txt").read_text() == "3"
    assert hook.stat().st_mode & 0o100


@pytest.mark.parametrize("name", ["pre_compile", "post_compile"])
def test_failing_hook_fails_the_build_and_names_the_hook(tmp_path, name):
    c = make_ctx(tmp_path)
    write_hook(c.ctx, name, "echo about to fail\nexit 3\n", executable=True)
    with pytest.raises(errors.BuildError) as info:
        hooks.run_hook(c.ctx, name)
    err = info.value
    assert err.reason == f"hooks::{name}"
    assert f"bin/{name}" in err.title
    assert "status 3" in err.cause
    assert err.detail == "about to fail"
    assert "       about to fail\n" in c.stdout.getvalue()
    assert f"{name}_hook_duration" in c.ctx.report.fields


def test_hook_command_choice():
    assert hooks.hook_command("/b/bin/pre_compile", b"ec") == ["bash", "/b/bin/pre_compile"]
    assert hooks.hook_command("/b/bin/pre_compile", b"#!") == ["/b/bin/pre_compile"]
