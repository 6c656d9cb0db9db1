"""A throw-away CA (trustme) and a server certificate for 127.0.0.1, localhost and ::1."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


def make_server_context(cert_dir: str | Path) -> tuple[ssl.SSLContext, Path]:
    """Return the server TLS context and the absolute path of the CA written to <cert_dir>/ca.pem."""
    ca = trustme.CA(organization_name="CC-Gateway simulator")
    server_cert = ca.issue_cert(*SERVER_NAMES)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)

    directory = Path(cert_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.pem"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ca.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(ca.cert_pem.bytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, ca_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return context, ca_path
