"""The .profile.d scripts, sourced by a real sh against fake cgroup files.

The cgroup files are fakes by necessity (a test cannot change the machine's
memory limit); PYTHON_BUILDPACK_CGROUP_ROOT points the script at them, and a
fake nproc on PATH sets the CPU count the test needs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildpack.slug_env import dyno_env

MB = 1024 * 1024
SHOW = (
    'printf "%s|%s|%s\\n" "${WEB_CONCURRENCY-unset}" "${WEB_CONCURRENCY_SET_BY-unset}"'
    ' "${DYNO_RAM-unset}"; set'
)


def cgroup_v1(root: Path, limit_bytes: int) -> Path:
    (root / "memory").mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text(f"{limit_bytes}\n")
    return root


def cgroup_v2(root: Path, memory_max: str, cpu_max: str | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "memory.max").write_text(memory_max + "\n")
    if cpu_max is not None:
        (root / "cpu.max").write_text(cpu_max + "\n")
    return root


def source_script(tmp_path: Path, cgroup: Path, *, cores: int = 8, **env: str):
    """Source WEB_CONCURRENCY.sh in sh; returns (WEB_CONCURRENCY, SET_BY, DYNO_RAM), stderr, set."""
    (tmp_path / "build").mkdir(exist_ok=True)
    script = dyno_env.write_profile_scripts(tmp_path / "build")[0]
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir(exist_ok=True)
    nproc = fake_bin / "nproc"
    nproc.write_text(f"#!/bin/sh\necho {cores}\n")
    nproc.chmod(0o755)
    run_env = {
        "PATH": f"{fake_bin}:/usr/bin:/bin",
        "PYTHON_BUILDPACK_CGROUP_ROOT": str(cgroup),
        **env,
    }
    result = subprocess.run(
        ["sh", "-c", f'. "{script}"; {SHOW}'],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    )
    first, _, shell_vars = result.stdout.partition("\n")
    return tuple(first.split("|")), result.stderr, shell_vars


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(512 * MB, "2"), (1024 * MB, "4"), (2560 * MB, "10"), (14 * 1024 * MB, "17"), (100 * MB, "1")],
)
def test_v1_memory_limit(tmp_path, limit, expected):
    values, _, _ = source_script(tmp_path, cgroup_v1(tmp_path / "cg", limit), cores=8)
    assert values == (expected, "heroku/python", str(limit // MB))


def test_v2_memory_limit(tmp_path):
    values, _, _ = source_script(tmp_path, cgroup_v2(tmp_path / "cg", str(1024 * MB)))
    assert values == ("4", "heroku/python", "1024")


def test_v2_unlimited_memory_uses_the_cores(tmp_path):
    values, _, _ = source_script(tmp_path, cgroup_v2(tmp_path / "cg", "max"), cores=2)
    assert values == ("5", "heroku/python", "unset")


def test_v1_huge_limit_means_unlimited(tmp_path):
    values, _, _ = source_script(tmp_path, cgroup_v1(tmp_path / "cg", 9223372036854771712), cores=8)
    assert values == ("17", "heroku/python", "unset")


def test_v2_cpu_quota_caps_the_cores(tmp_path):
    # 150000/100000 is 1.5 CPUs: counts as 2 of the 8 the machine has.
    values, _, _ = source_script(
        tmp_path, cgroup_v2(tmp_path / "cg", "max", "150000 100000"), cores=8
    )
    assert values[0] == "5"


def test_v2_cpu_without_quota_keeps_nproc(tmp_path):
    values, _, _ = source_script(tmp_path, cgroup_v2(tmp_path / "cg", "max", "max 100000"), cores=3)
    assert values[0] == "7"


def test_no_cgroup_files_uses_the_cores(tmp_path):
    values, _, _ = source_script(tmp_path, tmp_path / "nothing-here", cores=1)
    assert values == ("3", "heroku/python", "unset")


def test_app_setting_is_left_alone(tmp_path):
    values, stderr, _ = source_script(
        tmp_path, cgroup_v1(tmp_path / "cg", 512 * MB), WEB_CONCURRENCY="7", DYNO="web.1"
    )
    assert values == ("7", "unset", "512")
    assert "WEB_CONCURRENCY is set to '7'" in stderr


def test_empty_setting_counts_as_set(tmp_path):
    """As on Heroku: WEB_CONCURRENCY="" is the app's choice, not a gap to fill."""
    values, stderr, _ = source_script(
        tmp_path, cgroup_v1(tmp_path / "cg", 512 * MB), WEB_CONCURRENCY="", DYNO="web.1"
    )
    assert values == ("", "unset", "512")
    assert "WEB_CONCURRENCY is set to ''" in stderr


def test_logs_only_on_web_dynos(tmp_path):
    cg = cgroup_v1(tmp_path / "cg", 512 * MB)
    _, web_err, _ = source_script(tmp_path, cg, DYNO="web.1")
    assert "WEB_CONCURRENCY to 2" in web_err
    _, worker_err, _ = source_script(tmp_path, cg, DYNO="worker.1")
    assert worker_err == ""


def test_script_leaves_no_helper_variables(tmp_path):
    _, _, shell_vars = source_script(
        tmp_path, cgroup_v2(tmp_path / "cg", str(512 * MB), "200000 100000")
    )
    assert "_pybp" not in shell_vars


def gunicorn_env(tmp_path: Path, **env: str) -> list[str]:
    (tmp_path / "build").mkdir(exist_ok=True)
    script = dyno_env.write_profile_scripts(tmp_path / "build")[1]
    show = 'printf "%s\\n%s\\n" "${FORWARDED_ALLOW_IPS-unset}" "${GUNICORN_CMD_ARGS-unset}"'
    result = subprocess.run(
        ["sh", "-c", f'. "{script}"; {show}'],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_gunicorn_defaults(tmp_path):
    assert gunicorn_env(tmp_path) == ["*", "--access-logfile -"]


def test_gunicorn_config_vars_win(tmp_path):
    assert gunicorn_env(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.1", GUNICORN_CMD_ARGS="") == [
        "10.0.0.1",
        "",
    ]


def test_scripts_are_written_into_profile_d(tmp_path):
    paths = dyno_env.write_profile_scripts(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        ".profile.d/WEB_CONCURRENCY.sh",
        ".profile.d/python.gunicorn.sh",
    ]
    assert all(os.access(p, os.R_OK) for p in paths)
