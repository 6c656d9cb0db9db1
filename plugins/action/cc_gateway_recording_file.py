# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation is in plugins/modules/cc_gateway_recording_file.py.

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
    ONE_AGENT_OR_MANY,
    recording_file_spec,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._recording_file import RecordingFileTask
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "cec.cc_gateway.cc_gateway_recording_file"
    ARGUMENT_SPEC = recording_file_spec()
    SPEC_OPTIONS = ONE_AGENT_OR_MANY

    def run_here(self, params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return RecordingFileTask(params, check_mode, diff).run()
