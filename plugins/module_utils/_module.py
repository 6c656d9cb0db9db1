# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every cc_gateway module is built on: it checks the third-party dependencies, and leaves no
no_log value in a message in any form a library may have put it in (repr, JSON, stripped)."""

from __future__ import annotations

import copy
import math
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.schemas import JSONSCHEMA_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import scrub_result


def finite_int_arguments(argument_spec: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """arguments with an infinity given to an int option (or to one in the entries of agents) replaced by a
    text that ansible-core's own type check refuses by the option's name; that check would crash on the
    infinity itself (OverflowError in int()). The same object when there is none."""
    replaced: dict[str, Any] = {}
    for name, option in argument_spec.items():
        value = arguments.get(name) if isinstance(arguments, dict) else None
        if option.get("type") == "int" and isinstance(value, float) and math.isinf(value):
            replaced[name] = f"{value!r} (not a finite number)"
        elif option.get("options") and isinstance(value, list):
            entries = [finite_int_arguments(option["options"], entry) for entry in value]
            if any(new is not old for new, old in zip(entries, value)):
                replaced[name] = entries
    return {**arguments, **replaced} if replaced else arguments


def given_no_log_values(argument_spec: dict[str, Any], arguments: Any) -> set[str]:
    """The values given to no_log options, also in entries of agents, whatever the shape of the rest: ansible-core
    lists none at all when an entry of agents is not a mapping, and would show the password in the invocation."""
    values: set[str] = set()
    if not isinstance(arguments, dict):
        return values
    for name, option in argument_spec.items():
        value = arguments.get(name)
        if option.get("no_log") and isinstance(value, str) and value:
            values.add(value)
        elif option.get("options") and isinstance(value, (list, dict)):
            for entry in value if isinstance(value, list) else [value]:
                values |= given_no_log_values(option["options"], entry)
    return values


# What ansible-core says of an entry of a list of mappings that is not one, without naming the option.
DICT_REQUESTED = "dictionary requested, could not parse JSON or key=value"


MISSING = "missing required arguments: "


def with_fallbacks(msg: str, argument_spec: dict[str, Any]) -> str:
    """ansible-core's "missing required arguments: ..." with where else each missing option can come from."""
    if not msg.startswith(MISSING):
        return msg
    missing = msg[len(MISSING) :].split(" found in ")[0].split(", ")
    hints = []
    for name in missing:
        fallback = (argument_spec.get(name.strip()) or {}).get("fallback")
        if fallback and len(fallback) > 1 and fallback[1]:
            variables = " or ".join(fallback[1])
            hints.append(
                f"{name}: give it in the task, in module_defaults for group/cec.cc_gateway.cc_gateway, or in the "
                f"environment variable {variables}"
            )
    return f"{msg} ({'; '.join(hints)})" if hints else msg


def named_validation_message(msg: str, argument_spec: dict[str, Any], arguments: dict[str, Any]) -> str:
    """msg, or for ansible-core's sentence that names no option, one that names it and says what to give."""
    msg = with_fallbacks(msg, argument_spec)
    if not msg.startswith(DICT_REQUESTED) or not isinstance(arguments, dict):
        return msg
    for name, option in argument_spec.items():
        value = arguments.get(name)
        if option.get("elements") != "dict" or value is None:
            continue
        entries = value if isinstance(value, list) else [value]
        odd = [index for index, entry in enumerate(entries) if not isinstance(entry, dict)]
        if odd:
            return (
                f"{name}[{odd[0]}]: is not a mapping ({msg}); give {name} as a list of mappings, such as "
                f"[{{agent_id: 186}}, {{agent_id: 187}}]"
            )
    return msg


class CCGatewayModule(AnsibleModule):
    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(argument_spec=argument_spec, **kwargs)
        if REQUESTS_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if JSONSCHEMA_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("jsonschema"), exception=str(JSONSCHEMA_IMPORT_ERROR))

    def _load_params(self) -> None:
        super()._load_params()
        self.params = finite_int_arguments(self.argument_spec, self.params)
        # As given: validation drops the entries it cannot convert, which a message must still name.
        self.arguments_given = copy.deepcopy(self.params)
        self.no_log_values.update(given_no_log_values(self.argument_spec, self.params))

    def _reported(self, result: dict[str, Any]) -> dict[str, Any]:
        """result without any form of a no_log value in its texts (AnsibleModule masks a value only as given, a
        library's exception may show its repr()), its warnings handed to warn() (passing them is deprecated)."""
        result = scrub_result(result, getattr(self, "no_log_values", ()))
        warnings = result.pop("warnings", None) or []
        for warning in warnings if isinstance(warnings, list) else [warnings]:
            self.warn(warning)
        return result

    def exit_json(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().exit_json(**self._reported(kwargs))

    def fail_json(self, msg: str, **kwargs: Any) -> None:  # type: ignore[override]
        given = getattr(self, "arguments_given", {})
        msg = named_validation_message(str(msg), getattr(self, "argument_spec", {}), given)
        super().fail_json(**self._reported(dict(kwargs, msg=msg)))


def run_agent_task(argument_spec: dict[str, Any], task_class: Any, **spec_options: Any) -> None:
    """main() of a module whose work is an AgentTask (one agent or a batch)."""
    module = CCGatewayModule(argument_spec=argument_spec, supports_check_mode=True, **spec_options)
    result = task_class(module.params, module.check_mode, module._diff).run()
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
