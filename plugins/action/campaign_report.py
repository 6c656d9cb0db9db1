# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation is in plugins/modules/campaign_report.py.

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import (
    ARGUMENT_SPEC,
    SPEC_OPTIONS,
    campaign_report,
)
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "cec.cc_gateway.campaign_report"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    SPEC_OPTIONS = SPEC_OPTIONS

    def missing_libraries(self) -> str | None:
        return None  # the reports need neither requests nor jsonschema

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        # The rows are the report itself (thousands at a campaign's scale): the invocation says how many, so
        # that verbose output and job events do not carry the whole report a second time.
        arguments = (result.get("invocation") or {}).get("module_args")
        if isinstance(arguments, dict):
            if isinstance(arguments.get("agents"), list):
                arguments["agents"] = f"({len(arguments['agents'])} rows, in the reports)"
            if isinstance(arguments.get("summary"), dict):
                arguments["summary"] = "(in the JSON report)"
        return result

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return campaign_report(params, check_mode)
