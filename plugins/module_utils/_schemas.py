# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schemas of what the collection sends and receives, and the checks that use them.

docs/schemas/cc_gateway.schema.json holds the same schemas for readers; a unit test keeps the two equal.
"""

from __future__ import annotations

import importlib.util
import numbers
import re
from typing import Any, Callable

# jsonschema is imported when a document fails its quick check (see below), not by every task: the
# import alone took 0.14 s, a third of a short task's time on the controller.
JSONSCHEMA_IMPORT_ERROR = (
    None
    if importlib.util.find_spec("jsonschema") is not None
    else ImportError("No module named 'jsonschema'")
)

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


# -- the quick check: a predicate compiled from a schema that says True only of documents the schema
# accepts (False means "ask jsonschema"). A batch checks six documents per agent; jsonschema's
# general machinery took more CPU than the agent's HTTP exchanges. The schema stays the definition: a
# schema with a keyword the compiler does not know gets no quick check, and a property test holds the
# predicates to "True implies valid".

Predicate = Callable[[Any], bool]
ANNOTATIONS = ("$schema", "title", "description")
# ansible-core hands plugins subclasses of str and int (tagged with their origin); jsonschema's type
# checks use isinstance too, except that a bool is not a number.
JSON_TYPES: dict[str, Predicate] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _outside_numbers(value: Any) -> bool:
    """True for what numeric keywords ignore; other numbers than int and float are left to jsonschema."""
    return isinstance(value, bool) or not isinstance(value, numbers.Number)


def _same_json(value: Any, allowed: Any) -> bool:
    if isinstance(value, str) or isinstance(allowed, str):
        return isinstance(value, str) and isinstance(allowed, str) and value == allowed
    if isinstance(value, bool) or isinstance(allowed, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value == allowed
    if value is None or allowed is None:
        return value is None and allowed is None
    return isinstance(value, int) and isinstance(allowed, int) and value == allowed


def _keyword(keyword: str, rule: Any, schema: dict[str, Any]) -> Predicate | None:
    """The predicate of one keyword of schema; None for a keyword (or form of it) not compiled."""
    if keyword == "type":
        tests = [JSON_TYPES[name] for name in ([rule] if isinstance(rule, str) else rule)]
        return lambda value: any(test(value) for test in tests)
    if keyword == "enum":
        return lambda value: any(_same_json(value, allowed) for allowed in rule)
    if keyword in ("minimum", "maximum", "exclusiveMinimum"):
        compare = {
            "minimum": lambda value: value >= rule,
            "maximum": lambda value: value <= rule,
            "exclusiveMinimum": lambda value: value > rule,
        }[keyword]
        return lambda value: _outside_numbers(value) or (isinstance(value, (int, float)) and compare(value))
    if keyword in ("minLength", "maxLength"):
        low, high = (rule, None) if keyword == "minLength" else (0, rule)
        return lambda value: (
            not isinstance(value, str) or (len(value) >= low and (high is None or len(value) <= high))
        )
    if keyword == "pattern":
        pattern = re.compile(rule)
        return lambda value: not isinstance(value, str) or pattern.search(value) is not None
    if keyword == "required":
        return lambda value: not isinstance(value, dict) or all(name in value for name in rule)
    if keyword == "additionalProperties" and rule is False:
        known = set(schema.get("properties", {}))
        return lambda value: not isinstance(value, dict) or known.issuperset(value)
    if keyword == "properties":
        members = {name: quick_check(member) for name, member in rule.items()}
        if any(member is None for member in members.values()):
            return None
        return lambda value: (
            not isinstance(value, dict)
            or all(
                members[name](member)
                for name, member in value.items()
                if name in members  # type: ignore[misc]
            )
        )
    if keyword == "anyOf":
        options = [quick_check(option) for option in rule]
        if any(option is None for option in options):
            return None
        return lambda value: any(option(value) for option in options)  # type: ignore[misc]
    return None


def quick_check(schema: dict[str, Any]) -> Predicate | None:
    """A predicate true only of documents schema accepts; None when schema uses a keyword it does not know."""
    tests: list[Predicate] = []
    for keyword, rule in schema.items():
        if keyword in ANNOTATIONS:
            continue
        test = _keyword(keyword, rule, schema)
        if test is None:
            return None
        tests.append(test)
    return lambda value: all(test(value) for test in tests)


_VALIDATORS: dict[int, Any] = {}
_QUICK_CHECKS: dict[int, Predicate | None] = {}


def check(document: Any, schema: dict[str, Any], prefix: str = "") -> None:
    """Raise SchemaViolation naming every field of document that breaks schema."""
    key = id(schema)
    if key not in _QUICK_CHECKS:
        _QUICK_CHECKS[key] = quick_check(schema)
    quick = _QUICK_CHECKS[key]
    if quick is not None and quick(document):
        return
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        from jsonschema import Draft202012Validator

        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda err: list(err.absolute_path))
    if errors:
        raise SchemaViolation("; ".join(_describe(err, prefix) for err in errors))
