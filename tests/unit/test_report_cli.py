"""bin/report: the saved build report as YAML, and it never fails."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from buildpack.cli import report_cli
from buildpack.core import report, yaml_out
from buildpack.core.settings import buildpack_root

BIN_REPORT = buildpack_root() / "bin" / "report"


def run_report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BIN_REPORT), *args], capture_output=True, text=True, timeout=60
    )


def saved_report(cache_dir, fields):
    r = report.Report()
    for key, value in fields.items():
        r.set(key, value)
    r.save(cache_dir)


def test_report_prints_sorted_yaml(tmp_path):
    cache = tmp_path / "cache"
    saved_report(
        cache,
        {
            "python_version": "3.13.15",
            "pre_compile_hook": False,
            "dependencies_install_duration": 12.5,
            "failure_reason": "hooks::post_compile",
            "cache_status": "reused",
        },
    )
    result = run_report(str(tmp_path / "build"), str(cache), str(tmp_path / "env"))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == {
        "cache_status": "reused",
        "dependencies_install_duration": 12.5,
        "failure_reason": "hooks::post_compile",
        "pre_compile_hook": False,
        "python_version": "3.13.15",
    }
    keys = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert keys == sorted(keys)


def test_values_are_capped_at_200_characters(tmp_path):
    cache = tmp_path / "cache"
    path = cache / report.REPORT_PATH
    path.parent.mkdir(parents=True)
    path.write_text('{"failure_detail": "' + "x" * 500 + '", "odd": {"nested": [1, 2]}}')
    result = run_report("build", str(cache))
    data = yaml.safe_load(result.stdout)
    assert data["failure_detail"] == "x" * 200
    assert data["odd"] == '{"nested": [1, 2]}'


def test_missing_report_prints_an_empty_mapping(tmp_path):
    result = run_report("build", str(tmp_path / "no-cache"), "env")
    assert result.returncode == 0
    assert yaml.safe_load(result.stdout) == {}


def test_corrupt_report_does_not_fail(tmp_path):
    cache = tmp_path / "cache"
    path = cache / report.REPORT_PATH
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe{not json")
    result = run_report("build", str(cache), "env")
    assert result.returncode == 0
    assert yaml.safe_load(result.stdout) == {}


def test_report_as_a_directory_does_not_fail(tmp_path):
    cache = tmp_path / "cache"
    (cache / report.REPORT_PATH).mkdir(parents=True)
    assert run_report("build", str(cache)).returncode == 0


def test_a_fifo_or_an_oversized_report_is_not_read(tmp_path):
    """A fifo an earlier build's hook left would block a plain open: run_report's
    timeout fails the test then."""
    cache = tmp_path / "cache"
    path = cache / report.REPORT_PATH
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    result = run_report("build", str(cache), "env")
    assert (result.returncode, yaml.safe_load(result.stdout)) == (0, {})
    path.unlink()
    path.write_text('{"python_version": "' + "3" * (5 * 1024 * 1024) + '"}')
    result = run_report("build", str(cache), "env")
    assert (result.returncode, yaml.safe_load(result.stdout)) == (0, {})


def test_no_arguments_does_not_fail():
    assert run_report().returncode == 0


def test_minimal_writer_output_parses_to_the_same_data():
    data = report_cli.capped(
        {
            "a": "plain",
            "b": "3.14",
            "c": 'line\nbreak "quoted" \U0001f600',
            "d": True,
            "e": None,
            "f": 1.25,
            "yes": "no",
        }
    )
    assert yaml.safe_load(yaml_out.dump_minimal(data)) == data
    assert yaml.safe_load(yaml_out.dump(data)) == data


def test_credentials_never_reach_the_printed_report(tmp_path):
    """Saved by Report.set (which hides them) or already in an older file."""
    cache = tmp_path / "cache"
    saved_report(cache, {"failure_detail": "https://u:hunter2@mirror.example/x failed"})
    assert "hunter2" not in (cache / report.REPORT_PATH).read_text()
    path = cache / report.REPORT_PATH
    path.write_text(
        '{"failure_detail": "GET https://u:hunter2@mirror.example/x: HTTP 500",'
        ' "reasons": ["from http://tok@127.0.0.1:9/simple"]}'
    )
    result = run_report("build", str(cache))
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "tok@" not in result.stdout
    assert "https://****@mirror.example/x" in result.stdout
