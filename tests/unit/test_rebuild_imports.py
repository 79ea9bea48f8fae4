"""What an unchanged rebuild imports before it knows it has nothing to fetch.

Every build imports the build's modules and its package manager's; an
unchanged rebuild downloads nothing, so none of them may import the HTTP
side (urllib.request, http.client, ssl, the buildpack's transports),
requests or packaging at import time: those come with the code that
fetches or parses (issue 16, point 5). Nor importlib.metadata and the email
package, nor traceback, which most builds never use. Checked in a fresh interpreter
without site-packages, as bin/compile runs before its libraries are there.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.fresh_python import run_without_site

REPO_ROOT = Path(__file__).resolve().parents[2]

# Only imported by the code that fetches, or that parses what needs packaging.
NOT_AT_IMPORT = (
    "http.client",
    "ssl",
    "urllib.request",
    "concurrent.futures",
    "requests",
    "packaging",
    "buildpack.runtime.transports",
    "buildpack.runtime.download",
    "buildpack.runtime.limits",
    # Asked only when a site-packages may hold the distribution (app.installed).
    "importlib.metadata",
    "email",
    # Only for a bug's traceback (cli.main).
    "traceback",
)
BUILD_MODULES = (
    "buildpack.cli.main",
    "buildpack.compile",
    "buildpack.core.context",
    "buildpack.app.checks",
    "buildpack.package_managers.pip",
    "buildpack.package_managers.uv",
    "buildpack.package_managers.poetry",
    "buildpack.package_managers.pipenv",
)


def test_the_build_modules_import_no_http_and_no_packaging():
    code = (
        "import importlib, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        f"for name in {BUILD_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in {NOT_AT_IMPORT!r} if m in sys.modules))\n"
    )
    assert run_without_site(code, str(REPO_ROOT)) == "[]\n"
