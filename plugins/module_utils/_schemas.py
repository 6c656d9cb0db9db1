# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schemas of what the collection sends and receives, and the checks that use them.

docs/schemas/cc_gateway.schema.json holds the same schemas for readers; a unit test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

try:
    from jsonschema import Draft202012Validator

    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the module's missing_required_lib path
    Draft202012Validator = None
    JSONSCHEMA_IMPORT_ERROR = exc

AGENT_ID_MIN = 101
AGENT_ID_MAX = 59999
FILE_NAME_MAX = 100

RECORD_MODES = {"overwrite": 0, "append": 1}
RECORD_FORMATS = {"default": 0, "24k_vox": 1, "32k_vox": 2, "64k_alaw": 3}

DIALECT = "https://json-schema.org/draft/2020-12/schema"

RECORD_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "cec.cc_gateway.cc_gateway_record recording arguments",
    "type": "object",
    "required": ["agent_id"],
    "properties": {
        "agent_id": {"type": "integer", "minimum": AGENT_ID_MIN, "maximum": AGENT_ID_MAX},
        "state": {"enum": ["started", "stopped", "paused"]},
        "media_type": {"enum": [5]},
        "record_mode": {"enum": list(RECORD_MODES)},
        "record_format": {"enum": list(RECORD_FORMATS)},
        "file_name": {"type": ["string", "null"], "maxLength": FILE_NAME_MAX},
        "wait_timeout": {"type": "number", "exclusiveMinimum": 0},
    },
}

AGENT_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "The agent of cec.cc_gateway.cc_gateway_session and cc_gateway_event_info",
    "type": "object",
    "required": ["agent_id"],
    "properties": {"agent_id": RECORD_ARGUMENTS["properties"]["agent_id"]},
}

RECORD_REQUEST: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "PUT /agentgateway/resource/recordplay/{agentid}/record request body",
    "type": "object",
    "required": ["mediaType"],
    "additionalProperties": False,
    "properties": {
        "fileName": {"type": "string", "maxLength": FILE_NAME_MAX},
        "mediaType": {"enum": [5]},
        "recordMode": {"enum": [0, 1]},
        "recordFormat": {"enum": [0, 1, 2, 3]},
    },
}

SIGN_IN_REQUEST: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "PUT /agentgateway/resource/onlineagent/{agentid} request body",
    "type": "object",
    "required": ["password", "phonenum"],
    "properties": {
        "password": {"type": "string", "maxLength": 32},
        "phonenum": {"type": "string", "minLength": 1, "maxLength": 24},
        "autoanswer": {"type": "boolean"},
        "autoenteridle": {"type": "boolean"},
        "releasephone": {"type": "boolean"},
        "status": {"enum": [3, 4, 5]},
    },
}

RESPONSE_ENVELOPE: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Every AgentGateway response body",
    "type": "object",
    "required": ["retcode"],
    "properties": {
        "retcode": {"type": "string", "pattern": "^(0|[0-9]{3}-[0-9]{3})(?!\\n)$"},
        "message": {"type": ["string", "null"]},
    },
}

RECORD_RESPONSE: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Successful start-recording response body",
    "type": "object",
    "required": ["result"],
    "properties": {
        "result": {
            "type": "object",
            "required": ["taskId"],
            "properties": {
                "taskId": {
                    "anyOf": [
                        {"type": "string", "pattern": "^[0-9]+(?!\\n)$"},
                        {"type": "integer", "minimum": 0},
                    ]
                }
            },
        }
    },
}

AGENT_STATUS_RESPONSE: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Successful agent-status response body",
    "type": "object",
    "required": ["result"],
    "properties": {
        "result": {
            "type": "object",
            "required": ["agentState"],
            "properties": {"agentState": {"type": ["integer", "string"]}},
        }
    },
}

ALL: dict[str, dict[str, Any]] = {
    "record_arguments": RECORD_ARGUMENTS,
    "agent_arguments": AGENT_ARGUMENTS,
    "record_request": RECORD_REQUEST,
    "sign_in_request": SIGN_IN_REQUEST,
    "response_envelope": RESPONSE_ENVELOPE,
    "record_response": RECORD_RESPONSE,
    "agent_status_response": AGENT_STATUS_RESPONSE,
}


class SchemaViolation(ValueError):
    """A document does not match its schema; the message names the field and the rule."""


def _field_name(error: Any, prefix: str) -> str:
    parts = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        # The missing property is named in the message, not in the path.
        parts.append(error.message.split("'")[1])
    name = ".".join(parts) if parts else "(document)"
    return f"{prefix}{name}"


def _describe(error: Any, prefix: str) -> str:
    field = _field_name(error, prefix)
    value = error.instance
    rule = error.validator_value
    if error.validator == "maxLength":
        return f"{field}: {value!r} is {len(value)} characters long, more than the maximum of {rule}"
    if error.validator == "minLength":
        return f"{field}: {value!r} is shorter than the minimum of {rule} characters"
    if error.validator == "enum":
        allowed = ", ".join(repr(item) for item in rule)
        return f"{field}: {value!r} is not one of the allowed values ({allowed})"
    if error.validator == "required":
        return f"{field}: is required but missing"
    if error.validator == "additionalProperties":
        return f"{field}: {error.message}"
    return f"{field}: {error.message}"


_VALIDATORS: dict[int, Any] = {}


def check(document: Any, schema: dict[str, Any], prefix: str = "") -> None:
    """Raise SchemaViolation naming every field of document that breaks schema."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda err: list(err.absolute_path))
    if errors:
        raise SchemaViolation("; ".join(_describe(err, prefix) for err in errors))
