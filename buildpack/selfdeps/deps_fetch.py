"""Getting the wheels of the buildpack's own libraries, and unpacking them.

Two ways, both ending in the same directory layout (``verified_tree``): the
wheels in ``.wheels/``, each unpacked beside them as ``pip install
--target`` would. ``fetch_main`` runs in a background process and fetches
the locked files from the index pip would use; ``download_with_pip`` is the
fallback, with ``pip download`` held to the lock's hashes. Where the lock
does not cover this interpreter (a Python newer than the lock, a
free-threaded build) the pins are fetched as they are, and the result is
only used by this build (see bootstrap).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from buildpack.core import errors, proc
from buildpack.core.output import Output
from buildpack.runtime import download_settings
from buildpack.selfdeps import package_index, wheel_install
from buildpack.selfdeps.verified_tree import WHEELS
from buildpack.selfdeps.wheel_lock import LockedFile

# fetch_main's exit status for a BuildError (the index is too slow: pip, the
# fallback, would be too), which it prints as JSON on its last line.
EXIT_BUILD_ERROR = 3
# Run by ``Dependencies.start`` as ``python -I -c``: -I keeps the app's and the
# user's Python settings out, so the package's path comes as an argument.
FETCH_SCRIPT = (
    "import sys; sys.dont_write_bytecode = True; sys.path.insert(0, sys.argv[1]); "
    "from buildpack.selfdeps.deps_fetch import fetch_main; sys.exit(fetch_main(sys.argv[2:]))"
)


def fetch_args(
    partial: Path,
    index: package_index.IndexSettings,
    wanted: Sequence[LockedFile],
    pure_wheels: Sequence[Path],
) -> list[str]:
    """The arguments of ``fetch_main`` (after the buildpack's directory)."""
    spec = [[f.project, f.version, f.filename, f.sha256] for f in wanted]
    trusted = " ".join(sorted(index.trusted_hosts))
    pure = os.pathsep.join(str(path) for path in pure_wheels)
    return [str(partial), index.url, index.cafile or "", trusted, pure, json.dumps(spec)]


def fetch_main(argv: list[str]) -> int:
    """``PARTIAL INDEX_URL CAFILE TRUSTED_HOSTS PURE_WHEELS SPEC``: fetch each
    wheel SPEC names (JSON: project, version, and the locked file name and
    sha256, or "" to take the best for here) into PARTIAL/.wheels and unpack
    it into PARTIAL, with the checked PyPA wheel files PURE_WHEELS (joined by
    os.pathsep) on sys.path. Exit 0, or 1 with the reason on the last line,
    or EXIT_BUILD_ERROR with the error on it."""
    partial, url, cafile, trusted, pure, spec = argv
    sys.path[:0] = pure.split(os.pathsep) if pure else []
    # Nothing waits for this before the end of the build, while the runtime
    # install, which every later step waits for, needs the CPU now.
    with contextlib.suppress(OSError):
        os.nice(19)
    budget = download_settings.download_budget(os.environ)
    index = package_index.IndexSettings(url, cafile or None, frozenset(trusted.split()), budget)
    target = Path(partial)
    wheels = target / WHEELS
    try:
        wheels.mkdir()
        for project, version, filename, sha256 in json.loads(spec):
            if filename:
                wheel = package_index.fetch_locked(
                    index, LockedFile(project, version, filename, sha256), wheels
                )
            else:
                pin = package_index.Pin(project, version)
                interp = package_index.interpreter()
                [wheel] = package_index.fetch_pinned(index, [pin], interp, wheels)
            wheel_install.unpack_into_target(wheel, target)
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        print(exc)
        return 1
    except errors.BuildError as exc:
        print(json.dumps(dataclasses.asdict(exc)))
        return EXIT_BUILD_ERROR
    return 0


def download_with_pip(
    command: list[str],
    wanted: Sequence[LockedFile],
    partial: Path,
    env: dict[str, str],
    out: Output,
) -> None:
    """``pip download`` the wanted wheels into PARTIAL/.wheels, held to the
    lock's sha256 where there is one, and unpack them into PARTIAL."""
    wheels = partial / WHEELS
    wheels.mkdir(parents=True, exist_ok=True)
    lines = []
    for f in wanted:
        line = f"{f.project}=={f.version}"
        lines.append(f"{line} --hash=sha256:{f.sha256}" if f.sha256 else line)
    requirements = partial / ".requirements.txt"  # inside our fresh directory
    requirements.write_text("\n".join(lines) + "\n")
    hashes = ["--require-hashes"] if all(f.sha256 for f in wanted) else []
    try:
        proc.run(
            [
                *command,
                "download",
                "--disable-pip-version-check",
                "--no-input",
                "--no-cache-dir",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                *hashes,
                "--dest",
                str(wheels),
                "--requirement",
                str(requirements),
            ],
            out=out,
            env=env,
            show=False,
            on_failure=lambda r: errors.buildpack_dependencies_failed(r.output),
        )
    finally:
        requirements.unlink(missing_ok=True)
    downloaded = sorted(wheels.glob("*.whl"))
    if importlib.util.find_spec("installer") is None:
        # Without the buildpack's installer library, pip unpacks what it
        # downloaded (this build only: see bootstrap).
        options = ["--no-input", "--quiet", "--no-index", "--no-deps", "--target", str(partial)]
        proc.run(
            [*command, "install", "--disable-pip-version-check", *options, *map(str, downloaded)],
            out=out,
            env=env,
            show=False,
            on_failure=lambda r: errors.buildpack_dependencies_failed(r.output),
        )
        return
    try:
        for wheel in downloaded:
            wheel_install.unpack_into_target(wheel, partial)
    except wheel_install.WheelError as exc:
        raise errors.buildpack_dependencies_failed(str(exc)) from None
