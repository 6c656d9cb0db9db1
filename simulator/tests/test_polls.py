"""Event polls: the empty answer, a poll hold of 0."""

from __future__ import annotations

import time

from conftest import Client

EMPTY = b'{"message":"","retcode":"0"}'


def test_empty_poll_is_exactly_message_and_retcode(client: Client) -> None:
    client.ready(186)
    response = client.poll(186)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.content == EMPTY
    assert "event" not in response.json()
    entry = client.admin("GET", "requests", params={"path_contains": "agentevent"}).json()["requests"][-1]
    assert entry["retcode"] == "0" and entry["http_status"] == 200


def test_poll_with_event_unchanged(client: Client) -> None:
    assert client.sign_in(186).json()["retcode"] == "0"
    body = client.poll(186).json()
    assert list(body) == ["message", "retcode", "event"]
    assert body["message"] == "" and body["retcode"] == "0"
    assert set(body["event"]) == {"eventType", "workNo", "content", "eventGenTime"}
    assert body["event"]["eventType"] == "AgentOther_InService"


def test_empty_poll_after_hold_keeps_dynamic_guid_rotation(client: Client) -> None:
    client.admin("PATCH", "config", json={"guid_interval_ms": 100, "poll_hold": 0.2})
    client.ready(186)
    time.sleep(0.15)
    first = client.guids[186]
    response = client.poll(186)
    assert response.content == EMPTY and "Set-GUID" in response.headers
    assert client.guids[186] != first


def test_poll_hold_zero_answers_at_once(client: Client) -> None:
    assert client.admin("PATCH", "config", json={"poll_hold": 0}).json()["poll_hold"] == 0.0
    client.ready(186)
    started = time.monotonic()
    for _ in range(5):
        assert client.poll(186).content == EMPTY
    assert time.monotonic() - started < 1.0
    client.admin("PATCH", "agents/186", json={"phone_offhook": True})
    client.record(186)
    assert client.poll(186).json()["event"]["eventType"] == "AgentMediaEvent_Record"
    assert client.admin("GET", "polls").json()["outstanding"] == 0
    assert client.agent(186)["signed_in"] is True


def test_poll_hold_zero_vs_held(client: Client) -> None:
    client.ready(186)
    client.admin("PATCH", "config", json={"poll_hold": 0.6})
    started = time.monotonic()
    assert client.poll(186).content == EMPTY
    assert time.monotonic() - started >= 0.6
    client.admin("PATCH", "config", json={"poll_hold": 0})
    started = time.monotonic()
    assert client.poll(186).content == EMPTY
    assert time.monotonic() - started < 0.4


def test_poll_hold_negative_rejected(client: Client) -> None:
    for bad in (-0.1, -1, "0", None, True):
        response = client.admin("PATCH", "config", json={"poll_hold": bad})
        assert response.status_code == 400 and response.json()["ok"] is False
    assert client.admin("POST", "reset", json={"config": {"poll_hold": -1}}).status_code == 400
    assert client.admin("POST", "reset", json={"config": {"poll_hold": 0}}).json() == {"ok": True}
    assert client.admin("GET", "config").json()["poll_hold"] == 0.0
