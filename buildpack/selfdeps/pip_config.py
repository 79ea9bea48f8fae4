"""pip's configuration files: which ones pip reads, in its order, and what they say.

Both the index client (which index pip would use) and the build cache (which
files decide an install's result) need this list; pip's own rules are kept
here once: ``PIP_CONFIG_FILE=/dev/null`` turns every file off, an existing
``PIP_CONFIG_FILE`` hides the user's files, and the site file comes last but
one.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import urllib.parse
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

_PIP_DEFAULT = re.compile(r"""\bPyPI\s*=\s*PackageIndex\(\s*["']([^"']+)["']""")


class PipConfigError(Exception):
    """A config file exists but cannot be read or parsed."""


def config_files(env: Mapping[str, str], site_prefixes: Iterable[Path] = ()) -> list[Path]:
    """pip's config files in the order pip reads them, later ones winning."""
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []  # pip's way of saying: no config files at all
    xdg_dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d, "pip", "pip.conf") for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    home = env.get("HOME")
    if home and not (config_file and os.path.exists(config_file)):
        config_home = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [Path(home, ".pip", "pip.conf"), Path(config_home, "pip", "pip.conf")]
    files += [Path(prefix, "pip.conf") for prefix in site_prefixes]
    if config_file:
        files.append(Path(config_file))
    return files


def read(path: Path) -> dict[str, dict[str, str]]:
    """Every section of one config file, with pip's ``_``/``-`` spelling folded.

    A missing file reads as empty; an unreadable one raises ``PipConfigError``.
    """
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise PipConfigError(f"pip's config file {path} could not be read: {exc}") from None
    return {
        section: {key.replace("_", "-"): value for key, value in parser.items(section)}
        for section in parser.sections()
    }


# --- pip's default index, read from pip's own source -------------------------------


def default_index_url(pip_source: str) -> str | None:
    """pip's default simple index, from the text of pip/_internal/models/index.py."""
    m = _PIP_DEFAULT.search(pip_source)
    return urllib.parse.urljoin(m[1], "simple") if m else None


def pip_default_index(bundled_wheels: Iterable[Path] = ()) -> str | None:
    """pip's default index, read from the interpreter's own pip or a pip wheel,
    without importing pip (importing it costs a tenth of a second)."""
    spec = importlib.util.find_spec("pip")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            source = Path(location, "_internal", "models", "index.py")
            try:
                return default_index_url(source.read_text(encoding="utf-8"))
            except OSError:
                continue
    for wheel in bundled_wheels:
        try:
            with zipfile.ZipFile(wheel) as zf:
                text = zf.read("pip/_internal/models/index.py").decode("utf-8")
        except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
            continue
        return default_index_url(text)
    return None
