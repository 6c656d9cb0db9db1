# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.cec.cc_gateway.plugins.filter.campaign_failures import (
    FilterModule,
    campaign_failures,
)

RESULT = {
    "changed": True,
    "results": [
        {"agent_id": 101, "failed": False, "changed": True, "message": "Started."},
        {"agent_id": 102, "failed": True, "changed": False, "msg": "Refused: 100-006."},
        {"agent_id": 103, "failed": False, "changed": False, "message": "Already recording."},
    ],
}


def test_a_failed_result_fails_its_agent_with_the_modules_message():
    assert campaign_failures(RESULT, [101, 102, 103]) == {102: "Refused: 100-006."}


def test_an_agent_without_a_result_fails_with_the_tasks_message():
    assert campaign_failures({"msg": "The task timed out."}, [101, 102]) == {
        101: "The task timed out.",
        102: "The task timed out.",
    }
    assert campaign_failures({"results": RESULT["results"][:1]}, [101, 104]) == {
        104: "the task returned no result for this agent"
    }


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("changed", {102: "Refused: 100-006.", 101: "Not recording: Started."}),
        ("unchanged", {102: "Refused: 100-006.", 103: "Not recording: Already recording."}),
    ],
)
def test_with_bad_a_result_that_changed_or_did_not_fails_its_agent_too(bad, expected):
    assert campaign_failures(RESULT, [101, 102, 103], bad, "Not recording: ") == expected


def test_extra_agents_fail_too_and_their_reason_wins():
    failures = campaign_failures(
        RESULT, [101, 102, 103], "failed", "", {102: "Empty file.", 105: "No file name."}
    )
    assert failures == {102: "Empty file.", 105: "No file name."}


def test_the_failures_keep_the_order_of_the_rules_then_of_the_results():
    result = {
        "msg": "Cut off.",
        "results": [*RESULT["results"], {"agent_id": 104, "failed": True, "msg": "No."}],
    }
    failures = campaign_failures(result, [106, 101, 102, 103, 104], "unchanged", "", {107: "Extra."})
    assert list(failures) == [106, 102, 104, 103, 107]


@pytest.mark.parametrize(
    ("result", "ids", "bad", "extra", "message"),
    [
        ([], [101], "failed", None, "the input must be a registered result, not list"),
        (RESULT, 101, "failed", None, "agent_ids must be a list, not int"),
        (RESULT, [101], "stopped", None, "bad must be one of failed, changed, unchanged, not 'stopped'"),
        (RESULT, [101], "failed", [102], "extra must be a dictionary, not list"),
        ({"results": "x"}, [101], "failed", None, "the result's results must be a list, not str"),
    ],
)
def test_wrong_input_is_refused_with_the_rule_it_breaks(result, ids, bad, extra, message):
    with pytest.raises(AnsibleFilterError, match=message):
        campaign_failures(result, ids, bad, "", extra)


def test_the_filter_is_offered_under_its_name():
    assert FilterModule().filters() == {"campaign_failures": campaign_failures}
