# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""campaign_junit against the role's Jinja template it replaced (fixtures/junit_reference.xml.j2, rendered as
Ansible renders templates), on made-up rows of every kind, and the XML it makes read back."""

from __future__ import annotations

import random
from pathlib import Path
from xml.etree import ElementTree

import jinja2
import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import regex_replace, to_datetime
from ansible_collections.cec.cc_gateway.plugins.filter.campaign_junit import FilterModule, campaign_junit

REFERENCE = Path(__file__).parent / "fixtures" / "junit_reference.xml.j2"
NASTY = [
    '<a href="x">&amp;</a>',
    "it's",
    "\x00\x07bell\x1f",
    "\ufffe\uffff",
    "déjà vu ✓",
    "{{ not_a_var }}",
    "",
]


def reference(rows, summary):
    environment = jinja2.Environment(
        trim_blocks=True,
        finalize=lambda value: "" if value is None else value,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(regex_replace=regex_replace, to_datetime=to_datetime)
    template = environment.from_string(REFERENCE.read_text(encoding="utf-8"))
    return template.render(__campaign_rows=rows, __campaign_summary=summary) + "\n"


def row(agent_id, runner, outcome, chance):
    started = f"2026-12-07T02:31:{chance.randrange(10, 40):02d}.{chance.randrange(1000):03d}Z"
    stopped = f"2026-12-07T02:{chance.randrange(32, 59):02d}:47.{chance.randrange(1000):03d}Z"
    made = {
        "agent_id": agent_id,
        "runner": runner,
        "outcome": outcome,
        "step": chance.choice(["sign_in", "start", "check", "stop", "runner", None])
        if outcome == "failed"
        else None,
        "message": chance.choice([*NASTY, "Recording started (task 7107).", None]),
        "task_id": chance.choice([str(7000 + agent_id), None, ""]),
        "file_name": chance.choice(["Y:\\1\\5\\20261207\\2001\\023129809.V3", None, "a&b<c>"]),
        "started_at": chance.choice([started, None, ""]),
        "stopped_at": chance.choice([stopped, None]),
    }
    if chance.random() < 0.3:
        made.update(
            begin_time=chance.choice(["2026-12-07 02:31:33", None]),
            end_time="2026-12-07 02:31:47",
            file=chance.choice(["/tmp/r/2001.V3", "it's <here>"]),
            file_size=chance.choice([12345, 0, None]),
            file_checksum="ab" * 32,
        )
    return made


@pytest.mark.parametrize("seed", range(40))
def test_the_same_xml_as_the_template_it_replaced(seed):
    chance = random.Random(seed)
    runners = chance.sample(["runner2", "runner1", "r&<3>", "runner10", "ünïcode"], chance.randrange(1, 5))
    rows = [
        row(agent_id, chance.choice(runners), chance.choice(["passed", "failed", "failed", "left"]), chance)
        for agent_id in range(2001, 2001 + chance.randrange(0, 60))
    ]
    summary = {
        "generated_at": "2026-12-07T02:31:51Z",
        "totals": {"agents": len(rows), "failed": sum(item["outcome"] == "failed" for item in rows)},
    }
    made = campaign_junit(rows, summary)
    assert made == reference(rows, summary)
    document = ElementTree.fromstring(made.encode("utf-8"))
    assert [int(suite.get("tests")) for suite in document] == [
        sum(item["runner"] == runner for item in rows) for runner in sorted({item["runner"] for item in rows})
    ]
    assert len(document.findall("./testsuite/testcase/failure")) == summary["totals"]["failed"]


def test_times_are_the_seconds_between_start_and_stop_and_nothing_without_both():
    rows = [
        {"agent_id": 1, "runner": "r", "outcome": "passed", "message": "ok",
         "started_at": "2026-12-07T02:31:33.053Z", "stopped_at": "2026-12-07T02:31:47.757Z"},
        {"agent_id": 2, "runner": "r", "outcome": "passed", "message": "ok", "started_at": None,
         "stopped_at": "2026-12-07T02:31:47.757Z"},
    ]  # fmt: skip
    document = ElementTree.fromstring(campaign_junit(rows, {"totals": {"agents": 2, "failed": 0}}))
    assert [case.get("time") for case in document.iter("testcase")] == ["14.704", "0.000"]


@pytest.mark.parametrize(
    ("rows", "summary", "message"),
    [
        ("not rows", {"totals": {}}, "the input must be the campaign's report rows"),
        ([{"agent_id": 1}], {"no": "totals"}, "summary must be the campaign's summary"),
        (["text"], {"totals": {}}, "each row must be a dictionary, not str"),
        (
            [{"agent_id": 7, "runner": "r", "started_at": "yesterday", "stopped_at": "today"}],
            {"totals": {}},
            "agent 7:",
        ),
    ],
)
def test_what_is_not_a_campaign_report_is_refused_saying_why(rows, summary, message):
    with pytest.raises(AnsibleFilterError, match=message):
        campaign_junit(rows, summary)


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"campaign_junit": campaign_junit}
