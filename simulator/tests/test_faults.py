"""Fault injection through /_sim/faults."""

from __future__ import annotations

import time

import pytest
import requests
from conftest import Client


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
