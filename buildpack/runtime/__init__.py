"""The Python runtime: download from the mirror, safe extraction, the /app link."""
