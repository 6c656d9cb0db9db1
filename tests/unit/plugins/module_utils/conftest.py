# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures the transports' tests share (test_wire.py, test_http_bridge.py)."""

from __future__ import annotations

import ssl

import pytest

NETWORK_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture
def no_network_environment(monkeypatch):
    """No proxy or CA bundle from this machine's environment: each test sets what it means."""
    for name in NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A server context for 127.0.0.1 ("context") and the CA file that signed it ("ca")."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    ca_path = tmp_path_factory.mktemp("wire") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return {"context": context, "ca": str(ca_path)}
