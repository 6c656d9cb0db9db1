# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""campaign_agent_problems against the role's Jinja checks it replaced (rendered with Jinja and Ansible's match
test, as the role's assert tasks rendered them), on random campaigns with every kind of problem."""

from __future__ import annotations

import random

import jinja2
import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.test.core import TestModule as AnsibleTests
from ansible_collections.cec.cc_gateway.plugins.filter.campaign_agent_problems import (
    FilterModule,
    campaign_agent_problems,
)

# The role's expressions before the filter (roles/campaign/tasks/share.yml and vars/main.yml of 71dbb69).
REFERENCE = {
    "not_integer": "{{ agents | map(attribute='agent_id') | reject('integer') | map('string') | join(', ') }}",
    "unique": "{{ agents | map(attribute='agent_id') | unique | list | length == agents | length }}",
    "twice": "{{ agents | groupby('agent_id') | selectattr('1.1', 'defined') | map('first') | join(', ') }}",
    "outside": (
        "{{ (agents | map(attribute='agent_id') | select('integer') | reject('ge', 101) | list"
        " + agents | map(attribute='agent_id') | select('integer') | select('gt', most | int) | list) | join(', ') }}"
    ),
    "long_names": (
        "{{ agents | selectattr('file_name', 'defined') | selectattr('file_name', 'string')"
        " | selectattr('file_name', 'match', '(?s).{101}') | map(attribute='agent_id') | join(', ') }}"
    ),
}


def reference(agents, most):
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.tests["match"] = AnsibleTests().tests()["match"]

    def found(name):  # rendered only where the role's tasks rendered it: sorting mixed types would fail
        return environment.from_string(REFERENCE[name]).render(agents=agents, most=most)

    if found("not_integer"):
        return [
            f"cc_gateway_campaign_agents: agent_id must be an integer in every entry, not {found('not_integer')}."
        ]
    if found("unique") != "True":
        return [
            f"cc_gateway_campaign_agents lists agents {found('twice')} more than once; list each agent once, or it"
            " would be started twice."
        ]
    problems = []
    if found("outside"):
        problems.append(
            f"cc_gateway_campaign_agents: agent_id must be from 101 to {most} (cc_gateway_campaign_max_agent_id),"
            f" not {found('outside')}."
        )
    if found("long_names"):
        problems.append(
            f"cc_gateway_campaign_agents: file_name is longer than 100 characters for agents {found('long_names')}."
        )
    return problems


def campaign(chance, most):
    ids = chance.sample(range(1, most + 200), chance.randrange(1, 60))
    if chance.random() < 0.2:
        ids.append(chance.choice(ids))  # listed twice
    if chance.random() < 0.15:
        ids[chance.randrange(len(ids))] = chance.choice(["2001", 2001.0, None, True, "x"])
    agents = []
    for agent_id in ids:
        entry = {"agent_id": agent_id}
        kind = chance.random()
        if kind < 0.3:
            entry["file_name"] = "n" * chance.choice([1, 99, 100, 101, 150])
        elif kind < 0.4:
            entry["file_name"] = chance.choice([None, 5, "é" * 101, "line\n" * 25])
        agents.append(entry)
    return agents


@pytest.mark.parametrize("seed", range(60))
def test_the_same_sentences_as_the_jinja_checks_it_replaced(seed):
    chance = random.Random(seed)
    most = chance.choice([59999, 300, 150])
    agents = campaign(chance, most)
    assert campaign_agent_problems(agents, most) == reference(agents, most)


def test_a_campaign_without_problems_has_none():
    agents = [{"agent_id": 101}, {"agent_id": 59999, "file_name": "x" * 100}]
    assert campaign_agent_problems(agents) == []


@pytest.mark.parametrize(
    ("agents", "most", "message"),
    [
        ("101", 59999, "the input must be the campaign's agents, not str"),
        ([101], 59999, r"agents\[0\] is not a dictionary"),
        ([{"agent_id": 101}], "59999", "max_agent_id must be an integer"),
        ([{"agent_id": 101}], True, "max_agent_id must be an integer"),
    ],
)
def test_what_is_not_a_campaign_is_refused_saying_why(agents, most, message):
    with pytest.raises(AnsibleFilterError, match=message):
        campaign_agent_problems(agents, most)


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters()["campaign_agent_problems"] is campaign_agent_problems
