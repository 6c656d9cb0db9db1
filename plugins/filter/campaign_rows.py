# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_rows (documented in campaign_rows.yml beside it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items


def campaign_rows(
    runner_facts: Any, runners: Any, agents: Any, hold: Any, recordings: Any = False
) -> list[dict[str, Any]]:
    """One report row for each agent of every runner in runner_facts (runner: its facts), in one pass.

    A runner that did not finish (a task failed as a whole, or it became unreachable) has its unfinished agents
    reported as failed at step "runner", with the reason when it is known; so has a runner that never took its
    share. A runner that did not get to sign its agents out left them to the lease of its session keeper: those
    agents say so (left_to_lease). With recordings, each row also has the fetched file (its path on the runner,
    size and SHA-256) and the recording's begin and end time."""
    if not isinstance(runner_facts, Mapping):
        raise AnsibleFilterError(
            f"campaign_rows: the input must be a dictionary of runners, not {type(runner_facts).__name__}"
        )
    runner_list = list_items(runners, "campaign_rows", "runners must be a list")
    sorted_agents = list_items(agents, "campaign_rows", "agents must be a list of entries")
    rows: list[dict[str, Any]] = []
    for runner in runner_list:
        if runner in runner_facts:
            share = sorted_agents[runner_list.index(runner) :: len(runner_list)]
            reading = _Runner(runner, runner_facts[runner], int(hold))
            rows.extend(reading.row(agent, bool(recordings)) for agent in share)
    # The messages quote what modules, the gateway and Ansible said (a failed task's message may hold template
    # text): never templated again, on cores that template a fact's strings (2.16-2.18) too.
    return wrap_var(rows)


class _Runner:
    """What one runner's facts say of its agents."""

    def __init__(self, name: str, facts: Mapping[str, Any], hold: int) -> None:
        def fact(key: str, default: Any) -> Any:
            value = facts.get(key)
            return default if value is None else value

        self.name = name
        self.hold = hold
        self.took_share = "__campaign_ids" in facts
        self.failed_step = fact("__campaign_failed_step", {})
        self.failed_msg = fact("__campaign_failed_msg", {})
        self.task_ids = fact("__campaign_task_ids", {})
        self.file_names = fact("__campaign_file_names", {})
        self.start_msgs = fact("__campaign_start_msgs", {})
        self.stop_msgs = fact("__campaign_stop_msgs", {})
        self.stopped_ids = set(fact("__campaign_stopped_ids", []))
        self.completed = fact("__campaign_completed", False)
        self.finished = fact("__campaign_finished", False)
        self.again = set(fact("__campaign_signed_in_again", []))
        self.broken = facts.get("__campaign_broken")
        self.started_at = facts.get("__campaign_started_at")
        self.stopped_at = facts.get("__campaign_stopped_at")
        self.files = {
            key: fact(f"__campaign_{key}", {})
            for key in (
                "file_paths",
                "file_sizes",
                "file_checksums",
                "fetch_msgs",
                "begin_times",
                "end_times",
            )
        }
        lease = int(fact("__campaign_lease_seconds", 0))
        self.lease_note = (
            f"Left to the lease: the session keeper on {name} stops the recording and signs the agent out at most "
            f"{lease} s (keepalive_lease) after the last task that used it."
            if lease > 0
            else "Left signed in: keepalive_lease is 0, so nothing ends the session; sign it out with the playbook "
            "cec.cc_gateway.sign_out_kept."
        )
        self.cut_off = f"Runner {name}" + (
            " became unreachable (or was stopped) while it signed its agents out; see its output."
            if self.completed
            else " became unreachable (or was stopped) before it finished the campaign; see its output."
        )

    def row(self, agent: Any, recordings: bool) -> dict[str, Any]:
        agent_id = agent["agent_id"]
        left = self.took_share and not self.finished and self.failed_step.get(agent_id, "") != "sign_in"
        step, message = self.outcome(agent_id, left)
        row = {
            "agent_id": agent_id,
            "runner": self.name,
            "task_id": self.task_ids.get(agent_id),
            "file_name": self.file_names.get(agent_id) or agent.get("file_name"),
            "outcome": "failed" if step is not None else "passed",
            "step": step,
            "message": message,
            "started_at": _iso(self.started_at) if agent_id in self.task_ids and self.started_at else None,
            "stopped_at": _iso(self.stopped_at) if agent_id in self.stopped_ids and self.stopped_at else None,
            "signed_in_again": agent_id in self.again,
            "left_to_lease": left,
        }
        if recordings:
            begin, end = self.files["begin_times"].get(agent_id), self.files["end_times"].get(agent_id)
            row.update(
                {
                    "file": self.files["file_paths"].get(agent_id),
                    "file_size": self.files["file_sizes"].get(agent_id),
                    "file_checksum": self.files["file_checksums"].get(agent_id),
                    "begin_time": None if begin is None else _iso_ms(begin),
                    "end_time": None if end is None else _iso_ms(end),
                }
            )
        return row

    def outcome(self, agent_id: Any, left: bool) -> tuple[str | None, str]:
        """The step the agent failed at (None: it passed) and the row's message."""
        if not self.took_share:
            return "runner", (
                f"Runner {self.name} did not take its share (it was unreachable, or failed before the campaign "
                "started); see its output."
            )
        if agent_id in self.failed_step:
            step = self.failed_step[agent_id]
            parts = [
                self.failed_msg.get(agent_id),
                "Its session had ended before the start; it was signed in again then."
                if agent_id in self.again and step != "start"
                else "",
                self.cut_off if left else "",
                self.lease_note if left else "",
            ]
            return step, _joined(parts)
        if not self.completed or not self.finished:
            if self.broken:
                message = f"Runner {self.name} broke off at {self.broken}" + (
                    "" if self.finished else f" {self.cut_off}"
                )
            else:
                message = self.cut_off
            return "runner", message + (f" {self.lease_note}" if left else "")
        parts = [
            self.start_msgs.get(agent_id),
            f"Still recording after a {self.hold} s hold.",
            self.stop_msgs.get(agent_id),
            self.files["fetch_msgs"].get(agent_id),
        ]
        return None, _joined(parts)


def _joined(parts: list[Any]) -> str:
    return " ".join(str(part) for part in parts if part)


def _utc(seconds: float, milliseconds: int) -> str:
    """ISO 8601 UTC with milliseconds, of a time in seconds since the epoch and its milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{milliseconds:03d}Z"


def _iso(seconds: Any) -> str:
    """A time in seconds since the epoch (a fact's number or its text)."""
    value = float(seconds)
    return _utc(value, int(value * 1000) % 1000)


def _iso_ms(milliseconds: Any) -> str:
    """A gateway time in milliseconds since the epoch."""
    value = int(milliseconds)
    return _utc(value // 1000, value % 1000)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_rows": campaign_rows}
