"""Event polls: the empty answer, a poll hold of 0, poll counts."""

from __future__ import annotations

import threading
import time
from typing import Any

from conftest import Client

EMPTY = b'{"message":"","retcode":"0"}'


def wait_outstanding(client: Client, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while client.admin("GET", "polls").json()["outstanding"] < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.admin("GET", "polls").json()["outstanding"] == count


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


def test_poll_counts_every_answer(client: Client) -> None:
    client.ready(186)  # one InService, one Ready, one empty answer
    assert client.agent(186)["polls"] == 3
    assert client.request("GET", "agentevent/186", guid="wrong").json()["retcode"] == "000-003"
    assert client.request("GET", "agentevent/186").json()["retcode"] == "000-003"
    assert client.request("GET", "agentevent/187").json()["retcode"] == "100-006"
    assert client.request("GET", "agentevent/0186").json()["retcode"] == "000-002"
    assert client.request("GET", "agentevent/150").json()["retcode"] == "100-006"  # not in the roster
    # Not event polls: another method, another path, the admin API.
    assert client.request("POST", "agentevent/186").status_code == 405
    assert client.request("GET", "agentevent/186/more").status_code == 404
    assert client.request("GET", "onlineagent/186/agentstatus", guid=client.guids[186]).status_code == 200
    client.admin("POST", "faults", json={"kind": "garbage", "path": "^agentevent/"})
    assert client.poll(186).headers["Content-Type"].startswith("text/html")
    assert client.agent(186)["polls"] == 6
    assert client.agent(187)["polls"] == 1
    assert client.agent(188)["polls"] == 0
    assert client.admin("GET", "polls").json() == {"outstanding": 0, "total": 9}
    listed = {a["agent_id"]: a["polls"] for a in client.admin("GET", "agents").json()["agents"]}
    assert listed[186] == 6 and listed[187] == 1 and sum(listed.values()) == 7
    assert client.admin("POST", "reset").json() == {"ok": True}
    assert client.agent(186)["polls"] == 0
    assert client.admin("GET", "polls").json() == {"outstanding": 0, "total": 0}


def test_poll_counted_when_it_arrives(client: Client) -> None:
    client.ready(186)
    client.admin("PATCH", "config", json={"poll_hold": 5})
    before = client.agent(186)["polls"]
    result: dict[str, Any] = {}

    def held_poll() -> None:
        result["body"] = client.request("GET", "agentevent/186", guid=client.guids[186]).json()

    poller = threading.Thread(target=held_poll)
    poller.start()
    try:
        wait_outstanding(client, 1)
        assert client.agent(186)["polls"] == before + 1
        assert client.admin("GET", "polls").json()["total"] == before + 1
        client.admin("PATCH", "agents/186", json={"phone_offhook": True})
        client.record(186)
    finally:
        poller.join(timeout=10)
    assert not poller.is_alive()
    assert result["body"]["event"]["eventType"] == "AgentMediaEvent_Record"
    assert client.agent(186)["polls"] == before + 1


def test_poll_rate_of_a_paced_client(client: Client) -> None:
    """The use the counts are for: a client pacing 0.1 s after empty polls on a hold-0 gateway."""
    client.admin("PATCH", "config", json={"poll_hold": 0})
    client.ready(186)
    start = client.agent(186)["polls"]
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        if "event" not in client.poll(186).json():
            time.sleep(0.1)
    polls = client.agent(186)["polls"] - start
    assert 5 <= polls <= 11
