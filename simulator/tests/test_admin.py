"""The /_sim admin API."""

from __future__ import annotations

import json

from conftest import PASSWORD, Client

CONFIG_KEYS = {
    "auth_mode",
    "guid_interval_ms",
    "guid_timeout_ms",
    "selfrecord",
    "mapping_disk",
    "poll_hold",
    "heartbeat_timeout",
    "signin_delay",
    "max_agent_id",
    "answer_shape",
    "record_bytes_per_second",
    "download_enabled",
    "cti_pool",
}


def test_config_get_patch_and_validation(client: Client) -> None:
    config = client.admin("GET", "config").json()
    assert set(config) == CONFIG_KEYS and config["poll_hold"] == 0.1
    patched = client.admin("PATCH", "config", json={"auth_mode": 1, "mapping_disk": "z", "selfrecord": False})
    assert patched.json()["auth_mode"] == 1 and patched.json()["mapping_disk"] == "Z"
    for bad in (
        {"auth_mode": 3},
        {"selfrecord": "yes"},
        {"poll_hold": -1},
        {"nope": 1},
        {"mapping_disk": "YY"},
        {"max_agent_id": 1000000},
        {"max_agent_id": 100},
        {"max_agent_id": "59999"},
        {"record_bytes_per_second": 0},
        {"record_bytes_per_second": 1.5},
        {"record_bytes_per_second": 2**30 + 1},
        {"cti_pool": "yes"},
        {"download_enabled": 1},
    ):
        response = client.admin("PATCH", "config", json=bad)
        assert response.status_code == 400 and response.json()["ok"] is False
    assert client.admin("PATCH", "config", data="[1]").status_code == 400
    assert client.admin("GET", "config").json()["auth_mode"] == 1


def test_mapping_disk_used_in_generated_name(client: Client) -> None:
    client.admin("PATCH", "config", json={"mapping_disk": "Q"})
    client.ready(186)
    client.record(186)
    assert client.agent(186)["recording"]["file_name"].startswith("Q:\\1\\5\\")


def test_reset_restores_startup_config_and_clears(client: Client) -> None:
    client.admin("PATCH", "config", json={"auth_mode": 1})
    client.admin("PATCH", "agents/186", json={"inspector_mode": "insert"})
    client.admin("POST", "faults", json={"kind": "garbage", "path": "nothing"})
    client.ready(187)
    client.record(187)
    client.call("DELETE", "recordplay/187/stoprecord", 187)
    client.call("GET", "recordfile/187", 187, params={"recordId": "Y:/none.V3"})
    client.call("PUT", "recordplay/187/play", 187, json={"voicepath": "Y:/none.V3"})
    client.record(187)
    for path, key in (("recordfiles", "files"), ("downloads", "downloads"), ("playbacks", "playbacks")):
        assert client.admin("GET", path).json()[key], path
    assert client.admin("POST", "reset").json() == {"ok": True}
    config = client.admin("GET", "config").json()
    assert config["auth_mode"] == 2 and config["poll_hold"] == 2.0
    assert client.agent(186)["inspector_mode"] is None
    info = client.agent(187)
    assert info == {
        "agent_id": 187,
        "signed_in": False,
        "state": 2,
        "phone_offhook": False,
        "inspector_mode": None,
        "recording": None,
        "playback": None,
        "pending_events": 0,
        "sign_in_count": 0,
        "last_poll_at": None,
        "polls": 0,
    }
    assert client.admin("GET", "recordings").json() == {"recordings": []}
    assert client.admin("GET", "requests").json() == {"requests": []}
    assert client.admin("GET", "faults").json() == {"faults": []}
    assert client.admin("GET", "recordfiles").json() == {"files": []}
    assert client.admin("GET", "downloads").json() == {"downloads": []}
    assert client.admin("GET", "playbacks").json() == {"playbacks": []}
    response = client.admin("POST", "reset", json={"config": {"auth_mode": 1, "poll_hold": 0.1}})
    assert response.json() == {"ok": True}
    assert client.admin("GET", "config").json()["auth_mode"] == 1
    assert client.admin("POST", "reset", json={"config": {"auth_mode": 5}}).status_code == 400


def test_agent_view_and_patch(client: Client) -> None:
    assert client.admin("GET", "agents/150").status_code == 404
    assert client.admin("GET", "agents/abc").status_code == 404
    assert client.admin("PATCH", "agents/186", json={"inspector_mode": "spy"}).status_code == 400
    assert client.admin("PATCH", "agents/186", json={"phone_offhook": "yes"}).status_code == 400
    assert client.admin("PATCH", "agents/186", json={"other": 1}).status_code == 400
    client.ready(186)
    info = client.agent(186)
    assert info["signed_in"] and info["pending_events"] == 0 and isinstance(info["last_poll_at"], int)
    client.record(186)
    assert client.agent(186)["pending_events"] == 3


def test_recordings_list_in_order(client: Client) -> None:
    for agent in (186, 187, 188):
        client.ready(agent)
        client.record(agent)
    client.call("DELETE", "recordplay/187/stoprecord", 187)
    recordings = client.admin("GET", "recordings").json()["recordings"]
    assert [r["agent_id"] for r in recordings] == [186, 187, 188]
    assert [r["end_reason"] for r in recordings] == [None, "stopped", None]
    assert set(recordings[0]) == {
        "task_id",
        "agent_id",
        "file_name",
        "started_at",
        "ended_at",
        "end_reason",
        "location_id",
        "duration_ms",
        "bytes",
    }
    assert recordings[0]["bytes"] is None and recordings[1]["bytes"] >= 1024


def test_request_log(client: Client) -> None:
    client.ready(186)
    client.record(186, {"mediaType": 5, "fileName": "f.V3"})
    client.call("PUT", "recordplay/186/record", 186, data="x" * 3000, headers={"Content-Type": "text/plain"})
    client.admin("GET", "config")
    entries = client.admin("GET", "requests").json()["requests"]
    assert all("/_sim/" not in e["path"] for e in entries)
    sign_in = entries[0]
    assert sign_in["method"] == "PUT" and sign_in["path"] == "/agentgateway/resource/onlineagent/186"
    assert (
        sign_in["body"]["password"] == "********"
        and sign_in["retcode"] == "0"
        and sign_in["http_status"] == 200
    )
    assert "cookie" not in sign_in["header_names"]
    polls = client.admin("GET", "requests", params={"path_contains": "agentevent"}).json()["requests"]
    assert polls and all("cookie" in e["header_names"] and "guid" in e["header_names"] for e in polls)
    records = client.admin("GET", "requests", params={"path_contains": "/record", "method": "put"}).json()
    first, second = records["requests"]
    assert first["body"] == {"mediaType": 5, "fileName": "f.V3"} and first["retcode"] == "0"
    assert second["body"] == "x" * 1000 and second["retcode"] == "000-002"
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(isinstance(e["time"], int) for e in entries)


def test_no_secret_in_admin_output(client: Client) -> None:
    client.ready(186)
    guid = client.guids[186]
    client.call("PUT", "onlineagent/186/updateGuid", 186)
    client.record(186)
    texts = [
        client.admin("GET", path).text
        for path in (
            "agents/186",
            "agents",
            "recordings",
            "requests",
            "config",
            "faults",
            "polls",
            "recordfiles",
            "downloads",
            "playbacks",
        )
    ]
    for text in texts:
        assert guid not in text and client.guids[186] not in text and PASSWORD not in text
        json.loads(text)


def test_polls_outstanding(client: Client) -> None:
    assert client.admin("GET", "polls").json() == {"outstanding": 0, "total": 0}
