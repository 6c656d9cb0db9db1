"""Event polls: the empty answer."""

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
