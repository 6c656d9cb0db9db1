# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation is in plugins/modules/cc_gateway_play.py.

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._options import ONE_AGENT_OR_MANY, play_spec
from ansible_collections.cec.cc_gateway.plugins.module_utils._play import PlayTask
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "cec.cc_gateway.cc_gateway_play"
    ARGUMENT_SPEC = play_spec()
    SPEC_OPTIONS = ONE_AGENT_OR_MANY

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return PlayTask(params, check_mode, diff).run()
