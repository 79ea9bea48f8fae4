"""Timeouts, time budgets and retries for downloads: buildpack.toml, overridable.

buildpack.toml holds defaults that suit Heroku's mirror. A slow self-hosted
mirror may need longer timeouts, and tests need short ones to stage a stalled
transfer without waiting half a minute, so each value can be overridden by a
config var or an environment variable of the build:

    BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT  seconds to connect (> 0)
    BUILDPACK_DOWNLOAD_READ_TIMEOUT     seconds without data before giving up (> 0)
    BUILDPACK_DOWNLOAD_TIMEOUT          seconds one attempt may take in all (> 0)
    BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT    seconds the whole download may take, retries included (> 0)
    BUILDPACK_DOWNLOAD_RETRIES          extra attempts after a failed one (0-10)
    BUILDPACK_DOWNLOAD_BACKOFF          seconds before the first retry, doubling (>= 0)

and, for apps moving from Heroku, whose buildpack hands these to curl:

    CURL_CONNECT_TIMEOUT  as BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT
    CURL_TIMEOUT          curl's --max-time and --retry-max-time: each attempt
                          may take this long, and no retry starts after it, so
                          one attempt's time and the whole download's twice that

The BUILDPACK_DOWNLOAD_* name wins over the CURL_* one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from buildpack.core import errors
from buildpack.core.context import BuildContext
from buildpack.core.settings import Settings, buildpack_root

if TYPE_CHECKING:
    # limits needs the transports (urllib.request, http.client, ssl): imported
    # when a budget is made, not by whoever only reads these settings' names.
    from buildpack.runtime.limits import Budget

CONNECT_TIMEOUT = "BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT"
READ_TIMEOUT = "BUILDPACK_DOWNLOAD_READ_TIMEOUT"
TIMEOUT = "BUILDPACK_DOWNLOAD_TIMEOUT"
TOTAL_TIMEOUT = "BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT"
RETRIES = "BUILDPACK_DOWNLOAD_RETRIES"
BACKOFF = "BUILDPACK_DOWNLOAD_BACKOFF"
CURL_CONNECT_TIMEOUT = "CURL_CONNECT_TIMEOUT"
CURL_TIMEOUT = "CURL_TIMEOUT"
# Every variable read here: the background fetch of the buildpack's own
# dependencies gets them from the config vars too (selfdeps.bootstrap).
NAMES = (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    TIMEOUT,
    TOTAL_TIMEOUT,
    RETRIES,
    BACKOFF,
    CURL_CONNECT_TIMEOUT,
    CURL_TIMEOUT,
)
# More than this is a build that hangs for many minutes on a dead mirror.
MAX_RETRIES = 10
MAX_SECONDS = 600.0

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class DownloadSettings:
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float
    budget: Budget
    max_bytes: int


def download_settings(ctx: BuildContext) -> DownloadSettings:
    """The settings for this build; an invalid value is a clear error."""
    return settings_from(ctx.setting, ctx.settings)


def budget_from_env(env: Mapping[str, str], defaults: Settings) -> Budget:
    """The time budget for downloads outside bin/compile's own process (the
    background fetch of the buildpack's dependencies). An invalid value was
    reported by the runtime download already: here it means the default."""
    try:
        return settings_from(lambda name: (env.get(name) or "").strip() or None, defaults).budget
    except errors.BuildError:
        return _budget(defaults.attempt_timeout, defaults.total_timeout)


def download_budget(env: Mapping[str, str]) -> Budget:
    """buildpack.toml's download budget, with the overrides ``env`` sets."""
    return budget_from_env(env, Settings.load(buildpack_root() / "buildpack.toml"))


def _budget(attempt: float, total: float) -> Budget:
    from buildpack.runtime.limits import Budget

    return Budget(attempt, total)


def settings_from(lookup: Lookup, defaults: Settings) -> DownloadSettings:
    curl_timeout = _optional_seconds(lookup, CURL_TIMEOUT)
    attempt = _seconds(lookup, TIMEOUT, curl_timeout or defaults.attempt_timeout)
    total_default = 2 * curl_timeout if curl_timeout else defaults.total_timeout
    connect_default = _seconds(lookup, CURL_CONNECT_TIMEOUT, defaults.connect_timeout)
    return DownloadSettings(
        connect_timeout=_seconds(lookup, CONNECT_TIMEOUT, connect_default),
        read_timeout=_seconds(lookup, READ_TIMEOUT, defaults.read_timeout),
        retries=_retries(lookup, defaults.retries),
        backoff=_seconds(lookup, BACKOFF, defaults.backoff, positive=False),
        budget=_budget(attempt, _seconds(lookup, TOTAL_TIMEOUT, total_default)),
        max_bytes=defaults.max_archive_bytes,
    )


def _seconds(lookup: Lookup, name: str, default: float, *, positive: bool = True) -> float:
    value = _optional_seconds(lookup, name, positive=positive)
    return default if value is None else value


def _optional_seconds(lookup: Lookup, name: str, *, positive: bool = True) -> float | None:
    raw = lookup(name)
    if raw is None:
        return None
    expected = f"a number of seconds {'above 0' if positive else 'from 0'} up to {MAX_SECONDS:g}"
    try:
        value = float(raw)
    except ValueError:
        raise errors.download_setting_invalid(name, raw, expected) from None
    too_small = value <= 0 if positive else value < 0
    if not math.isfinite(value) or too_small or value > MAX_SECONDS:
        raise errors.download_setting_invalid(name, raw, expected)
    return value


def _retries(lookup: Lookup, default: int) -> int:
    raw = lookup(RETRIES)
    if raw is None:
        return default
    expected = f"a whole number from 0 to {MAX_RETRIES}"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 2 or int(raw) > MAX_RETRIES:
        raise errors.download_setting_invalid(RETRIES, raw, expected)
    return int(raw)
