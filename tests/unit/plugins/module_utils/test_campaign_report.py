# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cec.cc_gateway.campaign_report's meaning on a real file system: both reports whole or not at all, nothing written
through a symlink or onto a directory or a FIFO, a rerun that changes nothing, and the check before a campaign (the
directory made owner-only). The JSON report against ansible-core's to_nice_json, a controller-side filter that
module_utils tests cannot import, is in tests/unit/plugins/filter/test_campaign_report_json.py."""

from __future__ import annotations

import datetime
import json
import os
import random
import stat
import threading

import pytest
from ansible_collections.cec.cc_gateway.plugins.module_utils import _dest
from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import (
    campaign_report,
    junit_xml,
    report_json,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import outcome_of

TEXTS = ['<a href="x">&amp;</a>', "it's", "déjà vu ✓", "\x00\x07bell", '"quoted"\n\tand \\ back', "", None]


def campaign(chance: random.Random, agents: int) -> tuple[dict, list[dict]]:
    rows = [
        {
            "agent_id": 2001 + number,
            "runner": chance.choice(["runner1", "runner2", "ünï"]),
            "outcome": chance.choice(["passed", "failed"]),
            "step": chance.choice(["start", None]),
            "message": chance.choice(TEXTS),
            "task_id": chance.choice([str(7000 + number), None]),
            "started_at": "2026-12-07T02:31:10.125000Z",
            "stopped_at": chance.choice(["2026-12-07T02:32:47.500000Z", None]),
            "left_to_lease": chance.random() < 0.1,
            "file_size": chance.choice([0, 12345, 1.5]),
        }
        for number in range(agents)
    ]
    summary = {
        "format": "cec.cc_gateway.campaign/1",
        "generated_at": "2026-12-07T02:33:00Z",
        "runners": ["runner2", "runner1"],
        "hold_seconds": 10,
        "totals": {"agents": agents, "failed": sum(row["outcome"] == "failed" for row in rows), "by": {}},
    }
    return summary, rows


def report(tmp_path, summary, rows, check=False, **options):
    params = {
        "path": str(tmp_path / "reports" / "campaign.json"),
        "junit_path": None,
        "state": "present",
        "summary": summary,
        "agents": rows,
        "mode": "0644",
        **options,
    }
    return outcome_of(lambda: campaign_report(params, check))


def test_dates_and_times_are_written_as_iso_8601_text(tmp_path):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(11), 2)
    summary["generated_at"] = datetime.date(2026, 12, 7)
    rows[0]["begin_time"] = datetime.datetime(2026, 12, 7, 2, 32, 47)
    result = report(tmp_path, summary, rows)
    assert result["changed"] is True, result
    written = json.loads((tmp_path / "reports" / "campaign.json").read_text())
    assert (
        written["generated_at"] == "2026-12-07"
        and written["agents"][0]["begin_time"] == "2026-12-07T02:32:47"
    )


def test_both_reports_are_written_then_left_alone_when_nothing_changed(tmp_path):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(1), 12)
    first = report(tmp_path, summary, rows)
    json_path, xml_path = tmp_path / "reports" / "campaign.json", tmp_path / "reports" / "campaign.xml"
    assert first["changed"] is True and first["written"] == [str(json_path), str(xml_path)], first
    assert json_path.read_text(encoding="utf-8") == report_json(summary, rows)
    assert xml_path.read_text(encoding="utf-8") == junit_xml(rows, summary)
    assert stat.S_IMODE(json_path.stat().st_mode) == stat.S_IMODE(xml_path.stat().st_mode) == 0o644
    inodes = (json_path.stat().st_ino, xml_path.stat().st_ino)

    again = report(tmp_path, summary, rows)
    assert again["changed"] is False and again["written"] == [], again
    assert (json_path.stat().st_ino, xml_path.stat().st_ino) == inodes

    only_mode = report(tmp_path, summary, rows, mode="0600")
    assert only_mode["changed"] is True, only_mode
    assert stat.S_IMODE(json_path.stat().st_mode) == 0o600
    assert (json_path.stat().st_ino, xml_path.stat().st_ino) == inodes  # not written again, only the mode

    rows[0]["message"] = "changed"
    changed = report(tmp_path, summary, rows)
    assert changed["changed"] is True and json_path.stat().st_ino != inodes[0]
    assert sorted(os.listdir(tmp_path / "reports")) == ["campaign.json", "campaign.xml"]  # no temporary file


def test_check_mode_writes_nothing_and_says_it_would(tmp_path):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(2), 3)
    result = report(tmp_path, summary, rows, check=True)
    assert result["changed"] is True and len(result["written"]) == 2, result
    assert os.listdir(tmp_path / "reports") == []


@pytest.mark.parametrize("which", ["campaign.json", "campaign.xml"])
def test_a_symlink_at_either_report_is_refused_before_anything_is_written(tmp_path, which):
    (tmp_path / "reports").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("do not touch")
    (tmp_path / "reports" / which).symlink_to(victim)
    summary, rows = campaign(random.Random(3), 3)
    result = report(tmp_path, summary, rows)
    option = "path" if which.endswith(".json") else "junit_path"
    assert result["failed"] is True, result
    assert result["msg"].startswith(f"{option}: ") and "is a symbolic link" in result["msg"], result
    assert victim.read_text() == "do not touch"
    assert os.listdir(tmp_path / "reports") == [which]  # the other report was not written either


def test_a_directory_or_a_fifo_at_a_report_is_refused_without_waiting(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "campaign.json").mkdir()
    summary, rows = campaign(random.Random(4), 2)
    result = report(tmp_path, summary, rows)
    assert result["failed"] is True and "is a directory" in result["msg"], result

    os.rmdir(tmp_path / "reports" / "campaign.json")
    os.mkfifo(tmp_path / "reports" / "campaign.xml")
    done: list[dict] = []
    worker = threading.Thread(target=lambda: done.append(report(tmp_path, summary, rows)), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "the task waited on a FIFO"
    assert done[0]["failed"] is True and "not a regular file" in done[0]["msg"], done[0]


def test_the_xml_report_may_not_be_the_json_report_however_written(tmp_path, monkeypatch):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(5), 1)
    path = str(tmp_path / "reports" / "campaign.json")
    result = report(tmp_path, summary, rows, junit_path=path)
    assert result["failed"] is True and result["msg"].startswith("junit_path: "), result
    monkeypatch.chdir(tmp_path)
    relative = report(tmp_path, summary, rows, path="reports/campaign.json", junit_path=path)
    assert relative["failed"] is True and relative["msg"].startswith("junit_path: "), relative
    assert os.listdir(tmp_path / "reports") == []


def test_an_empty_path_is_refused_saying_so(tmp_path):
    summary, rows = campaign(random.Random(5), 1)
    for state in ("present", "writable"):
        result = report(tmp_path, summary, rows, path="", state=state)
        assert result["failed"] is True and result["msg"].startswith("path: must not be empty"), result


def test_a_huge_report_already_there_is_not_read(tmp_path, monkeypatch):
    (tmp_path / "reports").mkdir()
    huge = tmp_path / "reports" / "campaign.json"
    with open(huge, "wb") as handle:
        handle.truncate(8 << 30)  # sparse: 8 GiB that take no room
    read = []
    real_read = os.read
    monkeypatch.setattr(_dest.os, "read", lambda fd, size: read.append(size) or real_read(fd, size))
    summary, rows = campaign(random.Random(12), 3)
    assert report(tmp_path, summary, rows, state="writable")["changed"] is False
    would = report(tmp_path, summary, rows, check=True)
    assert would["changed"] is True and len(would["written"]) == 2, would
    assert read == []  # told apart by its size alone
    written = report(tmp_path, summary, rows)
    assert written["changed"] is True and huge.stat().st_size == len(report_json(summary, rows).encode())


@pytest.mark.parametrize("mode", ["rw-r--r--", "99", -1, 0o10000, True])
def test_a_mode_that_is_not_one_is_refused_naming_it(tmp_path, mode):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(6), 1)
    result = report(tmp_path, summary, rows, mode=mode)
    assert result["failed"] is True and result["msg"].startswith("mode: "), result
    assert os.listdir(tmp_path / "reports") == []


def test_times_that_are_not_the_roles_are_refused_naming_the_agent(tmp_path):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(7), 2)
    rows[1].update(started_at="yesterday", stopped_at="today")
    result = report(tmp_path, summary, rows)
    assert result["failed"] is True and result["msg"].startswith(f"agents: agent {rows[1]['agent_id']}: "), (
        result
    )


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_the_check_makes_the_missing_directories_owner_only_and_leaves_no_file(tmp_path, umask):
    path = tmp_path / "a" / "b" / "campaign.json"
    previous = os.umask(umask)
    try:
        result = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, False))
    finally:
        os.umask(previous)
    assert result["changed"] is True and result["directory_made"] is True, result
    for directory in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == []
    again = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, False))
    assert again["changed"] is False and again["junit_path"] == str(path.parent / "campaign.xml"), again


def test_the_check_in_check_mode_makes_nothing_not_even_its_probe(tmp_path):
    path = tmp_path / "a" / "campaign.json"
    result = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, True))
    assert result["changed"] is True and not (tmp_path / "a").exists(), result
    (tmp_path / "a").mkdir()
    os.utime(tmp_path / "a", ns=(1, 1))
    result = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, True))
    assert result["changed"] is False, result
    assert os.stat(tmp_path / "a").st_mtime_ns == 1  # no probe file made and removed


def test_the_check_makes_and_probes_the_xml_reports_own_directory(tmp_path):
    params = {"path": str(tmp_path / "json" / "c.json"), "junit_path": str(tmp_path / "xml" / "c.xml")}
    result = outcome_of(lambda: campaign_report({**params, "state": "writable"}, False))
    assert result["changed"] is True, result
    for directory in ("json", "xml"):
        assert stat.S_IMODE((tmp_path / directory).stat().st_mode) == 0o700
        assert os.listdir(tmp_path / directory) == []


def test_the_check_says_why_a_directory_cannot_be_made(tmp_path):
    (tmp_path / "not-a-directory").write_text("")
    path = tmp_path / "not-a-directory" / "reports" / "campaign.json"
    result = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, False))
    assert result["failed"] is True, result
    assert result["msg"].startswith(
        f"path: its directory {path.parent} is missing and could not be made: "
    ), result


def test_the_check_refuses_a_symlinked_report(tmp_path):
    (tmp_path / "campaign.xml").symlink_to(tmp_path / "elsewhere.xml")
    path = tmp_path / "campaign.json"
    result = outcome_of(lambda: campaign_report({"path": str(path), "state": "writable"}, False))
    assert result["failed"] is True and result["msg"].startswith("junit_path: "), result
    assert "is a symbolic link" in result["msg"] and not (tmp_path / "elsewhere.xml").exists()


def test_the_probe_file_is_removed(tmp_path, monkeypatch):
    made = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda name, *args, **kwargs: made.append(str(name)) or real_open(name, *args, **kwargs)
    )
    result = outcome_of(
        lambda: campaign_report({"path": str(tmp_path / "c.json"), "state": "writable"}, False)
    )
    assert result["changed"] is False, result
    probes = [name for name in made if name.endswith(_dest.PART_SUFFIX)]
    assert len(probes) == 1 and os.listdir(tmp_path) == [], (probes, os.listdir(tmp_path))


def test_a_mode_is_never_given_to_what_replaced_the_report_since_it_was_looked_at(tmp_path):
    os.mkfifo(tmp_path / "swapped")
    with pytest.raises(OSError, match="no longer a regular file"):
        _dest.set_mode(str(tmp_path / "swapped"), 0o666)
    assert stat.S_IMODE(os.stat(tmp_path / "swapped").st_mode) != 0o666


def test_a_report_this_user_may_not_read_is_replaced(tmp_path, monkeypatch):
    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(13), 2)
    assert report(tmp_path, summary, rows, mode="0200")["changed"] is True
    unreadable = str(tmp_path / "reports" / "campaign.json")
    real_open = os.open

    def as_another_user(name, flags, *args, **kwargs):  # root reads a 0200 file; another user may not
        if str(name) == unreadable and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied")
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(_dest.os, "open", as_another_user)
    rows[0]["message"] = "the second run"
    again = report(tmp_path, summary, rows, mode="0200")
    assert again["changed"] is True and again["written"][0] == unreadable, again


def test_the_xml_report_may_not_be_the_json_report_through_a_symlinked_directory(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to(tmp_path / "a")
    summary, rows = campaign(random.Random(14), 1)
    result = report(
        tmp_path,
        summary,
        rows,
        path=str(tmp_path / "a" / "c.json"),
        junit_path=str(tmp_path / "b" / "c.json"),
    )
    assert result["failed"] is True and result["msg"].startswith("junit_path: "), result
    assert os.listdir(tmp_path / "a") == []


def test_the_result_names_the_json_report_json_path_and_the_rows_only_by_their_number(tmp_path):
    from ansible_collections.cec.cc_gateway.plugins.module_utils._campaign_report import invocation_arguments

    (tmp_path / "reports").mkdir()
    summary, rows = campaign(random.Random(15), 3)
    result = report(tmp_path, summary, rows)
    assert result["json_path"] == str(tmp_path / "reports" / "campaign.json") and "path" not in result, result
    shown = invocation_arguments({"path": "r.json", "summary": summary, "agents": rows, "mode": "0644"})
    assert shown == {
        "path": "r.json",
        "summary": "(in the JSON report)",
        "agents": "(3 rows, in the reports)",
        "mode": "0644",
    }
