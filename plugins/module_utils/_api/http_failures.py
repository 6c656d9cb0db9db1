# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a failed requests exchange means: its kind, whether the gateway may have acted on it (the at-most-once
rule), and whether the URL's scheme is the wrong one for the port. http_sync.py loads it on the first failure."""

from __future__ import annotations

import re
import socket
import ssl
from urllib.parse import urlsplit

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import (
    TransportError,
    causes,
    innermost,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import Route, unverified_tls_context

try:
    import requests
    from urllib3.exceptions import LocationParseError, NewConnectionError, ReadTimeoutError
except ImportError:  # pragma: no cover - http_sync.py reports it; nothing is classified without requests
    requests = None
    LocationParseError = NewConnectionError = ReadTimeoutError = None


def _bad_tls_file(error: BaseException) -> bool:
    """An SSLError from loading a CA bundle, certificate or key that is not what it should be (OpenSSL's PEM
    and X509 errors: no certificate in the file, a key that does not match)."""
    if not isinstance(error, ssl.SSLError):
        return False
    return getattr(error, "library", None) in ("PEM", "X509") or "PEM lib" in str(error)


def classify(
    exc: BaseException, route: Route, *, answered: bool, connecting: bool, cut_off: bool, attempts: int
) -> TransportError:
    """What a requests exception means for the user and for the at-most-once rule.

    connecting: a connection was being opened when it failed (nothing of the request was sent on it); cut_off:
    the other side broke that connection's TLS handshake off; attempts: the connection attempts made."""
    failure = _classify_kind(exc, route, answered, connecting and not answered, cut_off)
    if not failure.request_sent:
        failure.attempts = attempts
    wrong = wrong_scheme(failure, exc, route)
    return wrong or failure


# An http:// request to a TLS port: the server closes the connection (or sends a TLS alert, which http.client
# reads as a status line of garbage); an https:// handshake with a plain HTTP port gets an HTTP answer where a
# TLS record should be (OpenSSL: wrong version number, packet length too long, record layer failure).
_TLS_ALERT = re.compile(r"(?:\x15|\\x15)(?:\x03|\\x03)")
_PLAIN_ANSWER = (
    "WRONG_VERSION_NUMBER",
    "wrong version number",
    "packet length too long",
    "record layer failure",
)


def wrong_scheme(failure: TransportError, exc: BaseException, route: Route) -> TransportError | None:
    """A failure that came of the wrong scheme for the port, said so (and that nothing was acted on): of
    requests (http_sync) or of aiohttp (http_async)."""
    parts = urlsplit(route.base_url)
    if route.proxy or parts.hostname is None:
        return None
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    text = " ".join(str(cause) for cause in causes(exc))
    if (
        scheme == "https"
        and failure.kind == "tls"
        and any(mark in text for mark in _PLAIN_ANSWER)
        and _speaks_plain_http(parts.hostname, port)
    ):
        return TransportError("wrong_scheme", f"port {port} answers plain HTTP, not TLS: use http://", False)
    closed = (
        "without response" in text
        or "Server disconnected" in text
        or any(isinstance(cause, ConnectionResetError) for cause in causes(exc))
        or _TLS_ALERT.search(text) is not None
    )
    if scheme == "http" and failure.kind == "broken" and closed and _speaks_tls(parts.hostname, port):
        return TransportError(
            "wrong_scheme", f"port {port} speaks TLS (HTTPS), not plain HTTP: use https://", False
        )
    return None


def _speaks_plain_http(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether host:port answers an HTTP request (a HEAD of /, which changes nothing) without TLS."""
    address = f"[{host}]" if ":" in host else host
    try:
        with requests.Session() as probe:
            probe.trust_env = False
            probe.head(f"http://{address}:{port}/", timeout=timeout, allow_redirects=False).close()
    except requests.exceptions.RequestException:
        return False
    return True


def _speaks_tls(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether host:port completes a TLS handshake (certificate not checked: only the protocol matters)."""
    context = unverified_tls_context()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ValueError):
        return False


def _classify_kind(
    exc: BaseException, route: Route, answered: bool, connecting: bool, cut_off: bool
) -> TransportError:
    exceptions = requests.exceptions
    found = causes(exc)
    reason = innermost(exc)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in found):
        return TransportError("certificate", reason, request_sent=False)
    if any(_bad_tls_file(cause) for cause in found):
        return TransportError("tls_setup", reason, request_sent=False)
    if isinstance(exc, exceptions.ProxyError):
        return TransportError("proxy", reason, request_sent=False)
    if isinstance(exc, exceptions.ConnectTimeout):
        return TransportError("connect_timeout", reason, request_sent=False)
    if isinstance(exc, exceptions.ReadTimeout) or any(isinstance(cause, ReadTimeoutError) for cause in found):
        return TransportError("read_timeout", reason, request_sent=True)
    if any(isinstance(cause, LocationParseError) for cause in found):
        # urllib3's check of the host (an empty label, one over 63 characters), made while connecting
        return TransportError("url", reason, request_sent=False)
    if isinstance(exc, (exceptions.InvalidURL, exceptions.InvalidHeader, exceptions.InvalidSchema)):
        return TransportError("url", reason, request_sent=False)
    if isinstance(exc, exceptions.MissingSchema):
        return TransportError("url", reason, request_sent=False)
    if isinstance(exc, exceptions.ConnectionError) and not answered:
        if any(isinstance(cause, ConnectionRefusedError) for cause in found):
            return TransportError("refused", reason, request_sent=False)
        if any(isinstance(cause, NewConnectionError) for cause in found):
            # Accepted and reset at once (an overloaded gateway, as for a handshake it breaks off): urllib3 says so
            # when the reset comes before it has set the socket's options.
            if route.base_url.startswith("https") and cut_off:
                return TransportError("tls", reason, request_sent=False)
            return TransportError("connect", reason, request_sent=False)
    if isinstance(exc, exceptions.SSLError) or any(isinstance(cause, ssl.SSLError) for cause in found):
        if connecting:
            return TransportError("tls", reason, request_sent=False)
        return TransportError("broken", reason, request_sent=True)
    if isinstance(exc, (exceptions.ConnectionError, exceptions.ChunkedEncodingError)):
        if connecting:
            return TransportError("tls" if route.base_url.startswith("https") else "connect", reason, False)
        return TransportError("broken", reason, request_sent=True)
    if isinstance(exc, exceptions.ContentDecodingError):
        return TransportError("broken", reason, request_sent=True)
    if isinstance(exc, OSError) and not answered:
        # requests checks the CA bundle and client certificate files before connecting.
        return TransportError("tls_setup", reason, request_sent=False)
    raise exc
