"""pip's configuration files: which ones pip reads, in its order, and what they say.

Both the index client (which index pip would use) and the build cache (which
files decide an install's result) need this list; pip's own rules are kept
here once: ``PIP_CONFIG_FILE=/dev/null`` turns every file off, an existing
``PIP_CONFIG_FILE`` hides the user's files, and the site file comes last but
one.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterable, Mapping
from pathlib import Path


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
