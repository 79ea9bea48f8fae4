"""Installing the Python runtime and linking it into /app."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

from buildpack.cache.cache_lock import FileLock, timeout_setting
from buildpack.core import errors
from buildpack.core.context import BuildContext
from buildpack.runtime.manifest import MirrorRuntimes

PYTHON_MARKER = Path("bin/python")
APP_LOCK_NAME = "python.lock"
APP_LOCK_TIMEOUT = "BUILDPACK_APP_LOCK_TIMEOUT"
# A neighbour's whole build, well inside the platform's build timeout.
DEFAULT_APP_LOCK_SECONDS = 600.0


def base_url(ctx: BuildContext) -> str:
    url = ctx.setting("BUILDPACK_S3_BASE_URL") or ctx.settings.runtime_base_url
    if urlparse(url).scheme not in ("http", "https", "file"):
        raise errors.runtime_url_invalid(url)
    return url.rstrip("/")


def uses_own_mirror(ctx: BuildContext) -> bool:
    """True when BUILDPACK_S3_BASE_URL names another mirror than Heroku's bucket."""
    return base_url(ctx) != ctx.settings.runtime_base_url.rstrip("/")


def archive_url(ctx: BuildContext, version: str, ubuntu: str) -> str:
    name = ctx.settings.archive_name.format(version=version, ubuntu=ubuntu, arch=ctx.arch)
    return f"{base_url(ctx)}/{name}"


def is_installed(python_home: Path) -> bool:
    return (python_home / PYTHON_MARKER).exists()


def install(
    ctx: BuildContext, version: str, ubuntu: str, *, mirror: MirrorRuntimes | None = None
) -> None:
    """Download and unpack the runtime into BUILD_DIR/.heroku/python.

    With the mirror's manifest, its checksum for the archive is checked too.
    """
    from buildpack.runtime import download
    from buildpack.runtime.download_settings import download_settings

    url = archive_url(ctx, version, ubuntu)
    listed = mirror.entry_for(url.rsplit("/", 1)[1]) if mirror is not None else None
    tuning = download_settings(ctx)
    stdlib_only = not ctx.deps_ready
    if stdlib_only and shutil.which("zstd") is None and ctx.deps is not None:
        # Nothing to decompress with until zstandard is there.
        stdlib_only = not ctx.deps.wait([])
    try:
        transport = download.download_and_extract(
            url,
            ctx.build_python_home,
            connect_timeout=tuning.connect_timeout,
            read_timeout=tuning.read_timeout,
            retries=tuning.retries,
            backoff=tuning.backoff,
            out=ctx.out,
            # While the buildpack's dependencies are still being fetched, the
            # same every time: urllib and the zstd tool.
            transport="urllib" if stdlib_only else "auto",
            force_zstd_tool=stdlib_only,
            budget=tuning.budget,
            max_bytes=tuning.max_bytes,
            listed_sha256=listed.sha256 if listed is not None else None,
        )
    except download.NotFound as exc:
        raise errors.python_version_not_available(
            version, url, exc.status, own_mirror=uses_own_mirror(ctx)
        ) from exc
    ctx.report.set("python_download_transport", transport)
    if transport == "urllib":
        ctx.out.info(
            "Downloaded with urllib and the zstd tool: the buildpack's own "
            "libraries were not installed yet (only the first build on this cache)"
        )


def is_linked(ctx: BuildContext) -> bool:
    """True when the build runs elsewhere than /app, so paths need care."""
    return os.path.realpath(ctx.build_dir) != os.path.realpath(ctx.app_dir)


def link_into_app(ctx: BuildContext) -> bool:
    """Point /app/.heroku/python at the build's runtime; False if building in /app.

    Running Python through this link makes sys.prefix, sys.executable and every
    shebang an installer writes say /app/..., which is where the slug runs.
    The link is shared by every build on the host, so it is locked first
    (see ``hold_app_link``) and stays this build's until the build ends.
    """
    target = ctx.build_python_home
    link = ctx.python_home
    if not is_linked(ctx):
        return False
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        hold_app_link(ctx)
        if link.exists() and not link.is_symlink():
            raise errors.app_symlink_failed(
                str(link), "a real directory is already there (from another build?)"
            )
        # Replace atomically so a concurrent reader never sees no link at all.
        tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)
    except OSError as exc:
        raise errors.app_symlink_failed(str(link), exc.strerror or str(exc)) from exc
    return True


def hold_app_link(ctx: BuildContext) -> None:
    """Take the host-wide lock beside /app/.heroku/python, waiting (bounded)
    while another build on this host holds it.

    Two builds in different BUILD_DIRs share that one link: were the second
    to repoint it, the first one's later installs would land in the second
    one's tree. The lock is held until this process ends (the kernel
    releases an flock then, SIGKILL included).
    """
    if ctx.app_link_lock is not None and ctx.app_link_lock.held:
        return
    lock = FileLock(ctx.python_home.with_name(APP_LOCK_NAME))
    timeout = timeout_setting(ctx.setting(APP_LOCK_TIMEOUT), DEFAULT_APP_LOCK_SECONDS)

    def waiting() -> None:
        ctx.out.step(
            f"Waiting for another build on this machine to finish with {ctx.python_home} "
            f"(up to {timeout:.0f} seconds)..."
        )

    if not lock.acquire(timeout, on_wait=waiting):
        raise errors.app_link_busy(str(ctx.python_home), timeout, APP_LOCK_TIMEOUT)
    if lock.waited >= 0.1:
        ctx.out.info(f"Got {ctx.python_home} after waiting {lock.waited:.1f} seconds")
    ctx.report.set("app_link_lock_wait_duration", round(lock.waited, 3))
    ctx.app_link_lock = lock
