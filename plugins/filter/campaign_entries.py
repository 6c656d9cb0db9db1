# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_entries (documented in campaign_entries.yml beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items


def campaign_entries(agents: Any, agent_ids: Any, keys: Any) -> list[dict[str, Any]]:
    """The entries of agents whose agent_id is in agent_ids, each with only the given keys, in the order of
    agents: one pass over the campaign, where the same in Jinja (selectattr, dict2items, items2dict) walks every
    agent's every key, for every runner at every step."""
    campaign = list_items(agents, "campaign_entries", "the agents must be a list of entries")
    wanted = set(list_items(agent_ids, "campaign_entries", "agent_ids must be a list"))
    kept = tuple(list_items(keys, "campaign_entries", "keys must be a list"))
    entries = []
    for index, agent in enumerate(campaign):
        if not isinstance(agent, Mapping):
            raise AnsibleFilterError(f"campaign_entries: agents[{index}] is not a dictionary")
        if agent.get("agent_id") in wanted:
            entries.append({key: agent[key] for key in kept if key in agent})
    return entries


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_entries": campaign_entries}
