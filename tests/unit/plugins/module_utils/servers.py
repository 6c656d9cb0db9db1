# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small real servers on 127.0.0.1 for the transport's tests: scripted answers, broken handshakes, a proxy.

Each accepts connections for at most 15 s and serves each in a daemon thread with a 3 s socket timeout, so a
test that goes wrong ends by itself.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Collection
from typing import Any

# Script steps besides raw answers: CLOSE and HANG act on the next request, DROP right after an answer.
CLOSE = "read the request, close without answering"
HANG = "read the request, never answer"
DROP = "close the idle connection after the previous answer"


class Pieces:
    """An answer written in several writes (each its own TCP segment, or TLS record), delay seconds apart."""

    def __init__(
        self, answer: bytes, count: int = 2, delay: float = 0.02, cuts: tuple[int, ...] = ()
    ) -> None:
        size = -(-len(answer) // count)
        bounds = [0, *cuts, len(answer)] if cuts else [*range(0, len(answer), size), len(answer)]
        self.parts = [answer[start:end] for start, end in zip(bounds, bounds[1:]) if end > start]
        self.delay = delay


class Stray:
    """An answer, then, delay seconds later on the same idle kept-alive connection, bytes nobody asked for."""

    def __init__(self, answer: bytes, stray: bytes, delay: float = 0.05) -> None:
        self.answer = answer
        self.stray = stray
        self.delay = delay


class Slow:
    """An answer written one byte every interval seconds (for at most limit seconds, then the connection closes)."""

    def __init__(self, answer: bytes, interval: float = 0.5, limit: float = 10.0) -> None:
        self.answer = answer
        self.interval = interval
        self.limit = limit


def reply(body: bytes = b"", status: str = "200 OK", headers: tuple[str, ...] | list[str] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts: bytes, headers: tuple[str, ...] = ()) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"


def read_request(reader: Any) -> tuple[str, dict[str, str], bytes] | None:
    """(request line, {name: value}, body) of the next request, or None when the client closed."""
    line = reader.readline()
    if not line:
        return None
    headers = {}
    while (header := reader.readline()) not in (b"\r\n", b""):
        name, _colon, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    return line.decode("latin-1").rstrip("\r\n"), headers, body


class Server:
    """Answers requests in order from a script; counts connections and keeps what it received."""

    def __init__(self, *answers: Any, tls: ssl.SSLContext | None = None) -> None:
        self.answers = deque(answers)
        self.tls = tls
        self.accepted = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.connections: list[socket.socket] = []
        self.strays = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.threads[0].start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        self.threads[0].join(5)  # the accept thread first: no connection is added after it ended
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads[1:]:
            thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        deadline = time.monotonic() + 15
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _address = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            self.connections.append(conn)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(3)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn.makefile("rb") as reader:
                self.serve(conn, reader)
        except OSError:
            pass  # includes a TLS handshake the client gave up on
        finally:
            conn.close()

    def serve(self, conn: socket.socket, reader: Any) -> None:
        while (request := read_request(reader)) is not None:
            self.requests.append(request)
            if not self.answers:
                return  # more than the script holds (a probe of what the port speaks): closed
            answer = self.answers.popleft()
            if answer is CLOSE:
                return
            if answer is HANG:
                self.stopping.wait(5)
                return
            if not self.send(conn, answer):
                return
            if self.answers and self.answers[0] is DROP:
                self.answers.popleft()
                return

    def send(self, conn: socket.socket, answer: Any) -> bool:
        """Write one scripted answer; False when the connection is to end."""
        if isinstance(answer, Pieces):
            for part in answer.parts:
                conn.sendall(part)
                time.sleep(answer.delay)
        elif isinstance(answer, Stray):
            conn.sendall(answer.answer)
            time.sleep(answer.delay)
            conn.sendall(answer.stray)
            self.strays += 1
        elif isinstance(answer, Slow):
            deadline = time.monotonic() + answer.limit
            for index in range(len(answer.answer)):
                if time.monotonic() > deadline or self.stopping.is_set():
                    return False
                conn.sendall(answer.answer[index : index + 1])
                time.sleep(answer.interval)
        else:
            conn.sendall(answer)
        return True


class HandshakeBreaker(Server):
    """Accepts TCP connections and closes them at once, as an overloaded gateway (or a full file table) does:
    every one, or those whose number (1 for the first) is in `breaks`, serving the others (with tls) from the
    script of answers."""

    def __init__(
        self,
        garbage: bytes = b"",
        breaks: Collection[int] | None = None,
        answers: tuple[Any, ...] = (),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(*answers, tls=tls)
        self.garbage = garbage
        self.breaks = breaks
        self.handled = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _handle(self, conn: socket.socket) -> None:
        self.handled += 1  # the tests' connections come one after another
        if self.breaks is not None and self.handled not in self.breaks:
            super()._handle(conn)
            return
        try:
            if self.garbage:
                conn.sendall(self.garbage)
        except OSError:
            pass
        # An RST rather than a FIN: the client's handshake read fails with a reset.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()


class ConnectProxy(Server):
    """An HTTP proxy for CONNECT tunnels (or 403 Forbidden when refuse); over TLS when given a context."""

    def __init__(self, refuse: bool = False, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.refuse = refuse
        self.tunnels: list[str] = []

    def serve(self, conn: socket.socket, reader: Any) -> None:
        request = read_request(reader)
        if request is None:
            return
        self.requests.append(request)
        method, target, _version = request[0].split(" ")
        if method != "CONNECT" or self.refuse:
            conn.sendall(reply(status="403 Forbidden", headers=["Connection: close"]))
            return
        self.tunnels.append(target)
        host, _colon, port = target.rpartition(":")
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3) as upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            relay(conn, upstream)


def relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until a side closes or nothing moves for 3 s."""
    while True:
        pending = getattr(one, "pending", lambda: 0)()
        readable = [one] if pending else select.select([one, other], [], [], 3)[0]
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (other if source is one else one).sendall(data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
