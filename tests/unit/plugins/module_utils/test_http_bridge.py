# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A large batch's transport (http_bridge: aiohttp on a loop of its own, for threads) against real servers on
127.0.0.1: answers in pieces, stray bytes, broken handshakes, refusals and the at-most-once rule, as the
requests transport is tested in test_transport.py and test_wire.py."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import route as routes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import describe_failure
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import TransportError
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_bridge import LoopTransport, bridge_for
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import (
    CLOSE,
    HANG,
    ConnectProxy,
    HandshakeBreaker,
    Pieces,
    Server,
    Slow,
    Stray,
    chunked,
    free_port,
    reply,
)

pytest.importorskip("aiohttp")
pytestmark = pytest.mark.usefixtures("no_network_environment")

ENVELOPE = b'{"message":"","retcode":"0","result":{"agentState":4}}'
BIG = json.dumps({"message": "", "retcode": "0", "padding": "x" * 20000}).encode()
STRAY = reply(b'{"message":"","retcode":"0","event":{"eventType":"AgentOther_ShutdownService"}}')


def bridge(url, trust=None):
    options = {"ca_path": trust["ca"]} if trust and url.startswith("https") else {}
    return LoopTransport(routes.resolve_route(url, **options))


def failure(transport, *args, **kwargs):
    with pytest.raises(TransportError) as caught:
        transport.request(*args, **kwargs)
    return caught.value


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_threads_at_once_each_get_an_answer_whole_in_pieces_and_chunks(tls, secure):
    other = BIG.replace(b"x", b"y")
    answers = (
        Pieces(reply(BIG), count=7, delay=0.01),
        Pieces(chunked(other[:7000], other[7000:]), count=3),
        Pieces(reply(ENVELOPE), cuts=(len(reply(ENVELOPE)) - len(ENVELOPE),)),
        reply(b"[]"),
    )
    with Server(*answers, tls=tls["context"] if secure else None) as server:
        transport = bridge(server.url, tls)
        try:
            with ThreadPoolExecutor(4) as pool:
                bodies = list(pool.map(lambda _n: transport.request("GET", "/p", {}).body, range(4)))
        finally:
            transport.close()
    assert sorted(bodies) == sorted([BIG, other, ENVELOPE, b"[]"])


def test_the_body_and_headers_are_sent_as_given():
    with Server(reply(ENVELOPE)) as server:
        transport = bridge(server.url)
        try:
            answer = transport.request(
                "PUT", "/agentgateway/resource/recordplay/186/record", {"Guid": "g-1"}, b'{"mediaType":5}'
            )
        finally:
            transport.close()
    (line, headers, body) = server.requests[0]
    assert answer.status == 200
    assert line == "PUT /agentgateway/resource/recordplay/186/record HTTP/1.1"
    assert (headers["guid"], headers["user-agent"], body) == ("g-1", http_sync.USER_AGENT, b'{"mediaType":5}')


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_bytes_that_came_unasked_are_never_taken_for_an_answer(tls, secure):
    with Server(
        Stray(reply(ENVELOPE), STRAY), reply(ENVELOPE), tls=tls["context"] if secure else None
    ) as server:
        transport = bridge(server.url, tls)
        try:
            first = transport.request("GET", "/p", {})
            time.sleep(0.3)
            second = transport.request("GET", "/p", {})
        finally:
            transport.close()
        accepted = server.accepted
    assert [first.body, second.body] == [ENVELOPE, ENVELOPE]
    assert accepted == 2, "the connection that carried the stray answer was used again"


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_handshake_an_overloaded_gateway_broke_off_is_tried_again_and_the_request_sent_once(tls, method):
    with HandshakeBreaker(
        breaks=range(1, http_sync.CONNECT_RETRIES + 1), answers=(reply(ENVELOPE),), tls=tls["context"]
    ) as server:
        transport = bridge(server.url, tls)
        try:
            answer = transport.request(
                method, "/agentgateway/resource/x", {}, b"{}" if method == "PUT" else None
            )
        finally:
            transport.close()
    assert answer.status == 200
    assert server.accepted == http_sync.CONNECT_RETRIES + 1
    assert [request[0] for request in server.requests] == [f"{method} /agentgateway/resource/x HTTP/1.1"]


def test_a_refused_connection_is_tried_again_and_said_so():
    url = f"http://127.0.0.1:{free_port()}"
    transport = bridge(url)
    try:
        problem = failure(transport, "PUT", "/agentgateway/resource/x", {}, b"{}", timeout=(1.0, 1.0))
    finally:
        transport.close()
    assert (problem.kind, problem.request_sent, problem.attempts) == (
        "refused",
        False,
        http_sync.CONNECT_RETRIES + 1,
    )
    message = describe_failure(problem, url, "PUT x", routes.resolve_route(url), 1)
    assert f"({http_sync.CONNECT_RETRIES + 1} attempts)" in message


def test_a_connection_closed_after_the_request_is_not_sent_again():
    with Server(CLOSE, reply(ENVELOPE)) as server:
        transport = bridge(server.url)
        try:
            problem = failure(transport, "PUT", "/agentgateway/resource/recordplay/186/record", {}, b"{}")
        finally:
            transport.close()
    assert (problem.kind, problem.request_sent) == ("broken", True)
    sent = [request[0] for request in server.requests if request[0].startswith("PUT ")]
    assert sent == ["PUT /agentgateway/resource/recordplay/186/record HTTP/1.1"]


def test_no_answer_in_time_may_have_reached_the_gateway_and_the_wait_ends():
    with Server(HANG) as server:
        transport = bridge(server.url)
        started = time.monotonic()
        try:
            problem = failure(transport, "PUT", "/x", {}, b"{}", timeout=(0.5, 0.5))
        finally:
            transport.close()
        elapsed = time.monotonic() - started
    assert (problem.kind, problem.request_sent) == ("read_timeout", True)
    assert len(server.requests) == 1
    assert elapsed < 5


def test_a_trickling_answer_is_bounded_by_the_timeout():
    with Server(Slow(reply(ENVELOPE), interval=0.2, limit=12)) as server:
        transport = bridge(server.url)
        started = time.monotonic()
        try:
            problem = failure(transport, "GET", "/p", {}, timeout=(1.0, 1.0))
        finally:
            transport.close()
    assert problem.kind == "read_timeout"
    assert time.monotonic() - started < 8


def test_plain_http_to_a_tls_port_is_the_wrong_scheme_and_nothing_was_acted_on(tls):
    with Server(reply(ENVELOPE), tls=tls["context"]) as server:
        url = server.url.replace("https://", "http://")
        transport = bridge(url)
        try:
            problem = failure(transport, "PUT", "/x", {}, b"{}")
        finally:
            transport.close()
    assert (problem.kind, problem.request_sent) == ("wrong_scheme", False)
    assert "use https://" in problem.reason


def test_a_certificate_nobody_trusts_is_not_tried_again(tls, tmp_path):
    trustme = pytest.importorskip("trustme")
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    with Server(reply(ENVELOPE), tls=tls["context"]) as server:
        transport = LoopTransport(routes.resolve_route(server.url, ca_path=str(stranger)))
        try:
            problem = failure(transport, "GET", "/p", {})
        finally:
            transport.close()
        accepted = server.accepted
    assert (problem.kind, problem.request_sent, problem.attempts) == ("certificate", False, 1)
    assert accepted == 1


def test_the_aiohttp_transport_trusts_the_ca_bundle_requests_would_and_no_other(tls, monkeypatch, tmp_path):
    import ssl

    import certifi
    import requests
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import ssl_context

    # SSL_CERT_FILE would add certifi's CAs to a context that loads the defaults.
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    given = ssl_context(routes.resolve_route("https://127.0.0.1:1", ca_path=tls["ca"]))
    assert given.cert_store_stats()["x509_ca"] == 1
    assert given.verify_mode == ssl.CERT_REQUIRED and given.check_hostname
    assert given.post_handshake_auth  # as urllib3's: a TLS 1.3 server may ask for a client certificate later
    bundle = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bundle.load_verify_locations(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH)
    default = ssl_context(routes.resolve_route("https://127.0.0.1:1"))
    assert default.cert_store_stats()["x509_ca"] == bundle.cert_store_stats()["x509_ca"]
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    unverified = ssl_context(routes.resolve_route("https://127.0.0.1:1", validate_certs=False))
    assert (unverified.verify_mode, unverified.check_hostname) == (ssl.CERT_NONE, False)
    assert unverified.cert_store_stats()["x509_ca"] == 0  # nothing loaded that nothing would use
    assert unverified.keylog_filename == str(tmp_path / "keys.log")  # as requests' context, verifying or not


def test_the_aiohttp_transport_verifies_with_a_ca_directory_and_gives_its_client_certificate(tmp_path):
    import shutil
    import ssl
    import subprocess

    trustme = pytest.importorskip("trustme")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to name the CA by its hash, as c_rehash does")
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_side)
    authority.configure_trust(server_side)
    server_side.verify_mode = ssl.CERT_REQUIRED
    ca_file, client = tmp_path / "ca.pem", tmp_path / "client.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    authority.issue_cert("agent-runner@example.com").private_key_and_cert_chain_pem.write_to_path(str(client))
    directory = tmp_path / "cas"
    directory.mkdir()
    named = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(ca_file)], capture_output=True, text=True, check=True
    )
    shutil.copy(ca_file, directory / f"{named.stdout.strip()}.0")
    with Server(reply(ENVELOPE), reply(ENVELOPE), tls=server_side) as server:
        answers = []
        for cert in (str(client), None):
            transport = LoopTransport(
                routes.resolve_route(server.url, ca_path=str(directory), client_cert=cert)
            )
            try:
                answers.append(transport.request("GET", "/p", {}).status)
            except TransportError as exc:
                answers.append(exc.kind)
            finally:
                transport.close()
    assert answers[0] == 200
    assert answers[1] != 200  # the server requires a client certificate: none given, none sent


def test_close_ends_the_loop_thread_and_can_be_called_twice():
    before = {thread.ident for thread in threading.enumerate()}
    transport = bridge_for(routes.resolve_route("http://127.0.0.1:1"))
    assert transport is not None
    made = [thread for thread in threading.enumerate() if thread.ident not in before]
    assert [thread.name for thread in made] == ["cc_gateway-http"]
    transport.close()
    transport.close()
    assert not made[0].is_alive()


def test_https_goes_through_the_environment_proxy_and_a_refusing_proxy_is_said_so(tls, monkeypatch):
    with ConnectProxy() as proxy, Server(reply(ENVELOPE), tls=tls["context"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        transport = bridge(server.url, tls)
        try:
            answer = transport.request("GET", "/p", {})
        finally:
            transport.close()
    assert answer.body == ENVELOPE
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]
    with ConnectProxy(refuse=True) as proxy, Server(reply(ENVELOPE), tls=tls["context"]) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        transport = bridge(server.url, tls)
        try:
            problem = failure(transport, "PUT", "/p", {}, b"{}")
        finally:
            transport.close()
        sent = server.requests
    assert (problem.kind, problem.request_sent) == ("proxy", False)
    assert sent == []


def test_an_aiohttp_that_resends_by_itself_is_not_used_and_one_that_classifies_otherwise_not_for_batches(
    monkeypatch,
):
    import types

    from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async

    class Resending:  # what aiohttp 3.10 has: a resend of idempotent methods, and no switch for it
        IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})

        async def _request(self, method):
            return method in self.IDEMPOTENT_METHODS

    fake = types.SimpleNamespace(__version__="3.10.11", ClientSession=Resending)
    monkeypatch.setitem(__import__("sys").modules, "aiohttp", fake)
    assert "aiohttp 3.10.11 sends a request again by itself" in http_async.aiohttp_missing()
    assert bridge_for(routes.resolve_route("http://127.0.0.1:1")) is None
    monkeypatch.undo()

    import aiohttp

    assert http_async.aiohttp_missing() is None
    monkeypatch.setattr(aiohttp, "__version__", "3.9.5")
    assert bridge_for(routes.resolve_route("http://127.0.0.1:1")) is None


def test_a_wait_longer_than_every_attempt_ends_as_a_timeout_that_may_have_reached_the_gateway(monkeypatch):
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_bridge

    monkeypatch.setattr(http_bridge, "WAIT_SLACK", 0.0)
    with Server(reply(ENVELOPE)) as server:
        transport = bridge(server.url)
        try:
            transport._loop.call_soon_threadsafe(time.sleep, 3.0)  # the loop is late, not the gateway
            started = time.monotonic()
            problem = failure(transport, "PUT", "/x", {}, b"{}", timeout=(0.2, 0.2))
            elapsed = time.monotonic() - started
        finally:
            transport.close()
    assert (problem.kind, problem.request_sent) == ("read_timeout", True)
    assert elapsed < 2.9
