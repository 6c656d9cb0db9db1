# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.cec.cc_gateway.plugins.filter.campaign_entries import FilterModule, campaign_entries

AGENTS = [
    {"agent_id": 1003, "password": "p3", "phone_number": "703", "file_name": "c"},
    {"agent_id": 1001, "password": "p1", "phone_number": "701"},
    {"agent_id": 1002, "password": "p2", "phone_number": "702", "file_name": "b"},
]


def test_keeps_the_wanted_agents_in_the_campaigns_order_with_only_the_keys_asked_for():
    assert campaign_entries(AGENTS, [1001, 1003], ["agent_id", "file_name"]) == [
        {"agent_id": 1003, "file_name": "c"},
        {"agent_id": 1001},
    ]
    assert campaign_entries(AGENTS, [], ["agent_id"]) == []
    assert campaign_entries(AGENTS, [1002, 9999], ["agent_id", "password"]) == [
        {"agent_id": 1002, "password": "p2"}
    ]


def test_the_entries_are_copies_so_the_campaign_is_left_as_it_was():
    entries = campaign_entries(AGENTS, [1001], ["agent_id", "password"])
    entries[0]["password"] = "changed"
    assert AGENTS[1]["password"] == "p1"


@pytest.mark.parametrize(
    ("agents", "ids", "keys", "message"),
    [
        ("1001", [1001], ["agent_id"], "the agents must be a list of entries, not str"),
        ({"agent_id": 1001}, [1001], ["agent_id"], "the agents must be a list of entries, not dict"),
        ([1001], [1001], ["agent_id"], r"agents\[0\] is not a dictionary"),
        (AGENTS, 1001, ["agent_id"], "agent_ids must be a list, not int"),
        (AGENTS, [1001], "agent_id", "keys must be a list, not str"),
    ],
)
def test_what_is_not_a_campaign_is_refused_saying_what_it_is(agents, ids, keys, message):
    with pytest.raises(AnsibleFilterError, match=message):
        campaign_entries(agents, ids, keys)


def test_the_filter_is_offered_under_its_name():
    assert FilterModule().filters() == {"campaign_entries": campaign_entries}
