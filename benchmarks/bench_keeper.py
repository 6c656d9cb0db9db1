"""The session keeper at campaign scale, beside a bare aiohttp poll loop (make bench-keeper).

Against one simulator that holds every event poll --hold seconds (2 s, as a quiet gateway does):

1. the bare loop (benchmarks/bare_poll_loop.py) signs in N agents of its own and polls them, the keeper's
   pacing and nothing else, for --window seconds after a warm-up;
2. N other agents are signed in and kept with cec.cc_gateway.cc_gateway_session (batch, keepalive: true);
   the keeper that task starts polls them for the same window after the same warm-up.

Each runs alone, --repeat turns each (the keeper keeps its agents until the end, so its turns come after the
bare loop's). CPU per poll = the process's CPU seconds (from /proc) over the window / the polls the
simulator's own record counts for its agents in the window; the best turn of each counts. Printed: polls per
second, CPU, ms of CPU per poll, resident memory, and the keeper's ratio to the bare loop (issue 20's target:
<= 1.3x), and how long after the keep task's end the simulator had answered a poll of every kept agent.
Checked, exit 1 otherwise: that was within --first-poll-within seconds, the keeper's memory <= --max-keeper-mb, every
agent still signed in at the end, and no keeper left running after the sign-out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _simulator import start_simulator
from soak import (
    PASSWORD,
    keeper_memory_failures,
    keeper_rss_mb,
    limit_open_files,
    playbook,
    sign_out_and_stop,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FIRST_POLL_WAIT = 60.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc/<pid>/stat (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Simulator:
    def __init__(self, url: str, ca: str | None) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = ca or False

    def agents(self, ids: range) -> dict[int, dict]:
        listed = self.http.get(f"{self.url}/_sim/agents", timeout=60).json()["agents"]
        return {agent["agent_id"]: agent for agent in listed if agent["agent_id"] in ids}

    def poll_counts(self, ids: range) -> dict[int, int]:
        return {agent_id: agent["polls"] for agent_id, agent in self.agents(ids).items()}

    def polls(self, ids: range) -> int:
        return sum(agent["polls"] for agent in self.agents(ids).values())


def measure(sim: Simulator, pid: int, ids: range, warm_up: float, window: float) -> dict[str, float]:
    """Polls, CPU and memory of process pid over window seconds, after warm_up seconds."""
    time.sleep(warm_up)
    polls, cpu, started = sim.polls(ids), cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    polls, cpu = sim.polls(ids) - polls, cpu_seconds(pid) - cpu
    elapsed = time.monotonic() - started
    return {
        "polls": polls,
        "rate": polls / elapsed,
        "cpu": cpu,
        "per_poll_ms": 1000 * cpu / max(polls, 1),
        "rss": rss_mb(pid),
    }


def bare_turn(args: argparse.Namespace, sim: Simulator, ca: str | None, ids: range) -> dict[str, float]:
    # The loop polls until this long after it is ready: its first polls, the warm-up and the window all fit.
    seconds = FIRST_POLL_WAIT + args.warm_up + args.window + 5
    before = sim.poll_counts(ids)  # nothing polls these agents until the loop is ready
    loop = subprocess.Popen(
        [
            *(sys.executable, str(Path(__file__).with_name("bare_poll_loop.py")), "--url", sim.url),
            *(("--ca", ca) if ca else ()),
            *("--first", str(ids.start), "--agents", str(len(ids)), "--password", PASSWORD),
            *("--hold", str(args.hold), "--seconds", str(seconds)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = loop.stdout.readline() if loop.stdout else ""
        if ready.strip() != "ready":
            raise SystemExit("the bare poll loop did not sign its agents in")
        # How soon a loop that is given every agent at once polls each of them: beside the keeper's first polls.
        ready_at = time.monotonic()
        first = all_polled_after(sim, ids, FIRST_POLL_WAIT, before, "bare loop", ready_at)
        warm_up = max(args.warm_up - (time.monotonic() - ready_at), 0.0)
        return {**measure(sim, loop.pid, ids, warm_up, args.window), "first_polls": first}
    finally:
        loop.terminate()  # measured: it ends its polls (held at most --hold) and signs its agents out
        try:
            loop.wait(timeout=args.hold + 60)
        finally:
            loop.kill()


def all_polled_after(
    sim: Simulator,
    ids: range,
    limit: float,
    before: dict[int, int] | None = None,
    who: str = "keeper",
    started: float | None = None,
) -> float | None:
    """Seconds from started (now, when not given) until the simulator has received a poll of every agent in ids
    (one more than before, when given); None when some are still not polled after limit seconds."""
    before = before or {}
    started = time.monotonic() if started is None else started
    while time.monotonic() - started <= limit:
        if all(count > before.get(agent_id, 0) for agent_id, count in sim.poll_counts(ids).items()):
            return time.monotonic() - started
        time.sleep(0.5)
    counts = sim.poll_counts(ids)
    unpolled = [agent_id for agent_id, count in counts.items() if count <= before.get(agent_id, 0)]
    print(
        f"{who}: {len(unpolled)} agents not polled {limit:g} s after they were handed over: {unpolled[:10]}"
    )
    return None


def waited_text(seconds: float | None) -> str:
    return "never (within the wait)" if seconds is None else f"{seconds:.1f} s"


def keeper_pid(sessions: Path) -> int:
    return int(json.loads((sessions / "keeper.json").read_text())["pid"])


def show(label: str, row: dict[str, float]) -> None:
    print(
        f"{label:<28} {row['polls']:>8.0f} {row['rate']:>8.0f} {row['cpu']:>7.2f} {row['per_poll_ms']:>9.3f}"
        f" {row['rss']:>7.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--first-agent", type=int, default=20001)
    parser.add_argument("--hold", type=float, default=2.0, help="seconds the simulator holds a poll")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=20.0, help="seconds each turn is measured")
    parser.add_argument("--repeat", type=int, default=2, help="turns of each; the best counts")
    parser.add_argument("--first-poll-within", type=float, default=5.0)
    parser.add_argument("--max-keeper-mb", type=float, default=200.0)
    parser.add_argument("--nofile", type=int, default=1024, help="open-file soft limit to run under")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--work", help="where the work directory is made (default: the system's temp)")
    args = parser.parse_args()
    print(limit_open_files(args.nofile))
    bare_ids = range(args.first_agent, args.first_agent + args.agents)
    kept_ids = range(bare_ids.stop, bare_ids.stop + args.agents)
    failures: list[str] = []
    kept: list[dict[str, float]] = []
    rss = None
    waited = None

    with tempfile.TemporaryDirectory(prefix="cc-gateway-keeper-", dir=args.work) as tmp:
        work = Path(tmp)
        sessions = work / "sessions"
        os.environ["CC_GATEWAY_SESSION_DIR"] = str(sessions)
        roster = f"{bare_ids.start}-{kept_ids.stop - 1}"
        process, url, ca = start_simulator(
            work,
            ["--agents", roster, "--poll-hold", str(args.hold), *(["--http"] if args.http else [])],
        )
        sim = Simulator(url, ca)
        variables = {
            "url": url,
            "ca": ca,
            "password": PASSWORD,
            "agents": [{"agent_id": agent_id, "phone_number": f"70{agent_id}"} for agent_id in kept_ids],
        }
        print(f"simulator: {url}; polls held {args.hold:g} s; {args.agents} agents each side")
        bare = [bare_turn(args, sim, ca, bare_ids) for _turn in range(args.repeat)]
        try:
            took = playbook(
                work, "sign in with keepalive", "cc_gateway_session", "keepalive: true", variables
            )
            print(f"{args.agents} agents signed in and kept in {took:.1f} s")
            waited = all_polled_after(sim, kept_ids, FIRST_POLL_WAIT)
            if waited is not None:
                print(f"every kept agent polled {waited:.1f} s after the keep task ended")
            if waited is None or waited > args.first_poll_within:
                failures.append(
                    f"not every kept agent was polled within {args.first_poll_within:g} s of the keep task's end"
                )
            pid = keeper_pid(sessions)
            kept = [
                measure(sim, pid, kept_ids, args.warm_up if turn == 0 else 0.0, args.window)
                for turn in range(args.repeat)
            ]
            lost = [agent_id for agent_id, agent in sim.agents(kept_ids).items() if not agent["signed_in"]]
            if lost:
                failures.append(f"{len(lost)} kept agents signed out meanwhile: {lost[:10]}")
            rss = keeper_rss_mb(sessions)
        finally:
            failures += sign_out_and_stop(work, variables, process, sessions, wait=30)

    print(f"\n{'turn':<28} {'polls':>8} {'polls/s':>8} {'CPU s':>7} {'ms/poll':>9} {'RSS MB':>7}")
    print("-" * 72)
    for number, row in enumerate(bare, 1):
        show(f"bare aiohttp loop, turn {number}", row)
    for number, row in enumerate(kept, 1):
        show(f"session keeper, turn {number}", row)
    firsts = [row["first_polls"] for row in bare if row["first_polls"] is not None]
    print(
        f"\nfirst polls: every kept agent polled {waited_text(waited)} after the keep task ended (target <= "
        f"{args.first_poll_within:g} s); the bare loop, given its {args.agents} agents at once (signed in, not yet "
        f"polled), had polled every one {waited_text(min(firsts) if firsts else None)} after it began (best turn)"
    )
    best_bare = min(bare, key=lambda row: row["per_poll_ms"])
    best_kept = min(kept, key=lambda row: row["per_poll_ms"])
    print(
        f"\n{args.agents} agents: keeper/bare CPU per poll = {best_kept['per_poll_ms'] / best_bare['per_poll_ms']:.2f}x "
        f"(target <= 1.3x; best turns, {best_kept['per_poll_ms']:.3f} vs {best_bare['per_poll_ms']:.3f} ms); "
        f"polls/s {best_kept['rate']:.0f} vs {best_bare['rate']:.0f}; keeper RSS {rss or 0:.0f} MB "
        f"(limit {args.max_keeper_mb:g} MB)"
    )
    failures += keeper_memory_failures(rss, args.max_keeper_mb)
    return verdict("bench-keeper", failures)


if __name__ == "__main__":
    sys.exit(main())
