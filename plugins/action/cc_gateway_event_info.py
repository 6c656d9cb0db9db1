# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation is in plugins/modules/cc_gateway_event_info.py.

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._argspec import event_info_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._events import event_info
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import SchemaViolation
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "cec.cc_gateway.cc_gateway_event_info"
    ARGUMENT_SPEC = event_info_spec()

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        try:
            return event_info(params)
        except (GatewayError, SchemaViolation) as exc:
            return {"failed": True, "changed": False, "msg": str(exc), "agent_id": params["agent_id"]}
