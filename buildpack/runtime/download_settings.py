"""Timeouts and retries for runtime downloads: buildpack.toml, overridable.

buildpack.toml holds defaults that suit Heroku's mirror. A slow self-hosted
mirror may need longer timeouts, and tests need short ones to stage a stalled
transfer without waiting half a minute, so each value can be overridden by a
config var or an environment variable of the build:

    BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT  seconds to connect (> 0)
    BUILDPACK_DOWNLOAD_READ_TIMEOUT     seconds without data before giving up (> 0)
    BUILDPACK_DOWNLOAD_RETRIES          extra attempts after a failed one (0-10)
    BUILDPACK_DOWNLOAD_BACKOFF          seconds before the first retry, doubling (>= 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from buildpack.core import errors
from buildpack.core.context import BuildContext

CONNECT_TIMEOUT = "BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT"
READ_TIMEOUT = "BUILDPACK_DOWNLOAD_READ_TIMEOUT"
RETRIES = "BUILDPACK_DOWNLOAD_RETRIES"
BACKOFF = "BUILDPACK_DOWNLOAD_BACKOFF"
# More than this is a build that hangs for many minutes on a dead mirror.
MAX_RETRIES = 10
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class DownloadSettings:
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float


def download_settings(ctx: BuildContext) -> DownloadSettings:
    defaults = ctx.settings
    return DownloadSettings(
        connect_timeout=_seconds(ctx, CONNECT_TIMEOUT, defaults.connect_timeout, positive=True),
        read_timeout=_seconds(ctx, READ_TIMEOUT, defaults.read_timeout, positive=True),
        retries=_retries(ctx, defaults.retries),
        backoff=_seconds(ctx, BACKOFF, defaults.backoff, positive=False),
    )


def _seconds(ctx: BuildContext, name: str, default: float, *, positive: bool) -> float:
    raw = ctx.setting(name)
    if raw is None:
        return default
    expected = f"a number of seconds {'above 0' if positive else 'from 0'} up to {MAX_SECONDS:g}"
    try:
        value = float(raw)
    except ValueError:
        raise errors.download_setting_invalid(name, raw, expected) from None
    too_small = value <= 0 if positive else value < 0
    if not math.isfinite(value) or too_small or value > MAX_SECONDS:
        raise errors.download_setting_invalid(name, raw, expected)
    return value


def _retries(ctx: BuildContext, default: int) -> int:
    raw = ctx.setting(RETRIES)
    if raw is None:
        return default
    expected = f"a whole number from 0 to {MAX_RETRIES}"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 2 or int(raw) > MAX_RETRIES:
        raise errors.download_setting_invalid(RETRIES, raw, expected)
    return int(raw)
