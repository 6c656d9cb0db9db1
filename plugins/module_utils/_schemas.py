# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schemas of what the collection sends and receives, and the checks that use them.

docs/schemas/cc_gateway.schema.json holds the same schemas for readers; a unit test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._transport import without_credentials

try:
    from jsonschema import Draft202012Validator

    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules through missing_required_lib
    Draft202012Validator = None
    JSONSCHEMA_IMPORT_ERROR = exc

AGENT_ID_MIN = 101
AGENT_ID_MAX = 59999
FILE_NAME_MAX = 100
# Threads and pooled connections of one batch task; a gateway limits an agent's rate, not a campaign's, but a
# controller with thousands of threads helps nobody.
MAX_CONCURRENCY = 256

_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = f"(?:{_LABEL}(?:\\.{_LABEL})*|\\[[0-9A-Fa-f:.]+\\])"
_PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
GATEWAY_URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss]?://{_HOST}(?::{_PORT})?/?(?!\\n)$"

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

CONNECTION_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Connection options of every cec.cc_gateway module",
    "type": "object",
    "required": ["gateway_url"],
    "properties": {
        "gateway_url": {
            "type": "string",
            "pattern": GATEWAY_URL_PATTERN,
            "description": "a URL of scheme https (or http), a host and an optional port, nothing else, "
            "for example https://cc-gateway.example.com:8043",
        },
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "max_concurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
    },
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

EVENT_RESPONSE: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Successful event-poll response body (no event: the key is absent or null)",
    "type": "object",
    "properties": {
        "event": {
            "type": ["object", "null"],
            "required": ["eventType"],
            "properties": {"eventType": {"type": "string"}},
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
    "connection_arguments": CONNECTION_ARGUMENTS,
    "record_request": RECORD_REQUEST,
    "sign_in_request": SIGN_IN_REQUEST,
    "response_envelope": RESPONSE_ENVELOPE,
    "record_response": RECORD_RESPONSE,
    "event_response": EVENT_RESPONSE,
    "agent_status_response": AGENT_STATUS_RESPONSE,
}


class SchemaViolation(ValueError):
    """A document does not match its schema; the message names the field and the rule."""


def _field_parts(error: Any) -> list[str]:
    parts = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        # The missing property is named in the message, not in the path.
        parts.append(error.message.split("'")[1])
    return parts


def _describe(error: Any, prefix: str, secret_fields: tuple[str, ...], names: dict[str, str]) -> str:
    parts = _field_parts(error)
    name = ".".join(parts) if parts else "(document)"
    field = names.get(name) or f"{prefix}{name}"
    secret = bool(parts) and parts[-1] in secret_fields
    value = error.instance
    # A URL's user:password@ (a gateway_url given with credentials) is not echoed back either.
    shown = "the value given" if secret else without_credentials(repr(value))
    rule = error.validator_value
    if error.validator == "maxLength":
        return f"{field}: {shown} is {len(value)} characters long, more than the maximum of {rule}"
    if error.validator == "minLength":
        return f"{field}: {shown} is shorter than the minimum of {rule} characters"
    if error.validator == "pattern" and error.schema.get("description"):
        return f"{field}: {shown} is not {error.schema['description']}"
    if secret:
        return f"{field}: the value given breaks the rule {error.validator}: {rule!r}"
    if error.validator == "enum":
        allowed = ", ".join(repr(item) for item in rule)
        return f"{field}: {shown} is not one of the allowed values ({allowed})"
    if error.validator == "required":
        return f"{field}: is required but missing"
    if error.validator == "additionalProperties":
        return f"{field}: {error.message}"
    return f"{field}: {error.message}"


def _validator(schema: dict[str, Any]) -> Any:
    """The compiled validator of a schema, made once per process (at import, so forked workers inherit it)."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    return validator


_VALIDATORS: dict[int, Any] = {}
if Draft202012Validator is not None:
    for _schema in ALL.values():
        _validator(_schema)


def check(
    document: Any,
    schema: dict[str, Any],
    prefix: str = "",
    secret_fields: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
) -> None:
    """Raise SchemaViolation naming every field of document that breaks schema.

    Values of secret_fields are never shown; names maps a document's field to the option users know it by.
    """
    errors = sorted(_validator(schema).iter_errors(document), key=lambda err: list(err.absolute_path))
    if errors:
        raise SchemaViolation("; ".join(_describe(err, prefix, secret_fields, names or {}) for err in errors))
