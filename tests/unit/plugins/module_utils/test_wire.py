# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answers as real networks deliver them, through both transports: in pieces, chunked, slow, and bytes that
arrive on an idle kept-alive connection unasked."""

from __future__ import annotations

import asyncio
import http.server
import json
import socketserver
import threading
import time

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync as transport
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import (
    Pieces,
    Server,
    Slow,
    Stray,
    chunked,
    reply,
)

EVENTS = [
    {"eventType": f"AgentOther_Event{index}", "workNo": "186", "content": {"n": index}} for index in range(6)
]
BIG = json.dumps({"message": "", "retcode": "0", "events": EVENTS, "padding": "x" * 20000}).encode()
SMALL = b'{"message":"","retcode":"0"}'
STRAY = reply(
    b'{"event":{"eventType":"AgentOther_ShutdownService","workNo":"186","content":{}},"message":"","retcode":"0"}',
    headers=["Set-GUID: JSESSIONID=foreign"],
)


@pytest.fixture(autouse=True)
def clean_environment(no_network_environment):
    transport._TRANSPORTS.clear()


def serve(tls, secure, *answers):
    return Server(*answers, tls=tls["context"] if secure else None)


def options(tls, secure):
    return {"ca_path": tls["ca"]} if secure else {}


def sync_get(server, tls, secure, timeout=(2.0, 2.0)):
    route = routes.resolve_route(server.url, **options(tls, secure))
    return transport.Transport(route, 2).request("GET", "/p", {}, timeout=timeout)


def async_get(server, tls, secure, count=1, timeout=(2.0, 2.0), pause=0.0):
    async def exchange():
        client = http_async.AsyncTransport(routes.resolve_route(server.url, **options(tls, secure)))
        try:
            answers = []
            for _exchange in range(count):
                answers.append(await client.request("GET", "/p", {}, timeout=timeout))
                await asyncio.sleep(pause)
            return answers
        finally:
            await client.close()

    return asyncio.run(exchange())


SHAPES = {
    "two segments": lambda: Pieces(reply(BIG), cuts=(len(reply(BIG)) - 9000,)),
    "head apart from body": lambda: Pieces(reply(SMALL), cuts=(len(reply(SMALL)) - len(SMALL),)),
    "many segments": lambda: Pieces(reply(BIG), count=7, delay=0.01),
    "chunked in pieces": lambda: Pieces(chunked(BIG[:7000], BIG[7000:15000], BIG[15000:]), count=3),
}


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_keeper_transport_reads_every_answer_whole(tls, secure, shape):
    answer = SHAPES[shape]()
    expected = b"".join(answer.parts).split(b"\r\n\r\n", 1)[1]
    with serve(tls, secure, answer) as server:
        body = async_get(server, tls, secure)[0].body
    if b"Transfer-Encoding" in answer.parts[0]:
        assert json.loads(body)["events"] == EVENTS
    else:
        assert body == expected


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_module_transport_reads_every_answer_whole(tls, secure, shape):
    with serve(tls, secure, SHAPES[shape]()) as server:
        body = sync_get(server, tls, secure).body
    assert json.loads(body)["retcode"] == "0"


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_the_keeper_never_takes_bytes_that_came_unasked_for_an_answer(tls, secure):
    with serve(tls, secure, Stray(reply(SMALL), STRAY), reply(SMALL), reply(SMALL)) as server:
        answers = async_get(server, tls, secure, count=2, pause=0.3)
        strays = server.strays
        accepted = server.accepted
    assert strays == 1
    assert [answer.body for answer in answers] == [SMALL, SMALL]
    assert all("Set-GUID" not in answer.headers for answer in answers)
    assert accepted == 2, "the connection that carried the stray answer was used again"


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_the_modules_never_take_bytes_that_came_unasked_for_an_answer(tls, secure):
    with serve(tls, secure, Stray(reply(SMALL), STRAY), reply(SMALL)) as server:
        first = sync_get(server, tls, secure)
        time.sleep(0.3)
        second = sync_get(server, tls, secure)
        accepted = server.accepted
    assert [first.body, second.body] == [SMALL, SMALL]
    assert "Set-GUID" not in second.headers
    assert accepted == 2


def test_a_kept_alive_connection_without_stray_bytes_is_reused_by_the_keeper(tls):
    with serve(tls, True, reply(SMALL), reply(SMALL)) as server:
        async_get(server, tls, True, count=2, pause=0.1)
        assert server.accepted == 1


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_timeout_bounds_the_whole_answer_of_the_modules(tls, secure):
    with serve(tls, secure, Slow(reply(SMALL), interval=0.2, limit=12)) as server:
        started = time.monotonic()
        with pytest.raises(transport.TransportError) as caught:
            sync_get(server, tls, secure, timeout=(1.0, 1.0))
        elapsed = time.monotonic() - started
    assert caught.value.kind == "read_timeout"
    assert caught.value.request_sent
    assert "no whole answer within 1 s" in caught.value.reason
    assert elapsed < 8, "a byte every 0.2 s kept the exchange going past its deadline"


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_timeout_bounds_the_whole_answer_of_the_keeper(tls, secure):
    with serve(tls, secure, Slow(reply(SMALL), interval=0.2, limit=12)) as server:
        started = time.monotonic()
        with pytest.raises(transport.TransportError) as caught:
            async_get(server, tls, secure, timeout=(1.0, 1.0))
        elapsed = time.monotonic() - started
    assert caught.value.kind == "read_timeout"
    assert elapsed < 8


def test_a_deadline_does_not_cut_the_next_exchange_on_the_same_connection(tls):
    with serve(tls, False, reply(SMALL), reply(SMALL)) as server:
        route = routes.resolve_route(server.url)
        client = transport.Transport(route, 1)
        client.request("GET", "/p", {}, timeout=(0.3, 0.3))
        time.sleep(0.8)  # the first exchange's deadline passes while its connection is back in the pool
        assert client.request("GET", "/p", {}, timeout=(2.0, 2.0)).body == SMALL
        assert server.accepted == 1


def test_http_to_a_tls_port_says_which_scheme_to_use_and_that_nothing_was_acted_on(tls):
    with serve(tls, True, reply(SMALL)) as server, pytest.raises(transport.TransportError) as caught:
        transport.Transport(routes.resolve_route(server.url.replace("https:", "http:")), 1).request(
            "GET", "/p", {}, timeout=(2.0, 2.0)
        )
    assert caught.value.kind == "wrong_scheme"
    assert not caught.value.request_sent
    assert "speaks TLS (HTTPS), not plain HTTP: use https://" in caught.value.reason


def test_https_to_a_plain_port_says_which_scheme_to_use():
    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        route = routes.resolve_route(f"https://127.0.0.1:{server.server_address[1]}", validate_certs=False)
        with pytest.raises(transport.TransportError) as caught:
            transport.Transport(route, 1).request("GET", "/p", {}, timeout=(2.0, 2.0))
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.kind == "wrong_scheme"
    assert not caught.value.request_sent
    assert "answers plain HTTP, not TLS: use http://" in caught.value.reason


def test_a_tls_port_that_only_closes_is_not_called_plain_http(tls):
    from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import CLOSE

    with serve(tls, False, CLOSE) as server, pytest.raises(transport.TransportError) as caught:
        sync_get(server, tls, False)
    assert caught.value.kind == "broken"
    assert caught.value.request_sent


def test_an_old_exchange_that_expires_never_cuts_the_connection_another_exchange_took(monkeypatch):
    attached = []
    attach = transport._WATCHDOG.attach

    def noting(exchange, connection):
        attached.append((exchange, connection))
        attach(exchange, connection)

    monkeypatch.setattr(transport._WATCHDOG, "attach", noting)
    with Server(reply(SMALL), reply(SMALL), reply(SMALL)) as server:
        client = transport.Transport(routes.resolve_route(server.url), 1)
        client.request("GET", "/p", {}, timeout=(2.0, 2.0))
        first, connection = attached[0]
        assert first.done, "back in the pool, the exchange is over"
        client.request("GET", "/p", {}, timeout=(2.0, 2.0))
        assert attached[1][1] is connection and connection.cc_gateway_exchange is not first
        transport._expire(first)  # as the watchdog would, had the first exchange's deadline passed late
        assert client.request("GET", "/p", {}, timeout=(2.0, 2.0)).body == SMALL
        assert server.accepted == 1
