"""GUID checks, updateGuid, dynamic rotation, static mode, heartbeat expiry."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Client


def test_guid_rules(client: Client) -> None:
    assert client.call("GET", "onlineagent/186/agentstatus", guid="whatever").json()["retcode"] == "100-006"
    assert client.call("GET", "onlineagent/150/agentstatus", guid="x").json()["retcode"] == "100-006"
    client.ready(186)
    guid = client.guids[186]
    assert client.request("GET", "onlineagent/186/agentstatus").json()["retcode"] == "000-003"
    assert client.request("GET", "onlineagent/186/agentstatus", guid="bad").json()["retcode"] == "000-003"
    client.ready(187)
    other = client.guids[187]
    assert client.request("GET", "onlineagent/186/agentstatus", guid=other).json()["retcode"] == "000-003"
    for name in ("Guid", "guid", "GUID", "gUiD"):
        response = client.request("GET", "onlineagent/186/agentstatus", headers={name: guid})
        assert response.json()["retcode"] == "0", name


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "onlineagent/{}/logout"),
        ("DELETE", "onlineagent/{}/forcelogout"),
        ("PUT", "onlineagent/{}/updateGuid"),
        ("GET", "onlineagent/{}/agentstatus"),
        ("GET", "agentevent/{}"),
        ("PUT", "recordplay/{}/record"),
        ("DELETE", "recordplay/{}/stoprecord"),
        ("POST", "recordplay/{}/pauserecord"),
        ("POST", "recordplay/{}/resumerecord"),
        ("PUT", "recordplay/{}/play"),
        ("POST", "recordplay/{}/pauseplay"),
        ("POST", "recordplay/{}/resumeplay"),
        ("POST", "recordplay/{}/forefast/10"),
        ("POST", "recordplay/{}/backfast/10"),
        ("DELETE", "recordplay/{}/stopplay"),
        ("GET", "recordfile/{}?recordId=Y:/1/0/20181217/120/1524488.V3&filetype=1&locationId=256"),
    ],
)
def test_every_route_checks_agent_id_and_guid(client: Client, method: str, path: str) -> None:
    for bad in ("abc", "99", "60000"):
        assert client.request(method, path.format(bad), json={}).json()["retcode"] == "000-002"
    assert client.request(method, path.format(186), json={}).json()["retcode"] == "100-006"
    client.ready(186)
    assert client.request(method, path.format(186), guid="stale", json={}).json()["retcode"] == "000-003"


def test_update_guid_old_valid_until_timeout(client: Client) -> None:
    client.admin("PATCH", "config", json={"guid_timeout_ms": 600})
    client.ready(186)
    old = client.guids[186]
    response = client.call("PUT", "onlineagent/186/updateGuid", 186)
    body = response.json()
    new = body["result"]["guid"]
    assert body["retcode"] == "0" and new != old and response.headers["Set-GUID"] == f"JSESSIONID={new}"
    status = client.request("GET", "onlineagent/186/agentstatus", guid=old)
    assert status.json()["retcode"] == "0"
    assert status.headers["Set-GUID"] == f"JSESSIONID={new}"
    time.sleep(0.7)
    assert client.request("GET", "onlineagent/186/agentstatus", guid=old).json()["retcode"] == "000-003"
    assert client.request("GET", "onlineagent/186/agentstatus", guid=new).json()["retcode"] == "0"


def test_dynamic_rotation_on_poll(client: Client) -> None:
    client.admin("PATCH", "config", json={"guid_interval_ms": 300, "guid_timeout_ms": 600, "poll_hold": 0.05})
    client.ready(186)
    first = client.guids[186]
    assert "Set-GUID" not in client.poll(186).headers
    assert "Set-GUID" not in client.call("GET", "onlineagent/186/agentstatus", 186).headers
    time.sleep(0.35)
    assert "Set-GUID" not in client.call("GET", "onlineagent/186/agentstatus", 186).headers
    rotated = client.request("GET", "agentevent/186", guid=first)
    second = rotated.headers["Set-GUID"].split("=", 1)[1]
    assert second != first and second.endswith(".AgentGateway0")
    assert (
        client.request("PUT", "recordplay/186/record", guid=first, json={"mediaType": 5}).json()["retcode"]
        == "0"
    )
    assert client.request("GET", "onlineagent/186/agentstatus", guid=second).json()["retcode"] == "0"
    time.sleep(0.35)
    third = client.request("GET", "agentevent/186", guid=second).headers["Set-GUID"].split("=", 1)[1]
    assert client.request("GET", "onlineagent/186/agentstatus", guid=first).json()["retcode"] == "000-003"
    assert client.request("GET", "onlineagent/186/agentstatus", guid=second).json()["retcode"] == "0"
    assert client.request("GET", "onlineagent/186/agentstatus", guid=third).json()["retcode"] == "0"
    time.sleep(0.65)
    assert client.request("GET", "onlineagent/186/agentstatus", guid=second).json()["retcode"] == "000-003"
    assert client.request("GET", "onlineagent/186/agentstatus", guid=third).json()["retcode"] == "0"


def test_static_mode_never_rotates(client: Client) -> None:
    client.admin("PATCH", "config", json={"auth_mode": 1, "guid_interval_ms": 100, "poll_hold": 0.05})
    client.ready(186)
    guid = client.guids[186]
    time.sleep(0.15)
    for _ in range(3):
        response = client.poll(186)
        assert "Set-GUID" not in response.headers and response.json()["retcode"] == "0"
    assert client.guids[186] == guid


def test_heartbeat_expiry(client: Client) -> None:
    client.admin("PATCH", "config", json={"heartbeat_timeout": 1.0, "poll_hold": 0.1})
    client.ready(186)
    client.ready(187)
    assert client.record(186).json()["retcode"] == "0"
    stop = threading.Event()

    def keep_polling() -> None:
        while not stop.is_set():
            client.call("GET", "agentevent/187", guid=client.guids[187])
            time.sleep(0.2)

    poller = threading.Thread(target=keep_polling)
    poller.start()
    try:
        time.sleep(1.6)
        info = client.agent(186)
        assert info["signed_in"] is False and info["recording"] is None
        assert client.agent(187)["signed_in"] is True
        assert client.agent(187)["last_poll_at"] is not None
    finally:
        stop.set()
        poller.join()
    assert client.poll(186).json()["retcode"] == "100-006"
    recording = client.admin("GET", "recordings").json()["recordings"][0]
    assert recording["end_reason"] == "session_expired" and recording["ended_at"] >= recording["started_at"]
    assert info["pending_events"] >= 1
    assert client.sign_in(186).json()["retcode"] == "0"


def test_held_poll_keeps_agent_alive(client: Client) -> None:
    client.admin("PATCH", "config", json={"heartbeat_timeout": 0.5, "poll_hold": 1.0})
    client.ready(186)
    client.admin("PATCH", "config", json={"poll_hold": 1.0})
    assert client.poll(186).json() == {"message": "", "retcode": "0"}
    assert client.agent(186)["signed_in"] is True


def test_max_agent_id_patched_and_reset(client: Client) -> None:
    assert client.admin("GET", "config").json()["max_agent_id"] == 59999
    assert client.request("GET", "onlineagent/59999/agentstatus", guid="x").json()["retcode"] == "100-006"
    assert client.request("GET", "onlineagent/60000/agentstatus", guid="x").json()["retcode"] == "000-002"
    client.ready(186)
    assert client.admin("PATCH", "config", json={"max_agent_id": 185}).json()["max_agent_id"] == 185
    # Above the maximum: what any out-of-range id gets, on every route, sign-in included.
    assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "000-002"
    assert client.sign_in(186).json()["retcode"] == "000-002"
    assert client.admin("PATCH", "config", json={"max_agent_id": 999999}).json()["max_agent_id"] == 999999
    assert client.request("GET", "onlineagent/999999/agentstatus", guid="x").json()["retcode"] == "100-006"
    assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "0"
    client.admin("POST", "reset")
    assert client.admin("GET", "config").json()["max_agent_id"] == 59999
