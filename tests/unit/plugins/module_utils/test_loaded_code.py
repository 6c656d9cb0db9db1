# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each module's meaning loads of the client layer: ansible-core's collection loader compiles every module
it loads on every playbook run, so code only some tasks need is loaded where it is needed, and stays so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PACKAGE = "ansible_collections.cec.cc_gateway.plugins.module_utils"
# Loaded on the first failure of an exchange, by cc_gateway_recording_file, or when a task first needs the keeper;
# the keeper's own code and its transport only by the keeper, the tasks that start it and a batch of
# AIOHTTP_FROM_AGENTS agents or more (with the bridge to that transport).
ON_DEMAND = {
    "_api.http_failures",
    "_api.download",
    "_state.keeper_process",
    "_state.keeper",
    "_api.http_async",
    "_api.http_bridge",
}


def loaded_after_importing(module: str) -> set[str]:
    """The collection's modules in sys.modules of a fresh interpreter that imported PACKAGE.module."""
    code = (
        "import importlib, sys; "
        f"importlib.import_module({PACKAGE + '.' + module!r}); "
        f"print(' '.join(name[{len(PACKAGE) + 1}:] for name in sys.modules if name.startswith({PACKAGE + '.'!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("module", ["_record", "_play"])
def test_a_record_or_play_task_loads_none_of_the_code_it_may_not_need(module):
    loaded = loaded_after_importing(module)
    assert {"_api.http_sync", "_api.client", "_api.schemas", "_batch", "_session", "_state.store"} <= loaded
    assert not loaded & ON_DEMAND, sorted(loaded & ON_DEMAND)


def test_the_recording_file_task_loads_the_download_and_nothing_else_on_demand():
    loaded = loaded_after_importing("_recording_file")
    assert loaded & ON_DEMAND == {"_api.download"}


def test_tasks_that_use_the_keeper_load_its_process_control():
    assert "_state.keeper_process" in loaded_after_importing("_signin")


def test_the_campaign_report_loads_no_client_code():
    loaded = loaded_after_importing("_campaign_report")
    assert loaded == {"_api", "_api.errors", "_api.retcodes", "_campaign_report", "_dest"}, sorted(loaded)
