"""How the package managers are named to people (the log and the errors)."""

from __future__ import annotations

_DISPLAY_NAMES = {"pip": "pip", "uv": "uv", "poetry": "Poetry", "pipenv": "Pipenv"}


def display_name(tool: str) -> str:
    """'Poetry' for "poetry": how the tools' own documentation spells them."""
    return _DISPLAY_NAMES.get(tool, tool)
