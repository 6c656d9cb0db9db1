# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client against a real HTTP server on loopback whose answers each test scripts."""

from __future__ import annotations

import socket

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    ConnectionSettings,
    GatewayClient,
    ResponseShapeError,
    RetcodeError,
    TransportError,
    guid_from_header,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.scripted_server import ScriptedServer

GUID = "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0"


@pytest.fixture
def server():
    with ScriptedServer() as running:
        yield running


def client_for(server, timeout=5.0):
    return GatewayClient(ConnectionSettings(gateway_url=server.url + "/", timeout=timeout), 186)


def test_guid_is_taken_from_set_guid():
    assert guid_from_header(f"JSESSIONID={GUID}") == GUID
    assert guid_from_header(f" JSESSIONID={GUID}; Path=/") == GUID
    assert guid_from_header(GUID) == GUID


def test_sign_in_then_start_sends_the_guid_and_the_seed_body(server):
    server.answer(
        {"message": "", "retcode": "0", "result": {"workno": "186"}},
        headers={"Set-GUID": f"JSESSIONID={GUID}", "Set-Cookie": "NSLB=node1; Path=/"},
    )
    server.answer({"result": {"taskId": 5086}, "message": "success", "retcode": "0"})
    client = client_for(server)
    client.sign_in("Demo-1234", "70186")
    task_id = client.start_recording({"mediaType": 5, "recordMode": 0, "recordFormat": 0})

    assert task_id == "5086"
    sign_in, record = server.received
    assert sign_in["method"] == "PUT"
    assert sign_in["path"] == "/agentgateway/resource/onlineagent/186"
    assert "guid" not in sign_in["headers"]
    assert sign_in["body"] == {
        "password": "Demo-1234",
        "phonenum": "70186",
        "status": 4,
        "releasephone": True,
    }
    assert record["path"] == "/agentgateway/resource/recordplay/186/record"
    assert record["headers"]["guid"] == GUID
    assert record["headers"]["content-type"] == "application/json; charset=UTF-8"
    assert record["headers"]["cookie"] == "NSLB=node1"
    assert record["body"] == {"mediaType": 5, "recordMode": 0, "recordFormat": 0}


def test_a_sign_in_without_set_guid_is_a_shape_error(server):
    server.answer({"message": "", "retcode": "0", "result": {}})
    with pytest.raises(ResponseShapeError, match="no Set-GUID header"):
        client_for(server).sign_in("Demo-1234", "70186")


def test_a_rotated_guid_on_any_answer_replaces_the_old_one(server):
    server.answer(
        {"message": "", "retcode": "0", "result": {"agentState": 4}}, headers={"Set-GUID": "JSESSIONID=new"}
    )
    client = client_for(server)
    client.guid = "old"
    client.agent_status()
    assert client.guid == "new"


def test_a_retcode_becomes_a_sentence_with_the_code(server):
    server.answer({"message": "state error", "retcode": "500-008", "result": None})
    client = client_for(server)
    client.guid = GUID
    with pytest.raises(RetcodeError) as caught:
        client.start_recording({"mediaType": 5})
    assert caught.value.retcode == "500-008"
    assert str(caught.value).startswith("500-008: the agent is in a state where recording cannot start")
    assert "for agent 186 (gateway said: state error)" in str(caught.value)
    assert GUID not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (503, b"Service Unavailable", TransportError, "HTTP 503"),
        (200, b"<html>oops</html>", TransportError, "is not JSON (starts with '<html>oops</html>')"),
        (
            200,
            b'{"message": "", "result": {}}',
            ResponseShapeError,
            "response.retcode: is required but missing",
        ),
        (200, b'{"retcode": "0", "result": {}}', ResponseShapeError, "response.result.taskId: is required"),
        (200, b'{"retcode": "0", "result": {"taskId": "T-1"}}', ResponseShapeError, "response.result.taskId"),
    ],
)
def test_a_misbehaving_gateway_fails_clearly(server, status, body, error, text):
    server.answer(body, status=status)
    client = client_for(server)
    client.guid = GUID
    with pytest.raises(error) as caught:
        client.start_recording({"mediaType": 5})
    assert text in str(caught.value)


def test_a_refused_connection_is_known_not_to_have_reached_the_gateway():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GatewayClient(ConnectionSettings(gateway_url=f"http://127.0.0.1:{port}", timeout=2), 186)
    with pytest.raises(TransportError) as caught:
        client.sign_in("Demo-1234", "70186")
    assert caught.value.request_sent is False
    assert str(caught.value).startswith(f"http://127.0.0.1:{port} refused the connection for PUT")


def test_no_answer_in_time_may_have_reached_the_gateway():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        client = GatewayClient(ConnectionSettings(gateway_url=f"http://127.0.0.1:{port}", timeout=0.3), 186)
        client.guid = GUID
        with pytest.raises(TransportError) as caught:
            client.start_recording({"mediaType": 5})
    assert caught.value.request_sent is True
    assert "within timeout=0.3 s" in str(caught.value)


def test_an_invalid_body_is_refused_before_sending(server, tmp_path):
    params = {
        "gateway_url": server.url,
        "validate_certs": True,
        "timeout": 5.0,
        "session_dir": str(tmp_path),
        "agent_id": 186,
        "guid": GUID,
        "state": "started",
        "media_type": 6,
        "record_mode": "overwrite",
        "record_format": "default",
        "wait": False,
        "wait_timeout": 30.0,
    }
    result = RecordTask(params, check_mode=False, diff=False).run()
    assert result["failed"]
    assert "media_type: 6 is not one of the allowed values (5)" in result["msg"]
    assert server.received == []
