# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP transport on aiohttp: the session keeper's, and a large batch's through http_bridge.py.

The keeper holds one long-poll open per kept agent: with a thread per agent, 1,000 agents cost 17 ms of CPU per
poll in lock contention and 19 s to start (docs/benchmarks.md); with aiohttp, 0.5 ms and 3 s. A batch's exchange
costs about a third of its CPU through requests. It takes the same Route and gives the same Answer and the same
failure kinds as http_sync.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import (
    TransportError,
    causes,
    innermost,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_sync import (
    CONNECT_BACKOFF,
    DEFAULT_HEADERS,
    MAX_BODY,
    Answer,
    requests,
    with_cookies,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import Route, unverified_tls_context


def aiohttp_missing() -> str | None:
    """Why aiohttp cannot be used here (not importable, or a release that sends requests again by itself), or
    None."""
    try:
        import aiohttp
    except ImportError as exc:
        return str(exc)
    names = aiohttp.ClientSession._request.__code__.co_names
    if "IDEMPOTENT_METHODS" in names and "_retry_connection" not in names:
        # aiohttp 3.10 sends a GET, PUT or DELETE again when its connection breaks before the answer, and has no
        # switch for it (3.11 has one: AsyncTransport turns it off); a PUT may have started a recording.
        return (
            f"aiohttp {aiohttp.__version__} sends a request again by itself when its connection breaks: use 3.11 "
            "or later"
        )
    return None


def aiohttp_matches_requests() -> bool:
    """Whether this aiohttp can be used and tells failures apart as requests does (a connection timeout, a reset
    while sending): aiohttp 3.11 and later. Before, the bridge of a large batch is not used (the keeper polls
    again anyway)."""
    if aiohttp_missing() is not None:
        return False
    import aiohttp

    return _release(aiohttp) >= (3, 11)


def _release(aiohttp: Any) -> tuple[int, ...]:
    parts = []
    for part in str(getattr(aiohttp, "__version__", "0")).split(".")[:2]:
        digits = "".join(character for character in part if character.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


TLS_READ_BUFFER = 16 * 1024


def share_tls_read_buffer() -> None:
    """One TLS read buffer per thread for every connection, instead of one per connection.

    asyncio (3.11 and later) gives every TLS connection a 256 KiB read buffer of its own, zero-filled, so
    resident: 1.6 GB for 5,000 held polls; 16 KiB each is still 80 MB. The buffer is only a landing place: the
    event loop reads a socket into it and the protocol copies it into its TLS object at once (get_buffer,
    recv_into, buffer_updated run in one callback), so the connections of one thread's loop can share one.
    For the keeper's process only: it replaces asyncio's protocol class. Older asyncio has no such buffer."""
    import asyncio.sslproto

    protocol = asyncio.sslproto.SSLProtocol
    if getattr(protocol, "shares_read_buffer", False) or not hasattr(protocol, "get_buffer"):
        return
    if "_ssl_buffer_view" not in protocol.buffer_updated.__code__.co_names:
        return  # an asyncio that reads its buffer some other way: left as it is
    asyncio.sslproto.SSLProtocol = _shared_buffer_protocol(protocol)  # type: ignore[misc]


def _shared_buffer_protocol(base: Any) -> Any:
    local = threading.local()

    class SharedBufferSSLProtocol(base):  # type: ignore[misc,valid-type]
        shares_read_buffer = True
        max_size = TLS_READ_BUFFER

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._ssl_buffer_view = self._ssl_buffer = None  # the one of this thread is taken per read

        def get_buffer(self, n: int) -> memoryview:
            view = getattr(local, "view", None)
            if view is None:
                view = local.view = memoryview(bytearray(TLS_READ_BUFFER))
            self._ssl_buffer_view = view  # what buffer_updated copies from
            return view

    return SharedBufferSSLProtocol


def ssl_context(route: Route) -> ssl.SSLContext | None:
    """The TLS settings of a route as an SSLContext, trusting what requests would trust: the route's CA bundle
    (ca_path, REQUESTS_CA_BUNDLE, else certifi's) and nothing else. ssl.create_default_context() with no CA
    of its own would load the system's CAs as well (and SSL_CERT_FILE's), trusting more than ca_path says."""
    if not route.base_url.lower().startswith("https"):
        return None
    if route.verify is False:
        context = unverified_tls_context()
    else:
        bundle = route.verify if isinstance(route.verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
        if os.path.isdir(bundle):
            context = ssl.create_default_context(capath=bundle)
        else:
            context = ssl.create_default_context(cafile=bundle)
    # A TLS 1.3 server may ask for the client certificate after the handshake; urllib3 allows it, so do we.
    context.post_handshake_auth = True
    if isinstance(route.cert, (tuple, list)):
        context.load_cert_chain(route.cert[0], route.cert[1])
    elif route.cert:
        context.load_cert_chain(route.cert)
    return context


class AsyncTransport:
    """An aiohttp ClientSession for one route: kept-alive connections, no limit on how many are open."""

    def __init__(self, route: Route, probe_scheme: bool = False) -> None:
        """probe_scheme: a failure that may come of the wrong scheme for the port is checked by asking the port
        what it speaks, as http_sync does (a large batch's bridge); the keeper, whose route a task used already,
        does not ask."""
        self.route = route
        self.probe_scheme = probe_scheme
        self._wrong_scheme: dict[str, TransportError] = {}
        self.proxy = requests.utils.select_proxy(route.base_url + "/", dict(route.proxies))
        self._session: Any = None
        self._tls: Any = None

    def _open(self) -> Any:
        import aiohttp

        if self._session is None:
            try:
                self._tls = ssl_context(self.route)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise TransportError("tls_setup", str(exc), request_sent=False) from None
            self._session = aiohttp.ClientSession(
                connector=_connector_class()(limit=0, ssl=self._tls if self._tls is not None else False),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers=DEFAULT_HEADERS,
                timeout=aiohttp.ClientTimeout(total=None),
            )
            if hasattr(self._session, "_retry_connection"):
                # aiohttp itself sends a GET, PUT or DELETE again, once, when the connection breaks before
                # the answer: RFC 9112 lets a client retry idempotent methods, but a gateway's PUT that starts a
                # recording is not one. Only what failed before anything was sent is tried again (request()).
                self._session._retry_connection = False
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        cookies: dict[str, str] | None = None,
        timeout: tuple[float, float] = (30.0, 30.0),
        body: bytes | None = None,
        connect_retries: int = 0,
    ) -> Answer:
        """One exchange with the gateway; raises TransportError, as Transport.request does.

        connect_retries: how many more connection attempts to make when one fails before anything was sent
        (refused, timed out, a TLS handshake cut off), as Transport's; the keeper polls again instead."""
        import aiohttp

        session = self._open()
        headers, cookies = with_cookies(headers, cookies)
        # The whole exchange, connecting included, to the last byte of the answer.
        limits = aiohttp.ClientTimeout(total=timeout[0] + timeout[1], sock_connect=timeout[0])
        for attempt in range(1, connect_retries + 2):
            try:
                return await self._exchange(session, method, path, headers, cookies, body, limits)
            except TransportError:
                raise
            except Exception as exc:  # classified below; anything unexpected is re-raised there
                if attempt <= connect_retries and _connection_not_made(exc):
                    await _backoff(attempt)
                    continue
                raise await self._classify(exc, attempt) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange(
        self,
        session: Any,
        method: str,
        path: str,
        headers: dict[str, str],
        cookies: Any,
        body: bytes | None,
        limits: Any,
    ) -> Answer:
        async with session.request(
            method,
            self.route.base_url + path,
            headers=headers,
            cookies=cookies,
            data=body,
            proxy=self.proxy,
            timeout=limits,
            allow_redirects=False,
        ) as response:
            return Answer(
                status=response.status,
                reason=response.reason or "",
                headers=response.headers,
                cookies={name: morsel.value for name, morsel in response.cookies.items()},
                body=await _whole_body(response),
            )

    async def _classify(self, exc: BaseException, attempts: int) -> TransportError:
        import asyncio

        failure = _classify_async(exc, self.route.base_url.lower().startswith("https"))
        if not failure.request_sent:
            failure.attempts = attempts
        if not self.probe_scheme:
            return failure
        known = self._wrong_scheme.get(failure.kind)
        if known is not None:
            return known  # what the port speaks does not change: asked once
        # Loaded on the first failure, as by http_sync: a run whose exchanges all succeed never compiles it. Its
        # probe of what the port speaks blocks (up to 3 s): off the event loop, which other exchanges share.
        from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_failures import wrong_scheme

        probed = await asyncio.get_running_loop().run_in_executor(
            None, wrong_scheme, failure, exc, self.route
        )
        if probed is None:
            return failure
        self._wrong_scheme[failure.kind] = probed
        return probed


def backoff_seconds(attempt: int) -> float:
    """The pause after failed connection attempt number attempt (1 for the first), as urllib3's in http_sync."""
    return CONNECT_BACKOFF * 2 ** (attempt - 1)


async def _backoff(attempt: int) -> None:
    import asyncio

    await asyncio.sleep(backoff_seconds(attempt))


def _connection_not_made(exc: BaseException) -> bool:
    """Whether an attempt failed before a connection was made, in a way another attempt may not (what urllib3's
    connect retries take in http_sync): refused, unreachable, timed out, or a TLS handshake the other side cut
    off. Not a certificate, or a TLS refusal: those would say the same again."""
    import aiohttp

    if isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ())):
        return True
    if not isinstance(exc, aiohttp.ClientConnectorError) or isinstance(
        exc, aiohttp.ClientConnectorCertificateError
    ):
        return False
    found = causes(exc)
    if any(
        isinstance(cause, (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)) for cause in found
    ):
        return True
    return not isinstance(exc, aiohttp.ClientConnectorSSLError) and not any(
        isinstance(cause, ssl.SSLError) for cause in found
    )


async def _whole_body(response: Any) -> bytes:
    """Every byte of the answer, however many segments or chunks it came in, up to MAX_BODY.

    (content.read(n) would return only what has arrived so far.)"""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TransportError("too_large", f"the answer announces {int(length)} bytes", True)
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransportError("too_large", f"the answer is longer than {MAX_BODY} bytes", True)
        chunks.append(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=1)
def _connector_class() -> Any:
    """aiohttp's TCPConnector that never reuses a kept-alive connection on which bytes arrived unasked.

    aiohttp keeps what arrives on an idle pooled connection and parses it as the answer to the next request
    sent on it (urllib3 drops such a connection); a stray answer would then pass for the gateway's."""
    import aiohttp

    class DiscardingConnector(aiohttp.TCPConnector):  # type: ignore[misc]
        async def connect(self, req: Any, *args: Any, **kwargs: Any) -> Any:
            # A pooled connection that holds bytes (should_close: data arrived while it was idle) is closed and
            # the next one taken; a new connection holds none. Bounded: the pool is finite.
            for _attempt in range(1000):
                connection = await super().connect(req, *args, **kwargs)
                protocol = connection.protocol
                if protocol is None or not protocol.should_close:
                    return connection
                connection.close()
            return connection

    return DiscardingConnector


def _classify_async(exc: BaseException, https: bool) -> TransportError:
    """What an aiohttp exception means, in the kinds of http_failures.classify. A connection reset or broken off
    while connecting is "tls" over https, "connect" without TLS, as there."""
    import asyncio

    import aiohttp

    found = causes(exc)
    reason = innermost(exc)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or any(
        isinstance(cause, ssl.SSLCertVerificationError) for cause in found
    ):
        return TransportError("certificate", reason, request_sent=False)
    if isinstance(exc, aiohttp.InvalidURL):
        return TransportError("url", reason, request_sent=False)
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        return TransportError("proxy", reason, request_sent=False)
    cut_off = "tls" if https else "connect"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return TransportError(cut_off, reason, request_sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if any(isinstance(cause, ConnectionRefusedError) for cause in found):
            return TransportError("refused", reason, request_sent=False)
        if any(isinstance(cause, (ssl.SSLError, ConnectionResetError)) for cause in found):
            return TransportError(cut_off, reason, request_sent=False)
        return TransportError("connect", reason, request_sent=False)
    if isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ())):  # aiohttp 3.10 and later
        return TransportError("connect_timeout", reason or "timed out", request_sent=False)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return TransportError("read_timeout", reason or "timed out", request_sent=True)
    if isinstance(exc, (aiohttp.ClientError, OSError, ValueError)):
        return TransportError("broken", reason, request_sent=True)
    raise exc
