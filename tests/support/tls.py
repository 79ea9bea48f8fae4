"""A self-signed certificate for an https server on 127.0.0.1, made with openssl(1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(certfile, keyfile) for 127.0.0.1; the certfile is also its own CA bundle."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate for a loopback https server")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
