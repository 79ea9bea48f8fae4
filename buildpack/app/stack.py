"""Which stack and CPU architecture the runtime archive is built for."""

from __future__ import annotations

import fnmatch
import platform
from collections.abc import Mapping

from buildpack.core import errors
from buildpack.core.context import BuildContext
from buildpack.core.settings import Settings

_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def stack_from_os_release(fields: Mapping[str, str] | None = None) -> str | None:
    """heroku-NN for Ubuntu NN.04, else None: only Ubuntu matches Heroku's
    images. ``fields``: os-release's, this machine's when None."""
    if fields is None:
        try:
            fields = platform.freedesktop_os_release()
        except OSError:
            return None
    if fields.get("ID") != "ubuntu":
        return None
    major, _, minor = fields.get("VERSION_ID", "").partition(".")
    if minor != "04" or not major.isdigit():
        return None
    return f"heroku-{major}"


def resolve_stack(ctx: BuildContext) -> tuple[str, str]:
    """Return (stack, ubuntu major) or raise a clear error."""
    stack = ctx.setting("STACK") or stack_from_os_release()
    if stack is None:
        raise errors.stack_missing(sorted(ctx.settings.stacks))
    return stack, ubuntu_for(ctx.settings, stack)


def ubuntu_for(settings: Settings, stack: str) -> str:
    """The Ubuntu release of ``stack``'s runtime archives; an end-of-life or
    unknown stack is an error that says which it is."""
    known = sorted(settings.stacks)
    if stack in settings.stacks:
        return settings.stacks[stack]
    if any(fnmatch.fnmatchcase(stack, pattern) for pattern in settings.eol_stacks):
        raise errors.stack_eol(stack, known)
    raise errors.stack_unknown(stack, known)


def check_arch(settings: Settings, stack: str, arch: str) -> None:
    """Heroku builds arm64 runtimes for the newer stacks only."""
    arches = settings.stack_arches.get(stack)
    if arches and arch not in arches:
        raise errors.stack_arch_unsupported(stack, arch, arches)


def resolve_arch(machine: str | None = None) -> str:
    machine = machine or platform.machine()
    try:
        return _ARCHES[machine.lower()]
    except KeyError:
        raise errors.arch_unsupported(machine) from None
