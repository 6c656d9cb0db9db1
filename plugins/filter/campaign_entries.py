# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_entries (documented in campaign_entries.yml beside it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def campaign_entries(agents: Any, agent_ids: Any, keys: Any) -> list[dict[str, Any]]:
    """The entries of agents whose agent_id is in agent_ids, each with only the given keys, in the order of
    agents: one pass over the campaign, where the same in Jinja (selectattr, dict2items, items2dict) walks every
    agent's every key, for every runner at every step."""
    campaign = _items(agents, "the agents must be a list of entries")
    wanted = set(_items(agent_ids, "agent_ids must be a list"))
    kept = tuple(_items(keys, "keys must be a list"))
    entries = []
    for index, agent in enumerate(campaign):
        if not isinstance(agent, Mapping):
            raise AnsibleFilterError(f"campaign_entries: agents[{index}] is not a dictionary")
        if agent.get("agent_id") in wanted:
            entries.append({key: agent[key] for key in kept if key in agent})
    return entries


def _items(value: Any, rule: str) -> list[Any]:
    """value's items; a string, a dictionary or a scalar is refused with the rule it breaks."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise AnsibleFilterError(f"campaign_entries: {rule}, not {type(value).__name__}")
    return list(value)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_entries": campaign_entries}
