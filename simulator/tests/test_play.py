"""Playback: recordplay/{id}/play, pauseplay, resumeplay, forefast, backfast, stopplay, over real HTTP(S)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Client

VOICE = "Y:/1/0/20250101/186/voice.V3"
PLAY_OK = {"result": {}, "message": "success", "retcode": "0"}
RINGING = ["AgentOther_PhoneAlerting", "AgentOther_PhoneOffhook"]
STARTED = ["AgentMediaEvent_Play_Succ", "AgentMediaEvent_Play"]
FAILED = [
    "AgentOther_PhoneRelease",
    "AgentState_Ready",
    "AgentMediaEvent_Play_Fail",
    "AgentMediaEvent_StopPlayDone",
]
STOPPED = ["AgentOther_PhoneRelease", "AgentState_Ready", "AgentMediaEvent_StopPlayDone"]


def voice_file(client: Client, name: str = VOICE, **spec: Any) -> None:
    response = client.admin("POST", "recordfiles", json={"file_name": name, "size": 4000, **spec})
    assert response.status_code == 200, response.text


def play(client: Client, agent: int = 186, **body: Any) -> dict[str, Any]:
    body.setdefault("voicepath", VOICE)
    return client.call("PUT", f"recordplay/{agent}/play", agent, json=body).json()


def op(client: Client, method: str, operation: str, agent: int = 186) -> str:
    return client.call(method, f"recordplay/{agent}/{operation}", agent).json()["retcode"]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["eventType"] for event in events]


def agent_state(client: Client, agent: int = 186) -> int:
    return client.call("GET", f"onlineagent/{agent}/agentstatus", agent).json()["result"]["agentState"]


def playbacks(client: Client) -> list[dict[str, Any]]:
    return client.admin("GET", "playbacks").json()["playbacks"]


def test_play_rings_the_phone_then_plays_and_stop_hangs_up(client: Client) -> None:
    voice_file(client)
    client.ready(186)
    response = client.call("PUT", "recordplay/186/play", 186, json={"voicepath": VOICE, "startpostion": 3})
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert list(response.json().items()) == list(PLAY_OK.items())
    events = client.drain(186)
    assert types(events) == ["AgentState_Busy", *RINGING, *STARTED]
    assert events[2]["content"] == {"type": "main"}
    assert all(event["content"] is None for i, event in enumerate(events) if i != 2)
    assert agent_state(client) == 3
    info = client.agent(186)
    assert info["phone_offhook"] is True and info["state"] == 3
    assert info["playback"] == {
        "voicepath": VOICE,
        "state": "playing",
        "start_position": 3,
        "started_at": info["playback"]["started_at"],
    }
    assert client.call("DELETE", "recordplay/186/stopplay", 186).json() == PLAY_OK
    events = client.drain(186)
    assert types(events) == STOPPED and events[-1]["content"] == {"cause": 1}
    info = client.agent(186)
    assert info["playback"] is None and info["phone_offhook"] is False and agent_state(client) == 4
    (listed,) = playbacks(client)
    assert listed["state"] == "ended" and listed["end_reason"] == "stopped" and listed["fail_reason"] is None
    assert listed["ended_at"] >= listed["started_at"] and listed["agent_id"] == 186


def test_phone_already_offhook_is_not_rung_nor_released(client: Client) -> None:
    voice_file(client)
    client.ready(186)
    client.admin("PATCH", "agents/186", json={"phone_offhook": True})
    assert play(client) == PLAY_OK
    assert types(client.drain(186)) == ["AgentState_Busy", *STARTED]
    assert op(client, "DELETE", "stopplay") == "0"
    assert types(client.drain(186)) == ["AgentState_Ready", "AgentMediaEvent_StopPlayDone"]
    assert client.agent(186)["phone_offhook"] is True


def test_a_stopped_recording_can_be_played(client: Client) -> None:
    client.ready(186)
    assert client.record(186).json()["retcode"] == "0"
    name = client.drain(186)[-1]["content"]["fileName"]
    assert play(client, voicepath=name)["retcode"] == "500-007"  # still recording
    assert op(client, "DELETE", "stoprecord") == "0"
    client.drain(186)
    assert play(client, voicepath=name.replace("\\", "/"), locationId=256) == PLAY_OK
    assert types(client.drain(186)) == ["AgentState_Busy", *STARTED]  # the recording left the phone off-hook


@pytest.mark.parametrize("why", ["unknown", "fault", "being_written"])
def test_play_failure_events(client: Client, why: str) -> None:
    voice_file(client)
    client.ready(186)
    voicepath = VOICE
    if why == "unknown":
        voicepath = "Y:/1/0/20250101/186/none.V3"
    elif why == "fault":
        client.admin("POST", "faults", json={"kind": "play_fail", "path": "^recordplay/186/play$"})
    else:
        client.ready(187)
        assert (
            client.record(187, {"mediaType": 5, "fileName": VOICE, "recordMode": 1}).json()["retcode"] == "0"
        )
    assert play(client, voicepath=voicepath) == PLAY_OK  # accepted; the events tell the failure
    events = client.drain(186)
    assert types(events) == ["AgentState_Busy", *RINGING, *FAILED]
    assert events[-1]["content"] == {"cause": 2} and events[-2]["content"] is None
    info = client.agent(186)
    assert info["playback"] is None and info["phone_offhook"] is False and agent_state(client) == 4
    (listed,) = playbacks(client)
    assert listed["end_reason"] == "failed"
    assert (
        listed["fail_reason"]
        == {
            "unknown": "no such voice file",
            "fault": "play_fail fault",
            "being_written": "file still being written",
        }[why]
    )
    assert op(client, "DELETE", "stopplay") == "500-009"
    assert client.admin("GET", "faults").json() == {"faults": []}


def test_play_fail_fault_not_consumed_by_a_rejected_play(client: Client) -> None:
    voice_file(client)
    client.ready(186)
    client.admin("POST", "faults", json={"kind": "play_fail"})
    assert play(client, voicepath="")["retcode"] == "000-002"
    assert client.admin("GET", "faults").json()["faults"][0]["remaining"] == 1
    assert play(client) == PLAY_OK
    assert types(client.drain(186))[-1] == "AgentMediaEvent_StopPlayDone"
    assert play(client) == PLAY_OK
    assert types(client.drain(186))[-1] == "AgentMediaEvent_Play"


def test_cti_pool_plays_only_from_the_files_location(client: Client) -> None:
    voice_file(client, location_id="300")
    client.admin("PATCH", "config", json={"cti_pool": True})
    client.ready(186)
    play(client, locationId=256)
    assert types(client.drain(186))[-2:] == ["AgentMediaEvent_Play_Fail", "AgentMediaEvent_StopPlayDone"]
    assert playbacks(client)[0]["fail_reason"] == "file not at this locationId"
    play(client, locationId="300")
    assert types(client.drain(186))[-1] == "AgentMediaEvent_Play"
    assert playbacks(client)[1]["location_id"] == 300


def test_pause_resume_transitions_and_state_errors(client: Client) -> None:
    voice_file(client)
    client.ready(186)
    assert op(client, "POST", "pauseplay") == "500-003"
    assert op(client, "POST", "resumeplay") == "500-005"
    play(client)
    client.drain(186)
    assert op(client, "POST", "resumeplay") == "500-005"
    assert client.call("POST", "recordplay/186/pauseplay", 186).json() == PLAY_OK
    assert client.agent(186)["playback"]["state"] == "paused"
    assert op(client, "POST", "pauseplay") == "500-003"
    assert client.call("POST", "recordplay/186/resumeplay", 186).json() == PLAY_OK
    assert client.agent(186)["playback"]["state"] == "playing"
    assert op(client, "POST", "resumeplay") == "500-005"
    assert op(client, "POST", "pauseplay") == "0"
    assert op(client, "DELETE", "stopplay") == "0"  # a paused playback stops too
    events = client.drain(186)
    assert types(events) == [
        "AgentMediaEvent_PausePlayDone",
        "AgentMediaEvent_ResumePlayDone",
        "AgentMediaEvent_PausePlayDone",
        *STOPPED,
    ]
    assert all(event["content"] is None for event in events[:3])
    (listed,) = playbacks(client)
    assert listed["pauses"] == 2 and listed["resumes"] == 1 and listed["state"] == "ended"
    assert op(client, "POST", "pauseplay") == "500-003"
    assert op(client, "POST", "resumeplay") == "500-005"


def test_start_and_stop_state_errors(client: Client) -> None:
    voice_file(client)
    client.ready(186)
    assert op(client, "DELETE", "stopplay") == "500-009"
    play(client)
    assert play(client)["retcode"] == "500-007"
    assert client.record(186).json()["retcode"] == "500-008"
    op(client, "POST", "pauseplay")
    assert play(client)["retcode"] == "500-007"
    assert op(client, "DELETE", "stopplay") == "0"
    assert op(client, "DELETE", "stopplay") == "500-009"
    assert client.record(186).json()["retcode"] == "0"
    assert play(client)["retcode"] == "500-007"
    assert len(playbacks(client)) == 1


@pytest.mark.parametrize(("operation", "state_error"), [("forefast", "500-002"), ("backfast", "500-001")])
def test_jumps(client: Client, operation: str, state_error: str) -> None:
    voice_file(client)
    client.ready(186)
    assert op(client, "POST", f"{operation}/10") == state_error
    play(client)
    client.drain(186)
    for bad in ("abc", "-1", "2147483648", "1.5"):
        assert op(client, "POST", f"{operation}/{bad}") == "000-002", bad
    assert client.call("POST", f"recordplay/186/{operation}/2147483647", 186).json() == PLAY_OK
    op(client, "POST", "pauseplay")
    assert op(client, "POST", f"{operation}/0") == "0"
    events = client.drain(186)
    assert types(events) == [
        "AgentMediaEvent_JumpPlayDone",
        "AgentMediaEvent_PausePlayDone",
        "AgentMediaEvent_JumpPlayDone",
    ]
    assert playbacks(client)[0]["jumps"] == 2
    assert client.request("POST", f"recordplay/186/{operation}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"voicepath": ""},
        {"voicepath": "x" * 101},
        {"voicepath": 3},
        {"voicepath": VOICE, "startpostion": -1},
        {"voicepath": VOICE, "startpostion": "x"},
        {"voicepath": VOICE, "codeformat": 1},
        {"voicepath": VOICE, "locationId": "abc"},
        [VOICE],
    ],
)
def test_play_invalid_body(client: Client, body: Any) -> None:
    client.ready(186)
    assert client.call("PUT", "recordplay/186/play", 186, json=body).json()["retcode"] == "000-002"
    assert client.agent(186)["playback"] is None and playbacks(client) == []
    assert client.drain(186) == []


def test_play_body_tolerances(client: Client) -> None:
    name = "Y:/" + "v" * 97
    voice_file(client, name)
    client.ready(186)
    body = {"voicepath": name, "startpostion": "10", "times": 5, "codeformat": "0", "locationId": "256"}
    assert play(client, **body) == PLAY_OK
    (listed,) = playbacks(client)
    assert listed["start_position"] == 10 and listed["times"] == 1 and listed["location_id"] == 256
    (entry,) = client.admin("GET", "requests", params={"path_contains": "/play"}).json()["requests"]
    assert entry["body"] == body and entry["retcode"] == "0"


@pytest.mark.parametrize("ending", ["logout", "forcelogout"])
def test_sign_out_ends_the_playback(client: Client, ending: str) -> None:
    voice_file(client)
    client.ready(186)
    play(client)
    client.drain(186)
    assert client.call("DELETE", f"onlineagent/186/{ending}", 186).json()["retcode"] == "0"
    reason = "signed_out" if ending == "logout" else "forced_out"
    assert playbacks(client)[0]["end_reason"] == reason
    client.ready(186)
    assert client.agent(186)["playback"] is None
    assert play(client) == PLAY_OK
