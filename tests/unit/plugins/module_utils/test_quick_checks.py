# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quick checks compiled from the schemas never accept what jsonschema rejects, and do take the common case."""

from __future__ import annotations

import json

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording import RecordRequest
from ansible_collections.cec.cc_gateway.tests.unit.plugins.module_utils.fuzz_settings import FUZZ
from hypothesis import event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator


class TaggedStr(str):
    """Like the tagged strings ansible-core 2.19 hands to plugins."""


class TaggedInt(int):
    """Like the tagged integers ansible-core 2.19 hands to plugins."""


# Values near every rule of the schemas: enum members and their look-alikes (5.0, True, "5"), the agent id
# and length limits and one past them, retcode-like strings, digits with a trailing newline.
EDGE_VALUES = (
    [
        0, 1, 3, 4, 5, 6, 100, 101, 59999, 60000, -1, 5.0, 0.0, 0.5, float("nan"), True, False, None,
        "", "0", "5", "x", "000-003", "100-006", "0\n", "12\n", "5086", "started", "stopped", "paused",
        "overwrite", "append", "default", "24k_vox", "64k_alaw", "a" * 24, "a" * 25, "a" * 32, "a" * 33,
        "f" * 100, "f" * 101, TaggedStr("started"), TaggedStr("0"), TaggedInt(5), TaggedInt(1001), TaggedInt(100),
    ]
)  # fmt: skip
EDGES = st.sampled_from(EDGE_VALUES)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | EDGES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def fitting(schema):
    """Values (and nested documents) the schema accepts, drawn from the edges."""
    properties = schema.get("properties")
    if not properties:
        accepted = [value for value in EDGE_VALUES if Draft202012Validator(schema).is_valid(value)]
        return st.sampled_from(accepted) if accepted else EDGES
    members = {name: fitting(member) for name, member in properties.items()}
    required = {name: members[name] for name in schema.get("required", [])}
    optional = {name: member for name, member in members.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)


def rejected(schema):
    """Edge values the schema rejects, mostly near misses: of a type it accepts other values of."""
    validator = Draft202012Validator(schema)
    accepted_types = {type(value) for value in EDGE_VALUES if validator.is_valid(value)}
    refused = [value for value in EDGE_VALUES if not validator.is_valid(value)]
    near = [value for value in refused if type(value) in accepted_types]
    if not refused:
        return EDGES
    return (
        st.one_of(*[st.sampled_from(near)] * 3, st.sampled_from(refused))
        if near
        else st.sampled_from(refused)
    )


@st.composite
def one_step_off(draw, schema):
    """A document the schema accepts, then (mostly) one member, at any depth, set to a value it refuses."""
    document = draw(fitting(schema))
    target, properties = document, schema.get("properties", {})
    while properties and draw(st.integers(0, 3)):
        name = draw(st.sampled_from(sorted(properties)))
        member = properties[name]
        if isinstance(target.get(name), dict) and member.get("properties") and draw(st.booleans()):
            target, properties = target[name], member["properties"]
            continue
        target[name] = draw(st.one_of(rejected(member), rejected(member), EDGES, JSON))
        break
    else:
        if draw(st.booleans()):
            target[draw(st.text(min_size=1, max_size=4))] = draw(EDGES)
    return document


@pytest.mark.parametrize("name", sorted(schemas.ALL))
def test_every_schema_of_the_collection_compiles_to_a_quick_check(name):
    assert schemas.quick_check(schemas.ALL[name]) is not None


def test_a_keyword_the_compiler_does_not_know_means_no_quick_check():
    assert schemas.quick_check({"type": "object", "patternProperties": {"^x": {"type": "string"}}}) is None
    assert schemas.quick_check({"properties": {"a": {"format": "date"}}}) is None


def test_what_the_collection_sends_and_the_gateway_answers_takes_the_quick_path():
    request = RecordRequest(agent_id=1001, file_name="f.v3")
    common = [
        ("record_arguments", request.arguments()),
        ("record_request", request.record_body()),
        ("agent_arguments", {"agent_id": 186}),
        (
            "record_arguments",
            {"agent_id": TaggedInt(1001), "state": TaggedStr("started"), "media_type": TaggedInt(5)},
        ),
        (
            "sign_in_request",
            {"password": "Demo-1234", "phonenum": "70186", "status": 4, "releasephone": True},
        ),
        ("response_envelope", {"retcode": "0", "message": "success", "result": {"taskId": "5086"}}),
        ("response_envelope", {"retcode": "100-006", "message": None}),
        ("record_response", {"retcode": "0", "result": {"taskId": "5086"}}),
        ("record_response", {"retcode": "0", "result": {"taskId": 5086}}),
        ("agent_status_response", {"retcode": "0", "result": {"agentState": 4}}),
    ]
    for name, document in common:
        assert schemas.quick_check(schemas.ALL[name])(document), (name, document)


def test_the_quick_check_leaves_every_rejection_to_jsonschema():
    quick = schemas.quick_check(schemas.RECORD_ARGUMENTS)
    for wrong in ({"agent_id": 100}, {"agent_id": 60000}, {"agent_id": "1001"}, {"agent_id": True}, {}):
        assert not quick(wrong)
        with pytest.raises(schemas.SchemaViolation, match="agent_id"):
            schemas.check(wrong, schemas.RECORD_ARGUMENTS)
    assert not schemas.quick_check(schemas.RECORD_REQUEST)({"mediaType": 5, "extra": 1})
    assert not schemas.quick_check(schemas.RESPONSE_ENVELOPE)({"retcode": "0\n"})


def first_fitting(schema):
    """A document with every member of the schema present, each the first edge value it accepts."""
    if "properties" in schema:
        return {name: first_fitting(member) for name, member in schema["properties"].items()}
    return next(value for value in EDGE_VALUES if Draft202012Validator(schema).is_valid(value))


def member_paths(schema, path=()):
    for name, member in schema.get("properties", {}).items():
        yield (*path, name)
        yield from member_paths(member, (*path, name))


def changed(document, path, value):
    """A copy of document with the member at path set to value (deleted when value is DELETE)."""
    copy = json.loads(json.dumps(document))
    target = copy
    for name in path[:-1]:
        target = target[name]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


DELETE = object()


@pytest.mark.parametrize("name", sorted(schemas.ALL))
def test_no_single_change_of_a_valid_document_fools_the_quick_check(name):
    """Every member at every depth set to every edge value, removed, or joined by an unknown one."""
    schema = schemas.ALL[name]
    quick = schemas.quick_check(schema)
    validator = Draft202012Validator(schema)
    valid = first_fitting(schema)
    assert quick(valid) and validator.is_valid(valid)
    paths = list(member_paths(schema))
    variants = [changed(valid, path, value) for path in paths for value in [*EDGE_VALUES, DELETE, {}, []]]
    variants += [changed(valid, (*path[:-1], "unknown"), 1) for path in paths]
    fooled = [document for document in variants if quick(document) and not validator.is_valid(document)]
    assert not fooled, f"the quick check of {name} accepts what the schema rejects: {fooled[:3]}"
    assert any(not quick(document) for document in variants)


@settings(FUZZ, max_examples=300)
@given(data=st.data(), name=st.sampled_from(sorted(schemas.ALL)))
def test_quick_acceptance_implies_jsonschema_acceptance(data, name):
    schema = schemas.ALL[name]
    document = data.draw(st.one_of(one_step_off(schema), one_step_off(schema), JSON))
    accepted = schemas.quick_check(schema)(document)
    valid = Draft202012Validator(schema).is_valid(document)
    event(
        f"{name}: quick {'accepts' if accepted else 'defers'}, jsonschema {'accepts' if valid else 'rejects'}"
    )
    assert valid or not accepted, f"the quick check of {name} accepted {document!r}, which the schema rejects"
