# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_event_info means: the events the session keeper saw for an agent, optionally awaited."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._agent_session import keeper_gone
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import SessionStore

READ_INTERVAL = 0.1


def event_info(params: dict[str, Any]) -> dict[str, Any]:
    """Read (and wait for) a kept agent's events; raise GatewayError when that cannot be done."""
    agent_id = params["agent_id"]
    schemas.check({"agent_id": agent_id}, schemas.AGENT_ARGUMENTS)
    schemas.check(
        {"gateway_url": params["gateway_url"], "timeout": params["timeout"]}, schemas.CONNECTION_ARGUMENTS
    )
    gateway_url = params["gateway_url"]
    store = SessionStore(params.get("session_dir"))
    if not store.keep_requested(gateway_url, agent_id):
        raise GatewayError(
            f"Agent {agent_id} is not kept by the session keeper, so nobody records its events. Sign it in with "
            "cec.cc_gateway.cc_gateway_session and keepalive: true first."
        )
    wanted_types = set(params.get("event_type") or [])
    wait_for = params.get("wait_for")
    since = params.get("since") or 0
    deadline = time.monotonic() + (params.get("wait_timeout") or 0)
    keeper = KeeperProcess(store)
    while True:
        gone = keeper_gone(store, keeper)
        if gone:
            raise GatewayError(
                f"The session keeper of {store.directory} cannot be counted on: {gone} (see {keeper.log_path}), "
                f"so agent {agent_id}'s events are no longer followed."
            )
        kept = store.kept(gateway_url, agent_id) or {}
        events = [event for event in kept.get("events", []) if event.get("received_at", 0) >= since]
        awaited = [event for event in events if event.get("event_type") == wait_for] if wait_for else []
        if not wait_for or awaited or time.monotonic() >= deadline:
            break
        time.sleep(READ_INTERVAL)
    if wait_for and not awaited:
        raise GatewayError(
            f"No {wait_for} event for agent {agent_id} within wait_timeout={params.get('wait_timeout'):g} s "
            f"({len(events)} other events seen)."
        )
    if wanted_types:
        events = [event for event in events if event.get("event_type") in wanted_types]
    return {
        "changed": False,
        "agent_id": agent_id,
        "events": events,
        "session_alive": bool(kept.get("alive")),
        "session_end_reason": None if kept.get("alive") else kept.get("reason"),
        # Alive but the keeper's last polls failed: the gateway signs the agent out after 2 minutes of that.
        "session_problem": kept.get("reason") if kept.get("alive") and kept.get("healthy") is False else None,
        "recording": kept.get("recording"),
    }
