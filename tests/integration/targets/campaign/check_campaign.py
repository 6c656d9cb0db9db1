# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a run of the role cec.cc_gateway.campaign against the simulator's own record and its two reports.

  python check_campaign.py passing --agents 2001-2200 --runners runner1,... --report r.json --hold 5 --heartbeat 3
  python check_campaign.py failing --report r.json --runners ...
  python check_campaign.py slices --agents 2001-2040 --runners ... --report a.json --report b.json
  python check_campaign.py untouched
  python check_campaign.py empty --runners runner1,... --report r.json
  python check_campaign.py force-out --agents 2213
  python check_campaign.py lose-session --agents 2205
  python check_campaign.py broken --agents 2001-2010 --runners runner1,runner5 --report r.json
  python check_campaign.py recordings --agents 2001-2008 --runners runner1,... --report r.json --hold 1 --dir d

The simulator is read through its admin API (GATEWAY_URL, GATEWAY_CA from the environment), independently
of the collection. Every problem found is printed; the exit code is 1 when there is any.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import ssl
import stat
import sys
import time
import urllib.request
from collections import Counter
from xml.etree import ElementTree

PROBLEMS = []
STALE_GUID = ("000-003", "100-006")


def problem(text):
    PROBLEMS.append(text)


def expect(condition, text):
    if not condition:
        problem(text)
    return condition


def sim(path):
    context = ssl.create_default_context(cafile=os.environ["GATEWAY_CA"])
    with urllib.request.urlopen(
        os.environ["GATEWAY_URL"] + "/_sim/" + path, context=context, timeout=30
    ) as answer:
        return json.load(answer)


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def agent_range(text):
    ids = []
    for part in text.split(","):
        first, _sep, last = part.partition("-")
        ids.extend(range(int(first), int(last or first) + 1))
    return ids


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def share_of(ids, runners):
    """Which runner the role must give each agent: sorted ids dealt out in turn over the sorted runners."""
    runners = sorted(set(runners))
    return {agent_id: runners[index % len(runners)] for index, agent_id in enumerate(sorted(ids))}


def load_reports(json_path):
    """The JSON report and the JUnit XML beside it (path .json -> .xml), both parsed."""
    with open(json_path, encoding="utf-8") as handle:
        report = json.load(handle)
    xml_path = re.sub(r"\.json$", "", json_path) + ".xml"
    junit = ElementTree.parse(xml_path).getroot()
    return report, junit


ROW_KEYS = {
    "agent_id",
    "runner",
    "task_id",
    "file_name",
    "outcome",
    "step",
    "message",
    "started_at",
    "stopped_at",
    "signed_in_again",
    "left_to_lease",
}
# With cc_gateway_campaign_recordings_dir, and only then.
RECORDING_KEYS = {"file", "file_size", "file_checksum", "begin_time", "end_time"}


def check_report_shape(report, junit, expected_ids, all_ids, runners, label, recordings=False):
    """Both reports list exactly the expected agents, once each, on the runner the share gives them."""
    rows = report["agents"]
    seen = Counter(row["agent_id"] for row in rows)
    expect(
        sorted(seen) == sorted(expected_ids),
        f"{label}: JSON report lists {sorted(seen)[:5]}... not the expected agents",
    )
    expect(
        all(count == 1 for count in seen.values()),
        f"{label}: JSON report lists agents twice: {[a for a, c in seen.items() if c > 1]}",
    )
    owner = share_of(all_ids, runners["all"])
    for row in rows:
        expect(
            row["runner"] == owner.get(row["agent_id"]),
            f"{label}: agent {row['agent_id']} ran on {row['runner']}, its share is {owner.get(row['agent_id'])}",
        )
        expect(
            row["outcome"] in ("passed", "failed"),
            f"{label}: agent {row['agent_id']} outcome {row['outcome']!r}",
        )
        expect(
            set(row) == ROW_KEYS | (RECORDING_KEYS if recordings else set()),
            f"{label}: agent {row['agent_id']} has keys {sorted(row)}",
        )
    totals = report["totals"]
    # Numbers are numbers (ansible-core 2.16-2.18 template them into strings unless the role takes care).
    for key in ("agents", "passed", "failed", "left_to_lease", "signed_in_again", "agents_on_other_runners"):
        expect(is_count(totals.get(key)), f"{label}: totals.{key} is {totals.get(key)!r}, not a number")
    expect(
        all(is_count(count) for count in totals["failed_by_step"].values()),
        f"{label}: failed_by_step {totals['failed_by_step']}",
    )
    for key in ("hold_seconds", "lease_seconds"):
        expect(is_count(report.get(key)), f"{label}: {key} is {report.get(key)!r}, not a number")
    for row in rows:
        expect(is_count(row["agent_id"]), f"{label}: agent_id {row['agent_id']!r} is not a number")
        expect(
            isinstance(row["signed_in_again"], bool) and isinstance(row["left_to_lease"], bool),
            f"{label}: agent {row['agent_id']} signed_in_again/left_to_lease not booleans",
        )
    expect(
        totals["left_to_lease"] == sum(row["left_to_lease"] for row in rows),
        f"{label}: totals.left_to_lease {totals['left_to_lease']}",
    )
    failed = [row for row in rows if row["outcome"] == "failed"]
    expect(totals["agents"] == len(rows), f"{label}: totals.agents {totals['agents']} != {len(rows)} rows")
    expect(totals["failed"] == len(failed), f"{label}: totals.failed {totals['failed']} != {len(failed)}")
    expect(totals["passed"] == len(rows) - len(failed), f"{label}: totals.passed {totals['passed']} wrong")
    expect(
        totals["failed_by_step"] == dict(Counter(row["step"] for row in failed)),
        f"{label}: failed_by_step {totals['failed_by_step']}",
    )
    expect(report["runners"] == sorted(set(runners["all"])), f"{label}: runners {report['runners']}")
    expect(report["format"] == "cec.cc_gateway.campaign/1", f"{label}: format {report.get('format')!r}")

    # JUnit: one testsuite per runner of the run, one testcase per agent, a failure element per failed agent.
    expect(junit.tag == "testsuites", f"{label}: XML root is {junit.tag}")
    expect(
        junit.get("tests") == str(len(rows)) and junit.get("failures") == str(len(failed)),
        f"{label}: XML testsuites tests={junit.get('tests')} failures={junit.get('failures')}",
    )
    cases = {}
    for suite in junit.findall("testsuite"):
        suite_cases = suite.findall("testcase")
        expect(
            suite.get("tests") == str(len(suite_cases)),
            f"{label}: testsuite {suite.get('name')} tests= is wrong",
        )
        expect(
            suite.get("failures") == str(len(suite.findall("testcase/failure"))),
            f"{label}: testsuite {suite.get('name')} failures= is wrong",
        )
        for case in suite_cases:
            expect(
                case.get("classname") == suite.get("name"),
                f"{label}: testcase {case.get('name')} classname {case.get('classname')}",
            )
            cases[case.get("name")] = case
    expect(
        sorted(cases) == sorted(f"agent {row['agent_id']}" for row in rows),
        f"{label}: XML testcases differ from the JSON agents",
    )
    for row in rows:
        case = cases.get(f"agent {row['agent_id']}")
        if case is None:
            continue
        failures = case.findall("failure")
        if row["outcome"] == "failed":
            if expect(
                len(failures) == 1,
                f"{label}: agent {row['agent_id']} failed but has {len(failures)} failure elements",
            ):
                expect(
                    failures[0].get("type") == row["step"],
                    f"{label}: agent {row['agent_id']} failure type {failures[0].get('type')}",
                )
                expect(
                    row["message"] in failures[0].get("message", ""),
                    f"{label}: agent {row['agent_id']} failure message lacks the reason",
                )
        else:
            expect(not failures, f"{label}: agent {row['agent_id']} passed but has a failure element")
        expect(
            case.get("classname") == row["runner"],
            f"{label}: agent {row['agent_id']} classname {case.get('classname')}",
        )
    return {row["agent_id"]: row for row in rows}


def check_passed(row, hold, label):
    agent_id = row["agent_id"]
    expect(
        row["step"] is None and row["outcome"] == "passed",
        f"{label}: agent {agent_id} {row['outcome']} at {row['step']}: {row['message']}",
    )
    expect(
        bool(re.match(r"^[0-9]+$", row["task_id"] or "")),
        f"{label}: agent {agent_id} task_id {row['task_id']!r}",
    )
    expect(bool(row["file_name"]), f"{label}: agent {agent_id} has no file name")
    if expect(
        row["started_at"] and row["stopped_at"], f"{label}: agent {agent_id} lacks started_at/stopped_at"
    ):
        held = (parse_time(row["stopped_at"]) - parse_time(row["started_at"])).total_seconds()
        expect(held >= hold, f"{label}: agent {agent_id} recorded {held:.1f} s, less than the {hold} s hold")


def gateway_record(ids):
    """What the simulator saw of these agents: recordings, agent views, and the requests per kind."""
    wanted = set(ids)
    recordings = [item for item in sim("recordings")["recordings"] if item["agent_id"] in wanted]
    agents = {item["agent_id"]: item for item in sim("agents")["agents"] if item["agent_id"] in wanted}
    requests = Counter()
    for path, method in (
        ("recordplay", "PUT"),
        ("recordplay", "DELETE"),
        ("onlineagent", "PUT"),
        ("onlineagent", "DELETE"),
    ):
        for item in sim(f"requests?path_contains={path}&method={method}")["requests"]:
            found = re.search(r"/(onlineagent|recordplay)/([0-9]+)(/[a-z]+)?$", item["path"])
            if found and int(found.group(2)) in wanted:
                # A request refused for a stale GUID started nothing; the modules retry it once on the keeper's
                # newer GUID. Those are counted apart.
                refused = item.get("retcode") in STALE_GUID
                requests[(int(found.group(2)), method, found.group(3) or "", refused)] += 1
    return recordings, agents, requests


def check_clean_agent(agent_id, recordings, agents, requests, heartbeat, label, row=None):
    """Signed in once, started once, recorded past the heartbeat limit, stopped, signed out."""
    mine = [item for item in recordings if item["agent_id"] == agent_id]
    if expect(len(mine) == 1, f"{label}: agent {agent_id} has {len(mine)} recordings on the gateway, not 1"):
        recording = mine[0]
        expect(
            recording["end_reason"] == "stopped",
            f"{label}: agent {agent_id} recording ended by {recording['end_reason']}",
        )
        if recording["ended_at"]:
            lasted = (recording["ended_at"] - recording["started_at"]) / 1000
            expect(
                lasted > heartbeat,
                f"{label}: agent {agent_id} recorded {lasted:.1f} s, not beyond the {heartbeat} s heartbeat limit",
            )
        if row is not None:
            expect(
                recording["task_id"] == row["task_id"],
                f"{label}: agent {agent_id} task {recording['task_id']} on the gateway, {row['task_id']} in the report",
            )
            expect(
                recording["file_name"] == row["file_name"],
                f"{label}: agent {agent_id} file {recording['file_name']} on the gateway, {row['file_name']} in the report",
            )
    view = agents.get(agent_id, {})
    # A kept agent whose session ended before its start is signed in again once (the report says so).
    sign_ins = 2 if row is not None and row.get("signed_in_again") else 1
    expect(
        view.get("sign_in_count") == sign_ins,
        f"{label}: agent {agent_id} signed in {view.get('sign_in_count')} times, not {sign_ins}",
    )
    expect(view.get("signed_in") is False, f"{label}: agent {agent_id} is still signed in")
    if row is not None:
        expect(not row["left_to_lease"], f"{label}: agent {agent_id} was left to the lease")
    for kind in (("PUT", "/record"), ("DELETE", "/stoprecord"), ("PUT", ""), ("DELETE", "/logout")):
        count = requests[(agent_id, kind[0], kind[1], False)]
        if kind == ("PUT", ""):
            count -= sign_ins - 1
        refused = requests[(agent_id, kind[0], kind[1], True)]
        expect(
            refused <= 1,
            f"{label}: agent {agent_id} got {refused} requests {kind[0]} ...{kind[1]} refused for a stale GUID",
        )
        expect(
            count == 1,
            f"{label}: agent {agent_id} got {count} requests {kind[0]} ...{kind[1] or '/onlineagent'}, not 1",
        )


def passing(args):
    ids = agent_range(args.agents)
    runners = {"all": args.runners.split(",")}
    report, junit = load_reports(args.report[0])
    rows = check_report_shape(report, junit, ids, ids, runners, "passing run")
    expect(
        report["totals"]["passed"] == len(ids),
        f"passing run: {report['totals']['passed']} of {len(ids)} passed",
    )
    expect(report["hold_seconds"] == args.hold, f"passing run: hold_seconds {report['hold_seconds']}")
    expect(
        report["runners_in_this_run"] == sorted(runners["all"]),
        f"passing run: runners_in_this_run {report['runners_in_this_run']}",
    )
    expect(report["totals"]["agents_on_other_runners"] == 0, "passing run: agents on other runners")
    recordings, agents, requests = gateway_record(ids)
    for agent_id in ids:
        if agent_id in rows:
            check_passed(rows[agent_id], args.hold, "passing run")
        check_clean_agent(
            agent_id, recordings, agents, requests, args.heartbeat, "passing run", rows.get(agent_id)
        )
    per_runner = Counter(row["runner"] for row in rows.values())
    return (
        f"passing run: {len(ids)} agents on {len(per_runner)} runners ({dict(per_runner)}), each signed in, started, "
        f"held past the heartbeat limit, stopped and signed out once; both reports agree"
    )


def failing(args):
    # The expected failures (see runme.sh): step and a piece of the reason.
    expected = {
        2203: ("sign_in", "100-004"),
        2207: ("sign_in", "100-004"),
        59001: ("sign_in", "100-004"),
        2210: ("start", "AgentMediaEvent_Record_Fail"),
        # Forced out: the keeper's poll gets AgentOther_ShutdownService when it is held at that moment, or
        # the gateway's 000-003 for the old GUID when it comes after (the keeper pauses between empty polls).
        2213: ("check", ("AgentOther_ShutdownService", "000-003: the gateway no longer knows this session")),
        2216: ("stop", "503"),
    }
    ids = agent_range(args.agents)
    runners = {"all": args.runners.split(",")}
    report, junit = load_reports(args.report[0])
    rows = check_report_shape(report, junit, ids, ids, runners, "failing run")
    failed = {agent_id: row for agent_id, row in rows.items() if row["outcome"] == "failed"}
    expect(
        sorted(failed) == sorted(expected),
        f"failing run: failed agents {sorted(failed)}, expected {sorted(expected)}",
    )
    for agent_id, (step, reason) in expected.items():
        row = failed.get(agent_id)
        if row:
            expect(
                row["step"] == step, f"failing run: agent {agent_id} failed at {row['step']}, expected {step}"
            )
            reasons = reason if isinstance(reason, tuple) else (reason,)
            expect(
                any(text in row["message"] for text in reasons),
                f"failing run: agent {agent_id} message lacks {' or '.join(map(repr, reasons))}: {row['message']}",
            )
    recordings, agents, requests = gateway_record(ids)
    # 2205's session was ended while its start was on the way (lose-session): the start signed it in again, once.
    row = rows[2205]
    expect(
        row["outcome"] == "passed" and row["signed_in_again"] and "signed in again" in row["message"],
        f"failing run: agent 2205 (session lost before its start) {row['outcome']}, signed_in_again "
        f"{row['signed_in_again']}: {row['message']}",
    )
    # The campaign's sign-in, lose-session's forced sign-in, the start's sign-in again.
    expect(
        agents[2205]["sign_in_count"] == 3 and not agents[2205]["signed_in"],
        f"failing run: agent 2205 signed in {agents[2205]['sign_in_count']} times (3 expected), signed in now "
        f"{agents[2205]['signed_in']}",
    )
    expect(
        [r["end_reason"] for r in recordings if r["agent_id"] == 2205] == ["stopped"],
        f"failing run: agent 2205 recordings {[r for r in recordings if r['agent_id'] == 2205]}",
    )
    expect(
        report["totals"]["signed_in_again"] == 1,
        f"failing run: totals.signed_in_again {report['totals']['signed_in_again']}",
    )
    for agent_id in ids:
        if agent_id in expected:
            continue
        check_passed(rows[agent_id], args.hold, "failing run")
        if agent_id == 2205:
            continue  # signed in, signed out, and its session forced out once more by lose-session
        check_clean_agent(
            agent_id, recordings, agents, requests, args.heartbeat, "failing run", rows[agent_id]
        )
    # The failed ones, as the gateway saw them.
    for agent_id in (2203, 2207):
        expect(
            agents[agent_id]["sign_in_count"] == 0,
            f"failing run: agent {agent_id} (wrong password) got signed in",
        )
        expect(
            not [r for r in recordings if r["agent_id"] == agent_id],
            f"failing run: agent {agent_id} (wrong password) recorded",
        )
    expect(
        not [r for r in recordings if r["agent_id"] == 2210],
        "failing run: agent 2210 (record fail) has a recording",
    )
    expect(not agents[2210]["signed_in"], "failing run: agent 2210 is still signed in")
    forced = [r for r in recordings if r["agent_id"] == 2213]
    expect(
        [r["end_reason"] for r in forced] == ["forced_out"], f"failing run: agent 2213 recordings {forced}"
    )
    expect(
        requests[(2213, "PUT", "/record", False)] == 1,
        "failing run: agent 2213 was started again after it was forced out",
    )
    unstopped = [r for r in recordings if r["agent_id"] == 2216]
    expect(
        [r["end_reason"] for r in unstopped] == ["signed_out"],
        f"failing run: agent 2216 recordings {unstopped}",
    )
    expect(not agents[2216]["signed_in"], "failing run: agent 2216 is still signed in")
    return (
        f"failing run: {len(ids) - len(expected)} agents completed; the reports name {sorted(failed)} with their steps "
        f"({', '.join(sorted(set(row['step'] for row in failed.values())))}) and reasons"
    )


def slices(args):
    ids = agent_range(args.agents)
    runners = {"all": args.runners.split(",")}
    owner = share_of(ids, runners["all"])
    seen = Counter()
    slice_runners = []
    for index, path in enumerate(args.report):
        report, junit = load_reports(path)
        label = f"slice {index + 1}"
        in_slice = report["runners_in_this_run"]
        slice_runners.append(set(in_slice))
        mine = [agent_id for agent_id in ids if owner[agent_id] in in_slice]
        rows = check_report_shape(report, junit, mine, ids, runners, label)
        expect(
            report["totals"]["agents_on_other_runners"] == len(ids) - len(mine),
            f"{label}: agents_on_other_runners {report['totals']['agents_on_other_runners']}",
        )
        for row in rows.values():
            check_passed(row, args.hold, label)
        seen.update(list(rows))
    expect(not set.intersection(*slice_runners), f"slices share runners: {slice_runners}")
    expect(
        sorted(seen) == sorted(ids) and all(count == 1 for count in seen.values()),
        "the slices' reports do not cover every agent exactly once",
    )
    recordings, agents, requests = gateway_record(ids)
    for agent_id in ids:
        check_clean_agent(agent_id, recordings, agents, requests, -1, "slices")
    return f"slices: {len(args.report)} slices with the complete runner list ran {len(ids)} agents, each exactly once"


def broken(args):
    """runner5 broke off at the hold: its agents fail at step "runner" with the reason, and are signed out."""
    ids = agent_range(args.agents)
    runners = {"all": args.runners.split(",")}
    report, junit = load_reports(args.report[0])
    rows = check_report_shape(report, junit, ids, ids, runners, "broken runner")
    recordings, agents, requests = gateway_record(ids)
    for agent_id, row in rows.items():
        mine = [item for item in recordings if item["agent_id"] == agent_id]
        if row["runner"] == "runner5":
            expect(
                row["outcome"] == "failed" and row["step"] == "runner",
                f"broken runner: agent {agent_id}: {row}",
            )
            expect(
                "broke off at Hold the recordings" in row["message"],
                f"broken runner: agent {agent_id} message: {row['message']}",
            )
            expect(
                [item["end_reason"] for item in mine] == ["signed_out"],
                f"broken runner: agent {agent_id} {mine}",
            )
            expect(not agents[agent_id]["signed_in"], f"broken runner: agent {agent_id} is still signed in")
        else:
            check_passed(row, args.hold, "broken runner")
            check_clean_agent(agent_id, recordings, agents, requests, -1, "broken runner", row)
    return "broken runner: its agents are reported at step runner with the reason and signed out; the others passed"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 16), b""):
            digest.update(piece)
    return digest.hexdigest()


def recordings(args):
    """Every agent's recording fetched into --dir: one non-empty 0600 file per agent, its size and SHA-256 in
    both reports equal to the file's and to the simulator's, the recording's begin and end; one download per
    agent on the gateway. 2003 (refused, 104-005) and 2006 (an empty answer) fail at step fetch."""
    label = "recordings run"
    expected = {2003: "104-005", 2006: "empty (0 bytes)"}
    ids = agent_range(args.agents)
    runners = {"all": args.runners.split(",")}
    report, junit = load_reports(args.report[0])
    rows = check_report_shape(report, junit, ids, ids, runners, label, recordings=True)
    expect(
        stat.S_IMODE(os.stat(args.dir).st_mode) == 0o700,
        f"{label}: the runners made {args.dir} with mode {stat.S_IMODE(os.stat(args.dir).st_mode):o}, not 700",
    )
    failed = sorted(agent_id for agent_id, row in rows.items() if row["outcome"] == "failed")
    expect(failed == sorted(expected), f"{label}: failed agents {failed}, expected {sorted(expected)}")
    downloads = {}
    for item in sim("downloads")["downloads"]:
        downloads.setdefault(item["agent_id"], []).append(item)
    files_on_gateway = {item["file_name"]: item for item in sim("recordfiles")["files"]}
    recordings_, agents, requests = gateway_record(ids)
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    for agent_id in ids:
        row = rows[agent_id]
        check_clean_agent(agent_id, recordings_, agents, requests, -1, label, row)
        mine = downloads.get(agent_id, [])
        expect(len(mine) == 1, f"{label}: agent {agent_id} has {len(mine)} downloads on the gateway, not 1")
        # The recording's times, from the gateway's AgentMediaEvent_StopRecordDone, whatever the fetch did.
        if expect(
            row["begin_time"] and row["end_time"],
            f"{label}: agent {agent_id} lacks begin_time/end_time: {row['begin_time']!r} {row['end_time']!r}",
        ):
            lasted = (parse_time(row["end_time"]) - parse_time(row["begin_time"])).total_seconds()
            expect(
                lasted >= args.hold,
                f"{label}: agent {agent_id} recording lasted {lasted} s, less than the hold",
            )
        out = (
            (cases.get(f"agent {agent_id}").findtext("system-out") or "")
            if f"agent {agent_id}" in cases
            else ""
        )
        expect(
            f"file_size: {row['file_size'] if row['file_size'] is not None else ''};" in out
            and f"file_checksum: {row['file_checksum'] or ''}" in out,
            f"{label}: agent {agent_id} JUnit system-out lacks the file's size and checksum: {out}",
        )
        if agent_id in expected:
            expect(
                row["step"] == "fetch" and expected[agent_id] in row["message"],
                f"{label}: agent {agent_id} {row['outcome']} at {row['step']}: {row['message']}",
            )
            if agent_id == 2003:
                expect(
                    row["file"] is None
                    and row["file_size"] is None
                    and len(mine) == 1
                    and mine[0]["retcode"] == "104-005",
                    f"{label}: agent 2003 file {row['file']} size {row['file_size']} downloads {mine}",
                )
            else:
                expect(row["file_size"] == 0, f"{label}: agent 2006 file_size {row['file_size']!r}, not 0")
            continue
        check_passed(row, args.hold, label)
        path = row["file"]
        expect(
            is_count(row["file_size"]) and row["file_size"] > 0,
            f"{label}: agent {agent_id} file_size {row['file_size']!r} is not a number above 0",
        )
        if not expect(
            isinstance(path, str)
            and os.path.dirname(path) == args.dir.rstrip("/")
            and os.path.basename(path).startswith(f"{agent_id}-{row['task_id']}"),
            f"{label}: agent {agent_id} file {path!r} is not {args.dir}/{agent_id}-{row['task_id']}...",
        ):
            continue
        info = os.lstat(path)
        expect(stat.S_ISREG(info.st_mode), f"{label}: {path} is not a regular file")
        expect(
            stat.S_IMODE(info.st_mode) == 0o600, f"{label}: {path} has mode {stat.S_IMODE(info.st_mode):o}"
        )
        expect(
            info.st_size == row["file_size"],
            f"{label}: {path} has {info.st_size} bytes, the report {row['file_size']}",
        )
        digest = sha256_of(path)
        expect(
            digest == row["file_checksum"],
            f"{label}: {path} sha256 {digest}, the report {row['file_checksum']}",
        )
        gateway_file = files_on_gateway.get(row["file_name"], {})
        expect(
            gateway_file.get("sha256") == digest and gateway_file.get("size") == info.st_size,
            f"{label}: agent {agent_id} file differs from the simulator's {row['file_name']}: {gateway_file}",
        )
        expect(
            mine[:1] and mine[0]["complete"] and mine[0]["sha256"] == digest,
            f"{label}: agent {agent_id} download on the gateway {mine}",
        )
    on_disk = sorted(os.listdir(args.dir))
    wanted = sorted(os.path.basename(rows[a]["file"]) for a in ids if rows[a]["file"])
    expect(on_disk == wanted, f"{label}: {args.dir} holds {on_disk}, expected {wanted}")
    return (
        f"{label}: {len(ids) - len(expected)} agents' recordings fetched, one 0600 file each, size and checksum in "
        f"both reports equal to the file's and the simulator's, one download per agent; 2003 and 2006 failed at fetch"
    )


def force_out(args):
    """Wait until the agent records, then sign it in elsewhere (forcelogin): its session and recording end."""
    agent_id = int(args.agents)
    deadline = time.monotonic() + 90
    while not sim(f"agents/{agent_id}").get("recording"):
        if time.monotonic() > deadline:
            print(f"force-out: agent {agent_id} never recorded")
            return
        time.sleep(0.1)
    # The keeper polls at most every 0.5 s between held polls: give it the start's event first, so the agent
    # is lost during the hold, as the scenario means, not during the start's confirmation.
    time.sleep(1.5)
    body = json.dumps({"password": "Demo-1234", "phonenum": f"70{agent_id}"}).encode()
    request = urllib.request.Request(
        f"{os.environ['GATEWAY_URL']}/agentgateway/resource/onlineagent/{agent_id}/forcelogin",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=os.environ["GATEWAY_CA"])
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        retcode = json.load(answer)["retcode"]
    print(f"force-out: agent {agent_id} signed in elsewhere while recording (retcode {retcode})")


def lose_session(args):
    """Once the agent's start is on its way (the gateway holds it: a latency fault), end its session on the
    gateway (sign it in elsewhere and out): the start then finds the kept session gone."""
    agent_id = int(args.agents)
    deadline = time.monotonic() + 90
    while not [
        item
        for item in sim(f"requests?path_contains=recordplay/{agent_id}/record&method=PUT")["requests"]
        if item["path"].endswith(f"/{agent_id}/record")
    ]:
        if time.monotonic() > deadline:
            print(f"lose-session: agent {agent_id} was never started")
            return
        time.sleep(0.05)
    context = ssl.create_default_context(cafile=os.environ["GATEWAY_CA"])
    base = f"{os.environ['GATEWAY_URL']}/agentgateway/resource/onlineagent/{agent_id}"
    request = urllib.request.Request(
        f"{base}/forcelogin",
        data=json.dumps({"password": "Demo-1234", "phonenum": f"70{agent_id}"}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        guid = answer.headers["Set-GUID"].partition("=")[2]
        forced = json.load(answer)["retcode"]
    request = urllib.request.Request(f"{base}/logout", method="DELETE", headers={"Guid": guid})
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        out = json.load(answer)["retcode"]
    print(f"lose-session: agent {agent_id}'s session ended while its start was on the way ({forced}, {out})")


def untouched(_args):
    sent = sim("requests")["requests"]
    expect(not sent, f"{len(sent)} requests were sent to the gateway, e.g. {sent[:1]}")
    return "nothing was sent to the gateway"


def empty(args):
    """A campaign without agents: a clean run that signs nothing in, with a report of zero agents."""
    report, junit = load_reports(args.report[0])
    check_report_shape(report, junit, [], [], {"all": args.runners.split(",")}, "empty campaign")
    expect(report["totals"]["agents"] == 0, f"empty campaign: totals {report['totals']}")
    untouched(args)
    return "empty campaign: nothing sent, a report of zero agents"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "scenario",
        choices=[
            "passing",
            "failing",
            "slices",
            "untouched",
            "force-out",
            "lose-session",
            "broken",
            "empty",
            "recordings",
        ],
    )
    parser.add_argument("--agents", default="")
    parser.add_argument("--runners", default="")
    parser.add_argument("--report", action="append", default=[])
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--heartbeat", type=float, default=0)
    parser.add_argument("--dir", default="")
    args = parser.parse_args()
    scenarios = {
        "passing": passing,
        "failing": failing,
        "slices": slices,
        "untouched": untouched,
        "force-out": force_out,
        "lose-session": lose_session,
        "broken": broken,
        "empty": empty,
        "recordings": recordings,
    }
    summary = scenarios[args.scenario](args)
    if summary and not PROBLEMS:
        print(summary)
    for text in PROBLEMS[:50]:
        print("PROBLEM: " + text)
    if len(PROBLEMS) > 50:
        print(f"... and {len(PROBLEMS) - 50} more problems")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
