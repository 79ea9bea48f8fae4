"""NLTK data: download the corpora an app lists in nltk.txt into the slug."""

from __future__ import annotations

import os
from pathlib import Path

from buildpack.app import installed
from buildpack.app.app_files import check_inside_app
from buildpack.core import errors, proc
from buildpack.core.context import BuildContext

NLTK_FILE = "nltk.txt"
DATA_SUBDIR = "nltk_data"
# nltk's own name for the index address (its downloader reads it too).
URL_SETTING = "NLTK_DOWNLOAD_URL"
FAILED_MARK = "NLTK-BUILDPACK-FAILED"

# Run in the app's Python. `python -m nltk.downloader` prints most failures
# (an unknown id, an unreachable index, a failed checksum) and still exits 0,
# so the downloader's API is called instead, which says whether each install
# worked; the first failure ends the run with a marked line and exit 1.
_DOWNLOAD_SCRIPT = f"""\
import sys

from nltk.downloader import Downloader

data_dir, url, *ids = sys.argv[1:]
downloader = Downloader(server_index_url=url or None)
for corpus in ids:
    try:
        ok = downloader.download(
            corpus, download_dir=data_dir, halt_on_error=True, raise_on_error=True
        )
        why = "the NLTK downloader reported an error"
    except ValueError as exc:
        ok, why = False, " ".join(str(exc).split())
    if not ok:
        print("{FAILED_MARK} " + why)
        sys.exit(1)
"""


def read_corpora(path: Path) -> list[str]:
    """Corpus ids from nltk.txt: blank and # lines skipped, whitespace separates."""
    corpora: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            corpora.extend(line.split())
    return corpora


def download_command(
    python: Path, data_dir: Path, corpora: list[str], url: str | None
) -> list[str]:
    return [str(python), "-c", _DOWNLOAD_SCRIPT, str(data_dir), url or "", *corpora]


def failure_detail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(FAILED_MARK):
            return line.removeprefix(FAILED_MARK).strip()
    # A crash (nltk too old to import, ...) ends with the exception's line.
    return lines[-1] if lines else "the downloader printed nothing"


def download_corpora(ctx: BuildContext) -> str | None:
    """Returns the report value, or None when the app does not use NLTK."""
    if not installed.has_any(ctx.build_python_home, "nltk"):
        return None
    nltk_txt = ctx.build_dir / NLTK_FILE
    if os.path.lexists(nltk_txt):
        # Its contents are quoted in the log: never a file from outside the app.
        check_inside_app(ctx.build_dir, NLTK_FILE)
    if not nltk_txt.is_file():
        ctx.out.step("NLTK is installed, but there is no nltk.txt: not downloading any corpora")
        ctx.report.set("nltk_downloader", "skipped-no-nltk-file")
        return "skipped-no-nltk-file"
    corpora = read_corpora(nltk_txt)
    if not corpora:
        ctx.out.step("nltk.txt lists no corpora: not downloading any")
        ctx.report.set("nltk_downloader", "skipped-empty-nltk-file")
        return "skipped-empty-nltk-file"
    ctx.out.step("Downloading NLTK corpora: " + " ".join(corpora))
    # Written through the build path: data files hold no paths, and nltk
    # refuses to write through links it cannot vouch for.
    data_dir = ctx.build_python_home / DATA_SUBDIR
    data_dir.mkdir(mode=0o755, exist_ok=True)
    command = download_command(ctx.python, data_dir, corpora, ctx.setting(URL_SETTING))
    with ctx.report.timed("nltk_downloader"):
        result = proc.run(
            command,
            out=ctx.out,
            env=ctx.build_env(),
            cwd=ctx.build_dir,
            line_filter=lambda line: None if line.startswith(FAILED_MARK) else line,
        )
    if result.returncode != 0:
        raise errors.nltk_download_failed(corpora, failure_detail(result.output), result.output)
    ctx.report.set("nltk_downloader", "enabled")
    ctx.extra_env["NLTK_DATA"] = str(ctx.python_home / DATA_SUBDIR)
    ctx.profile_env["NLTK_DATA"] = f"$HOME/{ctx.python_home.relative_to(ctx.app_dir)}/{DATA_SUBDIR}"
    return "enabled"
