# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import itertools
import json
import os
import time

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordRequest, validate
from jsonschema import Draft202012Validator

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PUBLISHED = os.path.join(COLLECTION_ROOT, "docs", "schemas", "cc_gateway.schema.json")


def test_published_schema_file_equals_the_schemas_the_modules_use():
    with open(PUBLISHED, encoding="utf-8") as handle:
        assert json.load(handle) == schemas.ALL


@pytest.mark.parametrize("name", sorted(schemas.ALL))
def test_every_schema_is_a_valid_draft_2020_12_schema(name):
    Draft202012Validator.check_schema(schemas.ALL[name])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"agent_id": 60000},
            "agent_id: 60000 is greater than the maximum of 59999 (max_agent_id: up to 999999 from AICC 25.200.0 on)",
        ),
        ({"agent_id": 100}, "agent_id: 100 is less than the minimum of 101"),
        ({"agent_id": 186, "media_type": 6}, "media_type: 6 is not one of the allowed values (5)"),
        (
            {"agent_id": 186, "file_name": "x" * 101},
            f"file_name: {'x' * 101!r} is 101 characters long, more than the maximum of 100",
        ),
        (
            {"agent_id": 186, "record_mode": "insert"},
            "record_mode: 'insert' is not one of the allowed values ('overwrite', 'append')",
        ),
        ({}, "agent_id: is required but missing"),
    ],
)
def test_a_violation_names_the_option_the_value_and_the_rule(arguments, message):
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check(arguments, schemas.RECORD_ARGUMENTS)
    assert str(caught.value) == message


def test_several_violations_are_reported_together():
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check({"agent_id": 7, "media_type": 4}, schemas.RECORD_ARGUMENTS)
    assert str(caught.value) == (
        "agent_id: 7 is less than the minimum of 101; media_type: 4 is not one of the allowed values (5)"
    )


@pytest.mark.parametrize(
    ("record_mode", "record_format", "file_name"),
    itertools.product(
        schemas.RECORD_MODES, schemas.RECORD_FORMATS, [None, "", "Y:/15/0/20201119/186/142702.V3", "f" * 100]
    ),
)
def test_every_valid_combination_gives_the_seed_body(record_mode, record_format, file_name):
    request = RecordRequest(
        agent_id=186, record_mode=record_mode, record_format=record_format, file_name=file_name
    )
    validate(request)
    expected = {
        "mediaType": 5,
        "recordMode": {"overwrite": 0, "append": 1}[record_mode],
        "recordFormat": {"default": 0, "24k_vox": 1, "32k_vox": 2, "64k_alaw": 3}[record_format],
    }
    if file_name:
        expected["fileName"] = file_name
    assert request.record_body() == expected


def test_a_gateway_answer_without_a_string_retcode_is_named():
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check({"retcode": 0}, schemas.RESPONSE_ENVELOPE, prefix="response.")
    assert str(caught.value) == "response.retcode: 0 is not of type 'string'"


def test_a_gateway_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check(
            {"gateway_url": "https://agent:Secret-77@gw:8043", "timeout": 5}, schemas.CONNECTION_ARGUMENTS
        )
    assert str(caught.value).startswith("gateway_url: 'https://***@gw:8043' is not ")
    assert "Secret-77" not in str(caught.value)


# Not the example GUID the rule's sentence shows.
GUID = "5c1e0b7a-9d8e-4f3a-b2c1-0a9b8c7d6e5f.AgentGateway1"
NOT_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize(
    ("schema", "document", "option"),
    [
        (schemas.CONNECTION_ARGUMENTS, {"gateway_url": "https://gw:8043"}, "timeout"),
        (schemas.RECORD_ARGUMENTS, {"agent_id": 186}, "wait_timeout"),
        (schemas.TASK_ARGUMENTS, {}, "wait_timeout"),
        (schemas.TASK_ARGUMENTS, {}, "keepalive_lease"),
    ],
)
@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_a_number_that_is_not_finite_is_refused_by_name(schema, document, option, value):
    """JSON Schema's minimum and maximum let NaN pass; check() refuses it, and the infinities, first."""
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check({**document, option: value}, schema)
    assert str(caught.value) == f"{option}: {value!r} is not a finite number"
    assert caught.value.problems == [(option, str(caught.value))]


def test_a_number_that_is_not_finite_is_refused_anywhere_in_a_document():
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check(
            {"retcode": "0", "result": {"x": [1.0, float("nan")]}}, schemas.RESPONSE_ENVELOPE, "response."
        )
    assert str(caught.value) == "response.result.x.1: nan is not a finite number"


@pytest.mark.parametrize(
    ("schema", "document", "message"),
    [
        (
            schemas.CONNECTION_ARGUMENTS,
            {"gateway_url": "https://gw", "timeout": 1e308},
            "timeout: 1e+308 is greater than the maximum of 3600",
        ),
        (
            schemas.CONNECTION_ARGUMENTS,
            {"gateway_url": "https://gw", "timeout": 0},
            "timeout: 0 is less than or equal to the minimum of 0",
        ),
        (
            schemas.CONNECTION_ARGUMENTS,
            {"gateway_url": "https://gw", "timeout": -1.0},
            "timeout: -1.0 is less than or equal to the minimum of 0",
        ),
        (
            schemas.TASK_ARGUMENTS,
            {"wait_timeout": 86400.5},
            "wait_timeout: 86400.5 is greater than the maximum of 86400",
        ),
        (
            schemas.TASK_ARGUMENTS,
            {"wait_timeout": 0},
            "wait_timeout: 0 is less than or equal to the minimum of 0",
        ),
        (
            schemas.TASK_ARGUMENTS,
            {"keepalive_lease": -1},
            "keepalive_lease: -1 is less than the minimum of 0",
        ),
        (
            schemas.TASK_ARGUMENTS,
            {"keepalive_lease": 604801},
            "keepalive_lease: 604801 is greater than the maximum of 604800",
        ),
        (schemas.TASK_ARGUMENTS, {"since": -1}, "since: -1 is less than the minimum of 0"),
    ],
)
def test_numbers_have_bounds_that_no_later_arithmetic_overflows(schema, document, message):
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check(document, schema)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        (schemas.CONNECTION_ARGUMENTS, {"gateway_url": "https://gw", "timeout": 3600}),
        (schemas.CONNECTION_ARGUMENTS, {"gateway_url": "https://gw", "timeout": 0.001}),
        (schemas.TASK_ARGUMENTS, {"wait_timeout": 86400, "keepalive_lease": 0, "since": 0}),
        (schemas.TASK_ARGUMENTS, {"keepalive_lease": 604800.0}),
    ],
)
def test_numbers_within_their_bounds_pass(schema, document):
    schemas.check(document, schema)


HOST_RULE = (
    "is not a URL whose host name is at most 253 characters long, in dot-separated labels of at most 63"
)
PORT_RULE = "is not a URL whose port, when given, is a number from 1 to 65535 (without leading zeros)"
SHAPE_RULE = "is not a URL of scheme https (or http), a host and an optional port, nothing else"


def _url_problem(url):
    try:
        schemas.check({"gateway_url": url, "timeout": 5}, schemas.CONNECTION_ARGUMENTS)
    except schemas.SchemaViolation as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("port", ["0", "65536", "99999", "08043", "123456789012345678901234567890"])
def test_a_port_out_of_range_is_told_so(port):
    message = _url_problem(f"https://cc-gateway.example.com:{port}")
    assert message.startswith("gateway_url: ")
    assert PORT_RULE in message
    assert SHAPE_RULE not in message


@pytest.mark.parametrize(
    "host",
    [
        "a" * 5000,
        "a" * 64 + ".example.com",
        ".".join(["a" * 63] * 4) + ".b",  # 254 characters
    ],
)
def test_a_host_name_too_long_is_told_so_without_echoing_it_whole(host):
    message = _url_problem(f"https://{host}:8043")
    assert HOST_RULE in message
    assert SHAPE_RULE not in message and PORT_RULE not in message
    assert len(message) < 300
    if len(host) > 100:
        assert f"({len(host) + 13} characters)" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://cc-gateway.example.com:65535",
        "https://cc-gateway.example.com:1/",
        "http://10.1.1.5",
        "https://[fe80::1]:8043",
        "https://" + ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 253 characters
        "https://a-b--c.example.com",
    ],
)
def test_urls_within_the_rules_pass(url):
    assert _url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://gw", "https://gw/agentgateway", "https://-gw", "https://gw:8043\n", "https://gw:", " https://gw"],
)
def test_a_url_of_another_shape_gets_the_shape_sentence_only(url):
    message = _url_problem(url)
    assert SHAPE_RULE in message
    assert HOST_RULE not in message and PORT_RULE not in message


def test_a_long_url_with_credentials_shows_none_of_them():
    message = _url_problem("https://agent:Secret-77@" + "a" * 500)
    assert "Secret" not in message
    assert "***@" in message


def test_a_huge_url_is_checked_at_once():
    """No pattern backtracks: a 200,000-character URL is refused in well under a second."""
    start = time.monotonic()
    for url in (
        "https://" + "a-" * 100000 + "!",
        "https://" + "a" * 200000 + ":99999",
        "https://[" + ":" * 200000,
    ):
        assert _url_problem(url)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    ("guid", "rule"),
    [
        (GUID + "\n", "is not a session GUID"),
        (GUID + "\r\n", "is not a session GUID"),
        (" " + GUID, "is not a session GUID"),
        ("g\u00fcid-" + GUID, "is not a session GUID"),
        ("g\x00" + GUID, "is not a session GUID"),
        (GUID * 6, f"is {len(GUID) * 6} characters long, more than the maximum of 256"),
        ("", "is empty; give at least one character"),
    ],
    ids=repr,
)
def test_a_guid_that_cannot_be_one_is_refused_without_showing_it(guid, rule):
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check({"agent_id": 186, "guid": guid}, schemas.AGENT_ARGUMENTS, secret_fields=("guid",))
    message = str(caught.value)
    assert message.startswith("guid: the value given ")
    assert rule in message
    for shown in (guid, guid.strip(), repr(guid)[1:-1], "5c1e0b7a-9d8e"):
        if shown and shown != GUID:
            assert shown not in message
    assert caught.value.problems[0][0] == "guid"


def test_a_real_guid_passes():
    schemas.check({"agent_id": 186, "guid": GUID}, schemas.AGENT_ARGUMENTS, secret_fields=("guid",))
    schemas.check({"agent_id": 186, "guid": "a" * 256}, schemas.AGENT_ARGUMENTS, secret_fields=("guid",))


def test_every_problem_names_its_option():
    with pytest.raises(schemas.SchemaViolation) as caught:
        schemas.check(
            {"gateway_url": "https://gw:99999", "timeout": float("nan"), "max_concurrency": 0},
            schemas.CONNECTION_ARGUMENTS,
        )
    assert [option for option, _sentence in caught.value.problems] == [
        "gateway_url",
        "max_concurrency",
        "timeout",
    ]
    assert str(caught.value) == "; ".join(sentence for _option, sentence in caught.value.problems)


def test_the_patterns_are_ecma_262_as_well_as_python():
    """What the published schema says in JSON Schema's regex dialect: no Python-only syntax."""
    for pattern in (
        schemas.GATEWAY_URL_PATTERN,
        schemas.GATEWAY_HOST_PATTERN,
        schemas.GATEWAY_PORT_PATTERN,
        schemas.GUID_PATTERN,
    ):
        for python_only in ("\\Z", "\\A", "(?P", "(?i", "(?#", "\\z"):
            assert python_only not in pattern


def test_a_parsed_answer_that_passed_is_not_validated_again(monkeypatch):
    answer = json.loads('{"message": "", "retcode": "0", "event": {"eventType": "AgentState_Ready"}}')
    schemas.check(answer, schemas.EVENT_RESPONSE, prefix="response.", parsed=True)
    validated = []
    monkeypatch.setattr(schemas, "violations", lambda *args, **kwargs: validated.append(args) or [])
    schemas.check(json.loads(json.dumps(answer)), schemas.EVENT_RESPONSE, prefix="response.", parsed=True)
    assert validated == []
    # Another schema, another document, or a document not parsed from an answer: validated.
    schemas.check(answer, schemas.RESPONSE_ENVELOPE, prefix="response.", parsed=True)
    schemas.check(dict(answer, message="x"), schemas.EVENT_RESPONSE, prefix="response.", parsed=True)
    schemas.check(answer, schemas.EVENT_RESPONSE, prefix="response.")
    assert len(validated) == 3


@pytest.mark.parametrize("retcode", ["0", 0, 0.0, True, None])
def test_an_answer_that_failed_or_differs_in_type_only_is_validated_each_time(retcode):
    good = json.loads('{"message": "", "retcode": "0"}')
    schemas.check(good, schemas.RESPONSE_ENVELOPE, parsed=True)
    document = {"message": "", "retcode": retcode}
    for _attempt in range(2):
        if retcode == "0":
            schemas.check(document, schemas.RESPONSE_ENVELOPE, parsed=True)
        else:
            with pytest.raises(schemas.SchemaViolation, match="retcode"):
                schemas.check(document, schemas.RESPONSE_ENVELOPE, parsed=True)


def test_the_answers_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(schemas, "_PASSED", set())
    for number in range(schemas.PASSED_MAX + 10):
        schemas.check({"message": str(number), "retcode": "0"}, schemas.RESPONSE_ENVELOPE, parsed=True)
    assert len(schemas._PASSED) <= schemas.PASSED_MAX
    large = {"message": "x" * schemas.PASSED_TEXT_MAX, "retcode": "0"}
    schemas.check(large, schemas.RESPONSE_ENVELOPE, parsed=True)
    assert all(len(text) <= schemas.PASSED_TEXT_MAX for _schema, text in schemas._PASSED)
