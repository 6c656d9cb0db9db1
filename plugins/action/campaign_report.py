# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation is in plugins/modules/campaign_report.py.

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import (
    ARGUMENT_SPEC,
    SPEC_OPTIONS,
    campaign_report,
    invocation_arguments,
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
        arguments = (result.get("invocation") or {}).get("module_args")
        if isinstance(arguments, dict):
            result["invocation"]["module_args"] = invocation_arguments(arguments)
        return result

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return campaign_report(params, check_mode)
