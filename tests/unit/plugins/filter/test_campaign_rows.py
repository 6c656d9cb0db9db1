# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafe
from ansible_collections.cec.cc_gateway.plugins.filter.campaign_rows import FilterModule, campaign_rows

AGENTS = [
    {"agent_id": agent_id, "password": "secret", "phone_number": f"70{agent_id}"}
    for agent_id in range(101, 105)
]
RUNNERS = ["r1", "r2"]
LEASE_NOTE = (
    "Left to the lease: the session keeper on r1 stops the recording and signs the agent out at most 600 s "
    "(keepalive_lease) after the last task that used it."
)


def finished(**facts):
    """A runner's facts after a campaign that went through every step."""
    return {
        "__campaign_ids": [101, 103],
        "__campaign_failed_step": {},
        "__campaign_failed_msg": {},
        "__campaign_task_ids": {101: "t101", 103: "t103"},
        "__campaign_file_names": {101: "f101.V3"},
        "__campaign_start_msgs": {101: "Started.", 103: "Started."},
        "__campaign_stop_msgs": {101: "Stopped.", 103: "Stopped."},
        "__campaign_stopped_ids": [101, 103],
        "__campaign_started_at": 0.25,
        "__campaign_stopped_at": 86400.999,
        "__campaign_completed": True,
        "__campaign_finished": True,
        "__campaign_signed_in_again": [],
        "__campaign_broken": None,
        "__campaign_lease_seconds": 600,
        **facts,
    }


def test_each_runner_reports_its_share_of_the_sorted_agents_in_turn():
    rows = campaign_rows({"r1": finished(), "r2": {}}, RUNNERS, AGENTS, 10)
    assert [(row["runner"], row["agent_id"]) for row in rows] == [
        ("r1", 101),
        ("r1", 103),
        ("r2", 102),
        ("r2", 104),
    ]
    expected = {
        "agent_id": 101,
        "runner": "r1",
        "task_id": "t101",
        "file_name": "f101.V3",
        "outcome": "passed",
        "step": None,
        "message": "Started. Still recording after a 10 s hold. Stopped.",
        "started_at": "1970-01-01T00:00:00.250Z",
        "stopped_at": "1970-01-02T00:00:00.999Z",
        "signed_in_again": False,
        "left_to_lease": False,
    }
    # in this order too: the JSON report keeps it (sort_keys=false)
    assert (rows[0], list(rows[0])) == (expected, list(expected))
    assert "password" not in str(rows)


def taken_for_text(value: str) -> bool:
    """Whether Ansible takes value for text, never for a template: marked unsafe where cores template a fact's
    strings (2.16-2.18); not trusted as a template from 2.19 on."""
    try:
        from ansible.template import is_trusted_as_template
    except ImportError:
        return isinstance(value, AnsibleUnsafe)
    return not is_trusted_as_template(value)


def test_the_rows_are_never_templated_again():
    facts = finished(__campaign_completed=False, __campaign_broken="Hold: template error in '{{ x }'")
    row = campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10)[0]
    assert "{{ x }" in row["message"]
    assert taken_for_text(row["message"])


def test_a_runner_outside_this_run_has_no_rows_and_one_that_never_took_its_share_fails_its_agents():
    assert [row["agent_id"] for row in campaign_rows({"r1": finished()}, RUNNERS, AGENTS, 10)] == [101, 103]
    rows = campaign_rows({"r2": {}}, RUNNERS, AGENTS, 10)
    assert {(row["outcome"], row["step"], row["left_to_lease"]) for row in rows} == {
        ("failed", "runner", False)
    }
    assert rows[0]["message"] == (
        "Runner r2 did not take its share (it was unreachable, or failed before the campaign started); see its output."
    )


def test_an_agent_keeps_the_step_it_failed_at_and_one_not_signed_out_is_left_to_the_lease():
    facts = finished(
        __campaign_failed_step={101: "check", 103: "sign_in"},
        __campaign_failed_msg={101: "Not recording any more after the hold.", 103: "Refused."},
        __campaign_signed_in_again=[101],
        __campaign_finished=False,
    )
    first, second = campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10)
    assert (first["outcome"], first["step"], first["left_to_lease"], first["signed_in_again"]) == (
        "failed",
        "check",
        True,
        True,
    )
    assert first["message"] == (
        "Not recording any more after the hold. Its session had ended before the start; it was signed in again "
        "then. Runner r1 became unreachable (or was stopped) while it signed its agents out; see its output. "
        + LEASE_NOTE
    )
    # never signed in: nothing is left running
    assert (second["step"], second["message"], second["left_to_lease"]) == ("sign_in", "Refused.", False)


def test_a_runner_that_broke_off_fails_its_unfinished_agents_with_the_reason():
    facts = finished(
        __campaign_completed=False, __campaign_finished=True, __campaign_broken="Hold: unreachable"
    )
    row = campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10)[0]
    assert (row["step"], row["left_to_lease"]) == ("runner", False)
    assert row["message"] == "Runner r1 broke off at Hold: unreachable"
    facts = finished(__campaign_completed=False, __campaign_finished=False, __campaign_lease_seconds=0)
    row = campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10)[0]
    assert row["left_to_lease"] is True
    assert row["message"] == (
        "Runner r1 became unreachable (or was stopped) before it finished the campaign; see its output. Left signed "
        "in: keepalive_lease is 0, so nothing ends the session; sign it out with the playbook "
        "cec.cc_gateway.sign_out_kept."
    )


def test_with_recordings_each_row_says_where_the_file_went_and_when_it_was_recorded():
    facts = finished(
        __campaign_file_paths={101: "/rec/101-t101.V3"},
        __campaign_file_sizes={101: 2048},
        __campaign_file_checksums={101: "ab" * 32},
        __campaign_fetch_msgs={101: "Fetched."},
        __campaign_begin_times={101: 1000},
        __campaign_end_times={101: 86401001},
    )
    first, second = campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10, True)
    assert first["message"].endswith("Stopped. Fetched.")
    assert {key: first[key] for key in ("file", "file_size", "file_checksum", "begin_time", "end_time")} == {
        "file": "/rec/101-t101.V3",
        "file_size": 2048,
        "file_checksum": "ab" * 32,
        "begin_time": "1970-01-01T00:00:01.000Z",
        "end_time": "1970-01-02T00:00:01.001Z",
    }
    assert list(first)[-5:] == ["file", "file_size", "file_checksum", "begin_time", "end_time"]
    assert (second["file"], second["begin_time"]) == (None, None)
    assert "file" not in campaign_rows({"r1": facts}, RUNNERS, AGENTS, 10)[0]


def test_facts_that_older_cores_left_as_text_read_the_same():
    facts = finished(__campaign_started_at="0.25", __campaign_lease_seconds="600", __campaign_finished=False)
    row = campaign_rows({"r1": facts}, RUNNERS, AGENTS, "10")[0]
    assert row["started_at"] == "1970-01-01T00:00:00.250Z"
    assert row["message"].endswith(LEASE_NOTE)


@pytest.mark.parametrize(
    ("facts", "runners", "agents", "message"),
    [
        ([], RUNNERS, AGENTS, "the input must be a dictionary of runners, not list"),
        ({}, "r1", AGENTS, "runners must be a list, not str"),
        ({}, RUNNERS, {"agent_id": 101}, "agents must be a list of entries, not dict"),
    ],
)
def test_wrong_input_is_refused_with_the_rule_it_breaks(facts, runners, agents, message):
    with pytest.raises(AnsibleFilterError, match=message):
        campaign_rows(facts, runners, agents, 10)


def test_the_filter_is_offered_under_its_name():
    assert FilterModule().filters() == {"campaign_rows": campaign_rows}
