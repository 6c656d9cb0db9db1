# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP/1.1 client against small socket servers, an HTTP proxy and TLS servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import select
import socket
import ssl
import threading
import time
from collections import deque

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils import _client as gateway
from ansible_collections.cec.cc_gateway.plugins.module_utils import _http as http

GUID = "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0"
# Script steps besides raw answers: CLOSE and HANG act on the next request, DROP right after an answer.
CLOSE = "read the request, close without answering"
HANG = "read the request, never answer"
DROP = "close the idle connection after the previous answer"
CONTINUE = b"HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Checksum: 1\r\n\r\n"
)


def reply(body=b"", status="200 OK", headers=()):
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts, headers=()):
    head = "".join(f"{header}\r\n" for header in headers)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"


def read_request(reader):
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
    """Accepts connections on 127.0.0.1 for at most 10 s; serves each in a daemon thread (3 s socket timeout)."""

    def __init__(self, *answers, tls=None):
        self.answers = deque(answers)
        self.tls = tls
        self.accepted = 0
        self.requests = []
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:  # the accept thread first: no thread is added after it ended
            thread.join(5)
        self.listener.close()

    def _accept(self):
        deadline = time.monotonic() + 10
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _address = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _handle(self, conn):
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

    def serve(self, conn, reader):
        while (request := read_request(reader)) is not None:
            self.requests.append(request)
            answer = self.answers.popleft()
            if answer is CLOSE:
                return
            if answer is HANG:
                self.stopping.wait(5)
                return
            conn.sendall(answer)
            if self.answers and self.answers[0] is DROP:
                self.answers.popleft()
                return


class ProxyServer(Server):
    """An HTTP proxy: CONNECT tunnels (or a 407 when refuse), absolute-URI requests answered directly."""

    def __init__(self, refuse=False):
        super().__init__()
        self.refuse = refuse

    def serve(self, conn, reader):
        request = read_request(reader)
        if request is None:
            return
        self.requests.append(request)
        method, target, _version = request[0].split(" ")
        if method != "CONNECT":
            conn.sendall(reply(b"from the proxy", headers=["Connection: close"]))
        elif self.refuse:
            conn.sendall(reply(status="407 Proxy Authentication Required", headers=["Connection: close"]))
        else:
            host, _colon, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=3) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                relay(conn, upstream)


def relay(one, other):
    """Copy bytes both ways until a side closes or nothing moves for 3 s."""
    while True:
        readable, _writable, _failed = select.select([one, other], [], [], 3)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (other if source is one else one).sendall(data)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pool_for(port, scheme="http", proxy=None, tls=None):
    return http.ConnectionPool(http.Endpoint.from_url(f"{scheme}://127.0.0.1:{port}", proxy), tls)


def get(pool, path="/x", headers=None, timeout=2.0):
    return pool.request("GET", path, headers or {}, None, connect_timeout=2.0, read_timeout=timeout)


def failure(call, *args, **kwargs):
    with pytest.raises(http.HTTPFailure) as caught:
        call(*args, **kwargs)
    return caught.value


def basic(credentials):
    return "Basic " + base64.b64encode(credentials).decode()


@pytest.fixture(autouse=True)
def no_environment_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    gateway.environment_proxies.cache_clear()
    yield
    gateway.environment_proxies.cache_clear()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA file and server contexts: signed by it for 127.0.0.1, by another CA, for another name."""
    trustme = pytest.importorskip("trustme")
    ca, stranger = trustme.CA(), trustme.CA()
    ca_path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))

    def server_context(authority, name):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(name).configure_cert(context)
        return context

    return {
        "ca": str(ca_path),
        "good": server_context(ca, "127.0.0.1"),
        "other_ca": server_context(stranger, "127.0.0.1"),
        "other_name": server_context(ca, "gateway.example"),
    }


def test_a_request_and_a_content_length_answer():
    cookies = ["Set-Cookie: a=1; Path=/", "Set-Cookie: b=2"]
    with Server(reply(b'{"a": 1}', headers=[*cookies, "X-Multi: 1", "X-Multi: 2"])) as server:
        pool = pool_for(server.port)
        response = pool.request("PUT", "/p?q=1", {"Accept": "application/json"}, b"{}", 2.0, 2.0)
        pool.close()
    assert (response.status, response.reason, response.body) == (200, "OK", b'{"a": 1}')
    assert response.keep_alive is True
    assert response.cookies == ["a=1; Path=/", "b=2"]
    assert response.headers["x-multi"] == "1, 2"
    line, headers, body = server.requests[0]
    assert line == "PUT /p?q=1 HTTP/1.1"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["user-agent"] == http.USER_AGENT
    assert (headers["accept"], headers["content-length"], body) == ("application/json", "2", b"{}")


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        (reply(b"hello"), 200, b"hello"),
        (CHUNKED, 200, b"hello, chunked!"),
        (CONTINUE + reply(b"after 100", "201 Created"), 201, b"after 100"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
    ],
    ids=["content-length", "chunked", "100-continue", "204"],
)
def test_each_framing_ends_where_the_answer_ends_and_the_connection_is_reused(answer, status, body):
    with Server(answer, reply(b"next")) as server:
        pool = pool_for(server.port)
        first, second = get(pool), get(pool)
        pool.close()
    assert (first.status, first.body, first.keep_alive) == (status, body, True)
    assert "x-early" not in first.headers and "x-checksum" not in first.headers
    assert second.body == b"next"
    assert server.accepted == 1
    assert len(server.requests) == 2


def test_a_body_without_length_ends_with_the_connection():
    with Server(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", DROP, reply(b"next")) as server:
        pool = pool_for(server.port)
        first = get(pool)
        assert pool._idle == []
        second = get(pool)
        pool.close()
    assert (first.body, first.keep_alive) == (b"until the end", False)
    assert second.body == b"next"
    assert server.accepted == 2


def test_an_idle_connection_the_server_closed_is_noticed_and_replaced():
    with Server(reply(b"one"), DROP, reply(b"two")) as server:
        pool = pool_for(server.port)
        assert get(pool).body == b"one"
        (idle,) = pool._idle
        deadline = time.monotonic() + 2
        while not idle.dropped() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert idle.dropped()
        assert get(pool).body == b"two"
        pool.close()
    assert server.accepted == 2
    assert idle.sock.fileno() == -1


@pytest.mark.parametrize(
    "first",
    [reply(b"one", headers=["Connection: close"]), b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none"],
    ids=["connection-close", "http-1.0"],
)
def test_an_answer_that_ends_the_connection_is_not_reused(first):
    # The server keeps the connection open: only the client's reading of the answer closes it.
    with Server(first, reply(b"two")) as server:
        pool = pool_for(server.port)
        response = get(pool)
        assert (response.body, response.keep_alive, pool._idle) == (b"one", False, [])
        assert get(pool).body == b"two"
        pool.close()
    assert server.accepted == 2


def test_a_refused_connection_is_retried_then_reported_unsent(monkeypatch):
    attempts = []
    real_create_connection = socket.create_connection

    def counting(address, *args, **kwargs):
        attempts.append(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(http.socket, "create_connection", counting)
    port = free_port()
    started = time.monotonic()
    caught = failure(get, pool_for(port))
    assert (caught.kind, caught.request_sent) == ("refused", False)
    assert attempts == [("127.0.0.1", port)] * (http.CONNECT_RETRIES + 1)
    assert time.monotonic() - started >= http.CONNECT_BACKOFF * (2**http.CONNECT_RETRIES - 1)


@pytest.mark.parametrize(("step", "kind"), [(HANG, "read_timeout"), (CLOSE, "broken")], ids=["hang", "close"])
def test_a_request_without_answer_may_have_been_acted_on(step, kind):
    with Server(step) as server:
        caught = failure(get, pool_for(server.port), timeout=0.3)
    assert (caught.kind, caught.request_sent) == (kind, True)
    assert [request[0] for request in server.requests] == ["GET /x HTTP/1.1"]
    assert server.accepted == 1


@pytest.mark.parametrize("headers", [{"Guid": "a\r\nX-Injected: 1"}, {"Guid": "a\nb"}, {"X\r\nY": "1"}])
def test_a_header_with_a_line_break_is_refused_before_sending(headers):
    with Server() as server:
        caught = failure(get, pool_for(server.port), headers=headers)
    assert (caught.kind, caught.request_sent) == ("request", False)
    assert server.requests == []


def test_a_target_with_a_line_break_is_refused_before_sending():
    with Server(reply(b"ok"), reply(b"ok")) as server:
        pool = pool_for(server.port)
        try:
            caught = failure(get, pool, path="/a HTTP/1.1\r\nX-Injected: yes\r\nX-Rest: /b")
        finally:
            pool.close()
    assert server.requests == []
    assert caught.kind == "request"


def test_a_header_that_cannot_be_encoded_is_an_http_failure():
    with Server() as server:
        caught = failure(get, pool_for(server.port), headers={"Cookie": "NSLB=n\u20ac"})
    assert (caught.kind, caught.request_sent) == ("request", False)


def test_through_a_proxy_a_plain_request_names_the_whole_url_and_authenticates():
    port = free_port()
    with ProxyServer() as proxy:
        pool = pool_for(port, proxy=f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        response = get(pool, "/x?y=1")
    assert response.body == b"from the proxy"
    ((line, headers, _body),) = proxy.requests
    assert line == f"GET http://127.0.0.1:{port}/x?y=1 HTTP/1.1"
    assert headers["proxy-authorization"] == basic(b"user:p@ss")
    assert headers["host"] == f"127.0.0.1:{port}"


def test_through_a_proxy_https_goes_through_one_connect_tunnel(certs):
    with Server(reply(b"secret"), reply(b"again"), tls=certs["good"]) as server, ProxyServer() as proxy:
        tls = http.tls_context(True, certs["ca"], None, None)
        pool = pool_for(server.port, "https", f"http://u:pw@127.0.0.1:{proxy.port}", tls)
        bodies = [get(pool, "/s").body, get(pool, "/s").body]
        pool.close()
    assert bodies == [b"secret", b"again"]
    ((line, headers, _body),) = proxy.requests
    assert line == f"CONNECT 127.0.0.1:{server.port} HTTP/1.1"
    assert headers["proxy-authorization"] == basic(b"u:pw")
    assert [request[0] for request in server.requests] == ["GET /s HTTP/1.1"] * 2
    assert "proxy-authorization" not in server.requests[0][1]
    assert (proxy.accepted, server.accepted) == (1, 1)


def test_a_proxy_that_refuses_the_tunnel_means_nothing_was_sent(certs):
    with ProxyServer(refuse=True) as proxy:
        tls = http.tls_context(True, certs["ca"], None, None)
        caught = failure(get, pool_for(free_port(), "https", f"127.0.0.1:{proxy.port}", tls))
    assert (caught.kind, caught.request_sent) == ("proxy", False)
    assert "407 Proxy Authentication Required" in caught.reason
    assert proxy.accepted == 1


def test_an_https_proxy_url_is_not_supported():
    caught = failure(http.Endpoint.from_url, "https://127.0.0.1:8443", "https://127.0.0.1:3128")
    assert (caught.kind, caught.request_sent) == ("proxy", False)


def test_a_proxy_url_with_a_bad_port_is_an_http_failure():
    caught = failure(http.Endpoint.from_url, "https://127.0.0.1:8443", "http://127.0.0.1:99999")
    assert (caught.kind, caught.request_sent) == ("proxy", False)


@pytest.mark.parametrize("server_tls", ["other_ca", "other_name"])
def test_a_certificate_that_does_not_verify_means_nothing_was_sent(certs, server_tls):
    with Server(tls=certs[server_tls]) as server:
        pool = pool_for(server.port, "https", tls=http.tls_context(True, certs["ca"], None, None))
        caught = failure(get, pool)
    assert (caught.kind, caught.request_sent) == ("tls", False)
    assert "certificate" in caught.reason.lower()
    assert (server.accepted, server.requests) == (1, [])


def test_the_client_signs_in_over_a_chunked_answer_and_keeps_the_guid():
    envelope = json.dumps({"message": "", "retcode": "0", "result": {"workno": "186"}}).encode()
    headers = [f"Set-GUID: JSESSIONID={GUID}", "Set-Cookie: NSLB=n1"]
    with Server(chunked(envelope[:10], envelope[10:], headers=headers)) as server:
        url = f"http://127.0.0.1:{server.port}/"
        client = gateway.GatewayClient(gateway.ConnectionSettings(gateway_url=url, timeout=2), 186)
        result = client.sign_in("Demo-1234", "70186")
        client.pool.close()
    assert result == {"workno": "186"}
    assert (client.guid, client.cookies) == (GUID, {"NSLB": "n1"})
    ((line, _headers, body),) = server.requests
    assert line == "PUT /agentgateway/resource/onlineagent/186 HTTP/1.1"
    assert json.loads(body)["phonenum"] == "70186"


def test_the_client_says_a_request_the_proxy_refused_was_not_sent(certs, monkeypatch):
    port = free_port()
    with ProxyServer(refuse=True) as proxy:
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
        url = f"https://127.0.0.1:{port}/"
        settings = gateway.ConnectionSettings(gateway_url=url, ca_path=certs["ca"], timeout=2)
        with pytest.raises(gateway.TransportError) as caught:
            gateway.GatewayClient(settings, 186).sign_in("Demo-1234", "70186")
    assert caught.value.request_sent is False
    assert str(caught.value).startswith(f"PUT {url}agentgateway/resource/onlineagent/186 was not sent")
    assert [request[0] for request in proxy.requests] == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]
