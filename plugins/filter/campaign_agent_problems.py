# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter cec.cc_gateway.campaign_agent_problems (documented in campaign_agent_problems.yml beside it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.cec.cc_gateway.plugins.plugin_utils._filter_input import list_items

FIRST_AGENT_ID = 101
FILE_NAME_MAX = 100


def campaign_agent_problems(agents: Any, max_agent_id: Any = 59999) -> list[str]:
    """What is wrong with a campaign's agents, one sentence per kind, in one pass: an agent_id that is not an
    integer (then nothing else is said), an agent listed twice (then nothing else), an agent_id outside the
    gateway's range, a file_name over 100 characters. Empty when all is well."""
    entries = list_items(agents, "campaign_agent_problems", "the input must be the campaign's agents")
    if isinstance(max_agent_id, bool) or not isinstance(max_agent_id, int):
        raise AnsibleFilterError(
            f"campaign_agent_problems: max_agent_id must be an integer, not {max_agent_id!r}"
        )
    ids = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError(f"campaign_agent_problems: agents[{index}] is not a dictionary")
        ids.append(entry.get("agent_id"))
    not_integer = [agent_id for agent_id in ids if not _integer(agent_id)]
    if not_integer:
        listed = ", ".join(str(agent_id) for agent_id in not_integer)
        return [f"cc_gateway_campaign_agents: agent_id must be an integer in every entry, not {listed}."]
    twice = sorted(agent_id for agent_id, count in Counter(ids).items() if count > 1)
    if twice:
        return [
            f"cc_gateway_campaign_agents lists agents {', '.join(map(str, twice))} more than once; list each agent"
            " once, or it would be started twice."
        ]
    problems = []
    outside = [i for i in ids if i < FIRST_AGENT_ID] + [i for i in ids if i > max_agent_id]
    if outside:
        problems.append(
            f"cc_gateway_campaign_agents: agent_id must be from {FIRST_AGENT_ID} to {max_agent_id}"
            f" (cc_gateway_campaign_max_agent_id), not {', '.join(map(str, outside))}."
        )
    long_names = [
        entry["agent_id"]
        for entry in entries
        if isinstance(entry.get("file_name"), str) and len(entry["file_name"]) > FILE_NAME_MAX
    ]
    if long_names:
        problems.append(
            f"cc_gateway_campaign_agents: file_name is longer than {FILE_NAME_MAX} characters for agents"
            f" {', '.join(map(str, long_names))}."
        )
    return problems


def _integer(value: Any) -> bool:
    """Jinja's integer test: an int, not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"campaign_agent_problems": campaign_agent_problems}
