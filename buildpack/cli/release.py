"""bin/release: the default config the platform applies on first deploy."""

from __future__ import annotations

import sys
from pathlib import Path

from buildpack.app import installed
from buildpack.core import yaml_out
from buildpack.core.context import PYTHON_SUBDIR

POSTGRES_DRIVERS = ("psycopg2", "psycopg2-binary", "psycopg", "psycopg-binary")


def wants_postgres(build_dir: Path) -> bool:
    """A Django app (manage.py at the root) with a PostgreSQL driver installed."""
    if not (build_dir / "manage.py").is_file():
        return False
    python_home = build_dir / PYTHON_SUBDIR
    return installed.has_any(python_home, "django") and installed.has_any(
        python_home, *POSTGRES_DRIVERS
    )


def release_yaml(build_dir: Path) -> str:
    # Like Heroku: no default process types, only the add-on for Django apps.
    data = {"addons": ["heroku-postgresql"]} if wants_postgres(build_dir) else {}
    return yaml_out.dump(data, explicit_start=True)


def use_build_libraries(build_dir: Path) -> bool:
    """PyYAML from the libraries bin/compile installed, when it left a note."""
    from buildpack.core.settings import buildpack_root
    from buildpack.selfdeps import locate

    try:
        return locate.activate_for(buildpack_root(), build_dir)
    except Exception:  # bin/release must print something whatever happens
        return False


def release_main(argv: list[str]) -> int:
    if not argv:
        print("usage: bin/release BUILD_DIR", file=sys.stderr)
        return 2
    use_build_libraries(Path(argv[0]))
    print(release_yaml(Path(argv[0])), end="")
    return 0
