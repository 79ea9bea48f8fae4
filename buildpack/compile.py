"""The build, step by step. Each step is a function of the BuildContext."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from buildpack import package_managers
from buildpack.app import checks, stack
from buildpack.app.app_files import check_package_manager_files
from buildpack.app.python_version import choose_python_version
from buildpack.cache.cache import BuildCache
from buildpack.cache.cache_key import build_key
from buildpack.core.context import BuildContext, Deferred
from buildpack.core.python_home import site_packages_dirs
from buildpack.package_managers import setuptools_pin
from buildpack.relocation import audit, boot_script, records, shebangs
from buildpack.runtime import manifest, runtime
from buildpack.selfdeps import locate
from buildpack.slug_env import dyno_env, envfiles
from buildpack.steps import collectstatic, hooks, nltk


def compile_app(ctx: BuildContext) -> None:
    started = time.monotonic()
    ctx.stack, ubuntu = stack.resolve_stack(ctx)
    ctx.arch = stack.resolve_arch()
    stack.check_arch(ctx.settings, ctx.stack, ctx.arch)
    checks.check_not_duplicate(ctx)
    hooks.run_hook(ctx, "pre_compile")
    checks.check_app(ctx)
    manager = package_managers.select(ctx.build_dir)
    ctx.report.set("package_manager", manager)
    check_package_manager_files(ctx.build_dir, manager, install_dev=ctx.install_dev)

    # Locks CACHE_DIR until save (or until this process ends, if the build fails).
    cache = BuildCache.open(ctx)
    package_managers.read_ahead(ctx, manager, cache.kept_python_version)
    # Heroku's bucket publishes no manifest: only another mirror is asked.
    mirror = manifest.load(ctx, runtime.base_url(ctx)) if runtime.uses_own_mirror(ctx) else None
    choice = choose_python_version(
        ctx.build_dir,
        ctx.settings,
        package_manager=manager,
        cached_version=cache.previous_python_version,
        mirror=mirror,
    )
    for key, value in choice.report_fields().items():
        ctx.report.set(key, value)
    ctx.out.step(choice.describe())
    if mirror is not None:
        newest = "" if choice.pinned else f", the newest {choice.minor} it has"
        ctx.out.info(
            f"The mirror's {manifest.MANIFEST_NAME} lists Python {choice.version} "
            f"for {ctx.stack} ({ctx.arch}){newest}"
        )
    for title, body in choice.warnings:
        ctx.out.warning(title, body)

    installer = package_managers.installer_for(manager)
    with ctx.report.timed("cache_restore"):
        cache.restore(ctx, build_key(ctx, manager, installer, choice.version))
    cached_runtime = runtime.is_installed(ctx.build_python_home)
    if not cached_runtime:
        # The package manager's files come from the index while the runtime
        # installs (imported here: a rebuild with its runtime cached needs
        # none of it). The build closes the fetch however it ends.
        from buildpack.package_managers import prefetch

        ctx.deferred.append(Deferred(finish=ctx.close_tool_fetch, stop=ctx.close_tool_fetch))
        prefetch.start(ctx, manager, choice.version)
    with ctx.report.timed("python_install"):
        if cached_runtime:
            ctx.out.step(f"Using the cached Python {choice.version} runtime")
        else:
            ctx.out.step(f"Installing Python {choice.version}")
            runtime.install(ctx, choice.version, ubuntu, mirror=mirror)
    runtime.link_into_app(ctx)
    if ctx.deps is not None:
        # A host python3 without pip: the runtime just unpacked bundles one,
        # which knows the default index.
        ctx.deps.start([ctx.build_python_home])

    with ctx.report.timed("package_manager_install"):
        ctx.report.set(f"{manager}_version", installer.install_tool(ctx))
        if setuptools_pin.wanted(ctx, manager, choice.version):
            ctx.report.set("setuptools_version", setuptools_pin.install(ctx))
    guarantee_app_paths(ctx)
    with ctx.report.timed("dependencies_install"):
        if not cache.skip_install(ctx, installer):
            installer.install_dependencies(ctx)
    ctx.finish_deferred()
    guarantee_app_paths(ctx)
    nltk.download_corpora(ctx)
    collectstatic.run_collectstatic(ctx)

    # Written before post_compile so the hook sees them, and again below.
    envfiles.write(ctx)
    dyno_env.write_profile_scripts(ctx.build_dir)
    if ctx.deps is not None:
        with ctx.report.timed("buildpack_dependencies"):
            ctx.deps.settle()
    hooks.run_hook(ctx, "post_compile")
    # The hook may have installed more packages: repair after it, not before.
    guarantee_app_paths(ctx)
    boot_rewritten = repair_install_records(ctx)
    envfiles.write(ctx)
    # The audit reads the whole Python home, on the other core when it can,
    # while the cache is saved; what it found is said after.
    with relocation_audit(ctx, boot_rewritten) as audited:
        if ctx.deps is not None and ctx.cache_dir_problem() is None:
            # Kept for the next build: not into a CACHE_DIR a hook removed.
            with ctx.report.timed("buildpack_dependencies"):
                ctx.deps.finish([ctx.build_python_home])
            ctx.report.set("buildpack_dependencies_source", ctx.deps.source or "none")
            ctx.report.set("buildpack_dependencies_checked", ctx.deps.checked)
            ctx.report.set("pypa_libraries_source", ctx.deps.pure.source or "none")
            if ctx.deps.available:  # bin/release checks them before it imports them
                locate.remember(ctx.buildpack_dir, ctx.build_dir, ctx.deps.target)
        with ctx.report.timed("cache_save"):
            cache.save(ctx, app_refs=boot_rewritten)
        say_relocation(ctx, audited)
    ctx.report.set("total_duration", round(time.monotonic() - started, 3))


def guarantee_app_paths(ctx: BuildContext) -> None:
    """Whatever the installer did, nothing in bin/ may name BUILD_DIR."""
    fixed = shebangs.fix_shebangs(
        ctx.build_python_home / "bin",
        build_python_home=ctx.build_python_home,
        app_python_home=ctx.python_home,
    )
    if fixed:
        ctx.out.info(
            f"Rewrote {len(fixed)} entrypoint shebang(s) that named the build "
            f"directory to use {ctx.python_home}/bin/python"
        )
        ctx.report.set("shebangs_fixed", ctx.report.fields.get("shebangs_fixed", 0) + len(fixed))


def repair_install_records(ctx: BuildContext) -> set[str]:
    """Fix paths in .pth/egg-link/finder/direct_url files; return the files
    that still name the app source in BUILD_DIR and so are rewritten at boot."""
    if not runtime.is_linked(ctx):
        return set()
    for site_packages in site_packages_dirs(ctx.build_python_home):
        records.rewrite_build_paths(
            site_packages,
            build_python_home=ctx.build_python_home,
            app_python_home=ctx.python_home,
        )
    refs = boot_script.find_app_path_references(ctx.build_python_home, ctx.build_dir)
    boot_script.discard_boot_rewritten_bytecode(ctx.build_dir, refs)
    snippet = boot_script.boot_rewrite_script(ctx.build_dir, refs)
    if snippet:
        ctx.profile_snippets.append(snippet)
    return set(refs)


@contextlib.contextmanager
def relocation_audit(ctx: BuildContext, boot_rewritten: set[str]) -> Iterator[audit.Begun | None]:
    """The relocation audit of the final tree, begun (None when the runtime
    is not linked at /app: nothing to prove); ended on the way out."""
    if not runtime.is_linked(ctx):
        yield None
        return
    begun = audit.Begun(
        ctx.build_python_home, build_dir=ctx.build_dir, boot_rewritten=boot_rewritten
    )
    ctx.report.set("relocation_audit_in", begun.how)
    try:
        yield begun
    finally:
        begun.stop()


def say_relocation(ctx: BuildContext, audited: audit.Begun | None) -> None:
    if audited is None:
        return
    result = audited.result()
    for line in result.summary_lines():
        ctx.out.info(line)
    for key, value in result.report_fields().items():
        ctx.report.set(key, value)
