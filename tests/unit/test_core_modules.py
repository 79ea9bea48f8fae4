"""Unit tests for the small core modules: settings, config vars, stack, output, proc."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from buildpack.app import stack
from buildpack.core import config_vars, errors, mini_toml, proc, redact, report
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
    assert set(s.tools) == {"pip", "uv", "poetry", "pipenv", "setuptools"}


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
    ("fields", "expected"),
    [
        ({"NAME": "Ubuntu", "ID": "ubuntu", "VERSION_ID": "24.04"}, "heroku-24"),
        ({"ID": "ubuntu", "VERSION_ID": "22.04"}, "heroku-22"),
        ({"ID": "ubuntu", "VERSION_ID": "23.10"}, None),
        ({"ID": "debian", "VERSION_ID": "12"}, None),
        ({"ID": "ubuntu"}, None),
    ],
)
def test_stack_from_os_release(fields, expected):
    assert stack.stack_from_os_release(fields) == expected


def test_stack_of_this_machine_from_its_os_release():
    """Read by the platform module, as systemd defines the file."""
    try:
        fields = platform.freedesktop_os_release()
    except OSError:
        assert stack.stack_from_os_release() is None
        return
    assert stack.stack_from_os_release() == stack.stack_from_os_release(fields)
    ubuntu = fields.get("ID") == "ubuntu" and fields.get("VERSION_ID", "").endswith(".04")
    assert (stack.stack_from_os_release() is not None) == ubuntu


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://u:pw@h.example/s", "https://****@h.example/s"),
        ("see http://token@127.0.0.1:8/x, then", "see http://****@127.0.0.1:8/x, then"),
        ("'https://u:p@ss@h.example/s'", "'https://****@h.example/s'"),
        ("git+https://u:pw@git.example/r.git#egg=x", "git+https://****@git.example/r.git#egg=x"),
        ("a@b.example and https://h.example/p@q", "a@b.example and https://h.example/p@q"),
        ("no urls here", "no urls here"),
    ],
)
def test_redact_text_hides_every_urls_userinfo(text, shown):
    assert redact.redact_text(text) == shown


def test_redact_url():
    assert redact.redact_url("https://u:p%40@h.example:8/s?q#f") == "https://****@h.example:8/s?q#f"
    assert redact.redact_url("https://h.example/s") == "https://h.example/s"


def test_output_and_report_hide_credentials_wherever_they_come_from():
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout, stderr)
    secret = "http://deploy:hunter2@127.0.0.1:9/simple"
    out.step(f"Looking in {secret}")
    out.info(f"Download failed ({secret}); retrying")
    out.tool_line(f"  pip says {secret}")
    out.warning("w", secret)
    out.error(errors.runtime_download_failed(secret, "HTTP 500"))
    r = report.Report()
    r.set("failure_detail", secret)
    r.set("cache_discard_reasons", [secret])
    text = stdout.getvalue() + stderr.getvalue() + repr(r.fields)
    assert "hunter2" not in text and "deploy" not in text
    assert text.count("http://****@127.0.0.1:9/simple") == 7


def test_config_var_values_are_never_printed(tmp_path):
    """bin/compile names the config vars it skips, never their values; nor
    does a failed build's log or report show any config var."""
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    for name, value in {
        "SECRET_KEY": "s3cret-key",
        "PIP_INDEX_URL": "https://u:s3cret-pw@index.example/simple",
        "PYTHONHOME": "s3cret-home",
        "bad name": "s3cret-bad",
    }.items():
        (env_dir / name).write_text(value)
    app = tmp_path / "app"
    app.mkdir()  # no requirements.txt: fails before installing anything
    env = {"PATH": os.environ["PATH"], "STACK": "heroku-24", "PIP_NO_INDEX": "1"}
    result = subprocess.run(
        [sys.executable, str(buildpack_root() / "bin" / "compile"), app, tmp_path / "c", env_dir],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Not exporting config var 'PYTHONHOME'" in result.stdout
    saved = (tmp_path / "c" / report.REPORT_PATH).read_text()
    assert "s3cret" not in result.stdout + result.stderr + saved
