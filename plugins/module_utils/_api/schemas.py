# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schemas of what the collection sends and receives, and the checks that use them.

docs/schemas/cc_gateway.schema.json holds the same schemas for readers; a unit test keeps the two equal.
A number in JSON is always finite; Python's float('nan') and float('inf') are not, and JSON Schema's minimum and
maximum let NaN through, so check() refuses any number that is not finite before it validates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import (
    SchemaViolation,
    without_credentials,
)

try:
    from jsonschema import Draft202012Validator

    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules through missing_required_lib
    Draft202012Validator = None
    JSONSCHEMA_IMPORT_ERROR = exc

AGENT_ID_MIN = 101
# The seed's range; AICC 25.200.0 and later take agent IDs up to AGENT_ID_CEILING (max_agent_id says which).
AGENT_ID_MAX = 59999
AGENT_ID_CEILING = 999999
FILE_NAME_MAX = 100
# Threads and pooled connections of one batch task; a gateway limits an agent's rate, not a campaign's, but a
# controller with thousands of threads helps nobody.
MAX_CONCURRENCY = 256
# Upper bounds of the numbers of seconds a task takes: generous for any real use, and small enough that no
# deadline computed from them overflows (time_t, a socket timeout, asyncio's loop time).
TIMEOUT_MAX = 3600
WAIT_TIMEOUT_MAX = 86400
KEEPALIVE_LEASE_MAX = 7 * 86400
# A session GUID, as the gateway hands it out in Set-GUID (279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0).
GUID_MAX = 256
GUID_PATTERN = "^[A-Za-z0-9._~+/=:-]*(?!\\n)$"
HOST_MAX = 253
LABEL_MAX = 63

# A label: letters and digits, with hyphens inside (written so that no input makes the regex backtrack).
_LABEL = "[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*"
_HOST = f"(?:{_LABEL}(?:\\.{_LABEL})*|\\[[0-9A-Fa-f:.]+\\])"
_PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
# The URL's shape: scheme, host, any port number; the host's length and the port's range are rules of their own
# (below), checked on a URL of this shape, so that each gets its own sentence.
GATEWAY_URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss]?://{_HOST}(?::[0-9]+)?/?(?!\\n)$"
# On a URL of that shape: an IPv6 address, or a host name of at most 253 characters in labels of at most 63
# (a longer one crashes URL parsers and IDNA codecs instead of failing to resolve).
_NAME_LENGTH = f"(?=[^:/]{{1,{HOST_MAX}}}(?![^:/]))"
_NAME_LABELS = f"[^.:/]{{1,{LABEL_MAX}}}(?:\\.[^.:/]{{1,{LABEL_MAX}}})*(?![^.:/])"
GATEWAY_HOST_PATTERN = f"^[^:]+://(?:\\[|{_NAME_LENGTH}{_NAME_LABELS})"
GATEWAY_PORT_PATTERN = f"^[^:]+://(?:\\[[^\\]]*\\]|[^:/]*)(?::{_PORT})?/?(?!\\n)$"

# Recording files (cc_gateway_recording_file): the download's filetype by file_type, and the bounds of a file and
# of its download. Files over 30 MB are not advised (section 13.1 of the API reference); 1 GiB is a generous ceiling.
FILE_TYPES = {"agent": 1, "ivr": 2}
RECORD_ID_MAX = 255
LOCATION_ID_MAX = 2147483647
MAX_SIZE_DEFAULT = 64 * 1024 * 1024
MAX_SIZE_CEILING = 1024 * 1024 * 1024
DOWNLOAD_TIMEOUT_DEFAULT = 300
DEST_MAX = 4096
FILE_MODE_MAX = 0o777

VOICE_PATH_MAX = 100
# times and startpostion are Java ints on the gateway.
PLAY_COUNT_MAX = 2147483647
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
        "wait_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": WAIT_TIMEOUT_MAX},
    },
}

AGENT_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "The agent of every cec.cc_gateway task (of the task, or of one entry of agents)",
    "type": "object",
    "required": ["agent_id"],
    "properties": {
        "agent_id": RECORD_ARGUMENTS["properties"]["agent_id"],
        "guid": {
            "type": "string",
            "minLength": 1,
            "maxLength": GUID_MAX,
            "pattern": GUID_PATTERN,
            "description": "a session GUID: letters, digits and ._~+/=:- only (no space or line break), "
            "as in 279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0",
        },
    },
}

TASK_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "Options of a cec.cc_gateway task that apply to all of its agents",
    "type": "object",
    "properties": {
        "wait_timeout": RECORD_ARGUMENTS["properties"]["wait_timeout"],
        "keepalive_lease": {"type": "number", "minimum": 0, "maximum": KEEPALIVE_LEASE_MAX},
        "since": {"type": "integer", "minimum": 0},
    },
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
            # The URL has that shape: then its host and its port must be in range.
            "if": {"pattern": GATEWAY_URL_PATTERN},
            "then": {
                "allOf": [
                    {
                        "pattern": GATEWAY_HOST_PATTERN,
                        "description": f"a URL whose host name is at most {HOST_MAX} characters long, in "
                        f"dot-separated labels of at most {LABEL_MAX}",
                    },
                    {
                        "pattern": GATEWAY_PORT_PATTERN,
                        "description": "a URL whose port, when given, is a number from 1 to 65535 "
                        "(without leading zeros)",
                    },
                ]
            },
        },
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": TIMEOUT_MAX},
        "max_concurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
        "max_agent_id": {"type": "integer", "minimum": AGENT_ID_MIN, "maximum": AGENT_ID_CEILING},
    },
}

RECORDING_FILE_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "cec.cc_gateway.cc_gateway_recording_file arguments (of the task, or of one entry of agents)",
    "type": "object",
    "required": ["agent_id", "file_name", "dest"],
    "properties": {
        "agent_id": RECORD_ARGUMENTS["properties"]["agent_id"],
        "file_name": {
            "type": "string",
            "minLength": 1,
            "maxLength": RECORD_ID_MAX,
            "pattern": "^[^\\x00-\\x1f\\x7f]*$",
            "description": "a recording's file name as AgentMediaEvent_Record gives it, without control "
            "characters, such as Y:/15/0/20201119/186/142702.V3",
        },
        "location_id": {"type": ["integer", "null"], "minimum": 0, "maximum": LOCATION_ID_MAX},
        "file_type": {"enum": list(FILE_TYPES)},
        "dest": {
            "type": "string",
            "minLength": 1,
            "maxLength": DEST_MAX,
            "pattern": "^/[^\\x00]*$",
            "description": "an absolute path (starting with /) on the host that runs the task",
        },
        "mode": {
            "anyOf": [
                {"type": "string", "pattern": "^0?[0-7]{3}(?!\\n)$"},
                {"type": "integer", "minimum": 0, "maximum": FILE_MODE_MAX},
            ],
            "description": "an octal file mode of permission bits as a quoted string, such as '0600' or '0640'",
        },
        "max_size": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE_CEILING},
        "download_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": TIMEOUT_MAX},
    },
}

PLAY_ARGUMENTS: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "cec.cc_gateway.cc_gateway_play arguments (of the task, or of one entry of agents)",
    "type": "object",
    "required": ["agent_id"],
    "properties": {
        "agent_id": RECORD_ARGUMENTS["properties"]["agent_id"],
        "state": {"enum": ["started", "paused", "stopped"]},
        "voice_path": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": VOICE_PATH_MAX,
            "pattern": "^[^\\x00-\\x1f\\x7f]*$",
            "description": "a voice file's path on the gateway's file server, 1 to 100 characters without "
            "control characters, such as Y:/15/0/20201119/186/142702.V3",
        },
        "times": {"type": "integer", "minimum": 1, "maximum": PLAY_COUNT_MAX},
        "start_position": {"type": "integer", "minimum": 0, "maximum": PLAY_COUNT_MAX},
        "location_id": RECORDING_FILE_ARGUMENTS["properties"]["location_id"],
        "wait_timeout": RECORD_ARGUMENTS["properties"]["wait_timeout"],
    },
}

PLAY_REQUEST: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "PUT /agentgateway/resource/recordplay/{agentid}/play request body",
    "type": "object",
    "required": ["voicepath"],
    "additionalProperties": False,
    "properties": {
        "voicepath": {"type": "string", "minLength": 1, "maxLength": VOICE_PATH_MAX},
        # The spelling is Huawei's.
        "startpostion": {"type": "integer", "minimum": 0, "maximum": PLAY_COUNT_MAX},
        "times": {"type": "integer", "minimum": 1, "maximum": PLAY_COUNT_MAX},
        "codeformat": {"enum": [0]},
        "locationId": {"type": "integer", "minimum": 0, "maximum": LOCATION_ID_MAX},
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
    "recording_file_arguments": RECORDING_FILE_ARGUMENTS,
    "play_arguments": PLAY_ARGUMENTS,
    "agent_arguments": AGENT_ARGUMENTS,
    "task_arguments": TASK_ARGUMENTS,
    "connection_arguments": CONNECTION_ARGUMENTS,
    "record_request": RECORD_REQUEST,
    "play_request": PLAY_REQUEST,
    "sign_in_request": SIGN_IN_REQUEST,
    "response_envelope": RESPONSE_ENVELOPE,
    "record_response": RECORD_RESPONSE,
    "event_response": EVENT_RESPONSE,
    "agent_status_response": AGENT_STATUS_RESPONSE,
}


# A value longer than this is shown by its start and its length: a 5,000-character host is not echoed whole.
SHOWN_MAX = 120


def _shown(value: Any) -> str:
    # A URL's user:password@ (a gateway_url given with credentials) is not echoed back either; masked before
    # it is cut, so that no part of it survives the cut.
    text = without_credentials(repr(value))
    if isinstance(value, str) and len(text) > SHOWN_MAX:
        return f"{text[: SHOWN_MAX // 2]}... ({len(value)} characters)"
    return text


def _field_parts(error: Any) -> list[str]:
    parts = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        # The missing property is named in the message, not in the path.
        parts.append(error.message.split("'")[1])
    return parts


def _field(parts: list[str], prefix: str, names: dict[str, str]) -> str:
    name = ".".join(parts) if parts else "(document)"
    return names.get(name) or f"{prefix}{name}"


def _option(parts: list[str], prefix: str, names: dict[str, str]) -> str:
    """The task option a violation is about, "" when the document is not a task's options."""
    if prefix or not parts:
        return ""
    return names.get(parts[0]) or parts[0]


def _describe(error: Any, prefix: str, secret_fields: tuple[str, ...], names: dict[str, str]) -> str:
    parts = _field_parts(error)
    if error.validator == "maximum" and parts and parts[-1] == "agent_id":
        return _agent_id_too_large(_field(parts, prefix, names), error.instance, error.validator_value)
    field = _field(parts, prefix, names)
    secret = bool(parts) and parts[-1] in secret_fields
    value = error.instance
    shown = "the value given" if secret else _shown(value)
    rule = error.validator_value
    if error.validator == "maxLength":
        return f"{field}: {shown} is {len(value)} characters long, more than the maximum of {rule}"
    if error.validator == "minLength" and rule == 1:
        return f"{field}: {shown} is empty; give at least one character"
    if error.validator == "minLength":
        return f"{field}: {shown} is shorter than the minimum of {rule} characters"
    if error.validator in ("pattern", "anyOf") and error.schema.get("description"):
        return f"{field}: {shown} is not {error.schema['description']}"
    if secret:
        return f"{field}: the value given breaks the rule {error.validator}: {rule!r}"
    if error.validator == "enum":
        allowed = ", ".join(repr(item) for item in rule)
        return f"{field}: {shown} is not one of the allowed values ({allowed})"
    if error.validator == "required":
        return f"{field}: is required but missing"
    if isinstance(value, str) and len(value) > SHOWN_MAX:
        # jsonschema's own sentence would hold the whole value.
        return f"{field}: {shown} breaks the rule {error.validator}: {rule!r}"
    return f"{field}: {error.message}"


def _agent_id_too_large(field: str, agent_id: Any, maximum: Any) -> str:
    newer = f": up to {AGENT_ID_CEILING} from AICC 25.200.0 on" if maximum < AGENT_ID_CEILING else ""
    return f"{field}: {agent_id!r} is greater than the maximum of {maximum} (max_agent_id{newer})"


def limited(schema: dict[str, Any], max_agent_id: int | None) -> dict[str, Any]:
    """schema with its agent_id's maximum at max_agent_id (one copy per schema and maximum, so that its
    validator is compiled once)."""
    if not max_agent_id or max_agent_id == AGENT_ID_MAX or "agent_id" not in schema.get("properties", {}):
        return schema
    key = (id(schema), max_agent_id)
    copy = _LIMITED.get(key)
    if copy is None:
        agent_id = dict(schema["properties"]["agent_id"], maximum=max_agent_id)
        copy = _LIMITED[key] = dict(schema, properties=dict(schema["properties"], agent_id=agent_id))
    return copy


_LIMITED: dict[tuple[int, int], dict[str, Any]] = {}


def _not_finite(document: Any) -> Iterator[tuple[list[str], float]]:
    """Where document holds a number that is not finite (NaN, an infinity), and that number. A loop, not a
    recursion: a gateway's answer may nest deeper than Python's recursion limit (json parses it on 3.13)."""
    pending: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while pending:
        parts, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield list(parts), value
        elif isinstance(value, dict):
            pending.extend(((*parts, str(key)), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend(((*parts, str(index)), item) for index, item in enumerate(value))


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


def violations(
    document: Any,
    schema: dict[str, Any],
    prefix: str = "",
    secret_fields: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(option, sentence) for every field of document that breaks schema, in the order of the fields.

    A number that is not finite is refused first, for itself: minimum and maximum would let NaN pass."""
    names = names or {}
    found: list[tuple[list[str], str, str]] = [
        (
            parts,
            _option(parts, prefix, names),
            f"{_field(parts, prefix, names)}: {value!r} is not a finite number",
        )
        for parts, value in _not_finite(document)
    ]
    for error in _validator(schema).iter_errors(document):
        if isinstance(error.instance, float) and not math.isfinite(error.instance):
            continue
        parts = _field_parts(error)
        found.append((parts, _option(parts, prefix, names), _describe(error, prefix, secret_fields, names)))
    found.sort(key=lambda item: item[0])
    return [(option, sentence) for _parts, option, sentence in found]


def check(
    document: Any,
    schema: dict[str, Any],
    prefix: str = "",
    secret_fields: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
    parsed: bool = False,
) -> None:
    """Raise SchemaViolation naming every field of document that breaks schema.

    Values of secret_fields are never shown; names maps a document's field to the option users know it by.
    parsed: document is what json.loads made of an answer, so its JSON text says all that the check looks at;
    such a document is checked once against a schema, then found among those that passed (the keeper's thousands
    of agents get the same empty poll answer several times a second).
    """
    text = _passed_key(document) if parsed else None
    if text is not None and (id(schema), text) in _PASSED:
        return
    problems = violations(document, schema, prefix, secret_fields, names)
    if problems:
        raise SchemaViolation("; ".join(sentence for _option, sentence in problems), problems)
    if text is not None:
        if len(_PASSED) >= PASSED_MAX:
            _PASSED.clear()
        _PASSED.add((id(schema), text))


# Documents of at most PASSED_TEXT_MAX characters of JSON are remembered, at most PASSED_MAX of them.
PASSED_TEXT_MAX = 2048
PASSED_MAX = 1024
_PASSED: set[tuple[int, str]] = set()


def _passed_key(document: Any) -> str | None:
    try:
        text = json.dumps(document, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return None
    return text if len(text) <= PASSED_TEXT_MAX else None
