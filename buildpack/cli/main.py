"""Entry points behind bin/compile and bin/test-compile."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from buildpack.cache import cache_guard
from buildpack.core import errors
from buildpack.core.build_tmpdir import private_tmpdir
from buildpack.core.config_vars import read_env_dir
from buildpack.core.context import BuildContext
from buildpack.core.output import Output, colour_wanted
from buildpack.core.redact import redact_text
from buildpack.core.report import Report
from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime import manifest
from buildpack.selfdeps import bootstrap

USAGE = "usage: bin/compile BUILD_DIR CACHE_DIR [ENV_DIR]"
# How long a failed build waits for the background fetch of the buildpack's
# own dependencies to end, to keep them for the next build.
KEEP_FETCHED_SECONDS = 20.0


def compile_main(argv: list[str], *, install_dev: bool = False) -> int:
    out = Output(colour=colour_wanted(os.environ))
    if len(argv) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    stop_on_sigterm()
    build_dir = Path(os.path.abspath(argv[0]))
    cache_dir = Path(os.path.abspath(argv[1]))
    env_dir = Path(os.path.abspath(argv[2])) if len(argv) > 2 and argv[2] else None
    report = Report()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with private_tmpdir():
            _build(build_dir, cache_dir, env_dir, out, report, install_dev)
    except errors.BuildError as exc:
        _fail(out, report, exc)
    except KeyboardInterrupt:
        _fail(out, report, errors.interrupted())
    except Exception as exc:  # a bug: say so, and keep the traceback for the report
        import traceback  # only for a bug: its imports cost every build 3 ms

        _fail(out, report, errors.internal_error(f"{type(exc).__name__}: {exc}"))
        sys.stderr.write(redact_text(traceback.format_exc()))
    else:
        report.save(cache_dir)
        return 0
    # A failed build's report matters most; a broken cache dir must not hide the error.
    with contextlib.suppress(OSError):
        report.save(cache_dir)
    return 1


def imports_done() -> None:
    """Collect garbage from here on, not before, and never look at what is
    there by now again.

    bin/compile turns the collector off before it imports the build: the
    200-odd modules' objects live as long as the process, and collecting them
    while they came (about 45 times, 7 to 10 ms of every build) freed a few
    hundred objects. Frozen here, they are left out of every later
    collection; the build's own objects are collected as usual.
    """
    gc.freeze()
    gc.enable()


def leave(status: int) -> NoReturn:
    """End the process with ``status``, without the interpreter's teardown
    when nothing can need it.

    Tearing down the 300 modules a build has imported (OpenSSL's state
    among them) took 20 to 40 ms of every build, a tenth of an unchanged
    rebuild, and does nothing for it: by now every file the build wrote is
    closed and every child process reaped. Skipped only when no thread but
    daemons is left (another could still be writing), after the standard
    streams are flushed; the usual exit otherwise.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if all(t.daemon or t is threading.main_thread() for t in threading.enumerate()):
        os._exit(status)
    sys.exit(status)


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered the way Ctrl-C is.

    A KeyboardInterrupt subclass, so that every ``except BaseException:
    clean up; raise`` on the way out (partial extractions, child processes,
    half-installed dependencies) runs, and the build ends with the usual
    "interrupted" message and exit status 1 instead of dying mid-write.
    """


def stop_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        # Once is enough: a second SIGTERM must not interrupt the cleanup.
        signal.signal(signal.SIGTERM, lambda *_: None)
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)


def _fail(out: Output, report: Report, exc: errors.BuildError) -> None:
    out.error(exc)
    report.set("failure_reason", exc.reason)
    report.set("failure_detail", exc.detail)


def _build(
    build_dir: Path,
    cache_dir: Path,
    env_dir: Path | None,
    out: Output,
    report: Report,
    install_dev: bool,
) -> None:
    root = buildpack_root()
    config = read_env_dir(env_dir)
    out.colour = out.colour and colour_wanted(config.values)
    for name, why in config.skipped:
        out.info(f"Not exporting config var {name!r}: {why}")
    ctx = BuildContext(
        build_dir=build_dir,
        cache_dir=cache_dir,
        env_dir=env_dir,
        buildpack_dir=root,
        settings=Settings.load(root / "buildpack.toml"),
        out=out,
        report=report,
        config=config,
        environ=dict(os.environ),
        install_dev=install_dev,
    )
    # Asked first: the answer comes on the other core while this process
    # imports the rest of the build and checks the app.
    manifest.read_ahead(ctx)
    try:
        _run(ctx)
    finally:
        # Whatever still runs in the background must not outlive the build.
        ctx.stop_deferred()


def _run(ctx: BuildContext) -> None:
    # Imported before anything else starts in the background, so that
    # nothing stays behind if this fails. None of them needs the buildpack's
    # own dependencies: on a cold cache those come while the build goes on.
    from buildpack.app.checks import check_before_build
    from buildpack.compile import compile_app

    imports_done()
    out, report = ctx.out, ctx.report
    check_before_build(ctx.build_dir, os.environ)
    # Before anything reads or writes CACHE_DIR.
    cache_guard.say_untrusted(out, report, cache_guard.check_links(ctx.cache_dir))
    ctx.cache_stamp = cache_guard.CacheDirStamp(ctx.cache_dir)
    ctx.deps = deps = bootstrap.prepare(
        buildpack_dir=ctx.buildpack_dir,
        cache_dir=ctx.cache_dir,
        config=ctx.config,
        environ=os.environ,
        out=out,
        # A kept copy is checked when first needed: what it finds is said then.
        on_untrusted=lambda found: cache_guard.say_untrusted(out, report, found),
    )
    cache_guard.say_untrusted(out, report, deps.untrusted)
    try:
        deps.start(pip_wheel_homes=[])
        compile_app(ctx)
    except errors.BuildError:
        # The app's or the network's problem, not the fetch's: keep what it
        # got, so the next build need not fetch it again.
        ctx.stop_deferred()
        with contextlib.suppress(errors.BuildError, OSError):
            deps.keep_fetched(within=KEEP_FETCHED_SECONDS)
        raise
    finally:
        ctx.stop_deferred()
        deps.abandon()
