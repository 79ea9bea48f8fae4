"""Unit tests for the small core modules: settings, config vars, stack, output, proc."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import tomllib

from buildpack.app import stack
from buildpack.core import config_vars, errors, mini_toml, proc
from buildpack.core.output import Output
from buildpack.core.settings import Settings, buildpack_root

ROOT = buildpack_root()


def test_mini_toml_reads_buildpack_toml_like_tomllib():
    text = (ROOT / "buildpack.toml").read_text()
    assert mini_toml.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize(
    "bad", ["a = [1, [2]]", "a = 1979-05-27", "[[array]]", 'a = """x"""', 'a = "x\\n"', "a = 'x'"]
)
def test_mini_toml_refuses_what_it_does_not_know(bad):
    with pytest.raises(mini_toml.TomlSubsetError):
        mini_toml.loads(bad)


def test_settings_load_has_every_supported_minor_pinned():
    s = Settings.load(ROOT / "buildpack.toml")
    assert s.default_minor in s.supported_minors
    for minor in s.supported_minors:
        assert s.latest_patch[minor].startswith(minor + ".")
    assert set(s.tools) == {"pip", "uv", "poetry", "pipenv"}


def test_env_dir_reads_values_and_skips_protected_and_invalid(tmp_path):
    (tmp_path / "SECRET_KEY").write_text("abc\n")
    (tmp_path / "PATH").write_text("/evil")
    (tmp_path / "PYTHONHOME").write_text("/evil")
    (tmp_path / "BAD-NAME").write_text("x")
    (tmp_path / "LINKED").symlink_to("/etc/hostname")
    result = config_vars.read_env_dir(tmp_path)
    assert result.values == {"SECRET_KEY": "abc\n"}
    assert dict(result.skipped) == {
        "BAD-NAME": "not a valid variable name",
        "LINKED": "not a regular file",
        "PATH": "set by the buildpack",
        "PYTHONHOME": "set by the buildpack",
    }


def test_env_dir_missing_is_empty(tmp_path):
    assert config_vars.read_env_dir(tmp_path / "nope").values == {}
    assert config_vars.read_env_dir(None).values == {}


def test_lookup_prefers_config_var_and_strips():
    cfg = config_vars.ConfigVars(values={"STACK": " heroku-24\n"})
    assert config_vars.lookup("STACK", cfg, {"STACK": "heroku-22"}) == "heroku-24"
    assert config_vars.lookup("STACK", config_vars.ConfigVars(), {"STACK": "heroku-22"}) == (
        "heroku-22"
    )
    assert config_vars.lookup("STACK", config_vars.ConfigVars(values={"STACK": " "}), {}) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n', "heroku-24"),
        ("ID=ubuntu\nVERSION_ID=22.04\n", "heroku-22"),
        ("ID=ubuntu\nVERSION_ID=23.10\n", None),
        ('ID=debian\nVERSION_ID="12"\n', None),
    ],
)
def test_stack_from_os_release(tmp_path, content, expected):
    path = tmp_path / "os-release"
    path.write_text(content)
    assert stack.stack_from_os_release(path) == expected


def test_stack_from_missing_os_release(tmp_path):
    assert stack.stack_from_os_release(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")]
)
def test_arch(machine, arch):
    assert stack.resolve_arch(machine) == arch


def test_arch_unsupported():
    with pytest.raises(errors.BuildError) as exc:
        stack.resolve_arch("riscv64")
    assert exc.value.reason == "checks::arch::unsupported"


def test_output_formats_steps_and_errors():
    out, err = io.StringIO(), io.StringIO()
    o = Output(out, err)
    o.step("Installing")
    o.info("line one\nline two")
    o.error(errors.BuildError(reason="x::y", title="Bad", cause="Because.", action="Do it."))
    assert out.getvalue() == "-----> Installing\n       line one\n       line two\n"
    lines = err.getvalue().splitlines()
    assert " !     Error: Bad" in lines
    assert " !     Because." in lines
    assert " !     Do it." in lines


def test_proc_streams_indented_and_captures():
    out = io.StringIO()
    result = proc.run(
        [sys.executable, "-c", "import sys; print('a'); print('b', file=sys.stderr)"],
        out=Output(out, io.StringIO()),
        env={"PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0
    assert result.output.splitlines() == ["a", "b"]
    assert out.getvalue() == "       a\n       b\n"


def test_proc_failure_raises_given_error():
    def failure(r: proc.Completed) -> errors.BuildError:
        return errors.BuildError(reason="t::f", title="t", cause=r.output)

    with pytest.raises(errors.BuildError) as exc:
        proc.run(
            [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
            out=Output(io.StringIO(), io.StringIO()),
            env={},
            on_failure=failure,
        )
    assert exc.value.cause == "boom"


def test_proc_missing_program_is_a_clear_error():
    with pytest.raises(errors.BuildError) as exc:
        proc.run(["/nonexistent/tool"], out=Output(io.StringIO(), io.StringIO()), env={})
    assert exc.value.reason == "internal-error::tool-not-found"


def test_proc_line_filter_changes_log_not_capture():
    out = io.StringIO()
    result = proc.run(
        [sys.executable, "-c", "print('keep'); print('drop')"],
        out=Output(out, io.StringIO()),
        env={},
        line_filter=lambda line: None if line == "drop" else line.upper(),
    )
    assert out.getvalue() == "       KEEP\n"
    assert result.output == "keep\ndrop"


def test_buildpack_root_is_repo():
    assert (buildpack_root() / "bin" / "compile").is_file()
    assert isinstance(buildpack_root(), Path)
