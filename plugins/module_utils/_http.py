# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP/1.1 the gateway's JSON API needs: kept-alive connection pools, TLS, HTTP proxies.

The gateway answers small JSON documents, one request at a time per connection. urllib3 (and requests
over it) spent five times the CPU of the exchange itself on each request (retry objects, header
containers, http.client's email parser); in a 1,000-agent batch that was most of the task's time. This
client does only what the gateway's interface uses and says exactly whether a failed request may have
reached the gateway, which decides whether anything may be retried.
"""

from __future__ import annotations

import base64
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

MAX_LINE = 65536
MAX_HEADERS = 100
# Connection attempts that failed before anything was sent are the only ones retried.
CONNECT_RETRIES = 2
CONNECT_BACKOFF = 0.2
USER_AGENT = "cec.cc_gateway"


class HTTPFailure(Exception):
    """An exchange that failed; kind says how, request_sent whether the server may have acted on it.

    kinds: tls, refused, connect_timeout, connect, proxy, request (refused before sending),
    read_timeout, broken.
    """

    def __init__(self, kind: str, reason: str, request_sent: bool) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.request_sent = request_sent


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    cookies: list[str]
    body: bytes = b""
    keep_alive: bool = True


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            port = parts.port or 80
        except ValueError as exc:
            raise HTTPFailure("proxy", f"the proxy URL has a bad port: {exc}", request_sent=False) from None
        if parts.scheme.lower() != "http":
            raise HTTPFailure(
                "proxy",
                f"the proxy {parts.scheme}://{parts.hostname} is not supported: give an http:// proxy URL",
                request_sent=False,
            )
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        return cls(parts.hostname or "", port, authorization)


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: the server, and the proxy in between if any."""

    scheme: str
    host: str
    port: int
    proxy: Proxy | None = None

    @classmethod
    def from_url(cls, url: str, proxy_url: str | None = None) -> Endpoint:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise HTTPFailure("request", f"the URL {url} has a bad port: {exc}", request_sent=False) from None
        return cls(scheme, parts.hostname or "", port, Proxy.from_url(proxy_url) if proxy_url else None)

    @property
    def host_port(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """The Host header: the port only when it is not the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        return self.host_port if self.port != default else self.host_port.rsplit(":", 1)[0]

    def target(self, path: str) -> str:
        """The request line's target: through a plain-HTTP proxy the whole URL, otherwise the path."""
        if self.proxy is not None and self.scheme == "http":
            return f"http://{self.authority}{path}"
        return path

    def headers(self) -> dict[str, str]:
        """Host, and the proxy's credentials when requests go to a plain-HTTP proxy (not a tunnel)."""
        headers = {"Host": self.authority}
        if self.proxy is not None and self.scheme == "http" and self.proxy.authorization:
            headers["Proxy-Authorization"] = self.proxy.authorization
        return headers


def _request_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    """The request line and headers; refuses what would change the request's structure, before sending."""
    if any(char <= " " or char == "\x7f" for char in target):
        raise HTTPFailure(
            "request", "the request path contains a space or control character", request_sent=False
        )
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers.items():
        if any(char in value or char in name for char in "\r\n\0"):
            raise HTTPFailure("request", f"the {name} header would contain a line break", request_sent=False)
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise HTTPFailure(
            "request",
            f"a header holds a character HTTP cannot carry ({exc.object[exc.start : exc.end]!r})",
            request_sent=False,
        ) from None


class Connection:
    """One open connection; used by one thread at a time (the pool hands it out)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.used = False

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    def dropped(self) -> bool:
        """Whether an idle connection was closed by the server (an idle one has nothing to read)."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))

    def exchange(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Response:
        if body is not None or method in ("PUT", "POST"):
            headers = {**headers, "Content-Length": str(len(body or b""))}
        head = _request_head(method, target, headers)
        self.sock.settimeout(timeout)
        reused = self.used
        self.used = True
        try:
            self.sock.sendall(head + (body or b""))
        except OSError as exc:
            # Nothing of the answer came; on a reused connection the server may have read the request.
            raise HTTPFailure("broken", f"sending failed: {exc}", request_sent=True) from None
        try:
            return self._read_response(method)
        except socket.timeout:
            raise HTTPFailure("read_timeout", "no answer in time", request_sent=True) from None
        except (OSError, ValueError, EOFError) as exc:
            what = "closed the connection" if reused and isinstance(exc, EOFError) else str(exc)
            raise HTTPFailure("broken", what or type(exc).__name__, request_sent=True) from None

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ValueError("a header line longer than 64 KiB")
        return line

    def _read_response(self, method: str) -> Response:
        while True:
            status_line = self._line()
            if not status_line:
                raise EOFError("the server closed the connection without answering")
            version, _space, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _space, reason = rest.partition(" ")
            if not version.startswith("HTTP/") or not code.isdigit():
                raise ValueError(f"not an HTTP answer: {status_line[:40]!r}")
            status = int(code)
            headers, cookies = self._headers()
            if not 100 <= status < 200:
                break
        close = "close" in headers.get("connection", "").lower()
        keep_alive = (
            not close if version == "HTTP/1.1" else "keep-alive" in headers.get("connection", "").lower()
        )
        response = Response(status, reason, headers, cookies, keep_alive=keep_alive)
        if method == "HEAD" or status in (204, 304):
            return response
        if "chunked" in headers.get("transfer-encoding", "").lower():
            response.body = self._chunked()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            response.body = self.reader.read(length)
            if len(response.body) != length:
                raise EOFError(f"the answer ended after {len(response.body)} of {length} bytes")
        else:
            response.body = self.reader.read()
            response.keep_alive = False
        return response

    def _headers(self) -> tuple[dict[str, str], list[str]]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for _count in range(MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers, cookies
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise ValueError(f"a malformed header line: {line[:40]!r}")
            name = name.strip().lower()
            value = value.strip()
            if name == "set-cookie":
                cookies.append(value)
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise ValueError(f"more than {MAX_HEADERS} header lines")

    def _chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self._line().split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunk = self.reader.read(size)
            if len(chunk) != size:
                raise EOFError("the answer ended inside a chunk")
            chunks.append(chunk)
            self._line()


@dataclass
class ConnectionPool:
    """Kept-alive connections to one endpoint, shared by the threads of a process."""

    endpoint: Endpoint
    tls: ssl.SSLContext | None
    maxsize: int = 10
    _idle: list[Connection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Response:
        connection = self._take() or self._connect(connect_timeout)
        all_headers = {**self.endpoint.headers(), "User-Agent": USER_AGENT, **headers}
        try:
            response = connection.exchange(
                method, self.endpoint.target(path), all_headers, body, read_timeout
            )
        except BaseException:
            connection.close()
            raise
        if response.keep_alive:
            self._give_back(connection)
        else:
            connection.close()
        return response

    def _take(self) -> Connection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            if not connection.dropped():
                return connection
            connection.close()

    def _give_back(self, connection: Connection) -> None:
        with self._lock:
            if len(self._idle) < self.maxsize:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connect(self, timeout: float) -> Connection:
        attempt = 0
        while True:
            try:
                return self._open(timeout)
            except HTTPFailure as exc:
                if exc.kind not in ("refused", "connect_timeout", "connect") or attempt == CONNECT_RETRIES:
                    raise
            time.sleep(CONNECT_BACKOFF * 2**attempt)
            attempt += 1

    def _open(self, timeout: float) -> Connection:
        endpoint = self.endpoint
        proxy = endpoint.proxy
        host, port = (proxy.host, proxy.port) if proxy else (endpoint.host, endpoint.port)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError as exc:
            raise HTTPFailure("refused", str(exc), request_sent=False) from None
        except socket.timeout:
            raise HTTPFailure("connect_timeout", "timed out", request_sent=False) from None
        except OSError as exc:
            raise HTTPFailure("connect", str(exc), request_sent=False) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy and endpoint.scheme == "https":
                _open_tunnel(sock, endpoint, proxy)
            if self.tls is not None:
                sock = self._wrap(sock, self.tls)
        except BaseException:
            sock.close()
            raise
        return Connection(sock)

    def _wrap(self, sock: socket.socket, tls: ssl.SSLContext) -> socket.socket:
        try:
            return tls.wrap_socket(sock, server_hostname=self.endpoint.host)
        except socket.timeout:
            raise HTTPFailure(
                "connect_timeout", "timed out during the TLS handshake", request_sent=False
            ) from None
        except ssl.SSLError as exc:
            raise HTTPFailure("tls", str(exc), request_sent=False) from None
        except OSError as exc:
            raise HTTPFailure("connect", f"the TLS handshake broke: {exc}", request_sent=False) from None


def _open_tunnel(sock: socket.socket, endpoint: Endpoint, proxy: Proxy) -> None:
    """Ask the HTTP proxy on sock for a tunnel to the endpoint (HTTPS through a proxy)."""
    headers = {"Host": endpoint.host_port}
    if proxy.authorization:
        headers["Proxy-Authorization"] = proxy.authorization
    head = _request_head("CONNECT", endpoint.host_port, headers)
    try:
        sock.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(4096)
            if not data or len(answer) > MAX_LINE:
                break
            answer += data
    except OSError as exc:
        raise HTTPFailure(
            "proxy", f"the proxy broke the CONNECT exchange: {exc}", request_sent=False
        ) from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        raise HTTPFailure(
            "proxy",
            f"the proxy {proxy.host}:{proxy.port} refused a tunnel to {endpoint.authority} "
            f"({status_line or 'no answer'})",
            request_sent=False,
        )


_TLS_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_POOLS: dict[tuple[Any, ...], ConnectionPool] = {}
_REGISTRY_LOCK = threading.Lock()


def tls_context(
    validate_certs: bool, ca_bundle: str | None, client_cert: str | None, client_key: str | None
) -> ssl.SSLContext:
    """One TLS context per set of TLS options in a process: loading a CA bundle takes milliseconds."""
    key = (validate_certs, ca_bundle, client_cert, client_key)
    with _REGISTRY_LOCK:
        context = _TLS_CONTEXTS.get(key)
        if context is None:
            if validate_certs:
                context = ssl.create_default_context(cafile=ca_bundle)
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if client_cert:
                context.load_cert_chain(client_cert, client_key)
            _TLS_CONTEXTS[key] = context
    return context


def connection_pool(endpoint: Endpoint, tls: ssl.SSLContext | None, maxsize: int) -> ConnectionPool:
    """The process's pool for an endpoint and TLS context; loop items and batch agents share it."""
    key = (endpoint, id(tls))
    with _REGISTRY_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ConnectionPool(endpoint, tls, maxsize)
        pool.maxsize = max(pool.maxsize, maxsize)
    return pool
