"""Two builds on one host at once, in different BUILD_DIRs, share /app.

Both run bin/compile in one mount namespace (a tmpfs on /app, entered with
nsenter), so they share /app/.heroku/python as builds on one machine do.
Build A's post_compile hook waits until build B is waiting for the link,
then installs a wheel through /app. Before the host-wide lock, B repointed
the link as soon as it got there, and A's install landed in B's tree.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.builds import ROOT, build_env, copy_fixture
from tests.unit.wheel_factory import build_wheel

pytestmark = pytest.mark.e2e

WAITING = "Waiting for another build on this machine to finish with /app/.heroku/python"
# A's hook: say it runs, wait (bounded) for the test's go-ahead, then install.
HOOK = """\
set -e
touch "$MARKERS/$NAME-in-hook"
for _ in $(seq 1 1200); do [ -e "$MARKERS/go" ] && break; sleep 0.1; done
readlink /app/.heroku/python > link-seen-by-hook.txt
python -m pip install --no-index --quiet ./{wheel}
"""


def _wait_for(condition, what: str, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 300  # a safety net against a hung test, not a measurement
    while not condition():
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            text = "\n".join(log.read_text(errors="replace") for log in logs)
            pytest.fail(f"gave up waiting for {what}:\n{text}")
        time.sleep(0.05)


def _app(tmp_path: Path, name: str, version: str) -> Path:
    app = copy_fixture("pip_app", tmp_path / name, python_version=version)
    wheel = build_wheel(app, f"hook{name}", "1.0", {f"hook{name}/__init__.py": b""})
    (app / "bin").mkdir()
    (app / "bin" / "post_compile").write_text(HOOK.format(wheel=wheel.name))
    return app


def _site(build: Path) -> Path:
    [site] = build.glob(".heroku/python/lib/python3*/site-packages")
    return site


def test_two_concurrent_builds_each_keep_their_own_tree(
    tmp_path, runtime_archive, mirror_url, warm_cache
):
    markers = tmp_path / "markers"
    markers.mkdir()
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
         "mount -t tmpfs -o mode=0755 tmpfs /app && echo ready && exec sleep 900"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    procs: list[subprocess.Popen] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        builds, logs = {}, []
        for name in ("a", "b"):
            app = _app(tmp_path, name, runtime_archive.version)
            build = tmp_path / f"build_{name}"
            shutil.copytree(app, build, symlinks=True)
            cache = tmp_path / f"cache_{name}"
            shutil.copytree(warm_cache, cache, symlinks=True)
            env = build_env(BUILDPACK_S3_BASE_URL=mirror_url, MARKERS=str(markers), NAME=name)
            env_dir = tmp_path / f"env_{name}"
            env_dir.mkdir()
            builds[name] = (build, cache, env_dir, env)
            logs.append(tmp_path / f"log_{name}")

        def start(name: str, log: Path) -> subprocess.Popen:
            build, cache, env_dir, env = builds[name]
            compile_ = [str(ROOT / "bin" / "compile"), str(build), str(cache), str(env_dir)]
            argv = ["nsenter", f"--target={holder.pid}", "--mount", "--", *compile_]
            with open(log, "w") as f:
                return subprocess.Popen(argv, env=env, stdout=f, stderr=subprocess.STDOUT)

        procs.append(start("a", logs[0]))
        _wait_for(lambda: (markers / "a-in-hook").exists(), "build A's hook", procs, logs)
        procs.append(start("b", logs[1]))
        _wait_for(lambda: WAITING in logs[1].read_text(), "build B to wait", procs, logs)
        (markers / "go").touch()
        codes = [p.wait(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    text = {name: log.read_text(errors="replace") for name, log in zip("ab", logs, strict=True)}
    assert codes == [0, 0], text
    build_a, build_b = builds["a"][0], builds["b"][0]
    # A's hook saw the link still pointing at A, and installed there.
    assert (build_a / "link-seen-by-hook.txt").read_text().strip() == str(
        build_a / ".heroku/python"
    )
    assert (_site(build_a) / "hooka").is_dir() and not (_site(build_a) / "hookb").exists()
    assert (_site(build_b) / "hookb").is_dir() and not (_site(build_b) / "hooka").exists()
    for build in (build_a, build_b):
        assert (_site(build) / "gunicorn").is_dir()
    assert WAITING not in text["a"] and "Got /app/.heroku/python after waiting" in text["b"]
