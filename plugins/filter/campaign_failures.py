# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_failures (documented in campaign_failures.yml beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items

NO_RESULT = "the task returned no result for this agent"
BAD = ("failed", "changed", "unchanged")


def campaign_failures(
    result: Any, agent_ids: Any, bad: Any = "failed", why: Any = "", extra: Any = None
) -> dict[Any, Any]:
    """The agents of agent_ids that failed at the step of a batch task's registered result, each with its reason.

    An agent fails when the task ended before it had a result for the agent (the task's message); when its own
    result failed (the module's message); with bad "changed" or "unchanged", when its result changed, or did not
    (why, then its result's message); and every agent in extra (agent id: reason). A later rule's reason wins."""
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(
            f"campaign_failures: the input must be a registered result, not {type(result).__name__}"
        )
    if bad not in BAD:
        raise AnsibleFilterError(f"campaign_failures: bad must be one of {', '.join(BAD)}, not {bad!r}")
    if extra is not None and not isinstance(extra, Mapping):
        raise AnsibleFilterError(f"campaign_failures: extra must be a dictionary, not {type(extra).__name__}")
    results = list_items(
        result.get("results") or [], "campaign_failures", "the result's results must be a list"
    )
    answered = {item.get("agent_id") for item in results if isinstance(item, Mapping)}
    task_message = result.get("msg", NO_RESULT)
    failures = {
        agent_id: task_message
        for agent_id in list_items(agent_ids, "campaign_failures", "agent_ids must be a list")
        if agent_id not in answered
    }
    for item in results:
        if not isinstance(item, Mapping):
            continue
        if item.get("failed"):
            failures[item.get("agent_id")] = item.get("msg")
    if bad != "failed":
        wanted = bad == "changed"
        for item in results:
            if (
                isinstance(item, Mapping)
                and not item.get("failed")
                and "changed" in item
                and item["changed"] == wanted
            ):
                failures[item.get("agent_id")] = f"{why}{item.get('message')}"
    failures.update(extra or {})
    return failures


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_failures": campaign_failures}
