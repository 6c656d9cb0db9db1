"""recordplay family: record, stoprecord, pauserecord/resumerecord (playback: test_play.py)."""

from __future__ import annotations

import re
import time

import pytest
from conftest import Client

GENERATED = re.compile(r"Y:\\1\\5\\\d{8}\\186\\\d{9}\.V3")


def test_record_success_and_events(client: Client) -> None:
    client.ready(186)
    before = time.time() * 1000
    response = client.record(186, {"mediaType": 5, "recordMode": 0, "recordFormat": 0})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert list(body) == ["result", "message", "retcode"]
    assert body["message"] == "success" and body["retcode"] == "0"
    task_id = body["result"]["taskId"]
    assert isinstance(task_id, str) and task_id.isdigit()
    events = client.drain(186)
    assert [e["eventType"] for e in events] == [
        "AgentOther_PhoneAlerting",
        "AgentOther_PhoneOffhook",
        "AgentMediaEvent_Record",
    ]
    assert events[0]["content"] is None and events[1]["content"] == {"type": "main"}
    content = events[2]["content"]
    assert content["taskId"] == int(task_id)
    assert content["caller"] == "70186" and content["locationId"] == "256" and content["fileMediaType"] == "1"
    assert GENERATED.fullmatch(content["fileName"]), content["fileName"]
    assert {"called", "recordID", "callId"} <= set(content)
    info = client.agent(186)
    assert info["phone_offhook"] is True
    recording = info["recording"]
    assert recording["task_id"] == task_id and recording["paused"] is False
    assert recording["record_mode"] == 0 and recording["record_format"] == 0
    assert recording["file_name"] == content["fileName"] and recording["started_at"] >= before - 1


def test_record_phone_already_offhook_and_given_file(client: Client) -> None:
    client.ready(186)
    client.admin("PATCH", "agents/186", json={"phone_offhook": True})
    name = "Y:/15/0/20201119/186/142702.V3"
    assert client.record(186, {"mediaType": 5, "fileName": name, "recordMode": 1}).json()["retcode"] == "0"
    events = client.drain(186)
    assert [e["eventType"] for e in events] == ["AgentMediaEvent_Record"]
    assert events[0]["content"]["fileName"] == name
    assert client.agent(186)["recording"]["record_mode"] == 1


def test_record_mode_other_values_mean_zero(client: Client) -> None:
    client.ready(186)
    assert client.record(186, {"mediaType": 5, "recordMode": 7, "fileName": ""}).json()["retcode"] == "0"
    recording = client.agent(186)["recording"]
    assert recording["record_mode"] == 0 and GENERATED.fullmatch(recording["file_name"])


def test_record_file_name_100_chars_ok(client: Client) -> None:
    client.ready(186)
    assert client.record(186, {"mediaType": 5, "fileName": "a" * 100}).json()["retcode"] == "0"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mediaType": "5"},
        {"mediaType": 4},
        {"mediaType": True},
        {"mediaType": 5.0},
        {"mediaType": 5, "fileName": "a" * 101},
        {"mediaType": 5, "fileName": 12},
        {"mediaType": 5, "recordFormat": 4},
        {"mediaType": 5, "recordFormat": -1},
        {"mediaType": 5, "recordFormat": "1"},
        [5],
        "5",
    ],
)
def test_record_invalid_body(client: Client, body: object) -> None:
    client.ready(186)
    assert client.record(186, body).json()["retcode"] == "000-002"
    assert client.agent(186)["recording"] is None


@pytest.mark.parametrize("raw", [b"", b"{", b"mediaType=5", b"\x00\xff"])
def test_record_malformed_body(client: Client, raw: bytes) -> None:
    client.ready(186)
    response = client.call(
        "PUT", "recordplay/186/record", 186, data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.json()["retcode"] == "000-002"
    assert client.record(186).json()["retcode"] == "0"


def test_record_selfrecord_disabled_checked_before_body(client: Client) -> None:
    client.ready(186)
    client.admin("PATCH", "config", json={"selfrecord": False})
    assert client.record(186, {"mediaType": 99}).json()["retcode"] == "000-003"
    assert client.record(186).json()["retcode"] == "000-003"


@pytest.mark.parametrize("mode", ["insert", "listen", "whisper"])
def test_record_inspector_mode(client: Client, mode: str) -> None:
    client.ready(186)
    assert client.admin("PATCH", "agents/186", json={"inspector_mode": mode}).json()["inspector_mode"] == mode
    assert client.record(186).json()["retcode"] == "500-008"
    client.admin("PATCH", "agents/186", json={"inspector_mode": None})
    assert client.record(186).json()["retcode"] == "0"


def test_record_twice_and_task_ids(client: Client) -> None:
    client.ready(186)
    client.ready(187)
    first = client.record(186).json()["result"]["taskId"]
    assert client.record(186).json()["retcode"] == "500-011"
    second = client.record(187).json()["result"]["taskId"]
    assert int(second) == int(first) + 1
    client.admin("POST", "reset")
    client.ready(186)
    third = client.record(186).json()["result"]["taskId"]
    assert int(third) > int(second)


def test_stop_record(client: Client) -> None:
    client.ready(186)
    assert client.call("DELETE", "recordplay/186/stoprecord", 186).json()["retcode"] == "100-007"
    task_id = client.record(186, {"mediaType": 5, "recordFormat": 3}).json()["result"]["taskId"]
    started = client.drain(186)[-1]["content"]
    response = client.call("DELETE", "recordplay/186/stoprecord", 186).json()
    assert response["retcode"] == "0"
    events = client.drain(186)
    assert [e["eventType"] for e in events] == ["AgentMediaEvent_StopRecordDone"]
    content = events[0]["content"]
    assert (
        content["taskId"] == int(task_id)
        and content["recordFormat"] == "3"
        and content["fileMediaType"] == "1"
    )
    assert content["endTime"] >= content["beginTime"]
    assert content["callId"] == started["callId"]
    assert set(content) == {"beginTime", "endTime", "fileMediaType", "recordFormat", "taskId", "callId"}
    assert client.agent(186)["recording"] is None
    recording = client.admin("GET", "recordings").json()["recordings"][0]
    assert recording["end_reason"] == "stopped" and recording["ended_at"] == content["endTime"]
    assert client.call("DELETE", "recordplay/186/stoprecord", 186).json()["retcode"] == "100-007"
    assert client.record(186).json()["retcode"] == "0"
    assert [e["eventType"] for e in client.drain(186)] == ["AgentMediaEvent_Record"]


def test_pause_resume(client: Client) -> None:
    client.ready(186)
    assert client.call("POST", "recordplay/186/pauserecord", 186).json()["retcode"] == "500-004"
    assert client.call("POST", "recordplay/186/resumerecord", 186).json()["retcode"] == "500-006"
    client.record(186)
    client.drain(186)
    assert client.call("POST", "recordplay/186/resumerecord", 186).json()["retcode"] == "500-006"
    assert client.call("POST", "recordplay/186/pauserecord", 186).json()["retcode"] == "0"
    assert client.agent(186)["recording"]["paused"] is True
    assert client.call("POST", "recordplay/186/pauserecord", 186).json()["retcode"] == "500-004"
    assert client.call("POST", "recordplay/186/resumerecord", 186).json()["retcode"] == "0"
    assert client.agent(186)["recording"]["paused"] is False
    assert client.drain(186) == []


def test_unknown_path_and_method(client: Client) -> None:
    assert client.request("GET", "nothing/here").status_code == 404
    assert client.request("PUT", "recordplay/186/recordx", json={}).status_code == 404
    assert client.request("GET", "recordplay/186").status_code == 404
    assert client.http.get(client.sim.url + "/other", timeout=5).status_code == 404
    response = client.request("GET", "recordplay/186/record")
    assert response.status_code == 405 and "PUT" in response.headers["Allow"]


def test_two_concurrent_polls_share_events(client: Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client.ready(186)
    client.admin("PATCH", "config", json={"poll_hold": 1.5})
    guid = client.guids[186]
    with ThreadPoolExecutor(2) as pool:
        polls = [pool.submit(client.request, "GET", "agentevent/186", guid) for _ in range(2)]
        deadline = time.monotonic() + 5
        while client.admin("GET", "polls").json()["outstanding"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.admin("GET", "polls").json()["outstanding"] == 2
        client.admin("PATCH", "agents/186", json={"phone_offhook": True})
        client.record(186)
        results = [p.result().json().get("event") for p in polls]
    assert sorted(str(e and e["eventType"]) for e in results) == ["AgentMediaEvent_Record", "None"]
    assert client.admin("GET", "polls").json()["outstanding"] == 0
