"""What an installed app's slug must show once it runs at /app (package managers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from buildpack.core.report import REPORT_PATH
from tests.support.builds import ROOT, BuildResult, build_and_run

CHECK_SLUG = ROOT / "scripts" / "check-slug"

# Runs in /app after relocation: check-slug (serves a request through the
# gunicorn entrypoint), then where the packages really are, and what else the
# slug holds under .heroku.
_WHERE = r"""
python - <<'PY'
import importlib.util, pathlib
package = pathlib.Path(importlib.util.find_spec("gunicorn").origin).parent
print("GUNICORN_BYTECODE:", len(list(package.glob("__pycache__/*.pyc"))))
PY
"$1"
python - <<'PY'
import importlib.util
import gunicorn
print("GUNICORN:", gunicorn.__file__)
print("INICONFIG:", "present" if importlib.util.find_spec("iniconfig") else "absent")
PY
echo "HEROKU_DIR: $(ls -A /app/.heroku | tr '\n' ' ')"
"""


def check_command(then: str = "", *args: str) -> list[str]:
    """The checks above, then the bash lines ``then`` (their "$2"... are ``args``)."""
    return ["bash", "-euo", "pipefail", "-c", _WHERE + then, "check", str(CHECK_SLUG), *args]


def report(cache_dir: Path) -> dict:
    return json.loads((cache_dir / REPORT_PATH).read_text())


def assert_installed_into_runtime(stdout: str, *, dev: bool = False) -> None:
    """gunicorn is in the runtime's own site-packages; the dev group only with ``dev``."""
    assert "GUNICORN: /app/.heroku/python/lib/python3." in stdout, stdout
    assert "/site-packages/gunicorn/__init__.py" in stdout, stdout
    assert f"INICONFIG: {'present' if dev else 'absent'}" in stdout, stdout
    # The tool itself stayed in the build cache, out of the slug.
    lines = [line.rstrip() for line in stdout.splitlines()]
    assert "HEROKU_DIR: python" in lines, stdout


def assert_app_compiled(stdout: str) -> None:
    """The installer compiled the app's packages (gunicorn's bytecode was
    there before anything in the slug imported it)."""
    [count] = [
        line.split()[1] for line in stdout.splitlines() if line.startswith("GUNICORN_BYTECODE:")
    ]
    assert int(count) > 0, stdout


# Heroku CI: bin/test-compile, then the tests run in the build directory.
TEST_COMPILE = r"""
"$BUILDPACK/bin/test-compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
/app/.heroku/python/bin/python - <<'PY'
import iniconfig
print("INICONFIG:", iniconfig.__file__)
PY
"""


def assert_dev_group_installed(stdout: str) -> None:
    """test-compile installed the dev group into the runtime's site-packages."""
    assert "INICONFIG: /app/.heroku/python/lib/python3." in stdout, stdout
    assert "/site-packages/iniconfig/__init__.py" in stdout, stdout


@dataclass
class Built:
    result: BuildResult
    cache: Path
    app: Path


def build_locked_app(
    locked_apps, work: Path, manager: str, mirror_url: str, command: list[str] | None = None
) -> Built:
    """Build tests/fixtures/<manager>_app with a lockfile made at test time,
    relocate it and run ``command`` (check_command()); keep the cache for later builds."""
    app = locked_apps.app(f"{manager}_app", work, manager)
    cache = work / "cache"
    result = build_and_run(
        app,
        cache,
        work / "env",
        # The HOME the lockfile was made with (see tests/support/lockfiles.py).
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=command or check_command(),
    )
    return Built(result, cache, app)


def rebuild_unchanged(locked_apps, built: Built, mirror_url: str) -> BuildResult:
    """The same app again, on the cache ``built`` left, in a new build
    directory: the installer must not run (see assert_install_skipped)."""
    return build_and_run(
        built.app,
        built.cache,
        built.cache.parent / "env",
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=check_command(),
    )


def assert_install_skipped(result: BuildResult, cache: Path, manager: str) -> None:
    """An unchanged rebuild: cache reused, tool and installer not run, app served."""
    assert result.returncode == 0, result.log
    assert "-----> Skipping dependency installation" in result.stdout, result.log
    assert "Installing dependencies using" not in result.stdout, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)
    fields = report(cache)
    assert fields["cache_status"] == "reused"
    assert fields["dependencies_install_skipped"] is True
    assert fields[f"{manager}_install_source"] == "cache"
    # Nothing else runs then, so the relocation audit read the Python home in
    # a child process while the cache was saved, and said so after.
    assert fields["relocation_audit_in"] == "child process", result.log
    assert fields["relocation_findings_count"] == 0
    saving = result.stdout.index("-----> Saving cache")
    assert result.stdout.index("Relocation check: no file under", saving) > saving


def assert_tool_outside_runtime(cache: Path, tool: str, version: str) -> Path:
    """The tool sits in the build cache, and nothing was installed into its venv."""
    (tool_dir,) = (cache / ".heroku" / "tools").glob(f"{tool}-{version}-python3.*")
    venv_site = list(tool_dir.glob("venv/lib/python3.*/site-packages"))
    assert venv_site and not list(venv_site[0].glob("gunicorn*")), f"installed into {tool}'s venv"
    return tool_dir
