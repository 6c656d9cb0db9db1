# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base of the collection's action plugins: run the module's logic inside the controller process.

A module costs about half a second of interpreter start-up per task and per loop item; the same work
done here costs a few milliseconds and reuses one connection pool for all loop items of a task. When the
task's host is not the controller (another connection, or become), the module is shipped as usual, for
users whose gateway is reachable only from a remote host.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible_collections.cec.cc_gateway.plugins.module_utils._module import (
    finite_int_arguments,
    named_validation_message,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import outcome_of, scrub_result

LOCAL_TRANSPORTS = ("local", "ansible.builtin.local")


class ControllerAction(ActionBase):
    """Subclasses name MODULE (FQCN), ARGUMENT_SPEC, SPEC_OPTIONS and implement run_here(params)."""

    MODULE = ""
    ARGUMENT_SPEC: ClassVar[dict[str, Any]] = {}
    SPEC_OPTIONS: ClassVar[dict[str, Any]] = {}
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()
    _supports_async = True

    def _runs_on_controller(self) -> bool:
        transport = getattr(self._connection, "transport", None)
        return transport in LOCAL_TRANSPORTS and not self._play_context.become

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if self._task.async_val or not self._runs_on_controller():
            # The module itself, shipped: to a host that is not the controller, or for an async task, which
            # ansible-core's async_wrapper keeps running in the background for async_status to read.
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            result.update(
                self._execute_module(module_name=self.MODULE, task_vars=task_vars, wrap_async=wrap_async)
            )
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        # The module would see the task's `environment:` in its environment, so the option fallbacks
        # (CC_GATEWAY_URL, ...) and requests' proxy settings see it here too; this worker process is forked
        # for this task alone.
        task_environment: dict[str, Any] = {}
        self._compute_environment_string(task_environment)
        os.environ.update({name: str(value) for name, value in task_environment.items()})
        validation, params = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC, **self.SPEC_OPTIONS
        )
        no_log_values = getattr(validation, "_no_log_values", None)
        if no_log_values is None:
            # ansible-core keeps these on its ValidationResult; without them nothing could be masked.
            raise AnsibleActionFail("This ansible-core gives no no_log values to mask; nothing was sent.")
        missing = self.missing_libraries()
        if missing:
            raise AnsibleActionFail(
                f"{missing} must be installed in the Python that runs ansible-playbook "
                "(pip install -r requirements.txt of cec.cc_gateway)."
            )
        invocation = invocation_wanted(task_vars)
        outcome = outcome_of(
            lambda: self.run_here(params, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff))
        )
        result.update(module_result(outcome, params, no_log_values, invocation))
        return result

    def validate_argument_spec(self, argument_spec: Any = None, **options: Any) -> Any:
        """ActionBase's, as the shipped module validates: on the task's arguments without an infinity given to
        an int option (on which ansible-core's type check would crash), and naming the option in every refusal."""
        given = self._task.args
        self._task.args = finite_int_arguments(argument_spec or {}, given)
        try:
            return super().validate_argument_spec(argument_spec=argument_spec, **options)
        except AnsibleActionFail as exc:
            message = named_validation_message(getattr(exc, "message", str(exc)), argument_spec or {}, given)
            # ansible-core names the action plugin's Python module; users know the module by its FQCN.
            message = message.replace(f"({self._load_name})", f"({self.MODULE})")
            raise AnsibleActionFail(message, obj=given) from None
        finally:
            self._task.args = given

    def missing_libraries(self) -> str | None:
        from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR
        from ansible_collections.cec.cc_gateway.plugins.module_utils._api.schemas import (
            JSONSCHEMA_IMPORT_ERROR,
        )

        if REQUESTS_IMPORT_ERROR is not None:
            return "The Python library requests"
        if JSONSCHEMA_IMPORT_ERROR is not None:
            return "The Python library jsonschema"
        return None

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        raise NotImplementedError


def invocation_wanted(task_vars: dict[str, Any] | None) -> bool:
    """Whether AnsibleModule would add the invocation to the shipped module's result: always before ansible-core
    2.21; from 2.21 on only where INJECT_INVOCATION (default false) asks for it."""
    if "INJECT_INVOCATION" not in C.config.get_configuration_definitions():
        return True
    return bool(C.config.get_config_value("INJECT_INVOCATION", variables=task_vars or {}))


def module_result(
    outcome: dict[str, Any], params: dict[str, Any], no_log_values: set[str], invocation: bool = True
) -> dict[str, Any]:
    """What the shipped module returns for the same outcome: AnsibleModule adds the invocation (where
    invocation_wanted) and masks the values of no_log options wherever they appear in the result (CCGatewayModule:
    in messages also in the forms a library may show them in)."""
    outcome = scrub_result(dict(outcome), no_log_values)
    if invocation:
        outcome.setdefault("invocation", {"module_args": params})
    else:
        outcome.pop("invocation", None)
    return remove_values(outcome, no_log_values)
