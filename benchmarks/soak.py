"""Soak: 1,000 agents kept alive for 10 minutes of simulated time, starting and stopping recordings.

The simulator runs with every gateway interval divided by --speedup (heartbeat 120 s -> 6 s, GUID every
60 s -> 3 s, old GUID valid 120 s -> 6 s at 20x), so 10 simulated minutes take 30 real seconds and hold
5 heartbeat limits and 10 GUID rotations. The agents are signed in once with cc_gateway_session and
keepalive; then rounds of batch start / batch stop run with cc_gateway_record until the time is up
(bounded by --max-rounds too). At the end the simulator's own record must show: every agent signed in
once and still signed in (zero lost sessions), every task id unique, every agent with one recording per
round. Run it with `make soak`; it prints its figures and exits non-zero if any check fails. With --baseline,
another build of the collection (an earlier commit's `.work`) soaks the same way after this build, with a
simulator of its own, and both builds' figures are printed side by side; only this build's checks decide.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
from _simulator import start_simulator, stop_simulator

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Demo-1234"
REAL_HEARTBEAT = 120.0
REAL_GUID_INTERVAL = 60.0
REAL_GUID_TIMEOUT = 120.0
# The longest one step (one playbook for every agent) may take before the soak gives up on it.
STEP_TIMEOUT = 900.0

PLAY = """---
- name: Soak step
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/cec.cc_gateway.cc_gateway:
      gateway_url: "{{ url }}"
      ca_path: "{{ ca }}"
      password: "{{ password }}"
      max_concurrency: 50
  tasks:
    - name: "{{ step }}"
      cec.cc_gateway.%(module)s:
        agents: "{{ agents }}"
        %(option)s
"""


def simulator(work: Path, first: int, count: int, speedup: float) -> tuple[subprocess.Popen[bytes], str, str]:
    return start_simulator(
        work,
        [
            "--agents", f"{first}-{first + count - 1}",
            "--heartbeat-timeout", str(REAL_HEARTBEAT / speedup),
            "--guid-interval", str(int(1000 * REAL_GUID_INTERVAL / speedup)),
            "--guid-timeout", str(int(1000 * REAL_GUID_TIMEOUT / speedup)),
            "--poll-hold", str(min(1.0, REAL_HEARTBEAT / speedup / 4)),
        ],
    )  # fmt: skip


def playbook(
    work: Path, step: str, module: str, option: str, variables: dict, collections: str | None = None
) -> float:
    """Run one step for every agent with the build whose collections path is collections (None: this one)."""
    path = work / f"{module}.yml"
    path.write_text(PLAY % {"module": module, "option": option})
    (work / "vars.json").write_text(json.dumps({**variables, "step": step}))
    collections = collections or os.environ.get("SOAK_COLLECTIONS", str(ROOT / ".work"))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": collections}
    started = time.perf_counter()
    with open(work / "ansible.log", "ab") as log:
        try:
            done = subprocess.run(
                ["ansible-playbook", str(path), "-e", f"@{work / 'vars.json'}"],
                env=env,
                stdout=log,
                stderr=log,
                timeout=STEP_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise SystemExit(
                f"{step} did not end within {STEP_TIMEOUT:g} s; see {work / 'ansible.log'}"
            ) from None
    if done.returncode != 0:
        text = (work / "ansible.log").read_text(errors="replace")
        failed = re.findall(
            r'"agent_id": (\d+), "changed": false, "failed": true, "msg": "([^"]{0,200})', text
        )
        failed = [f"agent {agent}: {message}" for agent, message in failed[:5]] or [text[-2000:]]
        raise SystemExit(f"{step} failed:\n" + "\n".join(failed))
    return time.perf_counter() - started


def keeper_rss_mb(sessions: Path) -> float | None:
    """The keeper's resident memory, from ps (Linux and macOS)."""
    try:
        pid = json.loads((sessions / "keeper.json").read_text())["pid"]
        rss = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=True)
        return int(rss.stdout.strip()) / 1024
    except (OSError, ValueError, KeyError, subprocess.CalledProcessError):
        return None


def keeper_memory_failures(rss: float | None, limit_mb: float) -> list[str]:
    """The failure to report when the keeper's RSS is over limit_mb or could not be read; none otherwise."""
    if rss is None or rss > limit_mb:
        return [f"keeper RSS {rss} MB, more than {limit_mb:g} MB (or unknown)"]
    return []


def verdict(name: str, failures: list[str]) -> int:
    """Print each failure and the benchmark's verdict; the exit status."""
    for failure in failures:
        print(f"FAILED: {failure}")
    print(f"{name}: " + ("passed" if not failures else "failed"))
    return 1 if failures else 0


def sign_out_and_stop(
    work: Path,
    variables: dict,
    sim: subprocess.Popen[bytes],
    sessions: Path,
    wait: float,
    collections: str | None = None,
) -> list[str]:
    """Sign every agent out, stop the simulator (killed after wait seconds), and say what went wrong: a failed
    sign-out is a failure of its own, never raised over the error that may have brought the soak here."""
    failures = []
    try:
        playbook(work, "sign out", "cc_gateway_session", "state: absent", variables, collections)
    except SystemExit as exc:
        failures.append(str(exc))
    finally:
        stop_simulator(sim, wait)
    if (sessions / "keeper.json").exists():
        failures.append("the session keeper is still running after every agent signed out")
    return failures


def limit_open_files(soft: int) -> str:
    """Run the soak (and everything it starts) under the common soft limit; each process may raise its own."""
    current, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))
    return f"open-file soft limit {min(soft, hard)} (was {current}, hard {hard})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--first-agent", type=int, default=2001)
    parser.add_argument("--simulated-minutes", type=float, default=10.0)
    parser.add_argument("--speedup", type=float, default=20.0)
    parser.add_argument("--max-rounds", type=int, default=50)
    parser.add_argument("--nofile", type=int, default=1024, help="open-file soft limit to run under")
    parser.add_argument("--max-keeper-mb", type=float, default=200.0)
    parser.add_argument("--work", help="where the work directory is made (default: the system's temp)")
    parser.add_argument("--keep-log", help="copy the keeper's log (of this build) here at the end")
    parser.add_argument(
        "--baseline", help="the collections path of another build (<clone>/.work) to soak too"
    )
    args = parser.parse_args()
    print(limit_open_files(args.nofile))
    if args.baseline and not Path(args.baseline, "ansible_collections", "cec", "cc_gateway").is_dir():
        raise SystemExit(
            f"--baseline {args.baseline}: no ansible_collections/cec/cc_gateway there (give <clone>/.work)"
        )
    figures, failures = soak(args, None)
    if args.baseline:
        print(f"\n== baseline: collections from {args.baseline}")
        # The baseline's trouble is reported, never this build's verdict.
        try:
            baseline, baseline_failures = soak(args, args.baseline)
        except (SystemExit, Exception) as exc:
            baseline, baseline_failures = {}, [f"the baseline's soak stopped: {exc}"]
        print(f"\n{'figure':<34} {'this build':>12} {'baseline':>12}")
        for name, value in figures.items():
            other = baseline.get(name, float("nan"))
            print(f"{name:<34} {value:>12,.1f} {other:>12,.1f}")
        for failure in baseline_failures:
            print(f"baseline (not counted): {failure}")
    return verdict("soak", failures)


def soak(args: argparse.Namespace, collections: str | None) -> tuple[dict[str, float], list[str]]:
    """One soak with the build whose collections path is collections (None: this one): its figures, failures."""
    duration = args.simulated_minutes * 60 / args.speedup
    ids = list(range(args.first_agent, args.first_agent + args.agents))
    figures: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="cc-gateway-soak-", dir=args.work) as tmp:
        work = Path(tmp)
        sessions = work / "sessions"
        os.environ["CC_GATEWAY_SESSION_DIR"] = str(sessions)
        process, url, ca = simulator(work, args.first_agent, args.agents, args.speedup)
        admin = requests.Session()
        admin.trust_env = False
        admin.verify = ca
        variables = {
            "url": url,
            "ca": ca,
            "password": PASSWORD,
            "agents": [{"agent_id": agent_id, "phone_number": f"70{agent_id}"} for agent_id in ids],
        }
        failures = []
        try:
            took = playbook(
                work,
                "sign in with keepalive",
                "cc_gateway_session",
                "keepalive: true",
                variables,
                collections,
            )
            print(f"{args.agents} agents signed in and kept in {took:.1f} s")
            started = time.monotonic()
            rounds = 0
            starts, stops = [], []
            while time.monotonic() - started < duration and rounds < args.max_rounds:
                start = playbook(
                    work, "start all", "cc_gateway_record", "state: started", variables, collections
                )
                stop = playbook(
                    work, "stop all", "cc_gateway_record", "state: stopped", variables, collections
                )
                starts.append(start)
                stops.append(stop)
                rounds += 1
                elapsed = time.monotonic() - started
                print(
                    f"round {rounds}: start {start:.1f} s, stop {stop:.1f} s; "
                    f"{elapsed * args.speedup / 60:.1f} simulated minutes"
                )
            elapsed = time.monotonic() - started
            if elapsed < duration:
                time.sleep(duration - elapsed)
            rss = keeper_rss_mb(sessions)

            agents = [admin.get(f"{url}/_sim/agents/{agent_id}", timeout=30).json() for agent_id in ids]
            recordings = admin.get(f"{url}/_sim/recordings", timeout=30).json()["recordings"]
            lost = [a["agent_id"] for a in agents if not a["signed_in"] or a["sign_in_count"] != 1]
            task_ids = Counter(r["task_id"] for r in recordings)
            duplicates = [task for task, seen in task_ids.items() if seen > 1]
            per_agent = Counter(r["agent_id"] for r in recordings)
            uneven = [agent_id for agent_id in ids if per_agent[agent_id] != rounds]
            rotations = 0
            for kept in sessions.glob("*.kept.json"):
                rotations += json.loads(kept.read_text()).get("guid_rotations", 0)
            real = time.monotonic() - started
            print(
                f"\n{args.agents} agents, {real * args.speedup / 60:.1f} simulated minutes in {real:.0f} s "
                f"(x{args.speedup:g}), {rounds} start/stop rounds, {len(recordings)} recordings"
            )
            print(f"GUID rotations followed by the keeper: {rotations}; keeper RSS: {rss or 0:.0f} MB")
            print(
                f"lost sessions: {len(lost)}; duplicate task ids: {len(duplicates)}; agents off by a round: {len(uneven)}"
            )
            figures = {
                "sign in with keepalive, s": took,
                "start all, s (best round)": min(starts, default=0.0),
                "stop all, s (best round)": min(stops, default=0.0),
                "rounds": rounds,
                "recordings": len(recordings),
                "GUID rotations followed": rotations,
                "keeper RSS, MB": float("nan") if rss is None else rss,
                "lost sessions": len(lost),
                "duplicate task ids": len(duplicates),
                "agents off by a round": len(uneven),
            }
            if lost:
                failures.append(f"lost sessions: {lost[:10]}")
            if duplicates:
                failures.append(f"duplicate task ids: {duplicates[:10]}")
            if uneven:
                failures.append(f"agents without one recording per round: {uneven[:10]}")
            if rounds == 0:
                failures.append("no round ran")
            failures += keeper_memory_failures(rss, args.max_keeper_mb)
        finally:
            if args.keep_log and collections is None and (sessions / "keeper.log").exists():
                try:
                    Path(args.keep_log).write_bytes((sessions / "keeper.log").read_bytes())
                except OSError as exc:
                    failures.append(f"--keep-log: {exc}")
            failures += sign_out_and_stop(
                work, variables, process, sessions, wait=10, collections=collections
            )
    return figures, failures


if __name__ == "__main__":
    sys.exit(main())
