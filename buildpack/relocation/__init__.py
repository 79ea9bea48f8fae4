"""Making what was installed in BUILD_DIR work when the slug runs at /app."""
