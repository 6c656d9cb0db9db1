# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transport (requests) against real servers on 127.0.0.1: plain, TLS, proxies, broken peers."""

from __future__ import annotations

import logging
import ssl

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import client as client_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import errors
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync as transport
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    ConnectionSettings,
    GatewayClient,
    TransportError,
)
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import (
    CLOSE,
    DROP,
    HANG,
    ConnectProxy,
    HandshakeBreaker,
    Pieces,
    Server,
    chunked,
    free_port,
    reply,
)

ENVELOPE = b'{"message":"","retcode":"0","result":{"agentState":4}}'
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No proxy or CA bundle from this machine's environment: each test sets what it means."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    client_module._route.cache_clear()
    transport._TRANSPORTS.clear()
    yield
    client_module._route.cache_clear()
    transport._TRANSPORTS.clear()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA file and server contexts: signed by it for 127.0.0.1, and by another CA."""
    trustme = pytest.importorskip("trustme")
    ca, stranger = trustme.CA(), trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    stranger_path = directory / "stranger.pem"
    stranger.cert_pem.write_to_path(str(stranger_path))

    def server_context(authority):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    return {
        "ca": str(ca_path),
        "stranger_ca": str(stranger_path),
        "good": server_context(ca),
        "other_ca": server_context(stranger),
    }


def route(url, **options):
    return routes.resolve_route(url, **options)


def request(url, path="/agentgateway/resource/x", timeout=2.0, pool_size=4, **options):
    return transport.Transport(route(url, **options), pool_size).request("GET", path, {}, timeout=timeout)


def failure(call, *args, **kwargs):
    with pytest.raises(transport.TransportError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- plain HTTP


def test_an_exchange_keeps_its_connection_and_hands_back_cookies_and_headers():
    answer = reply(ENVELOPE, headers=["Set-GUID: JSESSIONID=g1", "Set-Cookie: NSLB=node1; Path=/"])
    with Server(answer, reply(ENVELOPE)) as server:
        sender = transport.Transport(route(server.url))
        first = sender.request("PUT", "/a", {"Guid": "g0"}, b"{}", cookies={"LB": "x"})
        second = sender.request("GET", "/b", {}, None, cookies=first.cookies)
    assert second.status == 200
    assert (first.status, first.body) == (200, ENVELOPE)
    assert first.headers["set-guid"] == "JSESSIONID=g1"
    assert first.cookies == {"NSLB": "node1"}
    assert server.accepted == 1
    line, headers, body = server.requests[0]
    assert line == "PUT /a HTTP/1.1"
    assert (headers["guid"], headers["cookie"], body) == ("g0", "LB=x", b"{}")
    assert headers["user-agent"] == transport.USER_AGENT
    assert server.requests[1][1]["cookie"] == "NSLB=node1"


def test_the_shared_session_keeps_no_cookie_of_one_agent_for_another():
    with Server(reply(ENVELOPE, headers=["Set-Cookie: AGENT=186"]), reply(ENVELOPE)) as server:
        sender = transport.Transport(route(server.url))
        sender.request("GET", "/186", {})
        sender.request("GET", "/187", {})
    assert "cookie" not in server.requests[1][1]


def test_a_chunked_answer_is_read_whole():
    with Server(chunked(b'{"retcode":', b'"0"}')) as server:
        answer = request(server.url)
    assert answer.body == b'{"retcode":"0"}'


@pytest.mark.parametrize(
    "answer",
    [
        reply(b"x" * (transport.MAX_BODY + 1)),
        chunked(*[b"y" * 65536] * 17),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * (transport.MAX_BODY + 10),
    ],
    ids=["content-length", "chunked", "until-close"],
)
def test_an_answer_over_one_mebibyte_is_refused(answer):
    with Server(answer, DROP) as server:
        problem = failure(request, server.url)
    assert problem.kind == "too_large"
    assert problem.request_sent is True


def test_a_refused_connection_provably_sent_nothing():
    problem = failure(request, f"http://127.0.0.1:{free_port()}")
    assert (problem.kind, problem.request_sent) == ("refused", False)
    assert problem.attempts == transport.CONNECT_RETRIES + 1
    message = client_module.describe_failure(
        problem, "http://127.0.0.1:1", "GET x", route("http://127.0.0.1:1"), 2
    )
    assert f"({transport.CONNECT_RETRIES + 1} attempts)" in message


def test_no_answer_in_time_may_have_reached_the_gateway():
    with Server(HANG) as server:
        problem = failure(request, server.url, timeout=0.3)
    assert (problem.kind, problem.request_sent) == ("read_timeout", True)
    assert len(server.requests) == 1


def test_a_connection_closed_after_the_request_may_have_reached_the_gateway():
    with Server(CLOSE) as server:
        problem = failure(request, server.url)
    assert (problem.kind, problem.request_sent) == ("broken", True)
    # One request; the client then asked (a TLS handshake) whether the port speaks TLS, which it does not.
    assert [request[0] for request in server.requests if request[0].startswith("GET ")] == [
        "GET /agentgateway/resource/x HTTP/1.1"
    ]


def test_a_truncated_answer_is_a_broken_connection():
    with Server(b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"retcode":', DROP) as server:
        problem = failure(request, server.url)
    assert (problem.kind, problem.request_sent) == ("broken", True)


def test_a_status_line_without_a_code_is_a_broken_answer():
    with Server(b"HTTP/1.1 \r\n\r\n", DROP) as server:
        problem = failure(request, server.url)
    assert (problem.kind, problem.request_sent) == ("broken", True)


def test_an_answer_that_is_not_utf8_is_named_so():
    with Server(reply(b'{"message":"\xff\xfe","retcode":"0"}')) as server:
        answer = request(server.url)
    with pytest.raises(transport.TransportError) as caught:
        answer.json_text()
    assert caught.value.kind == "not_utf8"


# -- TLS


def test_ca_path_verifies_the_gateway(certs):
    with Server(reply(ENVELOPE), tls=certs["good"]) as server:
        answer = request(server.url, ca_path=certs["ca"])
    assert answer.body == ENVELOPE


def test_a_certificate_that_fails_verification_points_at_ca_path(certs):
    with Server(reply(ENVELOPE), tls=certs["other_ca"]) as server:
        problem = failure(request, server.url, ca_path=certs["ca"])
    assert (problem.kind, problem.request_sent) == ("certificate", False)
    message = client_module.describe_failure(problem, server.url, "GET x", route(server.url), 2)
    assert "Point ca_path at the CA bundle" in message


# (A port that answers HTTP instead is a wrong scheme: test_wire.)
@pytest.mark.parametrize("garbage", [b"", b"\x00\x07 not a TLS record\r\n\r\n"], ids=["reset", "not-tls"])
def test_a_handshake_the_server_broke_is_not_a_certificate_problem(certs, garbage):
    with HandshakeBreaker(garbage) as server:
        url = f"https://127.0.0.1:{server.port}"
        problem = failure(request, url, ca_path=certs["ca"])
    assert (problem.kind, problem.request_sent) == ("tls", False)
    message = client_module.describe_failure(problem, url, "GET x", route(url), 2)
    assert "broken off" in message
    assert "ca_path" not in message.split("certificates")[0]


def test_a_handshake_broken_off_every_time_is_tried_within_the_connect_budget(certs):
    with HandshakeBreaker() as server:
        problem = failure(request, server.url, ca_path=certs["ca"])
    assert (problem.kind, problem.request_sent, problem.attempts) == (
        "tls",
        False,
        transport.CONNECT_RETRIES + 1,
    )
    assert server.accepted == transport.CONNECT_RETRIES + 1
    message = client_module.describe_failure(problem, server.url, "GET x", route(server.url), 2)
    assert f"({transport.CONNECT_RETRIES + 1} attempts), before the request for GET x was sent" in message


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_handshake_an_overloaded_gateway_broke_off_is_tried_again_and_the_request_sent_once(certs, method):
    """A gateway whose accept queue is full resets new connections; the request then goes on a later one."""
    with HandshakeBreaker(
        breaks=range(1, transport.CONNECT_RETRIES + 1), answers=(reply(ENVELOPE),), tls=certs["good"]
    ) as server:
        answer = transport.Transport(route(server.url, ca_path=certs["ca"]), 4).request(
            method, "/agentgateway/resource/x", {}, body=b"{}" if method == "PUT" else None, timeout=2.0
        )
    assert answer.status == 200
    assert server.accepted == transport.CONNECT_RETRIES + 1
    assert [request[0] for request in server.requests] == [f"{method} /agentgateway/resource/x HTTP/1.1"]


class _HandBack(logging.Handler):
    """At urllib3's "Retrying" (after an attempt that failed), puts a kept-alive connection back in the pool, as
    another batch thread sharing the pool may do at that moment: the next attempt takes it."""

    def __init__(self, pool, connection):
        super().__init__()
        self.pool, self.connection = pool, connection

    def emit(self, record):
        if self.connection is not None and "Retrying" in record.getMessage():
            self.pool._put_conn(self.connection)
            self.connection = None


def test_a_request_sent_on_a_kept_connection_after_a_broken_handshake_is_not_sent_again(certs):
    """Attempt 1 opens a connection whose handshake is broken off (retried: nothing was sent); attempt 2 takes a
    kept-alive connection from the pool, sends the PUT, and the gateway closes without an answer. That PUT may
    have been acted on: not sent again."""
    with HandshakeBreaker(
        breaks=(2,), answers=(reply(ENVELOPE), CLOSE, reply(ENVELOPE)), tls=certs["good"]
    ) as server:
        pooled = transport.Transport(route(server.url, ca_path=certs["ca"]), 4)
        logger = logging.getLogger("urllib3.connectionpool")
        try:
            pooled.request("GET", "/agentgateway/resource/first", {}, timeout=2.0)
            adapter = pooled.session.get_adapter(server.url)
            pool = next(adapter.poolmanager.pools[key] for key in adapter.poolmanager.pools.keys())  # noqa: SIM118 (no iteration)
            kept = pool._get_conn()  # out of the pool: attempt 1 must open a new connection
            handler = _HandBack(pool, kept)
            logger.addHandler(handler)
            problem = failure(pooled.request, "PUT", "/agentgateway/resource/second", {}, b"{}", timeout=2.0)
        finally:
            logger.removeHandler(handler)
            pooled.close()
    assert handler.connection is None  # the kept connection was handed back and taken
    assert (problem.kind, problem.request_sent) == ("broken", True)
    lines = [request[0] for request in server.requests]
    assert lines.count("PUT /agentgateway/resource/second HTTP/1.1") == 1


def test_the_keepers_transport_makes_one_connection_attempt_and_says_no_more():
    import asyncio

    from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import AsyncTransport

    url = f"http://127.0.0.1:{free_port()}"

    async def poll():
        keeper_transport = AsyncTransport(route(url))
        try:
            await keeper_transport.request("GET", "/agentgateway/resource/agentevent/186", {})
        finally:
            await keeper_transport.close()

    problem = failure(asyncio.run, poll())
    assert (problem.kind, problem.request_sent, problem.attempts) == ("refused", False, 1)
    assert "attempts" not in client_module.describe_failure(problem, url, "GET x", route(url), 2)


def test_the_keepers_transport_never_sends_a_put_again_when_the_connection_breaks_before_the_answer():
    """aiohttp sends a request of an idempotent method (PUT included) again when its connection breaks; the
    gateway's PUTs start and stop recordings, and the keeper stops and signs out with them."""
    import asyncio

    from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import AsyncTransport

    with Server(CLOSE, reply(ENVELOPE)) as server:

        async def stop():
            keeper_transport = AsyncTransport(route(server.url))
            try:
                await keeper_transport.request("PUT", "/agentgateway/resource/recordplay/186/stop", {})
            finally:
                await keeper_transport.close()

        problem = failure(asyncio.run, stop())
    assert (problem.kind, problem.request_sent) == ("broken", True)
    assert [request[0] for request in server.requests if request[0].startswith("PUT ")] == [
        "PUT /agentgateway/resource/recordplay/186/stop HTTP/1.1"
    ]


def test_a_connection_reset_after_the_request_is_not_tried_again():
    with Server(reply(ENVELOPE), CLOSE) as server:
        pooled = transport.Transport(route(server.url), 4)
        try:
            pooled.request("GET", "/agentgateway/resource/first", {}, timeout=2.0)
            problem = failure(pooled.request, "PUT", "/agentgateway/resource/second", {}, b"{}", timeout=2.0)
        finally:
            pooled.close()
    assert (problem.kind, problem.request_sent) == ("broken", True)
    # Exact lines: the wrong-scheme probe's TLS ClientHello reaches this server too, as a "line" of random bytes.
    lines = [request[0] for request in server.requests]
    assert lines.count("PUT /agentgateway/resource/second HTTP/1.1") == 1


def test_ca_path_wins_over_requests_ca_bundle_and_the_bundle_is_used_without_it(certs, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certs["stranger_ca"])
    with Server(reply(ENVELOPE), reply(ENVELOPE), tls=certs["good"]) as server:
        assert request(server.url, ca_path=certs["ca"]).status == 200
        assert route(server.url, ca_path=certs["ca"]).verify == certs["ca"]
        problem = failure(request, server.url)  # REQUESTS_CA_BUNDLE: the stranger CA, as requests does
        assert problem.kind == "certificate"
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", certs["ca"])
        assert request(server.url).status == 200


def test_a_missing_ca_bundle_is_a_setup_problem_before_anything_is_sent(certs, tmp_path):
    with Server(reply(ENVELOPE), tls=certs["good"]) as server:
        problem = failure(request, server.url, ca_path=str(tmp_path / "missing.pem"))
    assert (problem.kind, problem.request_sent) == ("tls_setup", False)
    assert server.requests == []


@pytest.mark.parametrize("option", ["ca_path", "client_cert"])
def test_a_file_that_is_not_pem_is_a_setup_problem_not_a_handshake(certs, tmp_path, option):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with Server(reply(ENVELOPE), tls=certs["good"]) as server:
        options = {"ca_path": certs["ca"], option: str(garbage)}
        problem = failure(request, server.url, **options)
    assert (problem.kind, problem.request_sent) == ("tls_setup", False)
    assert server.requests == []


def test_relative_paths_become_absolute_in_the_route(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = route("https://gw:8043", ca_path="ca.pem", client_cert="c.pem", client_key="k.pem")
    assert resolved.verify == str(tmp_path / "ca.pem")
    assert resolved.cert == (str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    assert routes.Route.from_dict(resolved.as_dict()) == resolved


# -- proxies


def test_https_goes_through_the_environment_proxy(certs, monkeypatch):
    with ConnectProxy() as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        answer = request(server.url, ca_path=certs["ca"])
    assert answer.status == 200
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "10.0.0.0/8,127.0.0.1", "127.0.0.1"])
def test_no_proxy_networks_and_addresses_bypass_the_proxy(certs, monkeypatch, no_proxy):
    with ConnectProxy() as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        answer = request(server.url, ca_path=certs["ca"])
    assert answer.status == 200
    assert proxy.tunnels == []


def test_a_no_proxy_network_that_does_not_hold_the_gateway_keeps_the_proxy(certs, monkeypatch):
    with ConnectProxy() as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "10.0.0.0/8")
        request(server.url, ca_path=certs["ca"])
    assert len(proxy.tunnels) == 1


def test_an_https_proxy_is_used(certs, monkeypatch):
    with ConnectProxy(tls=certs["good"]) as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", f"https://127.0.0.1:{proxy.port}")
        answer = request(server.url, ca_path=certs["ca"])
    assert answer.status == 200
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]


def test_a_proxy_that_refuses_the_tunnel_is_a_proxy_problem(certs, monkeypatch):
    with ConnectProxy(refuse=True) as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        resolved = route(server.url, ca_path=certs["ca"])
        problem = failure(transport.Transport(resolved).request, "GET", "/x", {})
    assert (problem.kind, problem.request_sent) == ("proxy", False)
    assert server.requests == []
    message = client_module.describe_failure(problem, server.url, "GET x", resolved, 2)
    assert proxy.url in message and "NO_PROXY" in message


def test_a_proxy_that_is_down_is_a_proxy_problem(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    problem = failure(request, "https://gateway.example:8043")
    assert (problem.kind, problem.request_sent) == ("proxy", False)


def test_a_proxy_password_is_never_shown(certs, monkeypatch):
    with ConnectProxy(refuse=True) as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        with_credentials = proxy.url.replace("http://", "http://campaign:Proxy-Secret-9@")
        monkeypatch.setenv("HTTPS_PROXY", with_credentials)
        resolved = route(server.url, ca_path=certs["ca"])
        assert resolved.proxy == with_credentials
        problem = failure(transport.Transport(resolved).request, "GET", "/x", {})
    message = client_module.describe_failure(problem, server.url, "GET x", resolved, 2)
    assert problem.kind == "proxy"
    assert "Proxy-Secret-9" not in message and "Proxy-Secret-9" not in problem.reason
    assert proxy.url.replace("http://", "http://***@") in message


def test_the_route_keeps_the_proxy_of_the_environment_it_was_made_in(certs, monkeypatch):
    """The keeper is handed a route: it must not depend on the environment it runs in."""
    with ConnectProxy() as proxy, Server(reply(ENVELOPE), tls=certs["good"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        resolved = routes.Route.from_dict(route(server.url, ca_path=certs["ca"]).as_dict())
        monkeypatch.delenv("HTTPS_PROXY")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
        assert transport.Transport(resolved).request("GET", "/x", {}).status == 200
    assert len(proxy.tunnels) == 1


# -- the client's sentences for them


def test_the_client_says_what_failed_and_whether_the_gateway_may_have_it(certs):
    with HandshakeBreaker() as server:
        settings = ConnectionSettings(gateway_url=f"https://127.0.0.1:{server.port}", ca_path=certs["ca"])
        agent = GatewayClient(settings, 186)
        with pytest.raises(TransportError) as caught:
            agent.sign_in("Demo-1234", "70186")
    assert caught.value.request_sent is False
    assert str(caught.value).startswith(
        f"The TLS handshake with https://127.0.0.1:{server.port} was broken off"
    )


@pytest.mark.parametrize(
    ("proxy", "shown"),
    [
        ("http://campaign:Pw-1@proxy:3128", "http://***@proxy:3128"),
        ("http://campaign:P@ss-1@proxy:3128", "http://***@proxy:3128"),
        ("campaign:Pw-1@proxy:3128", "***@proxy:3128"),
        ("http://proxy:3128", "http://proxy:3128"),
    ],
)
def test_a_proxy_is_shown_without_its_credentials(proxy, shown):
    route = routes.Route("https://gw:8043", (("https", proxy),))
    assert route.proxy == proxy
    assert route.proxy_shown == shown
    if "://" in proxy:
        assert "Pw-1" not in errors.without_credentials(f"through {proxy} to https://gw:8043")


@pytest.mark.parametrize(
    ("cookies", "header"),
    [
        ({"NSLB": "node1"}, "NSLB=node1"),
        ({"LB": "x", "route": "a.b-c_d/1"}, "LB=x; route=a.b-c_d/1"),
        ({"LB": "two words"}, None),
        ({"LB": 'quo"te'}, None),
        ({"LB": "semi;colon"}, None),
        ({"bad name": "x"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_cookies_that_go_as_they_are_make_the_cookie_header_and_others_are_left_to_the_library(
    cookies, header
):
    assert transport.cookie_header(cookies) == header


def test_a_cookie_that_needs_quoting_still_reaches_the_gateway_through_the_library():
    with Server(reply(ENVELOPE), reply(ENVELOPE)) as server:
        sender = transport.Transport(route(server.url))
        sender.request("GET", "/a", {}, None, cookies={"LB": "n1", "route": "x"})
        sender.request("GET", "/b", {}, None, cookies={"LB": "two words"})
    assert server.requests[0][1]["cookie"] == "LB=n1; route=x"
    assert server.requests[1][1]["cookie"] in ('LB="two words"', "LB=two words")


def test_the_keepers_tls_connections_share_one_read_buffer_and_each_gets_its_own_answer(certs, monkeypatch):
    import asyncio
    import asyncio.sslproto

    from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async

    original = asyncio.sslproto.SSLProtocol
    if not hasattr(original, "get_buffer"):
        pytest.skip("this asyncio gives a TLS connection no read buffer of its own")
    monkeypatch.setattr(asyncio.sslproto, "SSLProtocol", original)  # restored after
    http_async.share_tls_read_buffer()
    http_async.share_tls_read_buffer()  # a second call keeps the one class
    assert asyncio.sslproto.SSLProtocol.__mro__[1] is original
    bodies = [b'{"message":"","retcode":"0","result":"%s"}' % (b"%d" % n * 3000) for n in range(4)]
    servers = [Server(Pieces(reply(body), count=6, delay=0.03), tls=certs["good"]) for body in bodies]
    buffers = set()

    async def one(server):
        keeper_transport = http_async.AsyncTransport(route(server.url, ca_path=certs["ca"]))
        try:
            answer = await keeper_transport.request("GET", "/agentgateway/resource/agentevent/186", {})
            for connection in keeper_transport._session.connector._conns.values():
                buffers.update(
                    id(held[0].transport._ssl_protocol._ssl_buffer_view.obj) for held in connection
                )
            return answer.body
        finally:
            await keeper_transport.close()

    async def all_at_once():
        return await asyncio.gather(*(one(server) for server in servers))

    for server in servers:
        server.__enter__()
    try:
        assert asyncio.run(all_at_once()) == bodies  # 4 answers of 12 KB, each in 6 TLS records, interleaved
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert len(buffers) == 1
