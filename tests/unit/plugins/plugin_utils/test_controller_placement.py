# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an action plugin runs a task: in the controller's process for the local connection without become only;
otherwise the module is shipped (AnsiballZ), as to a remote host. The integration tests ship through a renamed
local connection (setup_shipped); become is decided here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._controller import ControllerAction


@pytest.mark.parametrize(
    ("transport", "become", "in_the_controller"),
    [
        ("local", False, True),
        ("ansible.builtin.local", False, True),
        ("local", True, False),
        ("ansible.builtin.local", True, False),
        ("ssh", False, False),
        ("shipped_local", False, False),
    ],
)
def test_only_the_local_connection_without_become_runs_the_task_in_the_controller(
    transport, become, in_the_controller
):
    action = object.__new__(ControllerAction)
    action._connection = SimpleNamespace(transport=transport)
    action._play_context = SimpleNamespace(become=become)
    assert action._runs_on_controller() is in_the_controller
