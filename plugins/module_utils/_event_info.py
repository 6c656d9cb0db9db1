# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_event_info means: the events the session keeper saw for agents, optionally awaited."""

from __future__ import annotations

from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import (
    check_agent,
    connection_errors,
    session_dir_errors,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import TaskOptions
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import keeper_gone
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KeeperMailbox,
    KeeperReport,
    wait_until,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
)

# How many failed agents a batch's msg names.
NAMED_FAILURES = 20


def event_info(params: dict[str, Any]) -> dict[str, Any]:
    """Read (and wait for) kept agents' events: the task's agent_id, or each entry of agents.

    Raises GatewayError, StoreError or SchemaViolation when nothing can be read at all; one agent's
    problem in a batch is that agent's result."""
    options = TaskOptions.from_params(params)
    batch = options.batch
    agent_ids = [entry["agent_id"] for entry in params["agents"]] if batch else [params["agent_id"]]
    for index, agent_id in enumerate(agent_ids):
        try:
            check_agent(agent_id, None, options.max_agent_id)
        except schemas.SchemaViolation as exc:
            raise schemas.SchemaViolation(f"agents[{index}]: {exc}" if batch else str(exc)) from None
    errors = connection_errors(params) + session_dir_errors(SessionStore(options.session_dir).directory)
    if errors:
        raise schemas.SchemaViolation("; ".join(errors))
    reader = KeptEvents(options, params)
    if not batch:
        return reader.results(agent_ids)[0]
    results = reader.results(agent_ids)
    failed = [result for result in results if result["failed"]]
    summary: dict[str, Any] = {"changed": False, "results": results}
    if failed:
        named = "; ".join(
            f"agent {result['agent_id']}: {result['msg']}" for result in failed[:NAMED_FAILURES]
        )
        more = f" (and {len(failed) - NAMED_FAILURES} more)" if len(failed) > NAMED_FAILURES else ""
        summary.update(failed=True, msg=f"{len(failed)} of {len(results)} agents failed: {named}{more}")
    else:
        summary["msg"] = f"{len(results)} agents read" if results else "0 agents: nothing to read"
    return summary


class KeptEvents:
    """Reads what the keeper of one session store wrote about kept agents; sends nothing to the gateway."""

    def __init__(self, options: TaskOptions, params: dict[str, Any]) -> None:
        self.gateway_url = options.gateway_url
        self.store = SessionStore(options.session_dir)
        self.keeper = KeeperProcess(self.store)
        self.mailbox = KeeperMailbox(self.store)
        self.wanted_types = set(params.get("event_type") or [])
        self.wait_for = params.get("wait_for")
        self.since = params.get("since") or 0
        self.wait_timeout = params.get("wait_timeout") or 0
        self.renewed: set[int] = set()

    def results(self, agent_ids: list[int]) -> list[dict[str, Any]]:
        """One result per agent, in order; waits for wait_for until every agent has it or wait_timeout passed."""
        if not agent_ids:
            return []
        outcome: dict[int, dict[str, Any]] = {}
        if not self.store.check_readable():
            for agent_id in agent_ids:
                outcome[agent_id] = self._not_kept(agent_id)
        pending = [agent_id for agent_id in agent_ids if agent_id not in outcome]

        def all_read(final: bool) -> bool | None:
            kept = [
                agent_id
                for agent_id in pending
                if self.mailbox.keep_requested(self.gateway_url, agent_id)
                and not self.mailbox.ended_report(self.gateway_url, agent_id)
            ]
            if kept:
                self._keeper_counted_on(kept)
            for agent_id in list(pending):
                result = self._read(agent_id, final)
                if result is not None:
                    outcome[agent_id] = result
                    pending.remove(agent_id)
            return True if not pending else None

        if pending:
            wait_until(all_read, self.wait_timeout)
        return [outcome[agent_id] for agent_id in agent_ids]

    def _keeper_counted_on(self, agent_ids: list[int]) -> None:
        gone = keeper_gone(self.keeper)
        if gone:
            shown = ", ".join(str(agent_id) for agent_id in agent_ids[:10]) + (
                " ..." if len(agent_ids) > 10 else ""
            )
            raise GatewayError(
                f"The session keeper of {self.store.directory} cannot be counted on: {gone} (see "
                f"{self.keeper.log_path}), so the events of agent {shown} are no longer followed."
            )

    def _not_kept(self, agent_id: int) -> dict[str, Any]:
        return failure(
            agent_id,
            f"Agent {agent_id} is not kept by the session keeper, so nobody records its events. Sign it in with "
            "cec.cc_gateway.cc_gateway_session and keepalive: true first.",
        )

    def _read(self, agent_id: int, final: bool) -> dict[str, Any] | None:
        """The agent's result, or None while wait_for has not come and the wait is not over."""
        if not self.mailbox.keep_requested(self.gateway_url, agent_id):
            return self._not_kept(agent_id)
        if agent_id not in self.renewed:
            self.mailbox.renew_keep(
                self.gateway_url, agent_id
            )  # reading an agent's events uses it: the lease
            self.renewed.add(agent_id)
        kept = self.mailbox.report(self.gateway_url, agent_id) or KeeperReport()
        events = [event for event in kept.events if event.get("received_at", 0) >= self.since]
        if self.wait_for and not any(event.get("event_type") == self.wait_for for event in events):
            if not final:
                return None
            return failure(
                agent_id,
                f"No {self.wait_for} event for agent {agent_id} within wait_timeout={self.wait_timeout:g} s "
                f"({len(events)} other events seen).",
            )
        if self.wanted_types:
            events = [event for event in events if event.get("event_type") in self.wanted_types]
        alive = kept.alive
        return {
            "changed": False,
            "failed": False,
            "agent_id": agent_id,
            "events": events,
            "session_alive": alive,
            "session_end_reason": None if alive else kept.reason,
            # Alive but the keeper's last polls failed: the gateway signs the agent out after 2 minutes of that.
            "session_problem": kept.reason if alive and kept.healthy is False else None,
            "recording": kept.recording,
        }


def failure(agent_id: int, message: str) -> dict[str, Any]:
    return {"changed": False, "failed": True, "agent_id": agent_id, "msg": message}
