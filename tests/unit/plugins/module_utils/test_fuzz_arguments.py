# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of argument validation: the seed's rules, computed here independently of _schemas.py.

For any arguments, validate() either passes (and then the arguments obey the seed and record_body() is the
seed's body) or raises SchemaViolation naming the offending options; and invalid arguments never make the
module send anything to a real (loopback) gateway.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import ConnectionSettings, GatewayClient
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording import (
    RecordingManager,
    RecordRequest,
    validate,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import SchemaViolation
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import SessionStore
from ansible_collections.cec.cc_gateway.plugins.modules import cc_gateway_record
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.fuzz_settings import FUZZ
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.scripted_server import ScriptedServer
from hypothesis import event, given
from hypothesis import strategies as st

# The seed ("Starting Voice Recording") and the rulings, written out again rather than imported.
SEED_AGENT_ID = (101, 59999)
SEED_MEDIA_TYPE = 5
SEED_FILE_NAME_MAX = 100
SEED_RECORD_MODES = {"overwrite": 0, "append": 1}
SEED_RECORD_FORMATS = {"default": 0, "24k_vox": 1, "32k_vox": 2, "64k_alaw": 3}
SEED_STATES = ("started", "stopped")

GUID = "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0"


def offending_options(arguments):
    """The options that break the seed's rules, by the seed's rules alone (each noted as a hypothesis event)."""
    bad = set()
    low, high = SEED_AGENT_ID
    if not low <= arguments["agent_id"] <= high:
        bad.add("agent_id")
    if arguments["media_type"] != SEED_MEDIA_TYPE:
        bad.add("media_type")
    if arguments["file_name"] is not None and len(arguments["file_name"]) > SEED_FILE_NAME_MAX:
        bad.add("file_name")
    if arguments["record_mode"] not in SEED_RECORD_MODES:
        bad.add("record_mode")
    if arguments["record_format"] not in SEED_RECORD_FORMATS:
        bad.add("record_format")
    if arguments["state"] not in SEED_STATES:
        bad.add("state")
    event(f"offending: {', '.join(sorted(bad)) or 'none'}")
    return bad


def seed_body(arguments):
    """The start-recording body of the seed for valid arguments."""
    body = {
        "mediaType": SEED_MEDIA_TYPE,
        "recordMode": SEED_RECORD_MODES[arguments["record_mode"]],
        "recordFormat": SEED_RECORD_FORMATS[arguments["record_format"]],
    }
    if arguments["file_name"]:
        body["fileName"] = arguments["file_name"]
    return body


# Text as it can reach a module: no lone surrogates (module arguments travel as UTF-8 JSON, which cannot
# carry them, and AnsibleModule's own logging fails on them) and no NUL (AnsibleModule logs its arguments
# to syslog first, which on Python 3.12+ refuses an embedded NUL).
TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))


def _near(*values):
    return st.sampled_from([v + d for v in values for d in (-1, 0, 1)])


def _enum_or_text(valid):
    return st.one_of(
        st.sampled_from(sorted(valid)),
        st.sampled_from([name.upper() for name in valid] + [f" {name}" for name in valid] + ["", "0", "1"]),
        st.text(TEXT, max_size=12),
    )


# Per option: values within the seed's rules, and anything of the option's type (valid by chance or not).
VALID = {
    "agent_id": st.one_of(_near(SEED_AGENT_ID[0] + 1, SEED_AGENT_ID[1] - 1), st.integers(*SEED_AGENT_ID)),
    "media_type": st.just(SEED_MEDIA_TYPE),
    "file_name": st.one_of(st.none(), st.just(""), st.text(TEXT, max_size=SEED_FILE_NAME_MAX)),
    "record_mode": st.sampled_from(sorted(SEED_RECORD_MODES)),
    "record_format": st.sampled_from(sorted(SEED_RECORD_FORMATS)),
    "state": st.sampled_from(SEED_STATES),
}
ANY = {
    "agent_id": st.one_of(_near(*SEED_AGENT_ID), st.integers()),
    "media_type": st.one_of(_near(SEED_MEDIA_TYPE), st.integers()),
    "file_name": st.one_of(
        st.text(TEXT, min_size=SEED_FILE_NAME_MAX - 2, max_size=SEED_FILE_NAME_MAX + 2),
        st.text(TEXT, max_size=SEED_FILE_NAME_MAX + 30),
    ),
    "record_mode": _enum_or_text(SEED_RECORD_MODES),
    "record_format": _enum_or_text(SEED_RECORD_FORMATS),
    # paused is valid but needs a recording to pause; cc_gateway_session's tests cover it.
    "state": st.text(TEXT, max_size=8).filter(lambda value: value != "paused"),
}


@st.composite
def arguments_strategy(draw, fuzz_state=True):
    """Arguments where a drawn subset of options (often none) takes any value of its type."""
    names = sorted(VALID) if fuzz_state else sorted(set(VALID) - {"state"})
    loose = draw(st.sets(st.sampled_from(names), max_size=len(names)))
    return {name: draw(ANY[name] if name in loose else VALID[name]) for name in sorted(VALID)}


def _request(arguments, **extra):
    return RecordRequest(**arguments, **extra)


@FUZZ
@given(arguments=arguments_strategy())
def test_validate_passes_exactly_the_seed_arguments_and_names_every_offender(arguments):
    bad = offending_options(arguments)
    request = _request(arguments)
    try:
        validate(request)
    except SchemaViolation as exc:
        message = str(exc)
        assert bad, f"valid arguments were refused: {message}"
        assert any(message.startswith(f"{name}: ") for name in bad), message
        for name in bad:
            assert f"{name}: " in message
        return
    assert not bad, f"arguments breaking {sorted(bad)} were accepted"
    assert request.record_body() == seed_body(arguments)


@pytest.fixture(scope="module")
def gateway():
    with ScriptedServer() as running:
        yield running


def _script_sign_in_and_start(server, task_id="5086"):
    server.answers.clear()
    server.received.clear()
    server.answer(
        {"message": "", "retcode": "0", "result": {"workno": "186"}},
        headers={"Set-GUID": f"JSESSIONID={GUID}"},
    )
    server.answer({"result": {"taskId": task_id}, "message": "success", "retcode": "0"})


@FUZZ
@given(arguments=arguments_strategy(fuzz_state=False))
def test_the_manager_flow_sends_nothing_for_invalid_arguments(gateway, arguments):
    """As cc_gateway_record.main(): validate, then let RecordingManager talk to a real loopback server."""
    bad = offending_options(arguments)
    _script_sign_in_and_start(gateway)
    request = _request(arguments, password="Demo-1234", phone_number="70186")
    with tempfile.TemporaryDirectory() as directory:
        client = GatewayClient(ConnectionSettings(gateway_url=gateway.url, timeout=5), request.agent_id)
        manager = RecordingManager(client, SessionStore(directory), gateway.url, check_mode=False)
        try:
            validate(request)
        except SchemaViolation:
            assert bad
            assert gateway.received == []
            return
        result = manager.ensure(request)
    assert not bad
    if request.state == "stopped":
        # No session known: the module warns and asks nothing.
        assert gateway.received == []
        assert result["changed"] is False
        return
    sign_in, record = gateway.received
    assert sign_in["path"] == f"/agentgateway/resource/onlineagent/{request.agent_id}"
    assert record["path"] == f"/agentgateway/resource/recordplay/{request.agent_id}/record"
    assert record["body"] == seed_body(arguments)
    assert result["changed"] is True
    assert result["task_id"] == "5086"


def _run_module(args):
    """Run the real module's main() in-process; return (exit code, parsed JSON result)."""
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        cc_gateway_record.main()
    return exited.value.code, json.loads(out.getvalue())


@FUZZ
@given(arguments=arguments_strategy())
def test_the_module_sends_nothing_for_invalid_arguments(gateway, arguments):
    """The whole module (AnsibleModule argument spec, then the schema) against a real loopback server."""
    bad = offending_options(arguments)
    _script_sign_in_and_start(gateway)
    with tempfile.TemporaryDirectory() as directory:
        args = {key: value for key, value in arguments.items() if value is not None}
        args.update(
            gateway_url=gateway.url,
            session_dir=directory,
            timeout=5,
            password="Demo-1234",
            phone_number="70186",
        )
        code, result = _run_module(args)
    if bad:
        assert code == 1, result
        assert result["failed"] is True
        assert any(name in result["msg"] for name in bad), result["msg"]
        assert gateway.received == []
        return
    assert code == 0, result
    if arguments["state"] == "stopped":
        assert gateway.received == []
        return
    assert result["changed"] is True
    assert [request["body"] for request in gateway.received][1] == seed_body(arguments)
