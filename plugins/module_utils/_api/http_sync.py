# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' HTTP transport (requests: a Session with a pooled HTTPAdapter, for the modules and the batch
threads), each failure classified (http_failures.py); a request is said not to have reached the gateway only
when it provably did not (the connection or its TLS handshake never completed), which is what the at-most-once
rule needs.

It imports nothing of Ansible: the keeper imports it too (Answer, cookie headers).
"""

from __future__ import annotations

import contextlib
import heapq
import http.cookiejar
import re
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import TransportError, causes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import Route

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import InsecureRequestWarning
    from urllib3.util.retry import Retry

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules through missing_required_lib
    requests = None
    HTTPAdapter = HTTPConnection = HTTPSConnection = HTTPConnectionPool = HTTPSConnectionPool = object
    Retry = object
    InsecureRequestWarning = None
    REQUESTS_IMPORT_ERROR = exc

# A gateway answer is a few hundred bytes; anything this large is not the gateway speaking.
MAX_BODY = 1024 * 1024
# A body handed to a sink (a recording file) is read this many bytes at a time.
STREAM_PIECE = 64 * 1024
# Connection attempts that failed before anything was sent are the only ones retried.
CONNECT_RETRIES = 2
CONNECT_BACKOFF = 0.2
USER_AGENT = "cec.cc_gateway"
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
# RFC 6265: a cookie-name is a token; a cookie-value's octets need no quoting.
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


def cookie_header(cookies: dict[str, str] | None) -> str | None:
    """The Cookie header of an agent's cookies when each goes as it is (RFC 6265 names and values, as load
    balancers set them); None when there are none or one needs the library's quoting.

    Given as cookies=, requests and aiohttp build a cookie jar for every request: 45 microseconds of CPU a
    request in requests, about 100 in aiohttp, which is a third of the keeper's CPU per poll."""
    if not cookies or not all(
        _COOKIE_NAME.fullmatch(name) and _COOKIE_VALUE.fullmatch(value) for name, value in cookies.items()
    ):
        return None
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def with_cookies(headers: dict[str, str], cookies: dict[str, str] | None) -> tuple[dict[str, str], Any]:
    """headers and the cookies= argument for the library: the cookies in a Cookie header when they can go
    as they are, else left to the library."""
    header = cookie_header(cookies)
    if header is None:
        return headers, cookies or None
    return {**headers, "Cookie": header}, None


# -- knowing whether a failed request can have been sent: urllib3 reports a TLS handshake cut short by the
# server the same way as a connection reset after the request went out. The connection classes below note
# in a thread-local flag when a connection is being opened; a failure while it is set happened before
# anything of the request was sent.

_STAGE = threading.local()


def _mark_connecting(connecting: bool) -> None:
    _STAGE.connecting = connecting


def _connecting() -> None:
    """A connection attempt begins: counted, for the sentence that says how many were made."""
    _STAGE.connecting = True
    _STAGE.attempts = getattr(_STAGE, "attempts", 0) + 1


def _handshake_cut_off(error: BaseException) -> bool:
    """Whether a connection attempt ended with the other side resetting or closing it during the TLS handshake
    (an overloaded gateway or load balancer, its accept queue full, does that): nothing was sent on it."""
    return bool(getattr(_STAGE, "connecting", False)) and any(
        isinstance(cause, (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError))
        for cause in causes(error)
    )


class _ConnectRetry(Retry):  # type: ignore[misc,valid-type]
    """urllib3's Retry that takes a TLS handshake cut off by the other side for the failed connection attempt it
    is: tried again within the same connect budget as a refused connection (urllib3 counts only connect
    timeouts and refusals as such, and would raise the handshake's failure at once)."""

    def _is_connection_error(self, err: Exception) -> bool:
        return bool(super()._is_connection_error(err)) or _handshake_cut_off(err)


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


class _Noting:
    """What urllib3's HTTP and HTTPS connections do here besides their own work: say when they are connecting,
    count the attempt, and hand themselves to the exchange's deadline once the request goes out."""

    def connect(self) -> None:
        _connecting()
        super().connect()  # type: ignore[misc]
        _mark_connecting(False)
        _connected()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _NotingHTTPConnection(_Noting, HTTPConnection):  # type: ignore[misc,valid-type]
    pass


class _NotingHTTPSConnection(_Noting, HTTPSConnection):  # type: ignore[misc,valid-type]
    pass


class _NotingPool:
    """urllib3's pools, HTTP and HTTPS: a connection taken for an attempt starts as not connecting (urllib3 takes
    one for each attempt; a kept-alive one is never connected again, so a failed attempt before it must not leave
    its mark: a failure on it, request sent, would pass for a handshake broken off, and be sent again); one put
    back is out of its exchange's deadline (urllib3 puts it back as soon as the answer's last byte is read, before
    the exchange ends)."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        _mark_connecting(False)
        return connection

    def _put_conn(self, conn: Any) -> None:
        _WATCHDOG.finish(getattr(conn, "cc_gateway_exchange", None))
        super()._put_conn(conn)  # type: ignore[misc]


class _NotingHTTPConnectionPool(_NotingPool, HTTPConnectionPool):  # type: ignore[misc,valid-type]
    ConnectionCls = _NotingHTTPConnection


class _NotingHTTPSConnectionPool(_NotingPool, HTTPSConnectionPool):  # type: ignore[misc,valid-type]
    ConnectionCls = _NotingHTTPSConnection


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
    # The number of bytes handed to the sink, when stream() sent the body there instead of into body.
    streamed: int | None = None

    def json_text(self) -> str:
        try:
            return self.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TransportError("not_utf8", f"the answer is not UTF-8 ({exc.reason})", True) from None


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
        retries = _ConnectRetry(
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
        """One exchange with the gateway; raises TransportError. path is relative to the base URL.

        timeout: (connect, answer) seconds; each connection attempt is bounded by the first, sending the
        request and reading the whole answer, to its last byte, by the second.
        """
        connect_timeout, answer_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return self._watched(
            lambda: self._exchange(
                method, path, headers, body, cookies, (connect_timeout, answer_timeout), None
            ),
            connect_timeout,
            answer_timeout,
        )

    def stream(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        sink_for: Callable[[Answer], Callable[[bytes], Any] | None],
        limit: int,
        cookies: dict[str, str] | None = None,
        timeout: float = 30.0,
        overall: float = 300.0,
    ) -> Answer:
        """An exchange whose answer may be large (a recording file); raises TransportError.

        sink_for(head) is called with the answer's status, headers and cookies (body empty) and says where the
        body goes: a callable that takes it piece by piece, which may take at most limit bytes in all (more is
        the failure kind file_too_large, found from Content-Length before anything is read, or on the way); or
        None for an answer read whole into body, as request() reads it (at most MAX_BODY bytes). What the sink
        raises is raised as it is. timeout bounds each connection attempt and each read of the answer; overall
        the whole exchange after connecting, to the last byte.
        """
        return self._watched(
            lambda: self._exchange(
                method, path, headers, None, cookies, (timeout, timeout), (sink_for, limit)
            ),
            timeout,
            overall,
        )

    def _watched(self, run: Callable[[], Answer], connect_timeout: float, answer_timeout: float) -> Answer:
        """run() with a deadline of connect_timeout + answer_timeout on the whole exchange."""
        exchange = _STAGE.exchange = _WATCHDOG.watch(connect_timeout + answer_timeout)
        try:
            return run()
        except _DeadlinePassed:
            raise TransportError(
                "connect_timeout", f"not connected within {connect_timeout + answer_timeout:g} s", False
            ) from None
        except TransportError as failure:
            if exchange.expired and failure.kind in _CUT_SHORT:
                raise TransportError(
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
        streaming: tuple[Callable[[Answer], Callable[[bytes], Any] | None], int] | None,
    ) -> Answer:
        route = self.route
        _mark_connecting(False)
        _STAGE.attempts = 0
        try:
            # Prepared here and sent by the session: Session.request would merge the session's settings into
            # every request again (a fifth of requests' own time per request), and there are none to merge.
            headers, cookies = with_cookies({**DEFAULT_HEADERS, **headers}, cookies)
            prepared = requests.Request(
                method, route.base_url + path, headers=headers, data=body, cookies=cookies
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
            answer = Answer(
                status=response.status_code,
                reason=response.reason or "",
                headers=response.headers,
                cookies=dict(response.cookies.items()),
            )
            sink = _call_sink(streaming[0], answer) if streaming is not None else None
            if sink is None:
                answer.body = _bounded_body(response)
            else:
                answer.streamed = _streamed_body(response, sink, streaming[1])
            return answer
        except TransportError:
            raise
        except _SinkFailed as failed:
            raise failed.error from None
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
        raise TransportError("too_large", f"the answer announces {int(length)} bytes", True)
    chunks = []
    size = 0
    for chunk in response.iter_content(16 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransportError("too_large", f"the answer is longer than {MAX_BODY} bytes", True)
        chunks.append(chunk)
    return b"".join(chunks)


class _SinkFailed(Exception):
    """What a sink raised, carried past the failure classification (it is the caller's, not the wire's)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _call_sink(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:
        raise _SinkFailed(exc) from exc


def _streamed_body(response: Any, sink: Callable[[bytes], Any], limit: int) -> int:
    """Hand the body to sink piece by piece; its length. At most limit bytes, announced or sent."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise TransportError(
            "file_too_large", f"the answer announces {int(length)} bytes, more than {limit}", True
        )
    size = 0
    for piece in response.iter_content(STREAM_PIECE):
        size += len(piece)
        if size > limit:
            raise TransportError("file_too_large", f"the answer is longer than {limit} bytes", True)
        _call_sink(sink, piece)
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    if length.isdigit() and size != int(length) and not encoded:
        # urllib3 1.26 does not check this itself (a compressed body's length is not the length of its bytes).
        raise TransportError("broken", f"the answer ended after {size} of {int(length)} bytes", True)
    return size


def _classify(exc: BaseException, route: Route, answered: bool = False) -> TransportError:
    """What a requests exception means for the user and for the at-most-once rule (http_failures.py)."""
    # Loaded on the first failure: a run whose exchanges all succeed never compiles it (the collection loader
    # compiles every module it loads, on every run).
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_failures import classify

    return classify(
        exc,
        route,
        answered=answered,
        connecting=bool(getattr(_STAGE, "connecting", False)),
        cut_off=_handshake_cut_off(exc),
        attempts=max(1, getattr(_STAGE, "attempts", 1)),
    )


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
