# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import itertools
import json
import os

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording import RecordRequest, validate
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
        ({"agent_id": 60000}, "agent_id: 60000 is greater than the maximum of 59999"),
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
