# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one HTTP transport: routes resolved by requests, exchanges through requests or aiohttp.

The modules, the batch form and the session keeper all talk to the gateway through this module. Proxies,
NO_PROXY, the CA bundle and client certificates are resolved by requests itself, once, when a route is
made; the keeper is handed that resolved route, so it uses what the task that started it used. Each
failure is classified, and a request is said not to have reached the gateway only when it provably did
not (the connection or its TLS handshake never completed), which is what the at-most-once rule needs.

Transport (requests: a Session with a pooled HTTPAdapter) serves the modules and the batch threads.
AsyncTransport (aiohttp) serves the session keeper alone, which holds one long-poll open per kept agent:
with a thread per agent, 1,000 agents cost 17 ms of CPU per poll in lock contention and 19 s to start
(docs/benchmarks.md); with aiohttp, 0.5 ms and 3 s. Both take the same Route and give the same Answer
and the same failure kinds.

It imports nothing of Ansible: the keeper runs it as plain Python.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.cookiejar
import os
import re
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Tuple, Union  # noqa: UP035 - Tuple: evaluated at import on Python 3.8 hosts
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import (
        InsecureRequestWarning,
        LocationParseError,
        NewConnectionError,
        ReadTimeoutError,
    )
    from urllib3.util.retry import Retry

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules through missing_required_lib
    requests = None
    HTTPAdapter = HTTPConnection = HTTPSConnection = HTTPConnectionPool = HTTPSConnectionPool = object
    Retry = NewConnectionError = ReadTimeoutError = InsecureRequestWarning = LocationParseError = None
    REQUESTS_IMPORT_ERROR = exc

# A gateway answer is a few hundred bytes; anything this large is not the gateway speaking.
MAX_BODY = 1024 * 1024
# Connection attempts that failed before anything was sent are the only ones retried.
CONNECT_RETRIES = 2
CONNECT_BACKOFF = 0.2
USER_AGENT = "cec.cc_gateway"
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}

Verify = Union[bool, str]
Cert = Union[None, str, Tuple[str, str]]  # noqa: UP006


class TransportFailure(Exception):
    """An exchange that failed; kind says how, request_sent whether the gateway may have acted on it.

    kinds: url, certificate, tls, tls_setup, refused, connect_timeout, connect, proxy, read_timeout, broken,
    too_large, not_utf8.
    """

    def __init__(self, kind: str, reason: str, request_sent: bool) -> None:
        reason = without_credentials(reason)
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.request_sent = request_sent


@dataclass(frozen=True)
class Route:
    """How requests reach one gateway: the base URL and what requests resolved for it.

    proxies, verify and cert are requests' own arguments; paths in them are absolute, so the route means the
    same in another process started from another directory (the keeper).
    """

    base_url: str
    proxies: tuple[tuple[str, str], ...] = ()
    verify: Verify = True
    cert: Cert = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "proxies": dict(self.proxies),
            "verify": self.verify,
            "cert": list(self.cert) if isinstance(self.cert, tuple) else self.cert,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        cert = data.get("cert")
        return cls(
            base_url=str(data["base_url"]),
            proxies=tuple(sorted((str(k), str(v)) for k, v in (data.get("proxies") or {}).items())),
            verify=data.get("verify", True),
            cert=tuple(cert) if isinstance(cert, list) else cert,
        )

    @property
    def proxy(self) -> str | None:
        """The proxy requests will use for this route, if any, with its credentials."""
        scheme = urlsplit(self.base_url).scheme.lower()
        proxies = dict(self.proxies)
        host = urlsplit(self.base_url).hostname or ""
        return proxies.get(f"{scheme}://{host}") or proxies.get(scheme) or proxies.get("all")

    @property
    def proxy_shown(self) -> str | None:
        """The proxy for messages and logs: its user and password left out, with or without a scheme."""
        proxy = self.proxy
        if not proxy:
            return None
        credentials, at, host = proxy.rpartition("@")
        if not at:
            return proxy
        scheme = credentials.split("://", 1)[0] + "://" if "://" in credentials else ""
        return f"{scheme}***@{host}"


_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")


def without_credentials(text: str) -> str:
    """text with the user:password@ part of any URL in it replaced by ***@ (proxy URLs carry them)."""
    return _CREDENTIALS.sub("***@", text)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve_route(
    gateway_url: str,
    validate_certs: bool = True,
    ca_path: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> Route:
    """The route to a gateway as requests resolves it from these options and the environment.

    HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY (networks included) choose the proxy; ca_path wins over
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which win over requests' own bundle (certifi).
    """
    base_url = gateway_url.strip().rstrip("/")
    verify: Verify = (_absolute(ca_path) if ca_path else True) if validate_certs else False
    cert: Cert = None
    if client_cert:
        cert = (_absolute(client_cert), _absolute(client_key)) if client_key else _absolute(client_cert)
    resolved = requests.Session().merge_environment_settings(base_url + "/", {}, None, verify, cert)
    verify = resolved["verify"]
    if isinstance(verify, str):
        verify = _absolute(verify)
    proxies = tuple(sorted((str(k), str(v)) for k, v in (resolved["proxies"] or {}).items() if v))
    return Route(base_url, proxies, verify, resolved["cert"])


# -- knowing whether a failed request can have been sent: urllib3 reports a TLS handshake cut short by the
# server the same way as a connection reset after the request went out. The connection classes below note
# in a thread-local flag when a connection is being opened; a failure while it is set happened before
# anything of the request was sent.

_STAGE = threading.local()


def _mark_connecting(connecting: bool) -> None:
    _STAGE.connecting = connecting


# -- the deadline of a whole answer: requests' timeout bounds each socket operation, so an answer that trickles
# in a byte at a time never times out. One watchdog thread per process ends the exchanges whose deadline passed
# by shutting their socket down; the blocked read then fails and the exchange is reported as timed out.


class _Exchange:
    __slots__ = ("connection", "deadline", "done", "expired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connection: Any = None
        self.done = False
        self.expired = False


class _Watchdog:
    def __init__(self) -> None:
        self._pending: list[tuple[float, int, _Exchange]] = []
        self._count = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float) -> _Exchange:
        exchange = _Exchange(time.monotonic() + seconds)
        with self._wake:
            self._count += 1
            heapq.heappush(self._pending, (exchange.deadline, self._count, exchange))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cc_gateway-deadlines", daemon=True)
                self._thread.start()
            elif self._pending[0][2] is exchange:
                self._wake.notify()
        return exchange

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending and self._pending[0][2].done:
                    heapq.heappop(self._pending)
                if not self._pending:
                    self._wake.wait(60)
                    if not self._pending:
                        self._thread = None
                        return
                    continue
                wait = self._pending[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(min(wait, 60))
                    continue
                exchange = heapq.heappop(self._pending)[2]
                # Under the lock: an exchange that finished meanwhile has handed its connection back to the
                # pool, where another request may be using it now.
                if not exchange.done:
                    _expire(exchange)

    def finish(self, exchange: _Exchange | None) -> None:
        if exchange is not None:
            with self._wake:
                exchange.done = True

    def attach(self, exchange: _Exchange, connection: Any) -> None:
        """The connection exchange sends on from now on; refused when its deadline passed already."""
        with self._wake:
            if exchange.expired:
                raise _DeadlinePassed()
            exchange.connection = connection
            connection.cc_gateway_exchange = exchange


def _expire(exchange: _Exchange) -> None:
    """Mark exchange expired and cut its connection, if the connection is still its own (called under the
    watchdog's lock, as attach is, so no other exchange can take the connection meanwhile)."""
    exchange.expired = True
    connection = exchange.connection
    if connection is None or getattr(connection, "cc_gateway_exchange", None) is not exchange:
        return
    sock = getattr(connection, "sock", None)
    # The socket itself, under a TLS-in-TLS wrapper (urllib3's SSLTransport, through an https proxy) too.
    while sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)
    if sock is not None:
        # socket.socket's own shutdown, also for a TLS socket: the reading thread's SSL object stays intact.
        with contextlib.suppress(OSError, ValueError, TypeError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class _DeadlinePassed(Exception):
    """The exchange's deadline passed while connecting: the request is not sent."""


def _attach(connection: Any) -> None:
    exchange = getattr(_STAGE, "exchange", None)
    if exchange is not None:
        _WATCHDOG.attach(exchange, connection)


def _connected() -> None:
    """After a connection attempt: a deadline that passed meanwhile ends the exchange before anything is sent."""
    exchange = getattr(_STAGE, "exchange", None)
    if exchange is not None and exchange.expired:
        raise _DeadlinePassed()


class _NotingHTTPConnection(HTTPConnection):  # type: ignore[misc,valid-type]
    def connect(self) -> None:
        _mark_connecting(True)
        super().connect()
        _mark_connecting(False)
        _connected()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self)
        return super().request(*args, **kwargs)


class _NotingHTTPSConnection(HTTPSConnection):  # type: ignore[misc,valid-type]
    def connect(self) -> None:
        _mark_connecting(True)
        super().connect()
        _mark_connecting(False)
        _connected()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self)
        return super().request(*args, **kwargs)


def _returned(connection: Any) -> None:
    """A connection back in the pool: its exchange is over, so its deadline must not cut it any more (urllib3
    puts it back as soon as the answer's last byte is read, before the exchange ends)."""
    _WATCHDOG.finish(getattr(connection, "cc_gateway_exchange", None))


class _NotingHTTPConnectionPool(HTTPConnectionPool):  # type: ignore[misc,valid-type]
    ConnectionCls = _NotingHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _returned(conn)
        super()._put_conn(conn)


class _NotingHTTPSConnectionPool(HTTPSConnectionPool):  # type: ignore[misc,valid-type]
    ConnectionCls = _NotingHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _returned(conn)
        super()._put_conn(conn)


_POOL_CLASSES = {"http": _NotingHTTPConnectionPool, "https": _NotingHTTPSConnectionPool}


class _NotingAdapter(HTTPAdapter):  # type: ignore[misc,valid-type]
    """requests' HTTPAdapter whose pools use the connection classes above."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared session keeps no cookies: they belong to one agent's session, which keeps its own."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


@dataclass
class Answer:
    status: int
    reason: str
    headers: Any  # requests' case-insensitive header dict
    cookies: dict[str, str]
    body: bytes = b""

    def json_text(self) -> str:
        try:
            return self.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TransportFailure("not_utf8", f"the answer is not UTF-8 ({exc.reason})", True) from None


@dataclass
class Transport:
    """A requests Session for one route with a pool of kept-alive connections; thread-safe for requests."""

    route: Route
    pool_size: int = 10
    session: Any = field(init=False)
    proxies: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        session = requests.Session()
        session.trust_env = False  # the route was resolved from the environment already
        session.cookies.set_policy(_NoCookies())
        self.session = session
        self.proxies = dict(self.route.proxies)
        self._mount(self.pool_size)
        if self.route.verify is False:
            # The user turned verification off (validate_certs: false) and the task says so once; urllib3's
            # warning on every request would go to stderr, around Ansible's display.
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)

    def _mount(self, pool_size: int) -> None:
        retries = Retry(
            total=None,
            connect=CONNECT_RETRIES,
            # False, not 0: urllib3 then raises a read error as it is (requests' ReadTimeout), not as
            # "max retries exceeded".
            read=False,
            status=0,
            other=0,
            redirect=0,
            backoff_factor=CONNECT_BACKOFF,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = _NotingAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=retries)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.pool_size = pool_size

    def grow(self, pool_size: int) -> None:
        if pool_size > self.pool_size:
            self._mount(pool_size)

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
        cookies: dict[str, str] | None = None,
        timeout: float | tuple[float, float] = 30.0,
    ) -> Answer:
        """One exchange with the gateway; raises TransportFailure. path is relative to the base URL.

        timeout: (connect, answer) seconds; each connection attempt is bounded by the first, sending the
        request and reading the whole answer, to its last byte, by the second.
        """
        connect_timeout, answer_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        exchange = _STAGE.exchange = _WATCHDOG.watch(connect_timeout + answer_timeout)
        try:
            return self._exchange(method, path, headers, body, cookies, (connect_timeout, answer_timeout))
        except _DeadlinePassed:
            raise TransportFailure(
                "connect_timeout", f"not connected within {connect_timeout + answer_timeout:g} s", False
            ) from None
        except TransportFailure as failure:
            if exchange.expired and failure.kind in _CUT_SHORT:
                raise TransportFailure(
                    "read_timeout", f"no whole answer within {answer_timeout:g} s", request_sent=True
                ) from None
            raise
        finally:
            _WATCHDOG.finish(exchange)
            _STAGE.exchange = None

    def _exchange(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        cookies: dict[str, str] | None,
        timeout: tuple[float, float],
    ) -> Answer:
        route = self.route
        _mark_connecting(False)
        try:
            # Prepared here and sent by the session: Session.request would merge the session's settings into
            # every request again (a fifth of requests' own time per request), and there are none to merge.
            prepared = requests.Request(
                method,
                route.base_url + path,
                headers={**DEFAULT_HEADERS, **headers},
                data=body,
                cookies=cookies,
            ).prepare()
            response = self.session.send(
                prepared,
                timeout=timeout,
                proxies=self.proxies,
                verify=route.verify,
                cert=route.cert,
                allow_redirects=False,
                stream=True,
            )
        except Exception as exc:  # classified below; anything unexpected is re-raised there
            raise _classify(exc, route) from None
        try:
            return Answer(
                status=response.status_code,
                reason=response.reason or "",
                headers=response.headers,
                cookies=dict(response.cookies.items()),
                body=_bounded_body(response),
            )
        except TransportFailure:
            raise
        except Exception as exc:
            raise _classify(exc, route, answered=True) from None
        finally:
            _WATCHDOG.finish(_STAGE.exchange)
            response.close()


# What a connection shut down by the watchdog looks like to requests and urllib3.
_CUT_SHORT = ("broken", "read_timeout", "tls", "connect")


def _bounded_body(response: Any) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TransportFailure("too_large", f"the answer announces {int(length)} bytes", True)
    chunks = []
    size = 0
    for chunk in response.iter_content(16 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransportFailure("too_large", f"the answer is longer than {MAX_BODY} bytes", True)
        chunks.append(chunk)
    return b"".join(chunks)


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps: requests and urllib3 keep the original error in args, reason and __context__."""
    seen: list[BaseException] = []
    pending: list[Any] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return seen


def _bad_tls_file(error: BaseException) -> bool:
    """An SSLError from loading a CA bundle, certificate or key that is not what it should be (OpenSSL's PEM
    and X509 errors: no certificate in the file, a key that does not match)."""
    if not isinstance(error, ssl.SSLError):
        return False
    return getattr(error, "library", None) in ("PEM", "X509") or "PEM lib" in str(error)


def _innermost(exc: BaseException) -> str:
    causes = _causes(exc)
    deepest = causes[-1] if causes else exc
    text = str(deepest) or type(deepest).__name__
    return text if len(text) < 300 else text[:300] + "..."


def _classify(exc: BaseException, route: Route, answered: bool = False) -> TransportFailure:
    """What a requests exception means for the user and for the at-most-once rule."""
    failure = _classify_kind(exc, route, answered)
    wrong = _wrong_scheme(failure, exc, route)
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


def _wrong_scheme(failure: TransportFailure, exc: BaseException, route: Route) -> TransportFailure | None:
    """A failure that came of the wrong scheme for the port, said so (and that nothing was acted on)."""
    parts = urlsplit(route.base_url)
    if route.proxy or parts.hostname is None:
        return None
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    text = " ".join(str(cause) for cause in _causes(exc))
    if (
        scheme == "https"
        and failure.kind == "tls"
        and any(mark in text for mark in _PLAIN_ANSWER)
        and _speaks_plain_http(parts.hostname, port)
    ):
        return TransportFailure(
            "wrong_scheme", f"port {port} answers plain HTTP, not TLS: use http://", False
        )
    closed = (
        "without response" in text
        or any(isinstance(cause, ConnectionResetError) for cause in _causes(exc))
        or _TLS_ALERT.search(text) is not None
    )
    if scheme == "http" and failure.kind == "broken" and closed and _speaks_tls(parts.hostname, port):
        return TransportFailure(
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
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ValueError):
        return False


def _classify_kind(exc: BaseException, route: Route, answered: bool) -> TransportFailure:
    exceptions = requests.exceptions
    causes = _causes(exc)
    connecting = bool(getattr(_STAGE, "connecting", False)) and not answered
    reason = _innermost(exc)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return TransportFailure("certificate", reason, request_sent=False)
    if any(_bad_tls_file(cause) for cause in causes):
        return TransportFailure("tls_setup", reason, request_sent=False)
    if isinstance(exc, exceptions.ProxyError):
        return TransportFailure("proxy", reason, request_sent=False)
    if isinstance(exc, exceptions.ConnectTimeout):
        return TransportFailure("connect_timeout", reason, request_sent=False)
    if isinstance(exc, exceptions.ReadTimeout) or any(
        isinstance(cause, ReadTimeoutError) for cause in causes
    ):
        return TransportFailure("read_timeout", reason, request_sent=True)
    if any(isinstance(cause, LocationParseError) for cause in causes):
        # urllib3's check of the host (an empty label, one over 63 characters), made while connecting
        return TransportFailure("url", reason, request_sent=False)
    if isinstance(exc, (exceptions.InvalidURL, exceptions.InvalidHeader, exceptions.InvalidSchema)):
        return TransportFailure("url", reason, request_sent=False)
    if isinstance(exc, exceptions.MissingSchema):
        return TransportFailure("url", reason, request_sent=False)
    if isinstance(exc, exceptions.ConnectionError) and not answered:
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return TransportFailure("refused", reason, request_sent=False)
        if any(isinstance(cause, NewConnectionError) for cause in causes):
            return TransportFailure("connect", reason, request_sent=False)
    if isinstance(exc, exceptions.SSLError) or any(isinstance(cause, ssl.SSLError) for cause in causes):
        if connecting:
            return TransportFailure("tls", reason, request_sent=False)
        return TransportFailure("broken", reason, request_sent=True)
    if isinstance(exc, (exceptions.ConnectionError, exceptions.ChunkedEncodingError)):
        if connecting:
            return TransportFailure("tls" if route.base_url.startswith("https") else "connect", reason, False)
        return TransportFailure("broken", reason, request_sent=True)
    if isinstance(exc, exceptions.ContentDecodingError):
        return TransportFailure("broken", reason, request_sent=True)
    if isinstance(exc, OSError) and not answered:
        # requests checks the CA bundle and client certificate files before connecting.
        return TransportFailure("tls_setup", reason, request_sent=False)
    raise exc


_TRANSPORTS: dict[Route, Transport] = {}
_TRANSPORTS_LOCK = threading.Lock()


def transport_for(route: Route, pool_size: int = 10) -> Transport:
    """The process's transport for a route: loop items and batch threads of a task share its pool."""
    with _TRANSPORTS_LOCK:
        transport = _TRANSPORTS.get(route)
        if transport is None:
            transport = _TRANSPORTS[route] = Transport(route, pool_size)
        else:
            transport.grow(pool_size)
    return transport


# -- the keeper's asynchronous face (aiohttp is imported only here: the modules never need it)


def aiohttp_missing() -> str | None:
    """Why the keeper cannot run here (aiohttp not importable), or None."""
    try:
        import aiohttp  # noqa: F401  pylint: disable=unused-import
    except ImportError as exc:
        return str(exc)
    return None


def ssl_context(route: Route) -> ssl.SSLContext | None:
    """The TLS settings of a route as an SSLContext, trusting what requests would trust."""
    if not route.base_url.lower().startswith("https"):
        return None
    context = ssl.create_default_context()
    if route.verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        bundle = route.verify if isinstance(route.verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
        if os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
        else:
            context.load_verify_locations(cafile=bundle)
    if isinstance(route.cert, (tuple, list)):
        context.load_cert_chain(route.cert[0], route.cert[1])
    elif route.cert:
        context.load_cert_chain(route.cert)
    return context


class AsyncTransport:
    """An aiohttp ClientSession for one route: kept-alive connections, no limit on how many are open."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.proxy = requests.utils.select_proxy(route.base_url + "/", dict(route.proxies))
        self._session: Any = None
        self._tls: Any = None

    def _open(self) -> Any:
        import aiohttp

        if self._session is None:
            try:
                self._tls = ssl_context(self.route)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise TransportFailure("tls_setup", str(exc), request_sent=False) from None
            self._session = aiohttp.ClientSession(
                connector=_connector_class()(limit=0, ssl=self._tls if self._tls is not None else False),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers=DEFAULT_HEADERS,
                timeout=aiohttp.ClientTimeout(total=None),
            )
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
    ) -> Answer:
        """One exchange with the gateway; raises TransportFailure, as Transport.request does."""
        import aiohttp

        session = self._open()
        # The whole exchange, connecting included, to the last byte of the answer.
        limits = aiohttp.ClientTimeout(total=timeout[0] + timeout[1], sock_connect=timeout[0])
        try:
            async with session.request(
                method,
                self.route.base_url + path,
                headers=headers,
                cookies=cookies or None,
                proxy=self.proxy,
                timeout=limits,
                allow_redirects=False,
            ) as response:
                body = await _whole_body(response)
                return Answer(
                    status=response.status,
                    reason=response.reason or "",
                    headers=response.headers,
                    cookies={name: morsel.value for name, morsel in response.cookies.items()},
                    body=body,
                )
        except TransportFailure:
            raise
        except Exception as exc:  # classified below; anything unexpected is re-raised there
            raise _classify_async(exc) from None


async def _whole_body(response: Any) -> bytes:
    """Every byte of the answer, however many segments or chunks it came in, up to MAX_BODY.

    (content.read(n) would return only what has arrived so far.)"""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TransportFailure("too_large", f"the answer announces {int(length)} bytes", True)
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransportFailure("too_large", f"the answer is longer than {MAX_BODY} bytes", True)
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


def _classify_async(exc: BaseException) -> TransportFailure:
    """What an aiohttp exception means, in the kinds of _classify."""
    import asyncio

    import aiohttp

    causes = _causes(exc)
    reason = _innermost(exc)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or any(
        isinstance(cause, ssl.SSLCertVerificationError) for cause in causes
    ):
        return TransportFailure("certificate", reason, request_sent=False)
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        return TransportFailure("proxy", reason, request_sent=False)
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return TransportFailure("tls", reason, request_sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return TransportFailure("refused", reason, request_sent=False)
        if any(isinstance(cause, (ssl.SSLError, ConnectionResetError)) for cause in causes):
            return TransportFailure("tls", reason, request_sent=False)
        return TransportFailure("connect", reason, request_sent=False)
    if isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ())):  # aiohttp 3.10 and later
        return TransportFailure("connect_timeout", reason or "timed out", request_sent=False)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return TransportFailure("read_timeout", reason or "timed out", request_sent=True)
    if isinstance(exc, (aiohttp.ClientError, OSError, ValueError)):
        return TransportFailure("broken", reason, request_sent=True)
    raise exc
