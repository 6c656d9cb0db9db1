# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cc_gateway_recording_file through its task entry point, against scripted servers on 127.0.0.1 that write
their answers on the wire as a test says (whole, in pieces, chunked, slowly, cut short) and keep every request.

Every test looks at the task's result, at what the server received, and at the destination directory: the file
whole with its SHA-256, or nothing at all (no dest, no temporary file left behind).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.cec.cc_gateway.plugins.module_utils import _dest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import client as client_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    ONE_AGENT_OR_MANY,
    recording_file_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording_file import RecordingFileTask
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.servers import (
    DROP,
    Pieces,
    Server,
    Slow,
    chunked,
    reply,
)

GUID = "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0"
NEW_GUID = "0c5a4a2e-1111-4c44-9999-0123456789ab.AgentGateway1"
PASSWORD = "Pw-186!secret"
RECORD_ID = "Y:/15/0/20201119/186/142702.V3"
FILE_TYPE = "Content-Type: application/octet-stream;charset=utf-8"
JSON_TYPE = "Content-Type: application/json;charset=UTF-8"


def audio(size: int, seed: int = 7) -> bytes:
    """Bytes like the simulator's files: byte i is (seed + i) % 251."""
    return bytes((seed + index) % 251 for index in range(size))


def envelope(retcode: str, message: str = "refused") -> bytes:
    return json.dumps({"message": message, "retcode": retcode, "result": None}).encode()


def file_answer(body: bytes) -> bytes:
    return reply(body, headers=[FILE_TYPE])


def json_answer(body: bytes, headers: tuple[str, ...] = ()) -> bytes:
    return reply(body, headers=[JSON_TYPE, *headers])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    client_module._route.cache_clear()
    http_sync._TRANSPORTS.clear()
    yield
    client_module._route.cache_clear()
    http_sync._TRANSPORTS.clear()


@pytest.fixture
def out(tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def fetch(server: Server, tmp_path: Any, check_mode: bool = False, **arguments: Any) -> dict[str, Any]:
    arguments.setdefault("timeout", 2)
    if "agents" not in arguments:
        arguments.setdefault("guid", GUID)
        arguments.setdefault("agent_id", 186)
        arguments.setdefault("file_name", RECORD_ID)
    result = ArgumentSpecValidator(recording_file_spec(), **ONE_AGENT_OR_MANY).validate(
        dict(gateway_url=server.url, session_dir=str(tmp_path / "sessions"), **arguments)
    )
    assert not result.error_messages, result.error_messages
    return RecordingFileTask(result.validated_parameters, check_mode, False).run()


def listing(directory: Any) -> list[str]:
    return sorted(os.listdir(directory))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def query_of(request: tuple[str, dict[str, str], bytes]) -> tuple[str, dict[str, list[str]]]:
    _method, target, _version = request[0].split(" ")
    parts = urlsplit(target)
    return parts.path, parse_qs(parts.query)


# -- the file arrives whole


@pytest.mark.parametrize(
    "shape",
    ["pieces", "chunked", "small pieces"],
)
def test_the_file_is_written_whole_with_its_sha256_however_it_arrives(tmp_path, out, shape):
    body = audio(300_000)
    answers = {
        "pieces": Pieces(file_answer(body), cuts=(17, 95, 70_000, 200_001)),
        "chunked": chunked(body[:1], body[1:65_537], body[65_537:], headers=(FILE_TYPE,)),
        "small pieces": Pieces(
            chunked(*(body[i : i + 40_000] for i in range(0, len(body), 40_000)), headers=(FILE_TYPE,)),
            count=9,
        ),
    }
    dest = out / "186.V3"
    with Server(answers[shape]) as server:
        result = fetch(server, tmp_path, dest=str(dest), location_id=256)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["retcode"] == "0"
    assert result["size"] == len(body) and result["checksum"] == sha256(body)
    assert result["dest"] == str(dest) and result["mode"] == "0600"
    assert dest.read_bytes() == body
    assert stat.S_IMODE(os.lstat(dest).st_mode) == 0o600
    assert listing(out) == ["186.V3"]  # no temporary file left
    (request,) = server.requests
    path, query = query_of(request)
    assert path == "/agentgateway/resource/recordfile/186"
    assert query == {"recordId": [RECORD_ID], "filetype": ["1"], "locationId": ["256"]}
    assert request[1]["guid"] == GUID
    assert GUID not in json.dumps(result)


def test_ivr_file_type_and_mode_are_applied_and_location_id_left_out_when_not_given(tmp_path, out):
    body = audio(2048)
    dest = out / "ivr.V3"
    with Server(file_answer(body)) as server:
        result = fetch(server, tmp_path, dest=str(dest), file_type="ivr", mode="0640")
    assert result["changed"] is True and result["mode"] == "0640", result
    assert stat.S_IMODE(os.lstat(dest).st_mode) == 0o640
    _path, query = query_of(server.requests[0])
    assert query == {"recordId": [RECORD_ID], "filetype": ["2"]}


# -- failures leave nothing


def test_the_gateways_json_failure_saves_nothing_and_names_the_retcode(tmp_path, out):
    dest = out / "186.V3"
    with Server(json_answer(envelope("104-005", "recording file does not exist"))) as server:
        result = fetch(server, tmp_path, dest=str(dest))
    assert result["failed"] is True and result["changed"] is False
    assert result["retcode"] == "104-005"
    assert "104-005" in result["msg"] and "does not exist" in result["msg"]
    assert "GET " in result["msg"] and "recordfile/186?recordId=" in result["msg"]
    assert f"Nothing was written to {dest}" in result["msg"]
    assert "state: stopped" in result["msg"]  # what to do
    assert listing(out) == []
    assert len(server.requests) == 1


def test_a_json_envelope_labelled_as_a_file_is_not_saved_as_audio(tmp_path, out):
    dest = out / "186.V3"
    with Server(file_answer(envelope("104-001", "download switched off"))) as server:
        result = fetch(server, tmp_path, dest=str(dest))
    assert result["failed"] is True and result["retcode"] == "104-001", result
    assert "104-001" in result["msg"]
    assert listing(out) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            reply(b"<html>proxy error</html>", headers=["Content-Type: text/html"]),
            "neither the recording (its Content-Type is text/html",
        ),
        (reply(audio(2000), status="502 Bad Gateway", headers=[FILE_TYPE]), "HTTP 502 Bad Gateway from GET"),
    ],
)
def test_an_answer_that_is_neither_file_nor_envelope_saves_nothing(tmp_path, out, answer, expected):
    with Server(answer) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"))
    assert result["failed"] is True and result["retcode"] is None, result
    assert expected in result["msg"]
    assert listing(out) == []


def test_a_json_answer_keeps_the_1_mib_bound_of_every_json_answer(tmp_path, out):
    body = b'{"retcode": "104-005", "message": "' + b"x" * (1024 * 1024) + b'"}'
    with Server(json_answer(body)) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"), max_size=64 * 1024 * 1024)
    assert result["failed"] is True and "larger than 1024 KiB" in result["msg"], result
    assert listing(out) == []


@pytest.mark.parametrize("announced", [True, False])
def test_a_file_over_max_size_stops_the_download_and_saves_nothing(tmp_path, out, announced):
    body = audio(200_000)
    answer = file_answer(body) if announced else chunked(body[:100_000], body[100_000:], headers=(FILE_TYPE,))
    with Server(answer) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"), max_size=150_000)
    assert result["failed"] is True, result
    assert "max_size=150000" in result["msg"]
    assert ("announces 200000 bytes" in result["msg"]) is announced
    assert listing(out) == []


def test_a_connection_cut_in_the_middle_of_the_file_saves_nothing(tmp_path, out):
    body = audio(100_000)
    head = b"HTTP/1.1 200 OK\r\n" + FILE_TYPE.encode() + b"\r\nContent-Length: 100000\r\n\r\n"
    with Server(head + body[:60_000], DROP) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"))
    assert result["failed"] is True and result["changed"] is False, result
    assert "broke before the whole answer arrived" in result["msg"]
    assert listing(out) == []


def test_the_whole_download_is_bounded_by_download_timeout(tmp_path, out):
    answer = Slow(file_answer(audio(400)), interval=0.02, limit=12)
    with Server(answer) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"), timeout=1, download_timeout=0.5)
    assert result["failed"] is True, result
    assert "did not finish" in result["msg"] and "download_timeout=0.5" in result["msg"]
    assert listing(out) == []


def test_each_read_is_bounded_by_timeout(tmp_path, out):
    answer = Pieces(file_answer(audio(50_000)), count=2, delay=1.5)
    with Server(answer) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"), timeout=0.5, download_timeout=30)
    assert result["failed"] is True, result
    assert "did not finish" in result["msg"] and "timeout=0.5 s bounds each read" in result["msg"]
    assert "no whole answer within" not in result["msg"]  # a read timed out, not the whole download
    assert listing(out) == []


def test_a_lost_session_is_signed_in_again_once_and_the_file_then_comes(tmp_path, out):
    body = audio(5000)
    dest = out / "186.V3"
    script = [
        json_answer(envelope("100-006")),  # the handed-in GUID no longer opens a session
        json_answer(envelope("100-006")),  # agentstatus confirms it
        json_answer(
            json.dumps({"message": "", "retcode": "0", "result": {}}).encode(),
            headers=(f"Set-GUID: JSESSIONID={NEW_GUID}",),
        ),
        file_answer(body),
    ]
    with Server(*script) as server:
        result = fetch(server, tmp_path, dest=str(dest), password=PASSWORD, phone_number="70186")
    assert not result.get("failed"), result
    assert result["signed_in_again"] is True and result["checksum"] == sha256(body)
    lines = [request[0].split(" ")[:2] for request in server.requests]
    assert [method for method, _target in lines] == ["GET", "GET", "PUT", "GET"]
    assert server.requests[3][1]["guid"] == NEW_GUID
    assert dest.read_bytes() == body
    text = json.dumps(result)
    assert PASSWORD not in text and GUID not in text and NEW_GUID not in text


# -- what is not fetched


def test_an_existing_dest_is_not_fetched_again_without_force(tmp_path, out):
    dest = out / "186.V3"
    dest.write_bytes(b"earlier download")
    os.chmod(dest, 0o600)
    with Server() as server:
        result = fetch(server, tmp_path, dest=str(dest))
    assert result["changed"] is False and not result.get("failed"), result
    assert result["checksum"] == sha256(b"earlier download") and result["size"] == 16
    assert result["retcode"] is None
    assert server.requests == [] and server.accepted == 0
    assert dest.read_bytes() == b"earlier download"


def test_an_existing_dest_gets_the_mode_asked_for_without_a_download(tmp_path, out):
    dest = out / "186.V3"
    dest.write_bytes(b"earlier download")
    os.chmod(dest, 0o644)
    with Server() as server:
        checked = fetch(server, tmp_path, check_mode=True, dest=str(dest))
        assert checked["changed"] is True and stat.S_IMODE(os.lstat(dest).st_mode) == 0o644
        result = fetch(server, tmp_path, dest=str(dest))
    assert result["changed"] is True and "0644 to 0600" in result["message"], result
    assert stat.S_IMODE(os.lstat(dest).st_mode) == 0o600
    assert server.accepted == 0


def test_force_fetches_again_and_replaces_only_other_bytes(tmp_path, out):
    body = audio(4096)
    dest = out / "186.V3"
    dest.write_bytes(body)
    os.chmod(dest, 0o600)
    with Server(file_answer(body), file_answer(audio(4096, seed=9))) as server:
        same = fetch(server, tmp_path, dest=str(dest), force=True)
        other = fetch(server, tmp_path, dest=str(dest), force=True)
    assert same["changed"] is False and same["retcode"] == "0", same
    assert other["changed"] is True and other["checksum"] == sha256(audio(4096, seed=9)), other
    assert dest.read_bytes() == audio(4096, seed=9)
    assert len(server.requests) == 2
    assert listing(out) == ["186.V3"]


@pytest.mark.parametrize("existing", [False, True])
def test_check_mode_sends_nothing_and_predicts_a_change(tmp_path, out, existing):
    dest = out / "186.V3"
    if existing:
        dest.write_bytes(b"x")
        os.chmod(dest, 0o600)
    with Server() as server:
        result = fetch(server, tmp_path, check_mode=True, dest=str(dest), force=existing)
    assert result["changed"] is True and not result.get("failed"), result
    assert "nothing was sent" in result["message"]
    assert server.accepted == 0
    assert listing(out) == (["186.V3"] if existing else [])


# -- symlinks are never followed


@pytest.mark.parametrize("force", [False, True])
def test_a_symlink_at_dest_is_neither_followed_nor_replaced(tmp_path, out, force):
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    (out / "186.V3").symlink_to(victim)
    with Server(file_answer(audio(1024))) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"), force=force)
    assert result["failed"] is True and "symbolic link" in result["msg"], result
    assert server.accepted == 0
    assert victim.read_bytes() == b"do not touch"
    assert os.path.islink(out / "186.V3")


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(tmp_path, out, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    names = iter(["planted", "planted", "free"])
    monkeypatch.setattr(_dest.secrets, "token_hex", lambda _size: next(names))
    planted = out / ".186.V3.planted.part"
    planted.symlink_to(victim)
    body = audio(3000)
    with Server(file_answer(body)) as server:
        result = fetch(server, tmp_path, dest=str(out / "186.V3"))
    assert not result.get("failed"), result
    assert (out / "186.V3").read_bytes() == body
    assert victim.read_bytes() == b"do not touch"
    assert os.path.islink(planted) and os.readlink(planted) == str(victim)
    assert listing(out) == [".186.V3.planted.part", "186.V3"]


# -- the task's input


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"dest": "relative/186.V3"}, "dest: 'relative/186.V3' is not an absolute path"),
        ({"mode": "rw-r-----"}, "mode: 'rw-r-----' is not an octal file mode"),
        ({"mode": 600}, "mode: 600 is not an octal file mode"),
        ({"max_size": 0}, "max_size: 0 is less than the minimum of 1"),
        ({"max_size": 2 * 1024**3}, "max_size: 2147483648 is greater than the maximum of 1073741824"),
        ({"download_timeout": 0}, "download_timeout: 0"),
        ({"location_id": -1}, "location_id: -1 is less than the minimum of 0"),
        ({"file_name": ""}, "file_name: '' is empty"),
        ({"file_name": "a\nb"}, "file_name: 'a\\nb' is not a recording's file name"),
        ({"file_name": None}, "file_name: is required but missing"),
    ],
)
def test_bad_input_is_refused_by_its_option_before_anything_is_sent(tmp_path, out, arguments, expected):
    arguments = {"dest": str(out / "186.V3"), **arguments}
    with Server() as server:
        result = fetch(server, tmp_path, **arguments)
    assert result["failed"] is True and expected in result["msg"], result
    assert server.accepted == 0


def test_a_missing_directory_is_said_before_anything_is_sent(tmp_path, out):
    with Server() as server:
        result = fetch(server, tmp_path, dest=str(out / "missing" / "186.V3"))
    assert result["failed"] is True and "does not exist; create it first" in result["msg"], result
    assert server.accepted == 0


# -- the batch form


def test_a_batch_fetches_each_entry_and_one_failure_is_its_own(tmp_path, out):
    body = audio(7000)
    with Server(file_answer(body), json_answer(envelope("104-005"))) as server:
        result = fetch(
            server,
            tmp_path,
            max_concurrency=1,
            agents=[
                {"agent_id": 186, "guid": GUID, "file_name": RECORD_ID, "dest": str(out / "186.V3")},
                {"agent_id": 187, "guid": NEW_GUID, "file_name": "Y:/x.V3", "dest": str(out / "187.V3")},
            ],
        )
    assert result["failed"] is True and result["changed"] is True, result
    first, second = result["results"]
    assert first["failed"] is False and first["checksum"] == sha256(body)
    assert second["failed"] is True and second["retcode"] == "104-005" and "104-005" in second["msg"]
    assert "1 of 2 agents failed: agent 187: 104-005" in result["msg"]
    assert result["ansible_facts"]["cc_gateway_recording_files"] == [
        {
            "agent_id": 186,
            "file_name": RECORD_ID,
            "dest": str(out / "186.V3"),
            "size": 7000,
            "checksum": sha256(body),
        }
    ]
    assert [query_of(request)[0] for request in server.requests] == [
        "/agentgateway/resource/recordfile/186",
        "/agentgateway/resource/recordfile/187",
    ]
    assert listing(out) == ["186.V3"]
    assert GUID not in json.dumps(result) and NEW_GUID not in json.dumps(result)


def test_a_batch_refuses_one_dest_for_two_entries(tmp_path, out):
    dest = str(out / "same.V3")
    with Server() as server:
        result = fetch(
            server,
            tmp_path,
            agents=[
                {"agent_id": 186, "guid": GUID, "file_name": RECORD_ID, "dest": dest},
                {"agent_id": 187, "guid": GUID, "file_name": RECORD_ID, "dest": dest},
            ],
        )
    assert result["failed"] is True and "agents[1]: dest" in result["msg"] and "own dest" in result["msg"], (
        result
    )
    assert server.accepted == 0
