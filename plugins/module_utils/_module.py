# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every cc_gateway module is built on: it checks the third-party dependencies, and leaves no
no_log value in a message in any form a library may have put it in (repr, JSON, stripped)."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import REQUESTS_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import JSONSCHEMA_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._task import scrub_result


class CCGatewayModule(AnsibleModule):
    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(argument_spec=argument_spec, **kwargs)
        if REQUESTS_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if JSONSCHEMA_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("jsonschema"), exception=str(JSONSCHEMA_IMPORT_ERROR))

    # AnsibleModule masks a no_log value only as given; a library's exception may show it as its repr().
    def exit_json(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().exit_json(**scrub_result(kwargs, getattr(self, "no_log_values", ())))

    def fail_json(self, msg: str, **kwargs: Any) -> None:  # type: ignore[override]
        super().fail_json(**scrub_result(dict(kwargs, msg=msg), getattr(self, "no_log_values", ())))


def run_agent_task(argument_spec: dict[str, Any], task_class: Any, **spec_options: Any) -> None:
    """main() of a module whose work is an AgentTask (one agent or a batch)."""
    module = CCGatewayModule(argument_spec=argument_spec, supports_check_mode=True, **spec_options)
    result = task_class(module.params, module.check_mode, module._diff).run()
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
