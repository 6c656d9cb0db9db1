"""Recording files and `GET recordfile/{agentid}` (the recording download), over real HTTP(S)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from conftest import Client, RawConnection

FILE_MIN = 1024
RATES = {0: 8000, 1: 3000, 2: 4000, 3: 8000}
JSON_TYPE = "application/json;charset=UTF-8"
FILE_TYPE = "application/octet-stream;charset=utf-8"
MIB = 1024 * 1024


def pattern(seed: int, size: int) -> bytes:
    """A part of a file as the README gives it: byte i is (seed + i) % 251."""
    offset = seed % 251
    return (bytes(range(251)) * (size // 251 + 2))[offset : offset + size]


def rebuilt(view: dict[str, Any]) -> bytes:
    return b"".join(pattern(part["seed"], part["size"]) for part in view["parts"])


def record(client: Client, agent: int, **body: Any) -> dict[str, Any]:
    """Start a recording; the content of its AgentMediaEvent_Record."""
    response = client.record(agent, {"mediaType": 5, **body}).json()
    assert response["retcode"] == "0", response
    events = client.drain(agent)
    assert events[-1]["eventType"] == "AgentMediaEvent_Record"
    return events[-1]["content"]


def stop(client: Client, agent: int) -> None:
    assert client.call("DELETE", f"recordplay/{agent}/stoprecord", agent).json()["retcode"] == "0"


def download(client: Client, agent: int, record_id: str | None, guid: str | None = None, **query: Any) -> Any:
    """GET recordfile/{agent} with filetype 1 and locationId 256 unless `query` says otherwise (None: left
    out), with the agent's GUID unless `guid` is given."""
    params = {"recordId": record_id, "filetype": 1, "locationId": 256, **query}
    params = {key: value for key, value in params.items() if value is not None}
    if guid is not None:
        return client.request("GET", f"recordfile/{agent}", guid=guid, params=params)
    return client.call("GET", f"recordfile/{agent}", agent, params=params)


def files(client: Client, **query: Any) -> list[dict[str, Any]]:
    return client.admin("GET", "recordfiles", params=query).json()["files"]


def downloads(client: Client) -> list[dict[str, Any]]:
    return client.admin("GET", "downloads").json()["downloads"]


def assert_failure(response: Any, retcode: str) -> None:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    assert response.json() == {"message": response.json()["message"], "retcode": retcode, "result": None}


def test_file_appears_only_after_stop_and_downloads_whole(client: Client) -> None:
    client.ready(186)
    started = record(client, 186, recordFormat=3)
    name = started["fileName"]
    assert files(client) == []
    assert_failure(download(client, 186, name, locationId=started["locationId"]), "104-005")
    time.sleep(0.3)
    stop(client, 186)
    (view,) = files(client)
    recording = client.admin("GET", "recordings").json()["recordings"][0]
    assert (
        view["file_name"] == name and view["filetype"] == 1 and view["location_id"] == started["locationId"]
    )
    assert view["agent_id"] == 186 and view["record_format"] == 3
    assert view["parts"] == [
        {"task_id": str(started["taskId"]), "seed": started["taskId"], "size": view["size"]}
    ]
    assert view["duration_ms"] == recording["duration_ms"] >= 250
    assert view["size"] == recording["bytes"] == max(FILE_MIN, view["duration_ms"] * 8000 // 1000)
    response = download(client, 186, name, locationId=started["locationId"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FILE_TYPE
    assert int(response.headers["Content-Length"]) == view["size"]
    assert response.content == rebuilt(view)
    assert hashlib.sha256(response.content).hexdigest() == view["sha256"]
    first, second = downloads(client)
    assert first["retcode"] == "104-005" and first["size"] is None and first["sent"] == 0
    assert first["complete"] is False and first["file_name"] is None
    assert second == {
        "seq": second["seq"],
        "time": second["time"],
        "agent_id": 186,
        "record_id": name,
        "filetype": "1",
        "location_id": "256",
        "http_status": 200,
        "retcode": None,
        "fault": None,
        "file_name": name,
        "size": view["size"],
        "sent": view["size"],
        "complete": True,
        "sha256": view["sha256"],
    }
    (entry,) = client.admin("GET", "requests", params={"path_contains": "recordfile"}).json()["requests"][1:]
    assert entry["query"] == {"recordId": name, "filetype": "1", "locationId": "256"}
    assert entry["http_status"] == 200 and entry["retcode"] is None and entry["seq"] == second["seq"]


def test_size_grows_with_length_and_format(client: Client) -> None:
    # Started in this order: the higher the rate, the longer the recording; 186 last and shortest.
    formats = {189: 3, 188: 2, 187: 1, 186: 1}
    for agent, record_format in formats.items():
        client.ready(agent)
        record(client, agent, recordFormat=record_format, fileName=f"Y:/1/0/20250101/{agent}/1.V3")
    time.sleep(0.3)
    stop(client, 186)  # 186 short, the others about 0.9 s: same length, growing rates
    time.sleep(0.6)
    sizes = {}
    for agent, record_format in formats.items():
        if agent != 186:
            stop(client, agent)
        (view,) = files(client, agent_id=agent)
        assert view["size"] == max(FILE_MIN, view["duration_ms"] * RATES[record_format] // 1000)
        sizes[agent] = view["size"]
    assert sizes[186] < sizes[187] < sizes[188] < sizes[189]


def test_stopped_at_once_still_leaves_a_file(client: Client) -> None:
    client.ready(186)
    name = record(client, 186, recordFormat=1)["fileName"]
    stop(client, 186)
    (view,) = files(client)
    assert view["size"] == FILE_MIN
    assert download(client, 186, name).content == rebuilt(view)


def test_paused_time_is_not_recorded(client: Client) -> None:
    client.ready(186)
    record(client, 186)
    assert client.call("POST", "recordplay/186/pauserecord", 186).json()["retcode"] == "0"
    time.sleep(0.6)
    assert client.call("POST", "recordplay/186/resumerecord", 186).json()["retcode"] == "0"
    stop(client, 186)
    recording = client.admin("GET", "recordings").json()["recordings"][0]
    assert recording["ended_at"] - recording["started_at"] >= 600
    assert recording["duration_ms"] <= recording["ended_at"] - recording["started_at"] - 550


@pytest.mark.parametrize("ending", ["logout", "forcelogout", "forcelogin", "heartbeat"])
def test_every_end_of_a_recording_leaves_its_file(client: Client, ending: str) -> None:
    client.ready(186)
    client.ready(187)
    name = record(client, 186)["fileName"]
    if ending == "heartbeat":
        client.admin("PATCH", "config", json={"heartbeat_timeout": 0.5})
        deadline = time.monotonic() + 5
        while client.agent(186)["signed_in"] and time.monotonic() < deadline:
            time.sleep(0.1)
            client.poll(187)  # 187 keeps itself alive
    elif ending == "forcelogin":
        assert client.sign_in(186, force=True).json()["retcode"] == "0"
    else:
        assert client.call("DELETE", f"onlineagent/186/{ending}", 186).json()["retcode"] == "0"
    reason = {"logout": "signed_out", "heartbeat": "session_expired"}.get(ending, "forced_out")
    assert client.admin("GET", "recordings").json()["recordings"][0]["end_reason"] == reason
    (view,) = files(client)
    assert view["file_name"] == name
    # Any signed-in agent may download it (here another one).
    response = download(client, 187, name)
    assert response.status_code == 200 and response.content == rebuilt(view)


def test_record_mode_1_appends_and_0_starts_again(client: Client) -> None:
    client.ready(186)
    name = "Y:/1/0/20250101/186/120000.V3"
    first = record(client, 186, fileName=name)
    time.sleep(0.2)
    stop(client, 186)
    second = record(client, 186, fileName=name, recordMode=1, recordFormat=1)
    # The file is being written again: not to be downloaded meanwhile.
    assert_failure(download(client, 186, name), "104-005")
    time.sleep(0.2)
    stop(client, 186)
    (view,) = files(client)
    assert [part["task_id"] for part in view["parts"]] == [str(first["taskId"]), str(second["taskId"])]
    assert view["size"] == sum(part["size"] for part in view["parts"])
    bytes_by_task = {r["task_id"]: r["bytes"] for r in client.admin("GET", "recordings").json()["recordings"]}
    assert [part["size"] for part in view["parts"]] == [bytes_by_task[p["task_id"]] for p in view["parts"]]
    assert download(client, 186, name).content == rebuilt(view)
    third = record(client, 186, fileName=name, recordMode=0)
    stop(client, 186)
    (view,) = files(client)
    assert [part["task_id"] for part in view["parts"]] == [str(third["taskId"])]
    assert download(client, 186, name).content == rebuilt(view)


def test_names_compare_as_the_file_server_does(client: Client) -> None:
    client.ready(186)
    name = record(client, 186)["fileName"]  # generated: Y:\1\5\<date>\186\<time>.V3
    stop(client, 186)
    assert "\\" in name
    for alias in (name.replace("\\", "/"), "y" + name[1:]):
        assert download(client, 186, alias).status_code == 200
        assert download(client, 186, alias).headers["Content-Type"] == FILE_TYPE
    assert len(files(client, file_name=name.replace("\\", "/"))) == 1


def test_failures_and_their_retcodes(client: Client) -> None:
    client.ready(186)
    name = record(client, 186)["fileName"]
    stop(client, 186)
    for query in (
        {"recordId": None},
        {"recordId": ""},
        {"filetype": 3},
        {"filetype": "x"},
        {"locationId": "abc"},
        {"locationId": "-1"},
    ):
        assert_failure(download(client, 186, **{"record_id": name, **query}), "000-002")
    assert_failure(download(client, 186, "Y:/1/0/20250101/186/none.V3"), "104-005")
    assert_failure(download(client, 186, name, filetype=2), "104-005")
    # Without filetype and locationId (outside CTI pool mode): the defaults.
    assert download(client, 186, name, filetype=None, locationId=None).status_code == 200
    assert_failure(download(client, 186, name, guid="stale"), "000-003")
    assert_failure(download(client, 187, name), "100-006")
    client.admin("PATCH", "config", json={"download_enabled": False})
    assert_failure(download(client, 186, name), "104-001")
    codes = [d["retcode"] for d in downloads(client)]
    assert codes == ["000-002"] * 6 + ["104-005", "104-005", None, "000-003", "100-006", "104-001"]
    assert all(d["sent"] == 0 and d["complete"] is False for d in downloads(client) if d["retcode"])


def test_cti_pool_needs_the_files_location(client: Client) -> None:
    client.admin("PATCH", "config", json={"cti_pool": True})
    client.ready(186)
    started = record(client, 186)
    stop(client, 186)
    name = started["fileName"]
    assert_failure(download(client, 186, name, locationId=None), "000-002")
    assert_failure(download(client, 186, name, locationId=65535), "104-005")
    response = download(client, 186, name, locationId=started["locationId"])
    assert response.status_code == 200 and len(response.content) == files(client)[0]["size"]


def test_file_over_1_mib_is_streamed_whole(any_client: Client) -> None:
    client = any_client
    client.admin("PATCH", "config", json={"record_bytes_per_second": 8 * MIB})
    client.ready(186)
    name = record(client, 186)["fileName"]
    time.sleep(0.3)
    stop(client, 186)
    (view,) = files(client)
    assert view["size"] > 2 * MIB
    with client.call("GET", "recordfile/186", 186, params={"recordId": name}, stream=True) as response:
        assert response.headers["Content-Type"] == FILE_TYPE
        assert int(response.headers["Content-Length"]) == view["size"]
        pieces = list(response.iter_content(256 * 1024))
    assert len(pieces) > 1 and b"".join(pieces) == rebuilt(view)
    (record_,) = downloads(client)
    assert record_["sent"] == view["size"] and record_["complete"] and record_["sha256"] == view["sha256"]


def test_admin_put_file_and_filetype_2(client: Client) -> None:
    name = "Y:/3rdfile/1/record/prompt.V3"
    for bad in (
        {"file_name": name},
        {"file_name": "", "size": 10},
        {"file_name": name, "size": 0},
        {"file_name": name, "size": 10, "filetype": 3},
        {"file_name": name, "size": 10, "location_id": "x"},
        {"file_name": name, "size": 10, "other": 1},
    ):
        assert client.admin("POST", "recordfiles", json=bad).status_code == 400, bad
    view = client.admin(
        "POST", "recordfiles", json={"file_name": name, "size": 3 * MIB, "filetype": 2}
    ).json()
    assert view["size"] == 3 * MIB and view["filetype"] == 2 and view["location_id"] == "256"
    assert view["agent_id"] is None and view["parts"][0]["task_id"] is None
    client.ready(186)
    assert_failure(download(client, 186, name), "104-005")
    response = download(client, 186, name, filetype=2)
    assert response.content == rebuilt(view)
    assert hashlib.sha256(response.content).hexdigest() == view["sha256"]


def test_download_in_the_standing_answer_shape(any_client: Client) -> None:
    client = any_client
    client.ready(186)
    name = record(client, 186)["fileName"]
    stop(client, 186)
    (view,) = files(client)
    client.admin(
        "PATCH", "config", json={"answer_shape": {"kind": "chunked", "pieces": 3, "path": "^recordfile/"}}
    )
    with RawConnection(client.sim) as conn:
        conn.send("GET", f"recordfile/186?recordId={quote(name, safe='')}&filetype=1", client.guids[186])
        answer = conn.read_answer()
    assert answer.status == 200 and answer.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in answer.headers and answer.headers["content-type"] == FILE_TYPE
    assert len(answer.chunks) == 3 and answer.body == rebuilt(view)
    (record_,) = downloads(client)
    assert record_["complete"] and record_["sent"] == view["size"] and record_["sha256"] == view["sha256"]
    # A failure is the JSON envelope, shaped the same way.
    with RawConnection(client.sim) as conn:
        conn.send("GET", "recordfile/186?recordId=nothing", client.guids[186])
        answer = conn.read_answer()
    assert (
        answer.headers["transfer-encoding"] == "chunked" and json.loads(answer.body)["retcode"] == "104-005"
    )


def test_download_split_fault(client: Client) -> None:
    client.ready(186)
    name = record(client, 186)["fileName"]
    stop(client, 186)
    fault = {"kind": "split", "pieces": 4, "delay": 0.01, "path": "^recordfile/"}
    assert client.admin("POST", "faults", json=fault).status_code == 200
    response = download(client, 186, name)
    assert response.content == rebuilt(files(client)[0])
    (entry,) = client.admin("GET", "requests", params={"path_contains": "recordfile"}).json()["requests"]
    assert entry["fault"] == "split" and entry["shape"] == "split" and entry["writes"] == 4


def test_retcode_fault_on_download_is_recorded(client: Client) -> None:
    client.ready(186)
    name = record(client, 186)["fileName"]
    stop(client, 186)
    fault = {
        "kind": "retcode",
        "retcode": "104-012",
        "message": "OBS download failed",
        "path": "^recordfile/",
    }
    client.admin("POST", "faults", json=fault)
    assert download(client, 186, name).json() == {
        "message": "OBS download failed",
        "retcode": "104-012",
        "result": None,
    }
    (record_,) = downloads(client)
    assert record_["fault"] == "retcode" and record_["retcode"] == "104-012" and record_["sent"] == 0


def test_client_going_away_leaves_an_incomplete_download(client: Client) -> None:
    name = "Y:/1/0/20250101/186/big.V3"
    size = 64 * MIB
    client.admin("POST", "recordfiles", json={"file_name": name, "size": size})
    client.ready(186)
    with RawConnection(client.sim) as conn:
        conn.send("GET", f"recordfile/186?recordId={quote(name, safe='')}", client.guids[186])
        while len(conn.buffer) < 100_000:
            assert conn.read_some(5)
    # The server stops sending: `sent` stays below the size, the download is not complete.
    before = downloads(client)[0]["sent"]
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.3)
        (record_,) = downloads(client)
        if record_["sent"] == before or time.monotonic() > deadline:
            break
        before = record_["sent"]
    assert 100_000 <= record_["sent"] < size and record_["complete"] is False
    assert record_["size"] == size and record_["sha256"] is None
    assert client.call("GET", "onlineagent/186/agentstatus", 186).json()["retcode"] == "0"
