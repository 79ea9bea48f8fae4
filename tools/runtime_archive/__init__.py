"""Runtime archives for a mirror: packed from an installed CPython, or built from source."""
