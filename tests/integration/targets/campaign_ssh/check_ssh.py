# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the campaign over SSH in which ssh1's keeper was killed and ssh2 cut off (see runme.sh).

  python check_ssh.py faults --report r.json --cut-at <ms> --lease 30 --keeper-log <ssh2's keeper.log>
  python check_ssh.py nothing-live

The report is checked with the target campaign's check_campaign.py; the gateway's side is read from the
simulator's admin API (GATEWAY_URL, GATEWAY_CA), independently of the collection. Waits are bounded. Every problem
found is printed; the exit code is 1 when there is any.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "campaign"))

import check_campaign as cc  # the target campaign's checks

AGENTS = list(range(1001, 1031))
RUNNERS = ["ssh1", "ssh2", "ssh3"]


def live(agent_ids):
    """The agents the gateway still has signed in or recording."""
    wanted = set(agent_ids)
    return sorted(
        item["agent_id"]
        for item in cc.sim("agents")["agents"]
        if item["agent_id"] in wanted and (item["signed_in"] or item["recording"])
    )


def wait_until_ended(agent_ids, seconds):
    deadline = time.monotonic() + seconds
    left = live(agent_ids)
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = live(agent_ids)
    return left


def requests_of(agent_id, method, suffix):
    found = cc.sim(f"requests?path_contains=/{agent_id}/{suffix}&method={method}")["requests"]
    return [item for item in found if item["path"].endswith(f"/{agent_id}/{suffix}")]


def faults(args):
    owner = cc.share_of(AGENTS, RUNNERS)
    mine = {runner: [agent for agent in AGENTS if owner[agent] == runner] for runner in RUNNERS}
    report, junit = cc.load_reports(args.report)
    rows = cc.check_report_shape(report, junit, AGENTS, AGENTS, {"all": RUNNERS}, "b+c")
    cc.expect(report["lease_seconds"] == args.lease, f"b+c: lease_seconds {report['lease_seconds']}")

    # c. ssh2, cut off: its agents are reported as left to the lease, and the lease ends them on the gateway.
    for agent_id in mine["ssh2"]:
        row = rows[agent_id]
        cc.expect(
            row["outcome"] == "failed" and row["step"] == "runner" and row["left_to_lease"],
            f"c: agent {agent_id} of ssh2: {row['outcome']} at {row['step']}, left_to_lease {row['left_to_lease']}",
        )
        cc.expect(
            "Left to the lease" in row["message"] and f"at most {args.lease} s" in row["message"],
            f"c: agent {agent_id}'s message does not say it was left to the {args.lease} s lease: {row['message']}",
        )
    cc.expect(
        report["totals"]["left_to_lease"] == len(mine["ssh2"]),
        f"c: totals.left_to_lease {report['totals']['left_to_lease']}",
    )
    waited = time.monotonic()
    left = wait_until_ended(mine["ssh2"], args.lease + 60)
    waited = time.monotonic() - waited
    cc.expect(not left, f"c: agents {left} of ssh2 are still signed in or recording {args.lease + 60} s on")
    recordings = cc.sim("recordings")["recordings"]
    for agent_id in mine["ssh2"]:
        theirs = [item for item in recordings if item["agent_id"] == agent_id]
        if cc.expect(len(theirs) == 1, f"c: agent {agent_id} has {len(theirs)} recordings"):
            recording = theirs[0]
            cc.expect(
                recording["end_reason"] == "stopped",
                f"c: agent {agent_id}'s recording ended by {recording['end_reason']}, not by the keeper's stop",
            )
            if recording["ended_at"]:
                cc.expect(
                    recording["ended_at"] >= args.cut_at,
                    f"c: agent {agent_id}'s recording was stopped before the cut",
                )
                lasted = (recording["ended_at"] - recording["started_at"]) / 1000
                cc.expect(
                    lasted >= args.lease - 5,
                    f"c: agent {agent_id}'s recording was stopped after {lasted:.1f} s, before the {args.lease} s lease",
                )
        logouts = [
            item
            for item in requests_of(agent_id, "DELETE", "logout")
            if item["retcode"] == "0" and item["time"] >= args.cut_at
        ]
        cc.expect(logouts, f"c: the gateway saw no successful sign-out of agent {agent_id} after the cut")
    with open(args.keeper_log, encoding="utf-8") as handle:
        log = handle.read()
    ran_out = [
        agent_id
        for agent_id in mine["ssh2"]
        if f"agent {agent_id}: keepalive_lease of {args.lease} s ran out" in log
    ]
    cc.expect(
        ran_out == mine["ssh2"],
        f"c: ssh2's keeper.log names the lease's end for {ran_out}, not all of {mine['ssh2']}",
    )

    # b. ssh1, its keeper killed: the campaign itself signs every agent out, for real.
    left = wait_until_ended(mine["ssh1"], 5)
    cc.expect(not left, f"b: agents {left} of ssh1 are still signed in or recording after the campaign")
    for agent_id in mine["ssh1"]:
        row = rows[agent_id]
        cc.expect(
            row["step"] != "sign_out" and not row["left_to_lease"],
            f"b: agent {agent_id} of ssh1: {row['step']}: {row['message']}",
        )
        theirs = [item for item in recordings if item["agent_id"] == agent_id]
        # With the keeper dead long enough, the GUID it knew has expired: the sign-out takes the session over
        # with a forcible sign-in of its own (which ends the recording) and then signs out.
        taken_over = any(item["retcode"] == "0" for item in requests_of(agent_id, "PUT", "forcelogin"))
        ends = ("stopped", "signed_out", "forced_out") if taken_over else ("stopped", "signed_out")
        cc.expect(
            all(item["end_reason"] in ends for item in theirs),
            f"b: agent {agent_id}'s recordings ended by {[item['end_reason'] for item in theirs]}",
        )
        cc.expect(
            any(item["retcode"] == "0" for item in requests_of(agent_id, "DELETE", "logout")),
            f"b: the gateway saw no successful sign-out of agent {agent_id}",
        )
    steps = Counter(f"{rows[agent_id]['outcome']} at {rows[agent_id]['step']}" for agent_id in mine["ssh1"])

    # ssh3: untouched by both faults.
    recordings, agents, requests = cc.gateway_record(mine["ssh3"])
    for agent_id in mine["ssh3"]:
        cc.check_passed(rows[agent_id], 10, "b+c ssh3")
        cc.check_clean_agent(agent_id, recordings, agents, requests, -1, "b+c ssh3", rows[agent_id])
    for runner in ("ssh1", "ssh2"):
        row = rows[mine[runner][0]]
        print(
            f"report on agent {row['agent_id']} of {runner}: {row['outcome']} at {row['step']}: {row['message']}"
        )
    return (
        f"b: ssh1's keeper killed: its {len(mine['ssh1'])} agents all signed out by the campaign ({dict(steps)}); "
        f"c: ssh2 cut off: its {len(mine['ssh2'])} agents reported as left to the lease, then stopped and signed out "
        f"by its keeper ({waited:.0f} s after the report); ssh3's {len(mine['ssh3'])} agents passed"
    )


def nothing_live(_args):
    left = live(AGENTS)
    cc.expect(not left, f"agents {left} are still signed in or recording")
    return f"none of the {len(AGENTS)} agents is signed in or recording"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=["faults", "nothing-live"])
    parser.add_argument("--report", default="")
    parser.add_argument("--cut-at", type=int, default=0)
    parser.add_argument("--lease", type=int, default=30)
    parser.add_argument("--keeper-log", default="")
    args = parser.parse_args()
    summary = {"faults": faults, "nothing-live": nothing_live}[args.scenario](args)
    if not cc.PROBLEMS:
        print(summary)
    for text in cc.PROBLEMS[:50]:
        print("PROBLEM: " + text)
    return 1 if cc.PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
