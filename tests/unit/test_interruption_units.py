"""The pieces that make an interrupted build end cleanly, and download tuning.

- proc.run stops its child when the build is interrupted;
- bin/compile turns SIGTERM into the "interrupted" error path;
- the build's private TMPDIR is removed however the build ends;
- BUILDPACK_DOWNLOAD_* settings override buildpack.toml, and bad values are
  clear errors.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from buildpack.core import errors, proc
from buildpack.core.build_tmpdir import private_tmpdir
from buildpack.core.output import Output
from buildpack.core.settings import buildpack_root
from buildpack.runtime import download_settings
from tests.unit.ctx_factory import make_ctx

ROOT = buildpack_root()


# --- proc.run -----------------------------------------------------------------------


def test_run_stops_the_child_when_interrupted() -> None:
    pids: list[int] = []

    def interrupt_after_first_line(line: str) -> str:
        pids.append(int(line))
        raise KeyboardInterrupt  # what the SIGTERM handler raises, in the same place

    out = Output(io.StringIO(), io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        proc.run(
            ["sh", "-c", "echo $$; exec sleep 60"],
            out=out,
            env={"PATH": os.environ["PATH"]},
            line_filter=interrupt_after_first_line,
        )
    (pid,) = pids
    # Stopped and reaped by run(): the pid no longer exists at all.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_kills_a_child_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc, "STOP_GRACE_SECONDS", 0.2)
    pids: list[int] = []

    def interrupt(line: str) -> str:
        pids.append(int(line))
        raise KeyboardInterrupt

    out = Output(io.StringIO(), io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        proc.run(
            ["sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.05; done"],
            out=out,
            env={"PATH": os.environ["PATH"]},
            line_filter=interrupt,
        )
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


# --- SIGTERM in bin/compile ------------------------------------------------------------


def test_sigterm_becomes_the_interrupted_error(tmp_path: Path) -> None:
    """A real process: the handler, and compile_main's handling of it."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from buildpack.cli import main

        def build(*args):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()  # never reached: the handler raises first

        main._build = build
        sys.exit(main.compile_main([{str(tmp_path / "build")!r}, {str(tmp_path / "cache")!r}]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stderr
    assert " !     Error: The build was interrupted" in result.stderr
    assert "Traceback" not in result.stderr
    report = (tmp_path / "cache" / "build-data" / "python.json").read_text()
    assert "internal-error::interrupted" in report


def test_a_second_sigterm_does_not_interrupt_the_cleanup() -> None:
    from buildpack.cli import main

    previous = signal.getsignal(signal.SIGTERM)
    try:
        main.stop_on_sigterm()
        with pytest.raises(main.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
        os.kill(os.getpid(), signal.SIGTERM)  # ignored now: no exception
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the private TMPDIR ------------------------------------------------------------------


def test_private_tmpdir_is_used_then_removed(tmp_path: Path) -> None:
    environ = {"TMPDIR": str(tmp_path)}
    os.environ["TMPDIR"] = str(tmp_path)
    tempfile.tempdir = None
    try:
        with private_tmpdir(environ) as path:
            assert path is not None and path.parent == tmp_path
            assert environ["TMPDIR"] == str(path)
            (path / "left-by-a-killed-installer").write_text("x")
        assert environ["TMPDIR"] == str(tmp_path)
        assert list(tmp_path.iterdir()) == []
    finally:
        del os.environ["TMPDIR"]
        tempfile.tempdir = None


def test_private_tmpdir_is_removed_on_interruption(tmp_path: Path) -> None:
    os.environ["TMPDIR"] = str(tmp_path)
    tempfile.tempdir = None
    environ: dict[str, str] = {}
    try:
        with pytest.raises(KeyboardInterrupt), private_tmpdir(environ) as path:
            assert path is not None
            (path / "partial").mkdir()
            raise KeyboardInterrupt
        assert "TMPDIR" not in environ
        assert list(tmp_path.iterdir()) == []
    finally:
        del os.environ["TMPDIR"]
        tempfile.tempdir = None


# --- BUILDPACK_DOWNLOAD_* ------------------------------------------------------------------


def test_download_settings_default_to_buildpack_toml(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, environ={}).ctx
    tuning = download_settings.download_settings(ctx)
    assert tuning.connect_timeout == ctx.settings.connect_timeout
    assert tuning.read_timeout == ctx.settings.read_timeout
    assert tuning.retries == ctx.settings.retries
    assert tuning.backoff == ctx.settings.backoff


def test_download_settings_overrides(tmp_path: Path) -> None:
    ctx = make_ctx(
        tmp_path,
        environ={"BUILDPACK_DOWNLOAD_READ_TIMEOUT": "1.5", "BUILDPACK_DOWNLOAD_RETRIES": "9"},
        # A config var wins over the environment, like every buildpack setting.
        config={"BUILDPACK_DOWNLOAD_RETRIES": "0", "BUILDPACK_DOWNLOAD_BACKOFF": "0"},
    ).ctx
    tuning = download_settings.download_settings(ctx)
    assert tuning.read_timeout == 1.5
    assert tuning.retries == 0
    assert tuning.backoff == 0.0
    assert tuning.read_timeout == 1.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BUILDPACK_DOWNLOAD_READ_TIMEOUT", "0"),
        ("BUILDPACK_DOWNLOAD_READ_TIMEOUT", "-1"),
        ("BUILDPACK_DOWNLOAD_READ_TIMEOUT", "nan"),
        ("BUILDPACK_DOWNLOAD_READ_TIMEOUT", "1e999"),
        ("BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT", "fast"),
        ("BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT", "601"),
        ("BUILDPACK_DOWNLOAD_BACKOFF", "-0.1"),
        ("BUILDPACK_DOWNLOAD_RETRIES", "11"),
        ("BUILDPACK_DOWNLOAD_RETRIES", "1.5"),
        ("BUILDPACK_DOWNLOAD_RETRIES", "\u0663"),  # an Arabic-Indic digit 3
        ("BUILDPACK_DOWNLOAD_RETRIES", "9" * 5000),
    ],
)
def test_bad_download_settings_are_clear_errors(tmp_path: Path, name: str, value: str) -> None:
    ctx = make_ctx(tmp_path, environ={name: value}).ctx
    with pytest.raises(errors.BuildError) as info:
        download_settings.download_settings(ctx)
    assert info.value.reason == "install-python::invalid-download-setting"
    assert name in info.value.title
