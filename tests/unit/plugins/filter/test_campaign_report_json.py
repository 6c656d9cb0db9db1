# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cec.cc_gateway.campaign_report's JSON report (module_utils/_campaign_report.report_json) against what the role
wrote before with ansible-core's to_nice_json(indent=2, sort_keys=false): the same text, dates and times included.
Here, on the controller's side, as ansible-core's filters are not importable in module_utils tests."""

from __future__ import annotations

import datetime
import random

import pytest
from ansible.plugins.filter.core import to_nice_json
from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import report_json

TEXTS = ['<a href="x">&amp;</a>', "it's", "déjà vu ✓", "\x00\x07bell", '"quoted"\n\tand \\ back', "", None]


def campaign(chance: random.Random, agents: int) -> tuple[dict, list[dict]]:
    rows = [
        {
            "agent_id": 2001 + number,
            "runner": chance.choice(["runner1", "ünï"]),
            "outcome": chance.choice(["passed", "failed"]),
            "message": chance.choice(TEXTS),
            "task_id": chance.choice([str(7000 + number), None]),
            "left_to_lease": chance.random() < 0.1,
            "file_size": chance.choice([0, 12345, 1.5]),
            "stopped_at": chance.choice(
                ["2026-12-07T02:32:47.500000Z", None, datetime.datetime(2026, 12, 7, 2, 32)]
            ),
        }
        for number in range(agents)
    ]
    summary = {
        "format": "cec.cc_gateway.campaign/1",
        "generated_at": chance.choice(["2026-12-07T02:33:00Z", datetime.date(2026, 12, 7)]),
        "runners": ["runner2", "runner1"],
        "totals": {"agents": agents, "failed": sum(row["outcome"] == "failed" for row in rows), "by": {}},
    }
    return summary, rows


@pytest.mark.parametrize("seed", range(12))
def test_the_json_report_is_what_to_nice_json_wrote(seed):
    summary, rows = campaign(random.Random(seed), 30)
    expected = to_nice_json({**summary, "agents": rows}, indent=2, sort_keys=False) + "\n"
    assert report_json(summary, rows) == expected
