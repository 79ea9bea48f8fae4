"""The environment for later buildpacks (`export`) and for dynos (.profile.d)."""

from __future__ import annotations

import shlex
from pathlib import Path

from buildpack.app.app_files import dir_for_writing
from buildpack.core import safe_fs
from buildpack.core.context import DEFAULT_LANG, BuildContext

_LIB_VARS = (
    ("LD_LIBRARY_PATH", "lib"),
    ("LIBRARY_PATH", "lib"),
    ("C_INCLUDE_PATH", "include"),
    ("CPLUS_INCLUDE_PATH", "include"),
    ("PKG_CONFIG_PATH", "lib/pkgconfig"),
)


def _prepend_line(var: str, value: str) -> str:
    # ${VAR:+:$VAR} avoids a trailing ':' that would add the cwd to a search path.
    return f'export {var}="{value}${{{var}:+:${var}}}"'


def _prepend_quoted_line(var: str, value: str) -> str:
    # For paths outside /app (CACHE_DIR may hold spaces, quotes or '$').
    return f'export {var}={shlex.quote(value)}"${{{var}:+:${var}}}"'


def export_script(ctx: BuildContext) -> str:
    home = shlex.quote(str(ctx.python_home))
    lines = [
        "# Written by the Python buildpack for the buildpacks that run after it.",
        *(_prepend_quoted_line("PATH", entry) for entry in reversed(ctx.extra_path)),
        _prepend_line("PATH", f"{ctx.python_home}/bin"),
        *(_prepend_line(var, f"{ctx.python_home}/{sub}") for var, sub in _LIB_VARS),
        "export PYTHONUNBUFFERED=1",
        f'export LANG="${{LANG:-{DEFAULT_LANG}}}"',
        "export PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"export PYTHON_BUILDPACK_HOME={home}",
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(ctx.extra_env.items())]
    return "\n".join(lines) + "\n"


def profile_script(ctx: BuildContext) -> str:
    lines = [
        "# Written by the Python buildpack; runs at every dyno boot.",
        *(_prepend_line("PATH", entry) for entry in reversed(ctx.profile_path)),
        _prepend_line("PATH", "$HOME/.heroku/python/bin"),
        _prepend_line("LD_LIBRARY_PATH", "$HOME/.heroku/python/lib"),
        _prepend_line("LIBRARY_PATH", "$HOME/.heroku/python/lib"),
        'export PYTHONHOME="$HOME/.heroku/python"',
        "export PYTHONUNBUFFERED=true",
        'export PYTHONPATH="${PYTHONPATH:-$HOME}"',
        f'export LANG="${{LANG:-{DEFAULT_LANG}}}"',
        "export PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    for key, value in sorted(ctx.profile_env.items()):
        # Values may use $HOME; everything else in them is quoted literally.
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
        lines.append(f"export {key}={quoted}")
    lines += [
        "",
        "# Entrypoint shebangs say /app/.heroku/python/bin/python. When the app",
        "# runs somewhere else (HOME is not /app), point /app there if we may.",
        'if [ "$HOME" != "/app" ] && [ -d "$HOME/.heroku/python" ]; then',
        "  if mkdir -p /app/.heroku 2>/dev/null; then",
        '    ln -nsf "$HOME/.heroku/python" /app/.heroku/python 2>/dev/null || true',
        "  fi",
        "fi",
    ]
    lines += ctx.profile_snippets
    return "\n".join(lines) + "\n"


def write(ctx: BuildContext) -> None:
    (ctx.buildpack_dir / "export").write_text(export_script(ctx))
    write_profile_file(ctx.build_dir, "python.sh", profile_script(ctx))


def write_profile_file(build_dir: Path, name: str, text: str) -> Path:
    """Write ``.profile.d/<name>`` in the app: a link the app committed under
    that name is replaced, never written through."""
    path = dir_for_writing(build_dir, ".profile.d") / name
    safe_fs.write_atomic(path, text, durable=False)
    return path
