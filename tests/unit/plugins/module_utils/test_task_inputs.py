# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AgentTask, where every task's result is made: an empty batch does nothing, odd input is refused by name
before anything is sent, and no secret given to the task is left in any message, in any form."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import client as client_module
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync as transport
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import (
    AgentTask,
    TaskRequest,
    session_dir_errors,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._module import CCGatewayModule
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    BATCH_AGENT_OPTIONS,
    ONE_AGENT_OR_MANY,
    SESSION_AGENTS,
    record_spec,
    session_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import MASK, scrub_result, secret_forms
from ansible_collections.cec.cc_gateway.plugins.module_utils._signin import SessionTask
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.module_args import patch_module_args
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.scripted_server import ScriptedServer

# Not the example GUID that the rule's sentence shows.
GUID = "5c1e0b7a-9d8e-4f3a-b2c1-0a9b8c7d6e5f.AgentGateway1"
# Secrets as they come out of vaults and copy-paste: line breaks, NUL, non-ASCII, surrounding blanks.
PASSWORD = " Pa\r\nss\u00e9\x00w\u20acrd-7\n"
ODD_GUID = "9c0ffee-guid\u00e9 \r\n"
ENTRY_PASSWORD = "Entr\u00fd-pw\n"
ENTRY_GUID = "entry-guid-\u4e2d\u6587\n"
SECRETS = (PASSWORD, ODD_GUID, ENTRY_PASSWORD, ENTRY_GUID)
KEEPER_FILES = ("keeper.lock", "keeper.json", "keeper.log", "keeper.start.lock")


def shown_forms(value):
    """The forms a library may put a value in: the ones the scrub must catch."""
    return {
        value,
        value.strip(),
        repr(value),
        repr(value)[1:-1],
        ascii(value)[1:-1],
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        repr(value.encode("utf-8")),
        repr(value.strip()),
    }


def assert_no_secret(result, secrets=SECRETS):
    text = json.dumps(result, ensure_ascii=False)
    escaped = json.dumps(result)
    for secret in secrets:
        for form in shown_forms(secret):
            assert form not in text, (form, text)
            assert json.dumps(form)[1:-1] not in escaped, (form, escaped)


@pytest.fixture(autouse=True)
def fresh_routes(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    client_module._route.cache_clear()
    transport._TRANSPORTS.clear()


@pytest.fixture
def gateway():
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def session_dir(tmp_path):
    return str(tmp_path / "sessions")


def validated(spec, spec_options, **arguments):
    """The task's params as AnsibleModule (or the action plugin) hands them over: defaults filled in."""
    result = ArgumentSpecValidator(spec, **spec_options).validate(arguments)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def record_params(url, session_dir, **arguments):
    return validated(record_spec(), ONE_AGENT_OR_MANY, gateway_url=url, session_dir=session_dir, **arguments)


def session_params(url, session_dir, **arguments):
    return validated(session_spec(), SESSION_AGENTS, gateway_url=url, session_dir=session_dir, **arguments)


def no_keeper_in(directory):
    return not os.path.isdir(directory) or not set(KEEPER_FILES) & set(os.listdir(directory))


# -- an empty batch


@pytest.mark.parametrize("check_mode", [False, True])
def test_an_empty_batch_of_recordings_does_nothing(gateway, session_dir, check_mode):
    params = record_params(gateway.url, session_dir, agents=[], password="Demo-1234", wait=True)
    result = RecordTask(params, check_mode, diff=True).run()
    assert result["changed"] is False
    assert "failed" not in result
    assert result["results"] == []
    assert result["msg"] == "0 agents: nothing to do"
    assert result["ansible_facts"] == {"cc_gateway_records": []}
    assert result["diff"] == {"before": {}, "after": {}}
    assert gateway.received == []
    assert no_keeper_in(session_dir)


@pytest.mark.parametrize("state", ["present", "absent"])
def test_an_empty_batch_of_sessions_starts_no_keeper(gateway, session_dir, state):
    params = session_params(
        gateway.url, session_dir, agents=[], state=state, keepalive=True, keepalive_lease=60, password="x"
    )
    result = SessionTask(params, False, False).run()
    assert (result["changed"], result["results"], result["msg"]) == (False, [], "0 agents: nothing to do")
    assert result["ansible_facts"] == {"cc_gateway_sessions": []}
    assert gateway.received == []
    assert no_keeper_in(session_dir)


def test_signing_out_all_kept_of_an_empty_store_does_nothing(gateway, session_dir):
    params = session_params(gateway.url, session_dir, all_kept=True, state="absent")
    result = SessionTask(params, False, False).run()
    assert (result["changed"], result["results"], result["msg"]) == (False, [], "0 agents: nothing to do")
    assert gateway.received == []


def test_all_kept_with_state_present_is_refused_with_a_sentence(gateway, session_dir):
    params = session_params(gateway.url, session_dir, all_kept=True, keepalive=True)
    result = SessionTask(params, False, False).run()
    assert result["failed"] is True
    assert (
        result["msg"]
        == "all_kept: only with state: absent (it signs out every agent the session store keeps)"
    )
    assert gateway.received == []
    assert no_keeper_in(session_dir)


def test_all_kept_beside_agents_is_refused_with_a_sentence(gateway, session_dir):
    params = session_params(
        gateway.url, session_dir, all_kept=True, state="absent", agents=[{"agent_id": 186}]
    )
    result = SessionTask(params, False, False).run()
    assert result["failed"] is True
    assert result["msg"] == "all_kept: give agent_id, agents or all_kept: true, not two of them"
    assert gateway.received == []


def test_an_empty_batch_still_has_its_options_checked(gateway, session_dir):
    params = record_params(gateway.url, session_dir, agents=[], timeout=float("nan"))
    result = RecordTask(params, False, False).run()
    assert result["failed"] is True
    assert result["msg"] == "timeout: nan is not a finite number"


# -- odd input, refused by name before anything is sent


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        (
            "/dev/null",
            "session_dir: /dev/null is not a directory; point session_dir at a directory of your own",
        ),
        (
            "/dev/null/sessions",
            "session_dir: /dev/null/sessions cannot be made: /dev/null is not a directory; point session_dir at "
            "a directory of your own",
        ),
    ],
)
def test_a_session_dir_that_is_no_directory_is_refused_by_name(gateway, directory, message):
    for task, params in (
        (
            RecordTask,
            record_params(gateway.url, directory, agent_id=186, password="Demo-1234", phone_number="1"),
        ),
        (
            SessionTask,
            session_params(gateway.url, directory, agent_id=186, keepalive=True, password="Demo-1234"),
        ),
        (SessionTask, session_params(gateway.url, directory, agents=[], keepalive=True)),
    ):
        result = task(params, False, False).run()
        assert result["failed"] is True
        assert result["msg"] == message
    assert gateway.received == []


def test_a_session_dir_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    assert session_dir_errors(str(tmp_path / "file")) == [
        f"session_dir: {tmp_path}/file is not a directory; point session_dir at a directory of your own"
    ]
    assert session_dir_errors(str(tmp_path / "file" / "a" / "b")) == [
        f"session_dir: {tmp_path}/file/a/b cannot be made: {tmp_path}/file is not a directory; point "
        "session_dir at a directory of your own"
    ]
    assert session_dir_errors(str(tmp_path / "new" / "sessions")) == []
    assert session_dir_errors(str(tmp_path)) == []
    assert session_dir_errors(f"{tmp_path}/a\x00b") == [
        "session_dir: contains a NUL character; give the path of a directory"
    ]
    assert session_dir_errors(str(tmp_path / ("x" * 5000)))[0].startswith("session_dir: ")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"timeout": float("nan")}, "timeout: nan is not a finite number"),
        ({"timeout": float("inf")}, "timeout: inf is not a finite number"),
        ({"timeout": 1e308}, "timeout: 1e+308 is greater than the maximum of 3600"),
        ({"wait_timeout": float("nan")}, "wait_timeout: nan is not a finite number"),
        ({"wait_timeout": float("-inf")}, "wait_timeout: -inf is not a finite number"),
        ({"wait_timeout": 1e308}, "wait_timeout: 1e+308 is greater than the maximum of 86400"),
        ({"gateway_url": "http://127.0.0.1:99999"}, "port, when given, is a number from 1 to 65535"),
        ({"gateway_url": "http://" + "a" * 5000}, "host name is at most 253 characters long"),
    ],
)
def test_odd_numbers_and_urls_are_refused_by_name_not_crashed_on(gateway, session_dir, arguments, message):
    (option,) = arguments
    for agents in (None, [{"agent_id": 186}, {"agent_id": 187}]):
        selection = {"agents": agents} if agents else {"agent_id": 186, "phone_number": "70186"}
        params = record_params(gateway.url, session_dir, password="Demo-1234", **selection)
        params.update(arguments)
        result = RecordTask(params, False, False).run()
        assert result["failed"] is True, result
        assert result["msg"].startswith(f"{option}: ")
        assert result["msg"].count(message) == 1, "a task-wide problem is said once, not per agent"
        assert "Unexpected" not in result["msg"]
    assert gateway.received == []


@pytest.mark.parametrize("lease", [float("nan"), float("inf"), -1.0, 604801.0])
def test_an_odd_keepalive_lease_is_refused_before_the_keeper_starts(gateway, session_dir, lease):
    params = session_params(
        gateway.url,
        session_dir,
        agent_id=186,
        keepalive=True,
        keepalive_lease=lease,
        password="Demo-1234",
        phone_number="1",
    )
    result = SessionTask(params, False, False).run()
    assert result["failed"] is True
    assert result["msg"].startswith("keepalive_lease: ")
    assert gateway.received == []
    assert no_keeper_in(session_dir)


@pytest.mark.parametrize("guid", [GUID + "\n", " " + GUID, "gu\u00efd", "g" * 300, ""], ids=repr)
def test_an_odd_guid_is_refused_without_being_shown(gateway, session_dir, guid):
    single = record_params(gateway.url, session_dir, agent_id=186, guid=guid)
    batch = record_params(
        gateway.url, session_dir, agents=[{"agent_id": 186, "guid": GUID}, {"agent_id": 187, "guid": guid}]
    )
    for params, prefix in ((single, "guid: the value given "), (batch, "agents[1]: guid: the value given ")):
        result = RecordTask(params, False, False).run()
        assert result["failed"] is True
        assert result["msg"].startswith(prefix), result["msg"]
        assert_no_secret(result, [guid] if guid else [])
        assert "gu\u00efd" not in result["msg"] and "ggg" not in result["msg"]
    assert gateway.received == []


def test_a_batch_says_a_task_wide_problem_once_and_an_agents_own_with_its_entry(gateway, session_dir):
    params = record_params(
        gateway.url,
        session_dir,
        agents=[{"agent_id": 186}, {"agent_id": 60000}, {"agent_id": 188, "file_name": "f" * 101}],
        wait_timeout=float("nan"),
        media_type=6,
    )
    result = RecordTask(params, False, False).run()
    assert result["msg"].split("; ") == [
        "wait_timeout: nan is not a finite number",
        "media_type: 6 is not one of the allowed values (5)",
        "agents[1]: agent_id: 60000 is greater than the maximum of 59999 (max_agent_id: up to 999999 from AICC 25.200.0 on)",
        "agents[2]: file_name: " + repr("f" * 101) + " is 101 characters long, more than the maximum of 100",
    ]
    assert gateway.received == []


# -- no secret in any message


@dataclass
class LeakyRequest(TaskRequest):
    agent_id: int
    state: str = "present"
    password: str | None = None
    phone_number: str | None = None
    guid: str | None = None


class LeakyManager:
    """Fails the way libraries fail: with the secret in its exception text, in every form they use."""

    def __init__(self, session):
        self.client = session.client

    def ensure(self, request):
        guid, password = request.guid or "", request.password or ""
        if request.agent_id == 186:
            raise GatewayError(
                f"GET /x was not sent: Invalid leading whitespace, reserved character(s), or return character(s) "
                f"in header value: {guid!r}; stripped {guid.strip()}; body {json.dumps({'password': password})}"
            )
        if request.agent_id == 187:
            raise ValueError(
                f"{password.encode()!r} {guid!a} {json.dumps(guid, ensure_ascii=False)} {password}"
            )
        return {
            "changed": True,
            "agent_id": request.agent_id,
            "message": f"signed in with {password!r}",
            "warnings": [f"guid {guid} / {guid!r}"],
        }


class LeakyTask(AgentTask):
    REQUEST = LeakyRequest
    MANAGER = LeakyManager
    FACT = "leaky"

    def validation_errors(self, requests, batch):
        return []  # let the odd values reach the "library", as if a check had missed them


def leaky_params(url, session_dir, **arguments):
    params = {
        "gateway_url": url,
        "validate_certs": True,
        "timeout": 5,
        "session_dir": session_dir,
        "max_concurrency": 4,
        "state": "present",
    }
    params.update(arguments)
    return params


@pytest.mark.parametrize("agent_id", [186, 187, 188])
def test_no_secret_of_the_task_is_left_in_its_result(gateway, session_dir, agent_id):
    params = leaky_params(gateway.url, session_dir, agent_id=agent_id, password=PASSWORD, guid=ODD_GUID)
    result = LeakyTask(params, False, False).run()
    assert_no_secret(result)
    assert MASK in json.dumps(result)
    if agent_id == 187:
        assert result["msg"].startswith("Unexpected ValueError for agent 187: ")
        assert MASK in result["exception"]


def test_no_secret_of_any_batch_entry_is_left_in_the_batchs_result(gateway, session_dir):
    params = leaky_params(
        gateway.url,
        session_dir,
        password=PASSWORD,
        agents=[
            {"agent_id": 186, "guid": ODD_GUID},
            {"agent_id": 187, "guid": ENTRY_GUID, "password": ENTRY_PASSWORD},
            {"agent_id": 188, "guid": ENTRY_GUID},
        ],
    )
    result = LeakyTask(params, False, False).run()
    assert result["failed"] is True
    assert [item["agent_id"] for item in result["results"]] == [186, 187, 188]
    assert_no_secret(result)
    assert result["results"][2]["message"] == f"signed in with '{MASK}'"


def test_a_bug_outside_any_agent_is_a_sentence_without_secrets(session_dir):
    class Broken(LeakyTask):
        def requests(self):
            raise RuntimeError(f"cannot read {self.params['password']!r}")

    result = Broken(
        leaky_params("http://127.0.0.1:9", session_dir, agent_id=186, password=PASSWORD), False, False
    ).run()
    assert result["failed"] is True
    assert result["msg"] == f"Unexpected RuntimeError: cannot read '{MASK}'"
    assert_no_secret(result)


def test_a_password_the_gateway_echoes_is_not_shown(gateway, session_dir):
    """The gateway's JSON takes any password; its answer (a message with the password, raw and JSON-escaped)
    becomes the task's message, without it."""
    gateway.answer(
        {
            "retcode": "100-004",
            "message": f"wrong password {PASSWORD} in {json.dumps({'password': PASSWORD})}",
        }
    )
    params = record_params(gateway.url, session_dir, agent_id=186, password=PASSWORD, phone_number="70186")
    result = RecordTask(params, False, False).run()
    assert result["failed"] is True
    assert result["msg"].startswith("100-004")
    assert_no_secret(result)
    assert gateway.received[0]["body"]["password"] == PASSWORD


def test_the_shipped_module_masks_no_log_values_in_every_form(session_dir):
    spec = {"secret": {"type": "str", "no_log": True}, "name": {"type": "str"}}
    out = io.StringIO()
    with patch_module_args({"secret": ODD_GUID, "name": "x"}), contextlib.redirect_stdout(out):
        module = CCGatewayModule(argument_spec=spec)
        with pytest.raises(SystemExit):
            module.fail_json(
                msg=f"header {ODD_GUID!r}", exception=json.dumps(ODD_GUID), warnings=[ascii(ODD_GUID)]
            )
    result = json.loads(out.getvalue())
    assert_no_secret(result, [ODD_GUID])
    assert result["msg"] == f"header '{MASK}'"


def test_every_form_of_a_secret_is_masked_in_one_pass():
    forms = secret_forms(["*", "ab\n"])
    assert [len(form) for form in forms] == sorted((len(form) for form in forms), reverse=True)
    assert {"*", "ab\n", "ab", "ab\\n"} <= set(forms)
    result = scrub_result(
        {"msg": "x * ab\n 'ab\\n' b'ab\\n'", "results": [{"message": "*"}], "other": "ab"}, ["*", "ab\n"]
    )
    assert result == {
        "msg": f"x {MASK} {MASK} '{MASK}' b'{MASK}'",
        "results": [{"message": MASK}],
        "other": "ab",
    }
    assert scrub_result({"msg": "nothing"}, ["", None]) == {"msg": "nothing"}


def test_a_batch_entry_guid_option_is_no_log():
    """The scrub works on what AgentTask is given; Ansible's own masking needs no_log on both guids."""
    assert BATCH_AGENT_OPTIONS["guid"]["no_log"] is True
    assert BATCH_AGENT_OPTIONS["password"]["no_log"] is True
