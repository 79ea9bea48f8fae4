"""Dyno defaults written to .profile.d: WEB_CONCURRENCY and gunicorn settings.

They are computed at boot, not at build time, because only the dyno knows
its memory and CPUs. Every value is a default: a config var of the same name
(already in the environment when .profile.d runs) is left untouched.
"""

from __future__ import annotations

from pathlib import Path

WEB_CONCURRENCY_SCRIPT = "WEB_CONCURRENCY.sh"
GUNICORN_SCRIPT = "python.gunicorn.sh"

# POSIX sh: .profile.d scripts are sourced by whatever shell starts the dyno.
# Names start with _pybp_ and are unset at the end, because sourcing shares
# the dyno's shell.
WEB_CONCURRENCY_SH = r"""# Written by the Python buildpack: a default WEB_CONCURRENCY (the number of
# web worker processes gunicorn and others start) from the dyno's memory and
# CPUs. A WEB_CONCURRENCY config var always wins.
# PYTHON_BUILDPACK_CGROUP_ROOT is for the buildpack's tests only.
_pybp_cgroup="${PYTHON_BUILDPACK_CGROUP_ROOT:-/sys/fs/cgroup}"

# The memory limit in bytes, from cgroup v2 or v1; nothing if unlimited.
_pybp_limit=""
if [ -r "$_pybp_cgroup/memory.max" ]; then
  _pybp_limit=$(cat "$_pybp_cgroup/memory.max" 2>/dev/null)
elif [ -r "$_pybp_cgroup/memory/memory.limit_in_bytes" ]; then
  _pybp_limit=$(cat "$_pybp_cgroup/memory/memory.limit_in_bytes" 2>/dev/null)
fi
case "$_pybp_limit" in
  "" | *[!0-9]*) _pybp_limit="" ;; # "max" (v2 unlimited) or unreadable
  *)
    # cgroup v1 says "no limit" with a huge number: above 1 TB is no limit.
    # (A string comparison of lengths first keeps sh arithmetic in range.)
    if [ "${#_pybp_limit}" -gt 13 ] || [ "$_pybp_limit" -gt 1099511627776 ]; then
      _pybp_limit=""
    fi
    ;;
esac
_pybp_mb=""
if [ -n "$_pybp_limit" ]; then
  _pybp_mb=$((_pybp_limit / 1048576))
  export DYNO_RAM="$_pybp_mb"
fi

# CPUs this process may use, capped by a cgroup CPU quota if there is one.
_pybp_cores=$(nproc 2>/dev/null || echo 1)
case "$_pybp_cores" in "" | *[!0-9]* | 0) _pybp_cores=1 ;; esac
_pybp_quota="" _pybp_period=""
if [ -r "$_pybp_cgroup/cpu.max" ]; then
  read -r _pybp_quota _pybp_period < "$_pybp_cgroup/cpu.max" 2>/dev/null || true
elif [ -r "$_pybp_cgroup/cpu/cpu.cfs_quota_us" ]; then
  _pybp_quota=$(cat "$_pybp_cgroup/cpu/cpu.cfs_quota_us" 2>/dev/null)
  _pybp_period=$(cat "$_pybp_cgroup/cpu/cpu.cfs_period_us" 2>/dev/null)
fi
case "$_pybp_quota$_pybp_period" in
  "" | *[!0-9]*) ;; # "max", -1 or unreadable: no quota
  *)
    if [ "$_pybp_period" -gt 0 ]; then
      _pybp_q=$(((_pybp_quota + _pybp_period - 1) / _pybp_period))
      if [ "$_pybp_q" -ge 1 ] && [ "$_pybp_q" -lt "$_pybp_cores" ]; then
        _pybp_cores=$_pybp_q
      fi
    fi
    ;;
esac

_pybp_is_web=""
case "${DYNO:-}" in web.*) _pybp_is_web=1 ;; esac

# Set at all, even to "": the app's choice, as on Heroku.
if [ -n "${WEB_CONCURRENCY+set}" ]; then
  if [ -n "$_pybp_is_web" ]; then
    echo "Python buildpack: WEB_CONCURRENCY is set to '$WEB_CONCURRENCY'; leaving it as is." >&2
  fi
else
  # Each worker needs about 256 MB; more than 2 per core plus one only queues.
  _pybp_max=$((2 * _pybp_cores + 1))
  _pybp_workers=$_pybp_max
  if [ -n "$_pybp_mb" ]; then
    _pybp_workers=$((_pybp_mb / 256))
    [ "$_pybp_workers" -ge 1 ] || _pybp_workers=1
    [ "$_pybp_workers" -le "$_pybp_max" ] || _pybp_workers=$_pybp_max
  fi
  export WEB_CONCURRENCY="$_pybp_workers"
  # Heroku's name for "the buildpack chose it": apps and tools test for it.
  export WEB_CONCURRENCY_SET_BY="heroku/python"
  if [ -n "$_pybp_is_web" ]; then
    echo "Python buildpack: ${_pybp_mb:-unlimited} MB of memory, $_pybp_cores CPU cores." >&2
    echo "Python buildpack: defaulting WEB_CONCURRENCY to $WEB_CONCURRENCY" \
      "(set the WEB_CONCURRENCY config var to change it)." >&2
  fi
fi

unset _pybp_cgroup _pybp_limit _pybp_mb _pybp_cores _pybp_quota _pybp_period _pybp_q \
  _pybp_is_web _pybp_max _pybp_workers
"""

GUNICORN_SH = r"""# Written by the Python buildpack: gunicorn defaults behind the platform's
# router. Config vars of the same names win.
# The router is the only client that reaches the dyno, so trust its
# X-Forwarded-* headers (scheme and client address).
export FORWARDED_ALLOW_IPS="${FORWARDED_ALLOW_IPS-*}"
# Log each request to stdout, where the platform collects logs.
export GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS---access-logfile -}"
"""


def write_profile_scripts(build_dir: Path) -> list[Path]:
    from buildpack.slug_env.envfiles import write_profile_file

    return [
        write_profile_file(build_dir, name, text)
        for name, text in (
            (WEB_CONCURRENCY_SCRIPT, WEB_CONCURRENCY_SH),
            (GUNICORN_SCRIPT, GUNICORN_SH),
        )
    ]
