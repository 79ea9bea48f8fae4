"""What each phase of a build would cost done the plainest way: its floor.

Measured right after the build whose phases they are set against, on the
same inputs and the same (possibly busy) machine:

- runtime install: ``zstd -dc ARCHIVE | tar -x`` of the same archive file,
  and ``curl URL | zstd -dc | tar -x`` over the same loopback mirror;
- a download: one plain GET (curl) of the same bytes: the runtime archive,
  or the package manager's files concatenated into one file on the index;
- the app's installer: the same command on the same app, run by hand in a
  fresh copy of the runtime with empty caches, with the package manager
  the build left in CACHE_DIR (``by-hand`` runs in a mount namespace with
  a tmpfs on /app, like the build).

    python3 bench/floors.py by-hand MANAGER APP CACHE_DIR ARCHIVE   (inside a namespace)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_HOME = Path("/app/.heroku/python")


def timed(args: list[str], **kwargs: object) -> float:
    settle_disk()
    start = time.perf_counter()
    subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def settle_disk() -> None:
    """Write out what earlier steps left dirty before timing the next one.

    Without it, each measurement paid for the writeback (and, on a disk
    mounted with ``discard``, the trims) of whatever ran just before it: the
    same floor moved from 0.18 to 1.08 s within an hour. Not timed.
    """
    os.sync()


def unpack(archive: Path) -> float:
    """``zstd -dc ARCHIVE | tar -x`` into a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="floor-", dir="/tmp") as work:
        return timed(["sh", "-c", 'zstd -dc "$1" | tar -x -C "$2"', "sh", str(archive), work])


def fetch_unpack(url: str) -> float:
    """``curl URL | zstd -dc | tar -x`` into a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="floor-", dir="/tmp") as work:
        script = 'curl -sf "$1" | zstd -dc | tar -x -C "$2"'
        return timed(["sh", "-c", script, "sh", url, work])


def plain_get(url: str) -> float:
    return timed(["curl", "-sf", "-o", os.devnull, url])


def blob(index_root: Path, name: str, files: list[Path]) -> str:
    """``files`` concatenated into one file served by the index; its path."""
    path = index_root / "blobs" / name
    path.parent.mkdir(exist_ok=True)
    with open(path, "wb") as out:
        for each in files:
            out.write(each.read_bytes())
    return f"/blobs/{name}"


def in_namespace(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = 'mount -t tmpfs -o mode=0755 tmpfs /app && exec "$@"'
    args = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "x"]
    return subprocess.run(
        [*args, *command], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def installer_by_hand(
    manager: str, app: Path, cache: Path, archive: Path, env: dict[str, str]
) -> float:
    """The app's installer run by hand, in a namespace (see ``by_hand``)."""
    command = [sys.executable, __file__, "by-hand", manager, str(app), str(cache), str(archive)]
    result = in_namespace(command, env)
    if result.returncode != 0:
        sys.exit(f"the {manager} installer by hand failed:\n{result.stdout}{result.stderr}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])


# --- inside the namespace ---------------------------------------------------------------


def _tool(cache: Path, tool: str) -> Path:
    [found] = sorted((cache / ".heroku" / "tools").glob(f"{tool}-*/bin/{tool}"))
    return found


def by_hand(manager: str, app: Path, cache: Path, archive: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="by-hand-", dir="/tmp"))
    try:
        home = work / "python"
        home.mkdir()
        subprocess.run(["sh", "-c", f'zstd -dc "{archive}" | tar -x -C "{home}"'], check=True)
        APP_HOME.parent.mkdir(parents=True)
        APP_HOME.symlink_to(home)
        build = work / "app"
        shutil.copytree(app, build, symlinks=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PATH"] = f"{APP_HOME}/bin:{env.get('PATH', '/usr/bin:/bin')}"
        env["LD_LIBRARY_PATH"] = f"{APP_HOME}/lib"
        caches = work / "caches"
        python = str(APP_HOME / "bin" / "python")
        if manager == "pip":
            # The pinned pip, as the build has it (not timed).
            pin = _pin("pip")
            quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
            subprocess.run([python, "-m", "ensurepip"], **quiet)  # type: ignore[call-overload]
            pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", pin]
            subprocess.run(pip, **quiet)  # type: ignore[call-overload]
            command = [python, "-m", "pip", "install", "-r", "requirements.txt"]
            command += [f"--cache-dir={caches}", "--no-input", "--progress-bar=off", "-q"]
        elif manager == "uv":
            command = [str(_tool(cache, "uv")), "sync", "--locked", "--no-default-groups"]
            command.append("--no-progress")
            env.update(
                UV_PROJECT_ENVIRONMENT=str(APP_HOME),
                UV_PYTHON=python,
                UV_PYTHON_DOWNLOADS="never",
                UV_CACHE_DIR=str(caches),
                UV_COMPILE_BYTECODE="1",
            )
        elif manager == "poetry":
            command = [str(_tool(cache, "poetry")), "sync", "--only", "main", "--no-interaction"]
            command += ["--no-ansi", "--compile"]
            env.update(POETRY_VIRTUALENVS_CREATE="false", POETRY_CACHE_DIR=str(caches))
        else:
            # Pipenv's venv is part of the Python home the build cached (as on
            # Heroku), made to run at APP_HOME/pipenv: the same here.
            shutil.copytree(cache / ".heroku" / "python" / "pipenv", home / "pipenv", symlinks=True)
            command = [str(APP_HOME / "pipenv" / "bin" / "pipenv"), "install", "--deploy"]
            command.append("--system")
            env.update(PIPENV_SYSTEM="1", PIPENV_VERBOSITY="-1", PIPENV_CACHE_DIR=str(caches))
        seconds = timed(command, cwd=build, env=env, stdout=subprocess.DEVNULL)
        if manager == "poetry":
            # Poetry ran from the venv the build keeps in CACHE_DIR and wrote
            # its bytecode there, which the build removes after its own run:
            # the next build must not pay for the floor's (not timed).
            sys.path.insert(0, str(ROOT))
            from buildpack.package_managers import kept_venv

            minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
            kept_venv.drop_bytecode(_tool(cache, "poetry").parent.parent, minor)
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pin(tool: str) -> str:
    sys.path.insert(0, str(ROOT))
    from buildpack.core.settings import Settings

    return f"{tool}=={Settings.load(ROOT / 'buildpack.toml').tools[tool]}"


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "by-hand":
        sys.exit(__doc__)
    seconds = by_hand(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
    print(json.dumps({"seconds": round(seconds, 3)}))
