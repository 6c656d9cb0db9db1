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
import os
import sys
import tempfile

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    ConnectionSettings,
    GatewayClient,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.schemas import SchemaViolation
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import (
    RecordingManager,
    RecordRequest,
    validate,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import SessionStore
from ansible_collections.cec.cc_gateway.plugins.modules import cc_gateway_record, cc_gateway_session
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.fuzz_settings import FUZZ
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.module_args import patch_module_args
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
        manager = RecordingManager(
            AgentSession(client, SessionStore(directory), gateway.url, check_mode=False)
        )
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


# -- The rest of the argument space: options every task takes, and the batch form. Each odd value is refused
# with a sentence that names its option, before anything is sent and before any keeper starts, whatever else
# the task is given, and no password or guid shows in the result in any form.

NOT_FINITE = [float("nan"), float("inf"), float("-inf")]
GUID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=:-"
KEEPER_FILES = {"keeper.lock", "keeper.json", "keeper.log", "keeper.start.lock"}


def _odd_guid():
    """Anything but 1-256 characters of the GUID alphabet: a line break, a blank, non-ASCII, too long, empty.

    What is around the odd character is long enough not to be a word of the sentences: masking a secret masks
    it wherever it appears, and a one-letter secret would mask that letter in every word."""
    valid = st.text(st.sampled_from(GUID_CHARACTERS), min_size=8, max_size=40)
    odd_character = st.one_of(
        st.sampled_from(["\n", "\r\n", " ", "\t", "\x00", "\u00e9", "\u4e2d", ";", '"', "'"]),
        TEXT.filter(lambda character: character not in GUID_CHARACTERS),
    )
    return st.one_of(
        st.sampled_from([GUID + "\n", " " + GUID, GUID + "\u00e9", "g" * 257, "g" * 300, ""]),
        st.builds(lambda head, odd, tail: head + odd + tail, valid, odd_character, st.just("") | valid),
    )


ODD_URLS = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:0",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:08043",
            "http://" + "a" * 5000,
            "http://" + "a" * 64 + ".example.com",
            "http://" + ".".join(["a" * 63] * 4) + ".bb",
            "ftp://127.0.0.1",
            "http://127.0.0.1:8043/agentgateway",
            "",
        ]
    ),
    st.integers(min_value=65536).map(lambda port: f"http://127.0.0.1:{port}"),
    st.integers(min_value=254, max_value=6000).map(lambda length: "https://" + "h" * length),
)

# Per option: values that must be refused, each with the text its sentence starts with.
ODD_OPTIONS = {
    "timeout": st.one_of(
        st.sampled_from([*NOT_FINITE, 1e308, 0.0, -1.0, 3600.001]),
        st.floats(min_value=3600, exclude_min=True, allow_infinity=False),
        st.floats(max_value=0),
    ),
    "gateway_url": ODD_URLS,
    "session_dir": st.sampled_from(["/dev/null", "/dev/null/sessions", "/dev/null/a/b"]),
    "guid": _odd_guid(),
    "max_concurrency": st.one_of(
        st.sampled_from([0, -1, 257]), st.integers(max_value=0), st.integers(min_value=257)
    ),
}
ODD_RECORD_OPTIONS = {
    **ODD_OPTIONS,
    "wait_timeout": st.one_of(
        st.sampled_from([*NOT_FINITE, 1e308, 0.0, -1.0, 86400.5]),
        st.floats(min_value=86400, exclude_min=True, allow_infinity=False),
        st.floats(max_value=0),
    ),
}
ODD_SESSION_OPTIONS = {
    **ODD_OPTIONS,
    "keepalive_lease": st.one_of(
        st.sampled_from([*NOT_FINITE, 1e308, -1.0, -0.001, 604800.5]),
        st.floats(min_value=604800, exclude_min=True, allow_infinity=False),
        st.floats(max_value=0, exclude_max=True),
    ),
}
# A password the gateway's JSON takes but no message may show: a line break, a NUL or non-ASCII inside.
ODD_PASSWORD = st.builds(
    lambda head, odd, tail: f"P{head}{odd}-{tail}",
    st.text(TEXT, max_size=12),
    st.sampled_from(["\n", "\r\n", "\x00", "\u00e9", "\u20ac", "\r", "\u4e2d\u6587"]),
    st.text(TEXT, max_size=12),
)


def _forms(secret):
    return {
        form
        for form in (
            secret,
            secret.strip(),
            repr(secret)[1:-1],
            ascii(secret)[1:-1],
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
        )
        if len(form) >= 4
    }


def _assert_no_secret(output, secrets):
    text = json.dumps(output, ensure_ascii=False)
    for secret in secrets:
        for form in _forms(secret):
            assert form not in text, f"{form!r} shown in {text}"


def _run(module, args):
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        module.main()
    return exited.value.code, json.loads(out.getvalue())


@st.composite
def odd_task(draw, odd_options, module_arguments):
    """A task with one to three odd options, in the single or the batch form, with a password no message may
    show; the guid (when odd) in the task or in one entry of agents."""
    names = draw(st.sets(st.sampled_from(sorted(odd_options)), min_size=1, max_size=3))
    odd = {name: draw(odd_options[name]) for name in sorted(names)}
    batch = draw(st.booleans())
    args = dict(module_arguments, password=draw(ODD_PASSWORD))
    guid = odd.pop("guid", None)
    if batch:
        args["agents"] = [
            {"agent_id": 186, "phone_number": "70186"},
            {"agent_id": 187, "phone_number": "70187"},
        ]
        if guid is not None:
            args["agents"][draw(st.integers(0, 1))]["guid"] = guid
    else:
        args.update(agent_id=186, phone_number="70186")
        if guid is not None:
            args["guid"] = guid
    args.update(odd)
    event(f"odd: {', '.join(sorted(names))}{' (batch)' if batch else ''}")
    return sorted(names), args


def _assert_refused(gateway, directory, names, args, code, result):
    assert code == 1, result
    message = result["msg"]
    for name in names:
        assert f"{name}: " in message, f"{name} not named in {message!r}"
    assert "Unexpected" not in message and "Traceback" not in message
    assert gateway.received == []
    assert not KEEPER_FILES & set(os.listdir(directory)) if os.path.isdir(directory) else True
    secrets = [args["password"], *([args["guid"]] if args.get("guid") else [])]
    secrets += [entry["guid"] for entry in args.get("agents", []) if entry.get("guid")]
    _assert_no_secret(result, secrets)


@FUZZ
@given(task=odd_task(ODD_RECORD_OPTIONS, {"state": "started", "wait": True}))
def test_cc_gateway_record_refuses_every_odd_option_by_name(gateway, task):
    names, args = task
    _script_sign_in_and_start(gateway)
    with tempfile.TemporaryDirectory() as directory:
        args = {"gateway_url": gateway.url, "session_dir": directory, **args}
        code, result = _run(cc_gateway_record, args)
        _assert_refused(gateway, directory, names, args, code, result)


@FUZZ
@given(task=odd_task(ODD_SESSION_OPTIONS, {"state": "present", "keepalive": True, "keepalive_lease": 60}))
def test_cc_gateway_session_refuses_every_odd_option_by_name_and_starts_no_keeper(gateway, task):
    names, args = task
    _script_sign_in_and_start(gateway)
    with tempfile.TemporaryDirectory() as directory:
        args = {"gateway_url": gateway.url, "session_dir": directory, **args}
        code, result = _run(cc_gateway_session, args)
        _assert_refused(gateway, directory, names, args, code, result)


# The cases of the issue, one by one, through the real modules: (module, arguments, the sentence's start).
EXPLICIT = [
    ("record", {"agent_id": 186, "timeout": float("nan")}, "timeout: nan is not a finite number"),
    ("record", {"agent_id": 186, "timeout": float("inf")}, "timeout: inf is not a finite number"),
    ("record", {"agent_id": 186, "timeout": float("-inf")}, "timeout: -inf is not a finite number"),
    ("record", {"agent_id": 186, "timeout": 1e308}, "timeout: 1e+308 is greater than the maximum of 3600"),
    ("record", {"agent_id": 186, "timeout": 0}, "timeout: 0.0 is less than or equal to the minimum of 0"),
    ("record", {"agent_id": 186, "timeout": -1}, "timeout: -1.0 is less than or equal to the minimum of 0"),
    ("record", {"agent_id": 186, "wait_timeout": float("nan")}, "wait_timeout: nan is not a finite number"),
    ("record", {"agent_id": 186, "wait_timeout": float("inf")}, "wait_timeout: inf is not a finite number"),
    ("record", {"agent_id": 186, "wait_timeout": 1e308}, "wait_timeout: 1e+308 is greater than the maximum"),
    (
        "record",
        {"agent_id": 186, "wait_timeout": 0},
        "wait_timeout: 0.0 is less than or equal to the minimum",
    ),
    (
        "record",
        {"agent_id": 186, "wait_timeout": -1},
        "wait_timeout: -1.0 is less than or equal to the minimum",
    ),
    ("record", {"agents": [{}]}, "missing required arguments: agent_id found in agents"),
    ("record", {"agents": ["186"]}, "agents[0]: is not a mapping"),
    ("record", {"agents": [{"agent_id": 186}, {"agent_id": 186}]}, "agents[1]: agent 186 is listed twice"),
    # ansible-core's own type error names the option; how it names the type depends on the core ("str" from
    # 2.19 on, "<class 'str'>" before).
    ("record", {"agent_id": float("inf")}, "argument 'agent_id' is of type"),
    ("record", {"agent_id": 186, "max_concurrency": float("-inf")}, "argument 'max_concurrency' is of type"),
    (
        "record",
        {"agent_id": 186, "gateway_url": "http://127.0.0.1:0"},
        "gateway_url: 'http://127.0.0.1:0' is not a URL whose port",
    ),
    (
        "record",
        {"agent_id": 186, "gateway_url": "http://127.0.0.1:65536"},
        "gateway_url: 'http://127.0.0.1:65536' is not a URL whose port",
    ),
    (
        "record",
        {"agent_id": 186, "gateway_url": "http://127.0.0.1:99999"},
        "gateway_url: 'http://127.0.0.1:99999' is not a URL whose port, when given, is a number from 1 to 65535",
    ),
    ("record", {"agent_id": 186, "gateway_url": "https://" + "a" * 5000}, "gateway_url: 'https://aaa"),
    ("record", {"agent_id": 186, "session_dir": "/dev/null"}, "session_dir: /dev/null is not a directory"),
    (
        "record",
        {"agent_id": 186, "session_dir": "/dev/null/x"},
        "session_dir: /dev/null/x cannot be made: /dev/null is not a directory",
    ),
    ("record", {"agent_id": 186, "guid": GUID + "\n"}, "guid: the value given is not a session GUID"),
    ("record", {"agent_id": 186, "guid": "a b"}, "guid: the value given is not a session GUID"),
    ("record", {"agent_id": 186, "guid": "gu\u00efd"}, "guid: the value given is not a session GUID"),
    ("record", {"agent_id": 186, "guid": "g" * 300}, "guid: the value given is 300 characters long"),
    ("record", {"agents": [{"agent_id": 186, "guid": "x\r\n"}]}, "agents[0]: guid: the value given is not"),
    (
        "session",
        {"agent_id": 186, "keepalive_lease": float("nan")},
        "keepalive_lease: nan is not a finite number",
    ),
    (
        "session",
        {"agent_id": 186, "keepalive_lease": -1},
        "keepalive_lease: -1.0 is less than the minimum of 0",
    ),
    (
        "session",
        {"agent_id": 186, "keepalive_lease": 604801},
        "keepalive_lease: 604801.0 is greater than the maximum of 604800",
    ),
    ("session", {"agent_id": 186, "timeout": float("nan")}, "timeout: nan is not a finite number"),
    ("session", {"agents": [], "session_dir": "/dev/null"}, "session_dir: /dev/null is not a directory"),
    ("session", {"all_kept": True}, "all_kept: only with state: absent"),
]


@pytest.mark.parametrize(("module", "arguments", "message"), EXPLICIT, ids=lambda value: repr(value)[:60])
def test_each_odd_input_of_the_issue_gets_its_sentence(gateway, tmp_path, module, arguments, message):
    gateway.received.clear()
    password = "Pa\r\nss\u00e9\x00w-7"
    args = {
        "gateway_url": gateway.url,
        "session_dir": str(tmp_path / "sessions"),
        "password": password,
        **({"keepalive": True} if module == "session" else {}),
        **arguments,
    }
    code, result = _run(cc_gateway_record if module == "record" else cc_gateway_session, args)
    assert code == 1, result
    assert result["msg"].startswith(message), result["msg"]
    assert "Unexpected" not in result["msg"] and "Traceback" not in json.dumps(result)
    assert gateway.received == []
    _assert_no_secret(result, [password, *([arguments["guid"]] if arguments.get("guid") else [])])


@pytest.mark.parametrize("module", [cc_gateway_record, cc_gateway_session])
@pytest.mark.parametrize("check_mode", [False, True])
def test_an_empty_campaign_share_is_a_task_that_does_nothing(
    gateway, tmp_path, module, check_mode, monkeypatch
):
    # A test that loaded the controller side before this one makes warn() of ansible-core 2.19 and later print
    # instead of collect.
    internal = sys.modules.get("ansible.module_utils._internal")
    if internal is not None:
        monkeypatch.setattr(internal, "is_controller", False, raising=False)
    gateway.received.clear()
    args = {
        "gateway_url": gateway.url,
        "session_dir": str(tmp_path / "sessions"),
        "password": "Demo-1234",
        "agents": [],
        "_ansible_check_mode": check_mode,
    }
    if module is cc_gateway_session:
        args.update(keepalive=True, keepalive_lease=600)
    code, result = _run(module, args)
    assert code == 0, result
    assert result["changed"] is False
    assert result["results"] == []
    assert result["msg"] == "0 agents: nothing to do"
    # Warnings reach the user through AnsibleModule.warn, not as the deprecated warnings= of exit_json.
    assert "gateway_url uses http://" in json.dumps(result["warnings"])
    assert "deprecations" not in result
    assert gateway.received == []
    assert not (tmp_path / "sessions").exists() or not KEEPER_FILES & set(os.listdir(tmp_path / "sessions"))


def test_a_missing_gateway_url_says_where_else_it_can_come_from(tmp_path, monkeypatch):
    monkeypatch.delenv("CC_GATEWAY_URL", raising=False)
    code, result = _run(cc_gateway_record, {"agent_id": 186, "session_dir": str(tmp_path / "sessions")})
    assert code == 1
    assert result["msg"] == (
        "missing required arguments: gateway_url (gateway_url: give it in the task, in module_defaults for "
        "group/cec.cc_gateway.cc_gateway, or in the environment variable CC_GATEWAY_URL)"
    )
