"""Sign-in family: sign-in, forcelogin, logout, forcelogout, agentstatus."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PASSWORD, Client

GUID_RE = re.compile(
    r"JSESSIONID=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.AgentGateway0"
)


def test_sign_in_success(client: Client) -> None:
    response = client.request(
        "PUT",
        "onlineagent/186",
        json={
            "password": PASSWORD,
            "phonenum": "70186",
            "status": "4",
            "releasephone": "true",
            "agenttype": "4",
        },
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert GUID_RE.fullmatch(response.headers["Set-GUID"])
    assert "NSLBSTICKY=node0" in response.headers["Set-Cookie"]
    body = response.json()
    assert body["retcode"] == "0" and body["message"] == ""
    result = body["result"]
    assert result["vdnid"] == 1 and result["workno"] == "186" and result["serverName"] == "AgentGateway"
    assert result["loginTime"].isdigit() and abs(int(result["loginTime"]) - time.time() * 1000) < 5000
    assert {"mediatype", "isForceChange", "timeRemaining"} <= set(result)
    guid = response.headers["Set-GUID"].split("=", 1)[1]
    event = client.request("GET", "agentevent/186", guid=guid).json()["event"]
    assert event["eventType"] == "AgentOther_InService" and event["content"] is None
    assert event["workNo"] == "186" and isinstance(event["eventGenTime"], int)
    info = client.agent(186)
    assert info["signed_in"] and info["state"] == 4 and info["sign_in_count"] == 1
    assert info["phone_offhook"] is False


@pytest.mark.parametrize(
    ("status", "extra"),
    [(4, []), ("3", ["AgentState_SetNotReady_Success"]), (5, ["AgentState_Work"])],
)
def test_sign_in_status_events(client: Client, status: object, extra: list[str]) -> None:
    assert client.sign_in(187, status=status).json()["retcode"] == "0"
    events = [e["eventType"] for e in client.drain(187)]
    assert events == ["AgentOther_InService", "AgentState_Ready", *extra]
    assert client.call("GET", "onlineagent/187/agentstatus", 187).json()["result"] == {
        "agentState": int(status),  # type: ignore[call-overload]
        "isWorking": False,
    }


def test_releasephone_false_keeps_phone_offhook(client: Client) -> None:
    client.sign_in(188, releasephone="false")
    assert client.agent(188)["phone_offhook"] is True


@pytest.mark.parametrize(
    ("agent", "body", "retcode"),
    [
        (186, {"password": "wrong", "phonenum": "70186"}, "100-004"),
        (150, {"password": PASSWORD, "phonenum": "70150"}, "100-004"),
        (186, {"password": PASSWORD, "phonenum": "70187"}, "100-013"),
        (186, {"password": PASSWORD}, "100-001"),
        (186, {"phonenum": "70186"}, "100-001"),
        (186, {"password": 1234, "phonenum": "70186"}, "100-001"),
        (186, {"password": PASSWORD, "phonenum": "70186", "status": "busy"}, "100-001"),
        (186, {"password": PASSWORD, "phonenum": "70186", "status": 9}, "100-001"),
        (186, {"password": PASSWORD, "phonenum": "70186", "releasephone": "maybe"}, "100-001"),
        (186, ["not", "an", "object"], "100-001"),
    ],
)
def test_sign_in_errors(client: Client, agent: int, body: object, retcode: str) -> None:
    response = client.request("PUT", f"onlineagent/{agent}", json=body)
    assert response.status_code == 200 and response.json()["retcode"] == retcode
    assert "Set-GUID" not in response.headers
    assert client.agent(186)["signed_in"] is False


def test_sign_in_phonenum_as_int(client: Client) -> None:
    assert client.sign_in(186, phonenum=70186).json()["retcode"] == "0"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"null"])
def test_sign_in_malformed_body(client: Client, raw: bytes) -> None:
    response = client.request(
        "PUT", "onlineagent/186", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.json()["retcode"] == "100-001"
    assert client.sign_in(186).json()["retcode"] == "0"


@pytest.mark.parametrize("agent", ["abc", "100", "60000", "0186", "-186", "18.6", "999999"])
def test_sign_in_bad_agent_id(client: Client, agent: str) -> None:
    response = client.request("PUT", f"onlineagent/{agent}", json={"password": PASSWORD, "phonenum": "70186"})
    assert response.json()["retcode"] == "000-002"


def test_already_signed_in_then_forcelogin(client: Client) -> None:
    client.ready(186)
    old_guid = client.guids[186]
    assert client.record(186).json()["retcode"] == "0"
    assert client.sign_in(186).json()["retcode"] == "100-002"
    assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "0"
    forced = client.sign_in(186, force=True)
    assert forced.json()["retcode"] == "0"
    new_guid = client.guids[186]
    assert new_guid != old_guid
    assert client.call("GET", "onlineagent/186/agentstatus", guid=old_guid).json()["retcode"] == "000-003"
    assert [e["eventType"] for e in client.drain(186)] == ["AgentOther_InService", "AgentState_Ready"]
    recordings = client.admin("GET", "recordings").json()["recordings"]
    assert recordings[0]["end_reason"] == "forced_out"
    info = client.agent(186)
    assert info["recording"] is None and info["sign_in_count"] == 2


def test_forcelogin_when_not_signed_in(client: Client) -> None:
    assert client.sign_in(190, force=True).json()["retcode"] == "0"
    assert client.sign_in(190, force=True, password="x").json()["retcode"] == "100-004"


def test_signin_in_progress(client: Client) -> None:
    client.admin("PATCH", "config", json={"signin_delay": 0.5})
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.sign_in, 186)
        time.sleep(0.15)
        second = pool.submit(client.sign_in, 186, force=True)
        assert second.result().json()["retcode"] == "100-021"
        assert first.result().json()["retcode"] == "0"
    assert client.sign_in(186).json()["retcode"] == "100-002"


def test_logout_wakes_held_poll_with_shutdown(client: Client) -> None:
    client.ready(186)
    client.admin("PATCH", "config", json={"poll_hold": 5})
    assert client.record(186).json()["retcode"] == "0"
    client.call("GET", "agentevent/186", 186)  # PhoneAlerting
    client.call("GET", "agentevent/186", 186)  # PhoneOffhook
    client.call("GET", "agentevent/186", 186)  # Record
    result: dict[str, object] = {}

    def hold() -> None:
        result["poll"] = client.call("GET", "agentevent/186", guid=client.guids[186]).json()

    thread = threading.Thread(target=hold)
    thread.start()
    deadline = time.monotonic() + 5
    while client.admin("GET", "polls").json()["outstanding"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    response = client.call("DELETE", "onlineagent/186/logout", 186)
    assert response.json() == {"message": "", "retcode": "0", "result": None}
    thread.join(5)
    event = result["poll"]["event"]  # type: ignore[index]
    assert event["eventType"] == "AgentOther_ShutdownService"
    login_time = event["content"]["loginTime"]
    assert isinstance(login_time, int)
    assert client.poll(186).json()["retcode"] == "100-006"
    assert client.call("DELETE", "onlineagent/186/logout", 186).json()["retcode"] == "100-006"
    assert client.admin("GET", "recordings").json()["recordings"][0]["end_reason"] == "signed_out"
    assert client.agent(186)["state"] == 2


def test_forcelogout(client: Client) -> None:
    client.ready(186)
    client.record(186)
    assert client.call("DELETE", "onlineagent/186/forcelogout", 186).json()["retcode"] == "0"
    info = client.agent(186)
    assert not info["signed_in"] and info["pending_events"] >= 1
    assert client.admin("GET", "recordings").json()["recordings"][0]["end_reason"] == "forced_out"
    assert client.sign_in(186).json()["retcode"] == "0"
