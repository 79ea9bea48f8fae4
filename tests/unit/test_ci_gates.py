"""CI cannot pass by running nothing: e2e preconditions and empty runs."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.builds import ROOT, cannot_run, namespace_problem


def test_a_missing_precondition_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no unshare here"):
        cannot_run("no unshare here")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_a_missing_precondition_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true, and an end-to-end test cannot run"):
        cannot_run("no unshare here")


def test_a_host_without_unshare_is_a_problem(monkeypatch, tmp_path):
    if namespace_problem() is not None:
        pytest.skip("this host cannot run builds in a namespace anyway")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no unshare on PATH
    problem = namespace_problem()
    assert problem is not None and "unshare" in problem


def test_ci_fails_when_pytest_collects_nothing(tmp_path):
    """.ci/run's test run on a directory holding no tests: pytest exits 5, and so does CI."""
    empty = tmp_path / "no-tests"
    empty.mkdir()
    assert "exec bash .ci/pytest" in (ROOT / ".ci" / "run").read_text()
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "pytest"), str(empty)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 5, result.stdout + result.stderr
    assert "pytest collected no tests: failing" in result.stderr
