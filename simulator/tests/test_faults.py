"""Fault injection through /_sim/faults."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import BASE, Client, raw_exchange, start_sim


def add_fault(client: Client, **spec: object) -> int:
    response = client.admin("POST", "faults", json=spec)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    return body["id"]


def record_entries(client: Client) -> list[dict[str, object]]:
    return client.admin("GET", "requests", params={"path_contains": "/record"}).json()["requests"]


def test_latency(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="latency", delay=0.4, method="PUT", path=r"recordplay/\d+/record$")
    started = time.monotonic()
    assert client.record(186).json()["retcode"] == "0"
    assert time.monotonic() - started >= 0.4
    assert record_entries(client)[0]["fault"] == "latency"


def test_latency_work_completes_after_the_client_gave_up(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="latency", delay=0.6, method="PUT", path=r"recordplay/\d+/record$")
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.record(186, timeout=0.2)
    deadline = time.monotonic() + 5
    while client.agent(186)["recording"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.agent(186)["recording"] is not None
    assert client.record(186).json()["retcode"] == "500-011"


def test_retcode_does_nothing(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="retcode", retcode="100-007", message="boom", path="record")
    assert client.record(186).json() == {"message": "boom", "retcode": "100-007", "result": None}
    assert client.agent(186)["recording"] is None
    assert record_entries(client)[0]["retcode"] == "100-007"
    assert client.record(186).json()["retcode"] == "0"


def test_http_status(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="http_status", status=503, method="PUT")
    response = client.record(186)
    assert response.status_code == 503
    with pytest.raises(ValueError):
        response.json()
    assert client.agent(186)["recording"] is None
    entry = record_entries(client)[0]
    assert entry["retcode"] is None and entry["http_status"] == 503


def test_drop_before(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="drop_before", path="recordplay")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.record(186)
    assert client.agent(186)["recording"] is None
    entry = record_entries(client)[0]
    assert entry["retcode"] is None and entry["http_status"] is None and entry["fault"] == "drop_before"
    assert client.record(186).json()["retcode"] == "0"


def test_drop_after(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="drop_after", method="PUT", path="record")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.record(186)
    assert client.agent(186)["recording"] is not None
    assert record_entries(client)[0]["retcode"] is None
    assert client.record(186).json()["retcode"] == "500-011"


def test_garbage(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="garbage")
    response = client.call("GET", "onlineagent/186/agentstatus", 186)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    entries = client.admin("GET", "requests", params={"path_contains": "agentstatus"}).json()["requests"]
    assert entries[0]["retcode"] is None and entries[0]["http_status"] == 200


def test_record_fail(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="record_fail")
    body = client.record(186).json()
    assert body["retcode"] == "0" and body["result"]["taskId"].isdigit()
    events = client.drain(186)
    assert [e["eventType"] for e in events] == ["AgentMediaEvent_Record_Fail"]
    assert events[0]["content"]["taskId"] == int(body["result"]["taskId"])
    assert client.agent(186)["recording"] is None
    assert client.admin("GET", "recordings").json()["recordings"] == []
    assert client.record(186).json()["retcode"] == "0"
    assert client.agent(186)["recording"] is not None


def test_record_fail_not_consumed_by_rejected_start(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="record_fail", path="recordplay/186/")
    assert client.record(186, {"mediaType": 1}).json()["retcode"] == "000-002"
    assert len(client.admin("GET", "faults").json()["faults"]) == 1
    client.record(186)
    assert client.agent(186)["recording"] is None


def test_count_order_filters_list_and_clear(client: Client) -> None:
    client.ready(186)
    first = add_fault(client, kind="retcode", retcode="000-004", count=2, method="GET", path="agentstatus")
    second = add_fault(client, kind="retcode", retcode="100-007", method="GET")
    assert second > first
    listed = client.admin("GET", "faults").json()["faults"]
    assert [f["id"] for f in listed] == [first, second] and listed[0]["remaining"] == 2
    assert client.record(186).json()["retcode"] == "0"
    codes = [client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] for _ in range(4)]
    assert codes == ["000-004", "000-004", "100-007", "0"]
    add_fault(client, kind="garbage", count=5)
    assert client.admin("DELETE", "faults").json() == {"ok": True}
    assert client.admin("GET", "faults").json() == {"faults": []}
    assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "0"


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "latency"},
        {"kind": "retcode"},
        {"kind": "http_status", "status": 42},
        {"kind": "garbage", "count": 0},
        {"kind": "garbage", "path": "("},
    ],
)
def test_fault_validation(client: Client, spec: dict[str, object]) -> None:
    response = client.admin("POST", "faults", json=spec)
    assert response.status_code == 400 and response.json()["ok"] is False


def test_server_survives_abuse(client: Client) -> None:
    import contextlib
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(client.sim.url)
    if parts.scheme == "http":
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            sock.sendall(b"\x00\x01garbage\r\n\r\n")
            sock.recv(100)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"not even tls\r\n\r\n")
        with contextlib.suppress(OSError):
            sock.recv(100)
    client.ready(186)
    assert client.record(186).json()["retcode"] == "0"


def poll_request(client: Client, agent: int = 186) -> bytes:
    host = urlsplit(client.sim.url).netloc
    return (
        f"GET {BASE}agentevent/{agent} HTTP/1.1\r\nHost: {host}\r\nGuid: {client.guids[agent]}\r\n\r\n"
    ).encode()


def fault_entry(client: Client, path: str) -> dict[str, object]:
    return client.admin("GET", "requests", params={"path_contains": path}).json()["requests"][-1]


@pytest.mark.parametrize(
    "text",
    ["[]", '"text"', '{"retcode": 0}', '{"message":"","retcode":"0","event":"x"}', ""],
)
def test_body_answers_the_raw_text(client: Client, text: str) -> None:
    client.ready(186)
    add_fault(client, kind="body", body=text, method="PUT", path=r"recordplay/\d+/record$")
    response = client.record(186)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.content == text.encode()
    assert client.agent(186)["recording"] is None
    entry = record_entries(client)[0]
    assert entry["fault"] == "body" and entry["http_status"] == 200 and entry["retcode"] is None
    assert client.record(186).json()["retcode"] == "0"


def test_body_status_content_type_and_utf8(client: Client) -> None:
    client.ready(186)
    fault_id = add_fault(client, kind="body", body="<p>網關</p>", status=502, content_type="text/html")
    listed = client.admin("GET", "faults").json()["faults"]
    assert listed == [
        {
            "id": fault_id,
            "kind": "body",
            "method": None,
            "path": None,
            "remaining": 1,
            "status": 502,
            "body": "<p>網關</p>",
            "content_type": "text/html",
        }
    ]
    response = client.call("GET", "onlineagent/186/agentstatus", 186)
    assert response.status_code == 502 and response.headers["Content-Type"] == "text/html"
    assert response.content == "<p>網關</p>".encode()
    assert fault_entry(client, "agentstatus")["http_status"] == 502


def test_body_on_a_poll_keeps_the_event(client: Client) -> None:
    assert client.sign_in(186).json()["retcode"] == "0"
    add_fault(client, kind="body", body='{"message":"","retcode":"0","event":"x"}', path="^agentevent/")
    assert client.poll(186).json() == {"message": "", "retcode": "0", "event": "x"}
    assert client.agent(186)["pending_events"] == 2
    assert [e["eventType"] for e in client.drain(186)] == ["AgentOther_InService", "AgentState_Ready"]


@pytest.mark.parametrize(
    "data", ["HTTP/1.1 \r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "\xff\x00"]
)
def test_raw_writes_bytes_then_closes(client: Client, data: str) -> None:
    assert client.sign_in(186).json()["retcode"] == "0"
    fault_id = add_fault(client, kind="raw", data=data, path="^agentevent/")
    assert client.admin("GET", "faults").json()["faults"][0] == {
        "id": fault_id,
        "kind": "raw",
        "method": None,
        "path": "^agentevent/",
        "remaining": 1,
        "data": data,
    }
    assert raw_exchange(client.sim, poll_request(client)) == data.encode("latin-1")
    entry = fault_entry(client, "agentevent")
    assert entry["fault"] == "raw" and entry["http_status"] is None and entry["retcode"] is None
    assert client.agent(186)["pending_events"] == 2
    assert [e["eventType"] for e in client.drain(186)] == ["AgentOther_InService", "AgentState_Ready"]


def test_raw_status_line_without_code_fails_a_client(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="raw", data="HTTP/1.1 \r\n\r\n", method="PUT")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.record(186)
    assert client.agent(186)["recording"] is None
    assert client.record(186).json()["retcode"] == "0"


def test_truncated_announces_more_than_it_sends(client: Client) -> None:
    assert client.sign_in(186).json()["retcode"] == "0"
    add_fault(client, kind="truncated", path="^agentevent/")
    answer = raw_exchange(client.sim, poll_request(client))
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/json;charset=UTF-8"
    announced = int(headers["content-length"])
    assert 0 < len(body) < announced
    assert b'{"message":"","retcode":"0","result":null}'.startswith(body)
    entry = fault_entry(client, "agentevent")
    assert entry["fault"] == "truncated" and entry["http_status"] == 200 and entry["retcode"] is None
    assert client.agent(186)["pending_events"] == 2


def test_truncated_fails_a_client(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="truncated", method="PUT")
    with pytest.raises(requests.exceptions.RequestException):
        client.record(186)
    assert client.agent(186)["recording"] is None
    assert client.record(186).json()["retcode"] == "0"


def test_oversized_default_is_2_mib_chunked_json(client: Client) -> None:
    assert client.sign_in(186).json()["retcode"] == "0"
    add_fault(client, kind="oversized", path="^agentevent/")
    assert client.admin("GET", "faults").json()["faults"][0]["size"] == 2 * 1024 * 1024
    response = client.poll(186)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Content-Length" not in response.headers
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert len(response.content) == 2 * 1024 * 1024
    body = response.json()
    assert body["retcode"] == "0" and set(body) == {"message", "retcode"}
    entry = fault_entry(client, "agentevent")
    assert entry["fault"] == "oversized" and entry["http_status"] == 200 and entry["retcode"] is None
    assert [e["eventType"] for e in client.drain(186)] == ["AgentOther_InService", "AgentState_Ready"]


def test_oversized_exact_size_and_a_client_that_stops_reading(client: Client) -> None:
    client.ready(186)
    add_fault(client, kind="oversized", size=28, method="GET", path="agentstatus")
    assert client.call("GET", "onlineagent/186/agentstatus", 186).content == b'{"message":"","retcode":"0"}'
    add_fault(client, kind="oversized", size=50_000_000, method="PUT")
    with client.call("PUT", "recordplay/186/record", 186, json={"mediaType": 5}, stream=True) as response:
        assert response.status_code == 200
        assert len(response.raw.read(100_000)) == 100_000
    assert client.agent(186)["recording"] is None
    assert client.record(186).json()["retcode"] == "0"


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "body"},
        {"kind": "body", "body": 3},
        {"kind": "body", "body": "x", "status": 99},
        {"kind": "body", "body": "x", "status": "200"},
        {"kind": "body", "body": "x", "content_type": ""},
        {"kind": "body", "body": "x", "content_type": "text/plain\r\nX-Evil: 1"},
        {"kind": "body", "body": "x", "content_type": 5},
        {"kind": "raw"},
        {"kind": "raw", "data": ""},
        {"kind": "raw", "data": "€"},
        {"kind": "raw", "data": ["x"]},
        {"kind": "oversized", "size": 27},
        {"kind": "oversized", "size": "big"},
        {"kind": "oversized", "size": True},
        {"kind": "oversized", "size": 2.5},
        {"kind": "truncated", "count": 0},
    ],
)
def test_new_fault_kinds_validation(client: Client, spec: dict[str, object]) -> None:
    response = client.admin("POST", "faults", json=spec)
    assert response.status_code == 400 and response.json()["ok"] is False
    assert client.admin("GET", "faults").json() == {"faults": []}


@pytest.mark.parametrize("loop", ["asyncio", "auto"])
def test_oversized_reader_gone_leaves_server_quiet(tmp_path: Path, loop: str) -> None:
    """A client that stops reading ends the oversized answer; no flood of write warnings (TLS)."""
    sim = start_sim(tmp_path, "--loop", loop)
    try:
        client = sim.client()
        client.ready(186)
        add_fault(client, kind="oversized", size=200_000_000, path="agentstatus")
        started = time.monotonic()
        with client.call("GET", "onlineagent/186/agentstatus", 186, stream=True) as response:
            assert len(response.raw.read(10_000)) == 10_000
        assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "0"
        assert time.monotonic() - started < 10
    finally:
        assert sim.stop() == 0
    assert (sim.proc.stderr.read() if sim.proc.stderr else "") == ""
