# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugins' result: no_log values masked as the shipped module masks them, in every form a library
may have put them in."""

from __future__ import annotations

import json

from ansible_collections.cec.cc_gateway.plugins.module_utils._results import MASK
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import module_result

SECRET = "vault-guid\u00e9 \r\n"


def test_a_no_log_value_is_masked_in_every_form_in_the_messages():
    outcome = {
        "failed": True,
        "msg": f"header value {SECRET!r}",
        "exception": f"body {json.dumps({'guid': SECRET})}",
        "warnings": [f"{SECRET.strip()} and {SECRET!a}"],
        "results": [{"agent_id": 186, "msg": f"{SECRET.encode()!r}"}],
    }
    result = module_result(outcome, {"guid": SECRET}, {SECRET})
    text = json.dumps(result, ensure_ascii=False)
    for form in (SECRET, SECRET.strip(), repr(SECRET)[1:-1], json.dumps(SECRET)[1:-1], ascii(SECRET)[1:-1]):
        assert form not in text
    assert result["msg"] == f"header value '{MASK}'"
    assert result["results"][0]["msg"] == f"b'{MASK}'"
    assert result["invocation"]["module_args"]["guid"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_result_without_secrets_is_unchanged():
    outcome = {"changed": False, "msg": "0 agents: nothing to do", "results": []}
    assert module_result(outcome, {}, set()) == dict(outcome, invocation={"module_args": {}})


def test_the_invocation_is_there_where_ansible_core_gives_a_shipped_module_one(monkeypatch):
    from ansible import constants as C
    from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import invocation_wanted

    # ansible-core 2.21 added INJECT_INVOCATION (default false): AnsibleModule then drops the invocation.
    monkeypatch.delenv("ANSIBLE_INJECT_INVOCATION", raising=False)
    configurable = "INJECT_INVOCATION" in C.config.get_configuration_definitions()
    assert invocation_wanted({}) is not configurable
    if configurable:
        assert invocation_wanted({"ansible_inject_invocation": True})
    outcome = {"changed": False, "invocation": {"module_args": {"agent_id": 186}}}
    assert module_result(outcome, {"agent_id": 186}, set(), invocation=False) == {"changed": False}
