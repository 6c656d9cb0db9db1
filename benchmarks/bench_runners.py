"""Runner benchmark: the role cec.cc_gateway.campaign over local runner hosts, at several sizes.

For each size AGENTSxRUNNERS it runs the collection's playbook cec.cc_gateway.campaign as users run it (an
inventory of RUNNERS local runner hosts, each with a session store of its own, so one session keeper per
runner; -e @vars with AGENTS agents), against its own simulator (HTTPS on 127.0.0.1, a free port, dynamic
authentication with a real gateway's intervals by default: heartbeat limit 120 s, a new GUID every 60 s, polls held
10 s; --heartbeat and --poll-hold shorten them to stress the keepers), with a hold of --hold seconds. It prints, per
size:

  - wall time of ansible-playbook, and the time of each step (from the task headers of its output);
  - the session keepers' peak memory (VmRSS, sampled every 0.2 s: the largest one and their sum) and CPU;
  - controller load: CPU seconds of ansible-playbook with its workers (user + system), average cores busy over
    the run, and the peak RSS of its largest process;
  - the simulator's CPU seconds (it shares the machine's cores).

Every run is checked against the simulator's own record (one recording per agent, stopped, every agent signed
in once and out) and the role's JSON report (every agent passed). Bounded: each run is killed after
--timeout seconds. With --baseline, another build of the collection (an earlier commit's `.work`) runs each size
right before or after this build (the two take turns going first, so that a size given an even number of times
is run first equally often by each), against the same simulator, and the figures of both and their ratios are
printed side by side. Run it with `make bench-runners` (Linux: it reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import _simulator as simulator
import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Demo-1234"
FIRST_AGENT = 2001
TICKS = os.sysconf("SC_CLK_TCK")
STEPS = {
    "Sign the agents in": "sign in",
    "Start the recordings": "start + confirm",
    "Hold the recordings": "hold",
    "Check that every recording": "check",
    "Stop the recordings": "stop",
    "Sign the agents out": "sign out",
    "Gather every runner's results": "reports",
    "Sum the run up": "reports",
    "Write the JSON report": "reports",
    "Write the JUnit XML report": "reports",
    "Write the JSON and the JUnit XML report": "reports",
}


def proc_stat(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of a process from /proc; (0, 0) once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return cpu, rss
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


class KeeperWatch(threading.Thread):
    """Samples the run's processes every 0.2 s: each session keeper of its stores (peak RSS, CPU time) and the
    largest ansible-playbook process (its workers are forks of it)."""

    def __init__(self, stores: Path, inventory: Path) -> None:
        super().__init__(daemon=True)
        self.marker = f"--store\0{stores}/".encode()
        self.playbook_marker = str(inventory).encode()
        self.playbook_rss = 0.0
        self.peak_rss: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.sum_rss_peak = 0.0
        self.done = threading.Event()

    def processes(self) -> tuple[list[int], list[int]]:
        keepers, playbook = [], []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                # the keeper of this layout (_state.keeper) and of 2.0.x (_keeper), for a --baseline build
                if (
                    b"_state.keeper import main" in cmdline or b"._keeper import main" in cmdline
                ) and self.marker in cmdline:
                    keepers.append(int(entry.name))
                elif b"ansible-playbook" in cmdline and self.playbook_marker in cmdline:
                    playbook.append(int(entry.name))
        return keepers, playbook

    def run(self) -> None:
        while not self.done.wait(0.2):
            total = 0.0
            keepers, playbook = self.processes()
            for pid in playbook:
                self.playbook_rss = max(self.playbook_rss, proc_stat(pid)[1])
            for pid in keepers:
                cpu, rss = proc_stat(pid)
                if rss:
                    self.peak_rss[pid] = max(self.peak_rss.get(pid, 0.0), rss)
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
                    total += rss
            self.sum_rss_peak = max(self.sum_rss_peak, total)


def inventory(work: Path, runners: int) -> Path:
    lines = ["[cc_gateway_runners]"]
    lines += [f"runner{n} runner_session_dir={work}/sessions/runner{n}" for n in range(1, runners + 1)]
    lines += [
        "",
        "[cc_gateway_runners:vars]",
        "ansible_connection=local",
        'ansible_python_interpreter="{{ ansible_playbook_python }}"',
    ]
    path = work / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def task_times(stamps: list[tuple[float, str]]) -> Counter[str]:
    """Seconds from each task header to the next, summed by task name (every runner works at once)."""
    times: Counter[str] = Counter()
    for (start, header), (end, _next) in zip(stamps, stamps[1:]):
        times[header.strip().removeprefix("TASK [").split("]", 1)[0]] += end - start
    return times


def step_times(tasks: Counter[str]) -> dict[str, float]:
    """Seconds of each step: the times of its tasks (task_times)."""
    times: Counter[str] = Counter()
    for name, seconds in tasks.items():
        for prefix, step in STEPS.items():
            if prefix in name:
                times[step] += seconds
    return dict(times)


def run_size(
    args: argparse.Namespace,
    url: str,
    ca: str,
    admin: requests.Session,
    agents: int,
    runners: int,
    work: Path,
    collections: str | None = None,
) -> dict:
    """One run of the campaign playbook with the build whose collections path is collections (None: this one)."""
    ids = list(range(FIRST_AGENT, FIRST_AGENT + agents))
    admin.post(
        f"{url}/_sim/reset",
        json={
            "config": {
                "heartbeat_timeout": args.heartbeat,
                "guid_interval_ms": int(args.heartbeat * 1000 / 2),
                "guid_timeout_ms": int(args.heartbeat * 1000),
                "poll_hold": args.poll_hold,
            }
        },
        timeout=30,
    ).raise_for_status()
    report = work / "report.json"
    variables = {
        "cc_gateway_campaign_module_defaults": {
            "gateway_url": url,
            "ca_path": ca,
            "session_dir": "{{ runner_session_dir }}",
            "password": PASSWORD,
            "timeout": 30,
            "max_concurrency": args.concurrency,
        },
        "cc_gateway_campaign_agents": [{"agent_id": agent, "phone_number": f"70{agent}"} for agent in ids],
        "cc_gateway_campaign_hold": args.hold,
        "cc_gateway_campaign_wait_timeout": args.wait_timeout,
        "cc_gateway_campaign_report": str(report),
    }
    (work / "vars.json").write_text(json.dumps(variables))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": collections or os.environ.get("BENCH_COLLECTIONS", str(ROOT / ".work")),
        "ANSIBLE_FORKS": str(max(5, runners)),
        "ANSIBLE_NOCOLOR": "1",
    }
    hosts = inventory(work, runners)
    watch = KeeperWatch(work / "sessions", hosts)
    watch.start()
    sim_cpu_before = proc_stat(args.sim_pid)[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    stamps: list[tuple[float, str]] = []
    lines: list[str] = []
    process = subprocess.Popen(
        ["ansible-playbook", "cec.cc_gateway.campaign", "-i", str(hosts), "-e", f"@{work / 'vars.json'}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    timer = threading.Timer(args.timeout, process.kill)
    timer.start()
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith(("TASK [", "PLAY RECAP")):
            stamps.append((time.perf_counter(), line))
    process.wait()
    timer.cancel()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    watch.done.set()
    watch.join()
    (work / f"ansible-{agents}x{runners}.log").write_text("".join(lines))
    if process.returncode != 0:
        # Without --work the log goes with the temporary directory: its end is shown here.
        failed = [line for line in lines if line.startswith(("fatal:", "failed:"))][:5]
        raise SystemExit(
            f"{agents}x{runners}: ansible-playbook exited with {process.returncode}; see {work}/ansible-{agents}x{runners}.log"
            + "\n"
            + "".join(failed or lines[-40:])[-6000:]
        )

    # The simulator's own record and the role's report.
    wanted = set(ids)
    recordings = [
        item
        for item in admin.get(f"{url}/_sim/recordings", timeout=60).json()["recordings"]
        if item["agent_id"] in wanted
    ]
    views = [
        item
        for item in admin.get(f"{url}/_sim/agents", timeout=60).json()["agents"]
        if item["agent_id"] in wanted
    ]
    per_agent = Counter(item["agent_id"] for item in recordings)
    problems = []
    if sorted(per_agent) != ids or set(per_agent.values()) != {1}:
        problems.append(f"{len(recordings)} recordings for {agents} agents, not one each")
    if {item["end_reason"] for item in recordings} != {"stopped"}:
        problems.append(f"recordings ended by {Counter(item['end_reason'] for item in recordings)}")
    odd = [item for item in views if item["signed_in"] or item["sign_in_count"] != 1]
    if odd:
        problems.append(
            f"{len(odd)} agents not signed in once and out, e.g. "
            + ", ".join(
                f"{item['agent_id']} (signed in {item['sign_in_count']}x, now {item['signed_in']})"
                for item in odd[:5]
            )
        )
    totals = json.loads(report.read_text())["totals"]
    if totals["passed"] != agents:
        problems.append(f"report: {totals}")
    if problems:
        raise SystemExit(f"{agents}x{runners}: " + "; ".join(problems))

    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tasks = task_times(stamps)
    return {
        "agents": agents,
        "runners": runners,
        "per_runner": agents // runners,
        "wall": wall,
        "steps": step_times(tasks),
        "tasks": tasks,
        "keeper_peak_mb": max(watch.peak_rss.values(), default=0.0),
        "keepers_sum_mb": watch.sum_rss_peak,
        "keepers": len(watch.peak_rss),
        "keeper_cpu": sum(watch.cpu.values()),
        "controller_cpu": cpu,
        "controller_rss_mb": watch.playbook_rss,
        "sim_cpu": proc_stat(args.sim_pid)[0] - sim_cpu_before,
    }


RATIOS = {
    "time outside the hold": lambda result, hold: result["wall"] - hold,
    "controller CPU": lambda result, hold: result["controller_cpu"],
    "keepers' CPU": lambda result, hold: result["keeper_cpu"],
    "largest keeper's RSS": lambda result, hold: result["keeper_peak_mb"],
}


def print_ratios(results: list[dict], hold: float) -> None:
    """This build's figures over the baseline's, per size (below 1.00x: this build takes less)."""
    print("\nThis build / baseline, per size:")
    by_turn = {(result["turn"], result["build"]): result for result in results}
    for (turn, build), mine in by_turn.items():
        baseline = by_turn.get((turn, "baseline"))
        if build != "this build" or baseline is None:
            continue
        agents, runners = mine["agents"], mine["runners"]
        parts = [
            f"{name} {figure(mine, hold) / figure(baseline, hold):.2f}x"
            if figure(baseline, hold) > 0
            else f"{name} n/a"
            for name, figure in RATIOS.items()
        ]
        print(f"turn {turn + 1}, {agents}x{runners}: " + ", ".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100x4,400x4,1000x4,2000x4,1000x1", help="AGENTSxRUNNERS, comma-separated"
    )
    parser.add_argument("--hold", type=int, default=10, help="seconds the recordings are held (default 10)")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=120,
        help="the simulator's heartbeat limit in seconds (default 120, a real gateway's); a new GUID every half of "
        "it, the old one valid as long (a real gateway: every 60 s, valid 120 s)",
    )
    parser.add_argument(
        "--poll-hold",
        type=float,
        default=10,
        help="seconds the simulator holds an empty event poll (default 10, as a real gateway)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=50, help="max_concurrency of every task (default 50)"
    )
    parser.add_argument(
        "--wait-timeout",
        type=float,
        default=30,
        help="seconds each start waits for its confirmation event (cc_gateway_campaign_wait_timeout, default 30)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before a run is killed (default 600)"
    )
    parser.add_argument(
        "--work", help="an empty directory to keep the runs' files in (default: a temporary one)"
    )
    parser.add_argument(
        "--slowest",
        type=int,
        default=0,
        help="also print the N tasks that took longest, per run (default none)",
    )
    parser.add_argument(
        "--baseline",
        help="the collections path of another build (<clone>/.work) to run each size with too, side by side",
    )
    args = parser.parse_args()
    sizes = [tuple(int(part) for part in size.split("x")) for size in args.sizes.split(",")]
    most = max(agents for agents, _runners in sizes)

    with tempfile.TemporaryDirectory(prefix="cc-gateway-bench-runners-") as tmp:
        work = Path(args.work or tmp)
        server, url, ca = simulator.start_simulator(
            work, ["--agents", f"{FIRST_AGENT}-{FIRST_AGENT + most - 1}"]
        )
        args.sim_pid = server.pid
        admin = requests.Session()
        admin.trust_env = False
        admin.verify = ca
        print(
            f"simulator: {url} (HTTPS, dynamic authentication, heartbeat limit {args.heartbeat:g} s, "
            f"a new GUID every {args.heartbeat / 2:g} s, polls held {args.poll_hold:g} s)"
        )
        print(
            f"hold {args.hold} s, max_concurrency {args.concurrency}, wait_timeout {args.wait_timeout:g} s, "
            f"{os.cpu_count()} CPUs\n"
        )
        builds: list[tuple[str, str | None]] = [("this build", None)]
        if args.baseline:
            builds.append(("baseline", args.baseline))
            print(f"baseline: collections from {args.baseline}\n")
        header = (
            f"{'build':<10} {'agents':>6} {'runners':>7} {'/runner':>7} {'wall s':>7} {'w/o hold':>8} "
            f"{'keeper MB':>9} {'keepers MB':>10} {'keeper CPU s':>12} {'ctl CPU s':>9} {'ctl cores':>9} {'ctl RSS MB':>10} {'sim CPU s':>9}"
        )
        results = []
        try:
            print(header)
            print("-" * len(header))
            # The builds take turns going first at each size: whichever ran first in a turn took longer in runs
            # of 2026-12-07, and its keepers more CPU, whichever build it was.
            turns = []
            for turn, size in enumerate(sizes):
                first = sizes[:turn].count(size) % len(builds)
                turns += [(turn, size, build) for build in builds[first:] + builds[:first]]
            for turn, (agents, runners), (build, collections) in turns:
                run = work / (f"run-{turn + 1}-{agents}x{runners}" + ("-baseline" if collections else ""))
                run.mkdir()
                result = run_size(args, url, ca, admin, agents, runners, run, collections)
                result["build"], result["turn"] = build, turn
                results.append(result)
                print(
                    f"{build:<10} {agents:>6} {runners:>7} {result['per_runner']:>7} {result['wall']:>7.1f} "
                    f"{result['wall'] - args.hold:>8.1f} {result['keeper_peak_mb']:>9.0f} "
                    f"{result['keepers_sum_mb']:>10.0f} {result['keeper_cpu']:>12.1f} {result['controller_cpu']:>9.1f} "
                    f"{result['controller_cpu'] / result['wall']:>9.2f} {result['controller_rss_mb']:>10.0f} {result['sim_cpu']:>9.1f}",
                    flush=True,
                )
        finally:
            simulator.stop_simulator(server)
        print("\nSeconds per step (from the task headers; every runner works at once):")
        steps = list(dict.fromkeys(STEPS.values()))
        print(f"{'build':<10} {'size':>9} " + " ".join(f"{step:>15}" for step in steps))
        for result in results:
            print(
                f"{result['build']:<10} {result['agents']:>5}x{result['runners']:<3} "
                + " ".join(f"{result['steps'].get(step, 0):>15.1f}" for step in steps)
            )
        if args.slowest:
            for result in results:
                print(f"\nSlowest tasks, {result['build']}, {result['agents']}x{result['runners']}:")
                for name, seconds in result["tasks"].most_common(args.slowest):
                    print(f"{seconds:>7.2f} s  {name}")
        if args.baseline:
            print_ratios(results, args.hold)
        print(
            "\nEvery run: one recording per agent, stopped; every agent signed in once and out; report all passed."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
