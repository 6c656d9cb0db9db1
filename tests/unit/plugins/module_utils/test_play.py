# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cc_gateway_play's decisions, through the task entry point, against the scripted per-agent HTTP server of
test_manager_decisions (a real server on 127.0.0.1 that answers each agent's requests in order and keeps what it
received). A kept agent is the stand-in keeper's: the store's files as a running keeper leaves them."""

from __future__ import annotations

import json
import math
import time

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import ONE_AGENT_OR_MANY, play_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._play import PlayTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import KeeperReport
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    read_json,
    write_file,
)
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.test_manager_decisions import (
    EMPTY_POLL,
    IDLE,
    PASSWORD,
    PHONE,
    Answer,
    Gateway,
    KeeperStandIn,
    event,
    kept_agent,
    ok,
    record,
    refused,
    report_path,
    signed_in,
    signed_in_agent,
    started,
    validated,
)

VOICE = "Y:/15/0/20201119/186/142702.V3"
PLAY_BODY = {"voicepath": VOICE, "startpostion": 0, "times": 1, "codeformat": 0}
PLAY_OK = ok()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gateway():
    with Gateway() as running:
        yield running


@pytest.fixture
def store(tmp_path):
    store = SessionStore(str(tmp_path / "sessions"))
    store.ensure_directory()
    return store


@pytest.fixture
def keeper(store):
    stand_in = KeeperStandIn(store)
    yield stand_in
    stand_in.close()


def play(gateway, store, check_mode=False, diff=True, **arguments):
    arguments.setdefault("timeout", 2)
    params = validated(
        play_spec(), ONE_AGENT_OR_MANY, gateway_url=gateway.url, session_dir=store.directory, **arguments
    )
    return PlayTask(params, check_mode, diff).run()


def paths(sent):
    return [(method, path) for method, path, _guid in sent]


def keeper_saw_playback(gateway, store, state, at=None, agent_id=186):
    """The stand-in keeper's report on the agent, now saying what the playback events told it."""
    path = report_path(store, gateway.url, agent_id)
    report = read_json(path)
    report["playback"] = {"state": state, "at": int(time.time() * 1000) if at is None else at, "event": "x"}
    write_file(path, json.dumps(report), text=True)


# -- start, pause, resume, stop without a keeper: the gateway's state errors decide


def test_a_start_signs_in_plays_once_and_a_rerun_is_told_it_plays_by_the_state_errors(gateway, store):
    gateway.script(186, signed_in("g-1"), PLAY_OK)
    first = play(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE, voice_path=VOICE)
    bodies = gateway.bodies("recordplay/186/play")
    assert gateway.take() == [("PUT", "onlineagent/186", None), ("PUT", "recordplay/186/play", "g-1")]
    assert bodies == [PLAY_BODY]
    assert first["changed"] is True and first["retcode"] == "0" and first["voice_path"] == VOICE, first
    assert first["ansible_facts"] == {"cc_gateway_play": {"agent_id": 186, "state": "started"}}
    assert first["diff"] == {"before": {"playback": "unknown"}, "after": {"playback": "playing"}}

    gateway.script(186, IDLE, refused("500-007"), refused("500-005"))
    second = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take()) == [
        ("GET", "onlineagent/186/agentstatus"),
        ("PUT", "recordplay/186/play"),
        ("POST", "recordplay/186/resumeplay"),
    ]
    assert not second.get("failed") and second["changed"] is False, second
    assert second["retcode"] == "500-005" and "already playing" in second["message"]


def test_the_play_body_carries_times_start_position_and_location_id(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK)
    result = play(gateway, store, agent_id=186, voice_path=VOICE, times=3, start_position=12, location_id=256)
    assert result["changed"] is True, result
    assert gateway.bodies("recordplay/186/play") == [
        {"voicepath": VOICE, "startpostion": 12, "times": 3, "codeformat": 0, "locationId": 256}
    ]


def test_a_start_refused_500_007_resumes_a_paused_playback(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("500-007"), PLAY_OK)
    result = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take())[1:] == [
        ("PUT", "recordplay/186/play"),
        ("POST", "recordplay/186/resumeplay"),
    ]
    assert result["changed"] is True and "resumed" in result["message"], result


def test_pause_pauses_once_then_500_003_is_unchanged_and_started_resumes_first(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, IDLE, PLAY_OK)
    assert play(gateway, store, agent_id=186, voice_path=VOICE)["changed"] is True
    paused = play(gateway, store, agent_id=186, state="paused")
    assert paths(gateway.take())[-1] == ("POST", "recordplay/186/pauseplay")
    assert paused["changed"] is True and paused["diff"]["after"] == {"playback": "paused"}, paused

    gateway.script(186, IDLE, refused("500-003"))
    again = play(gateway, store, agent_id=186, state="paused")
    assert paths(gateway.take()) == [
        ("GET", "onlineagent/186/agentstatus"),
        ("POST", "recordplay/186/pauseplay"),
    ]
    assert not again.get("failed") and again["changed"] is False and again["retcode"] == "500-003", again

    # This collection paused it last: a start resumes it (no second playback is started).
    gateway.script(186, IDLE, PLAY_OK)
    resumed = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take()) == [
        ("GET", "onlineagent/186/agentstatus"),
        ("POST", "recordplay/186/resumeplay"),
    ]
    assert resumed["changed"] is True and resumed["diff"]["before"] == {"playback": "paused"}, resumed


def test_a_resume_refused_500_005_starts_the_playback_which_ended_meanwhile(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, IDLE, PLAY_OK)
    play(gateway, store, agent_id=186, voice_path=VOICE)
    play(gateway, store, agent_id=186, state="paused")
    gateway.take()
    gateway.script(186, IDLE, refused("500-005"), PLAY_OK)
    result = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take())[1:] == [
        ("POST", "recordplay/186/resumeplay"),
        ("PUT", "recordplay/186/play"),
    ]
    assert result["changed"] is True and result["retcode"] == "0" and "started" in result["message"], result


def test_stop_stops_once_and_a_second_stop_answered_500_009_is_unchanged(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, PLAY_OK)
    play(gateway, store, agent_id=186, voice_path=VOICE)
    stopped = play(gateway, store, agent_id=186, state="stopped")
    assert paths(gateway.take())[-1] == ("DELETE", "recordplay/186/stopplay")
    assert stopped["changed"] is True and stopped["diff"]["after"] == {"playback": "stopped"}, stopped
    assert stopped["voice_path"] is None

    gateway.script(186, refused("500-009"))
    again = play(gateway, store, agent_id=186, state="stopped")
    assert paths(gateway.take()) == [("DELETE", "recordplay/186/stopplay")]
    assert not again.get("failed") and again["changed"] is False and again["retcode"] == "500-009", again


def test_a_stop_without_any_known_session_sends_nothing_and_warns(gateway, store):
    result = play(gateway, store, agent_id=186, state="stopped")
    assert gateway.take() == []
    assert result["changed"] is False and "Pass guid" in result["warnings"][-1], result


def test_a_pause_without_any_known_session_fails_and_sends_nothing(gateway, store):
    result = play(gateway, store, agent_id=186, state="paused")
    assert gateway.take() == []
    assert result["failed"] is True and "no playback to pause" in result["msg"], result


def test_a_start_refused_500_007_while_this_collection_records_fails_and_says_why(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, started("5086"))
    assert record(gateway, store, agent_id=186)["changed"] is True
    gateway.take()
    gateway.script(186, IDLE, refused("500-007"))
    result = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take()) == [("GET", "onlineagent/186/agentstatus"), ("PUT", "recordplay/186/play")]
    assert result["failed"] is True and "500-007" in result["msg"] and "recording" in result["msg"], result


def test_a_kept_agents_500_007_is_a_recording_only_while_the_keeper_saw_one_that_did_not_end(
    gateway, store, keeper
):
    kept_agent(gateway, store, keeper, recording={"task_id": "77", "since": 1})
    gateway.script(186, refused("500-007"))
    recording = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert gateway.take() == [("PUT", "recordplay/186/play", "kept-guid")]
    assert recording["failed"] is True and "is recording" in recording["msg"], recording

    keeper.report(gateway.url, 186, "kept-guid", recording={"task_id": "77", "since": 1}, ended_tasks=["77"])
    gateway.script(186, refused("500-007"), refused("500-005"))
    playing = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert paths(gateway.take()) == [("PUT", "recordplay/186/play"), ("POST", "recordplay/186/resumeplay")]
    assert not playing.get("failed") and playing["changed"] is False, playing


def test_a_start_whose_answer_is_lost_is_not_sent_again(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, Answer(PLAY_OK.body, before=lambda: time.sleep(1.5)))
    result = play(gateway, store, agent_id=186, voice_path=VOICE, timeout=0.5)
    assert result["failed"] is True, result
    time.sleep(1.2)  # the late answer goes out; nothing else may have come
    assert paths(gateway.take()) == [("GET", "onlineagent/186/agentstatus"), ("PUT", "recordplay/186/play")]


def test_a_start_on_a_session_the_gateway_lost_signs_in_again_once(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, refused("100-006"), refused("100-006"), signed_in("g-new"), PLAY_OK)
    result = play(gateway, store, agent_id=186, voice_path=VOICE, password=PASSWORD, phone_number=PHONE)
    assert [guid for method, path, guid in gateway.take() if path.endswith("/play")] == [
        "stored-guid",
        "g-new",
    ]
    assert result["changed"] is True and result["signed_in_again"] is True, result


# -- check mode


def test_check_mode_sends_nothing_and_predicts_from_what_this_collection_did(gateway, store):
    result = play(
        gateway, store, check_mode=True, agent_id=186, password=PASSWORD, phone_number=PHONE, voice_path=VOICE
    )
    assert gateway.take() == []
    assert result["changed"] is True and "would sign in and play" in result["message"], result
    assert store.load(gateway.url, 186) is None

    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK)
    play(gateway, store, agent_id=186, state="paused")
    gateway.take()
    gateway.script(186, IDLE, IDLE, IDLE)
    pause = play(gateway, store, check_mode=True, agent_id=186, state="paused")
    stop = play(gateway, store, check_mode=True, agent_id=186, state="stopped")
    start = play(gateway, store, check_mode=True, agent_id=186, voice_path=VOICE)
    # Only the read-only status queries.
    assert paths(gateway.take()) == [("GET", "onlineagent/186/agentstatus")] * 2
    assert pause["changed"] is False and stop["changed"] is True and start["changed"] is True
    assert "would resume" in start["message"]


# -- a kept agent: the keeper's events decide, nothing is sent when in state


def test_a_kept_agent_in_the_wanted_state_gets_no_request(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    gateway.script(186, PLAY_OK)
    started_now = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert gateway.take() == [("PUT", "recordplay/186/play", "kept-guid")]
    assert started_now["changed"] is True and started_now["diff"]["before"] == {"playback": "stopped"}

    keeper_saw_playback(gateway, store, "playing")
    again = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert gateway.take() == []
    assert again["changed"] is False and "nothing was sent" in again["message"], again

    gateway.script(186, PLAY_OK)
    assert play(gateway, store, agent_id=186, state="paused")["changed"] is True
    assert gateway.take() == [("POST", "recordplay/186/pauseplay", "kept-guid")]
    keeper_saw_playback(gateway, store, "paused")
    assert play(gateway, store, agent_id=186, state="paused")["changed"] is False
    assert gateway.take() == []

    gateway.script(186, PLAY_OK)
    assert play(gateway, store, agent_id=186, state="stopped")["changed"] is True
    assert gateway.take() == [("DELETE", "recordplay/186/stopplay", "kept-guid")]
    keeper_saw_playback(gateway, store, "stopped")
    assert play(gateway, store, agent_id=186, state="stopped")["changed"] is False
    assert gateway.take() == []


def test_a_keeper_lagging_behind_this_collections_pause_does_not_bring_the_playback_back(
    gateway, store, keeper
):
    kept_agent(gateway, store, keeper)
    keeper_saw_playback(gateway, store, "playing", at=int(time.time() * 1000) - 60_000)
    gateway.script(186, PLAY_OK)
    assert play(gateway, store, agent_id=186, state="paused")["changed"] is True
    gateway.take()
    # The keeper has not seen PausePlayDone yet: its older "playing" does not win over the pause.
    result = play(gateway, store, agent_id=186, state="paused")
    assert gateway.take() == []
    assert result["changed"] is False, result


def test_a_kept_agent_whose_events_show_a_playback_stopped_elsewhere_is_started_again(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    gateway.script(186, PLAY_OK)
    play(gateway, store, agent_id=186, voice_path=VOICE)
    gateway.take()
    keeper_saw_playback(gateway, store, "stopped")  # after this collection's start: StopPlayDone
    gateway.script(186, PLAY_OK)
    result = play(gateway, store, agent_id=186, voice_path=VOICE)
    assert gateway.take() == [("PUT", "recordplay/186/play", "kept-guid")]
    assert result["changed"] is True


def test_pausing_a_kept_agent_whose_events_show_no_playback_fails_and_sends_nothing(gateway, store, keeper):
    kept_agent(gateway, store, keeper)
    result = play(gateway, store, agent_id=186, state="paused")
    assert gateway.take() == []
    assert result["failed"] is True and "no playback to pause" in result["msg"], result


def test_waiting_on_a_kept_agent_reads_the_keepers_events(gateway, store, keeper):
    kept_agent(gateway, store, keeper)

    def keeper_sees_success() -> None:
        path = report_path(store, gateway.url, 186)
        report = read_json(path)
        stamp = int(time.time() * 1000) + 50
        report["events"] = [
            {"event_type": "AgentMediaEvent_Play_Succ", "content": None, "received_at": stamp}
        ]
        write_file(path, json.dumps(report), text=True)

    gateway.script(186, Answer(PLAY_OK.body, before=keeper_sees_success))
    result = play(gateway, store, agent_id=186, voice_path=VOICE, wait=True, wait_timeout=3)
    assert gateway.take() == [("PUT", "recordplay/186/play", "kept-guid")]
    assert result["changed"] is True and not result.get("failed"), result


# -- waiting without a keeper: the module polls


def test_waiting_confirms_the_start_with_play_succ(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, event("AgentState_Busy"), event("AgentMediaEvent_Play_Succ"))
    result = play(gateway, store, agent_id=186, voice_path=VOICE, wait=True, wait_timeout=5)
    assert paths(gateway.take())[1:] == [("PUT", "recordplay/186/play")] + [("GET", "agentevent/186")] * 2
    assert result["changed"] is True and not result.get("failed"), result


def test_waiting_fails_on_play_fail_with_its_reason_and_a_rerun_starts_again(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, event("AgentMediaEvent_Play_Fail", cause=2))
    result = play(gateway, store, agent_id=186, voice_path=VOICE, wait=True, wait_timeout=5)
    assert result["failed"] is True and result["changed"] is False, result
    assert "AgentMediaEvent_Play_Fail" in result["msg"] and "cause=2" in result["msg"]
    assert "nothing plays" in result["msg"]
    gateway.take()
    gateway.script(186, IDLE, PLAY_OK)
    assert play(gateway, store, agent_id=186, voice_path=VOICE)["changed"] is True
    assert paths(gateway.take())[-1] == ("PUT", "recordplay/186/play")


def test_waiting_in_vain_fails_naming_wait_timeout(gateway, store):
    signed_in_agent(gateway, store)
    gateway.script(186, IDLE, PLAY_OK, Answer(EMPTY_POLL.body, repeat=True))
    began = time.monotonic()
    result = play(gateway, store, agent_id=186, voice_path=VOICE, wait=True, wait_timeout=0.6)
    assert time.monotonic() - began < 5
    assert result["failed"] is True and "wait_timeout=0.6 s" in result["msg"], result
    assert "AgentMediaEvent_Play_Succ" in result["msg"]
    assert [path for _method, path in paths(gateway.take())].count("recordplay/186/play") == 1


# -- bad input is refused before anything is sent


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({}, "voice_path: is required with state: started"),
        ({"times": 0}, "times: 0 is less than the minimum of 1; voice_path: is required with state: started"),
        ({"voice_path": ""}, "voice_path: '' is empty"),
        ({"voice_path": "Y:/" + "a" * 98}, "more than the maximum of 100"),
        ({"voice_path": "Y:/a\nb.V3"}, "without control characters"),
        ({"voice_path": VOICE, "times": 0}, "times: 0 is less than the minimum of 1"),
        ({"voice_path": VOICE, "start_position": -1}, "start_position: -1 is less than the minimum of 0"),
        ({"voice_path": VOICE, "location_id": -5}, "location_id: -5 is less than the minimum of 0"),
        ({"voice_path": VOICE, "wait_timeout": math.nan}, "wait_timeout: nan is not a finite number"),
        ({"voice_path": VOICE, "wait_timeout": math.inf}, "wait_timeout: inf is not a finite number"),
    ],
)
def test_bad_input_is_refused_naming_the_option_and_nothing_is_sent(gateway, store, arguments, said):
    result = play(gateway, store, agent_id=186, password=PASSWORD, phone_number=PHONE, **arguments)
    assert result["failed"] is True and said in result["msg"], result
    assert gateway.take() == []


def test_a_batch_entrys_bad_voice_path_is_named_by_its_entry_and_nothing_is_sent(gateway, store):
    agents = [
        {"agent_id": 186, "phone_number": "70186"},
        {"agent_id": 187, "phone_number": "70187", "voice_path": ""},
    ]
    result = play(gateway, store, agents=agents, password=PASSWORD, voice_path=VOICE)
    assert result["failed"] is True and "agents[1]: voice_path: '' is empty" in result["msg"], result
    assert gateway.take() == []


# -- batch


def test_a_batch_plays_the_tasks_file_unless_an_entry_names_its_own_and_fails_only_the_failing_agent(
    gateway, store
):
    other = "Y:/1/0/20261125/188/other.V3"
    gateway.script(186, signed_in("g-186"), PLAY_OK)
    gateway.script(187, refused("100-004"))
    gateway.script(188, signed_in("g-188"), PLAY_OK)
    agents = [
        {"agent_id": 186, "phone_number": "70186"},
        {"agent_id": 187, "phone_number": "70187"},
        {"agent_id": 188, "phone_number": "70188", "voice_path": other},
    ]
    result = play(gateway, store, agents=agents, password=PASSWORD, voice_path=VOICE, location_id=7)
    assert gateway.bodies("recordplay/186/play") == [dict(PLAY_BODY, locationId=7)]
    assert gateway.bodies("recordplay/188/play") == [dict(PLAY_BODY, voicepath=other, locationId=7)]
    assert gateway.take(187) == [("PUT", "onlineagent/187", None)]
    assert result["failed"] is True and result["changed"] is True, result
    assert result["msg"].startswith("1 of 3 agents failed: agent 187: 100-004")
    assert result["ansible_facts"] == {
        "cc_gateway_plays": [{"agent_id": 186, "state": "started"}, {"agent_id": 188, "state": "started"}]
    }
    assert [(item["agent_id"], item["changed"], item["failed"]) for item in result["results"]] == [
        (186, True, False),
        (187, False, True),
        (188, True, False),
    ]

    gateway.script(186, refused("500-009"))
    gateway.script(188, PLAY_OK)
    stop = play(gateway, store, agents=[{"agent_id": 186}, {"agent_id": 188}], state="stopped")
    assert stop["changed"] is True and stop["msg"] == "2 agents: 1 changed", stop
    assert [item["retcode"] for item in stop["results"]] == ["500-009", "0"]


# -- the keeper follows the playback from the events


def test_the_keepers_report_follows_the_playback_events():
    report = KeeperReport(agent_id=186)
    steps = [
        ("AgentState_Busy", None),
        ("AgentMediaEvent_Play_Succ", "playing"),
        ("AgentMediaEvent_Play", "playing"),
        ("AgentMediaEvent_PausePlayDone", "paused"),
        ("AgentMediaEvent_ResumePlayDone", "playing"),
        ("AgentMediaEvent_StopPlayDone", "stopped"),
        ("AgentMediaEvent_Play_Succ", "playing"),
        ("AgentMediaEvent_Play_Fail", "stopped"),
    ]
    for stamp, (event_type, state) in enumerate(steps, start=1000):
        report.take_event({"event_type": event_type, "content": None, "received_at": stamp})
        if state is None:
            assert report.playback is None
        else:
            assert report.playback == {"state": state, "at": stamp, "event": event_type}
    assert report.recording is None
    # What the keeper writes, the modules read back; a playback state of nonsense is not taken.
    assert KeeperReport.from_dict(json.loads(report.to_json())).playback == report.playback
    assert KeeperReport.from_dict({"playback": {"state": "dancing", "at": 1}}).playback is None
    assert KeeperReport.from_dict({"playback": {"state": "playing", "at": "soon"}}).playback is None
