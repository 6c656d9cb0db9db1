"""Campaign benchmark: sign N agents in and start their recordings, four ways, side by side.

  1. ansible.builtin.uri, two looped tasks (sign in, record) — what users write today (N=20 only: slow);
  2. cec.cc_gateway.cc_gateway_record in a loop: over agents;
  3. cec.cc_gateway.cc_gateway_record batch form (agents: [...], max_concurrency);
  4. a raw requests script doing the same HTTP requests with the same concurrency — the floor;
and, where uri runs, the loop's own cost in ansible-core: the same loop over ansible.builtin.debug with the same
options, which bounds what any module's loop can reach against uri.

It starts its own simulator (HTTPS on 127.0.0.1, a free port), resets it between runs, and checks through
the simulator's admin API that every agent really records once. Task time is the wall time of
ansible-playbook minus that of a playbook with one no-op task (start-up and parsing). The fast variants run
--repeat times (default 5) and the best run counts: the machine is shared, and noise only adds time. The uri
variant runs once. The peak RSS of the controller is the largest ansible-playbook process (main or worker).
CPU is that of ansible-playbook's processes (for the floor: of this script's threads), start-up subtracted too:
less disturbed by other work on the machine than wall time. With --baseline, another build of the collection
(an earlier commit's `.work`) runs the same loop and batch, the two builds taking turns, and both builds'
ratios are printed: the comparison a change must pass. Run it with `make bench` (BENCH_ARGS=...).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _simulator as simulator
import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Demo-1234"
FIRST_AGENT = 1001


def start_simulator(work: Path, agents: int, http: bool) -> tuple[subprocess.Popen[bytes], str, str]:
    arguments = ["--agents", f"{FIRST_AGENT}-{FIRST_AGENT + agents - 1}", "--heartbeat-timeout", "3600"]
    return simulator.start_simulator(work, arguments + (["--http"] if http else []))


class Admin:
    def __init__(self, url: str, ca: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = ca or True

    def reset(self) -> None:
        self.http.post(f"{self.url}/_sim/reset", json={}, timeout=30).raise_for_status()

    def recordings(self) -> list[dict]:
        return self.http.get(f"{self.url}/_sim/recordings", timeout=30).json()["recordings"]


def agents(count: int) -> list[int]:
    return list(range(FIRST_AGENT, FIRST_AGENT + count))


PLAY_HEAD = """---
- name: Benchmark
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
"""

NOOP = (
    PLAY_HEAD
    + """    - name: Nothing
      ansible.builtin.debug:
        msg: start-up only
"""
)

URI = (
    PLAY_HEAD
    + """    - name: Sign in
      ansible.builtin.uri:
        url: "{{ url }}/agentgateway/resource/onlineagent/{{ item }}"
        method: PUT
        ca_path: "{{ ca }}"
        body_format: json
        body: {"password": "{{ password }}", "phonenum": "70{{ item }}"}
      loop: "{{ agent_ids }}"
      register: signed_in
    - name: Start recording
      ansible.builtin.uri:
        url: "{{ url }}/agentgateway/resource/recordplay/{{ item.item }}/record"
        method: PUT
        ca_path: "{{ ca }}"
        headers:
          Guid: "{{ item.set_guid | regex_replace('^JSESSIONID=', '') }}"
        body_format: json
        body: {"mediaType": 5}
      loop: "{{ signed_in.results }}"
      loop_control:
        label: "{{ item.item }}"
"""
)

# The loop item's options (indented for a module's arguments); the same for ansible-core's share below.
LOOP_OPTIONS = """gateway_url: "{{ url }}"
ca_path: "{{ ca }}"
agent_id: "{{ item }}"
password: "{{ password }}"
phone_number: "70{{ item }}"
"""


def indented(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line for line in text.splitlines(keepends=True))


LOOP = (
    PLAY_HEAD
    + """    - name: Sign in and start, one agent per loop item
      cec.cc_gateway.cc_gateway_record:
"""
    + indented(LOOP_OPTIONS, 8)
    + """      loop: "{{ agent_ids }}"
"""
)

# Ansible's own share of the loop: the loop task's options templated per item and a result per item, in an
# action with nothing to do. No module's loop can be faster, so uri/(this) is the most "uri/loop" can reach.
ANSIBLE_LOOP = (
    PLAY_HEAD
    + """    - name: The same loop with no module (ansible-core's share)
      ansible.builtin.debug:
        msg:
"""
    + indented(LOOP_OPTIONS, 10)
    + """      loop: "{{ agent_ids }}"
"""
)

BATCH = (
    PLAY_HEAD
    + """    - name: Sign in and start, all agents in one task
      cec.cc_gateway.cc_gateway_record:
        gateway_url: "{{ url }}"
        ca_path: "{{ ca }}"
        password: "{{ password }}"
        max_concurrency: "{{ concurrency }}"
        agents: "{{ batch }}"
"""
)


def run_playbook(
    work: Path, name: str, text: str, extra: dict, collections: str | None = None
) -> tuple[float, float, float]:
    """Run a playbook; return (wall seconds, CPU seconds of its processes, peak RSS in MB of any of them)."""
    playbook = work / f"{name}.yml"
    playbook.write_text(text)
    variables = work / f"{name}-vars.json"
    variables.write_text(json.dumps(extra))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": collections or os.environ.get("BENCH_COLLECTIONS", str(ROOT / ".work")),
        "CC_GATEWAY_SESSION_DIR": str(work / f"sessions-{name}-{time.monotonic_ns()}"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(work / f"{name}.log", "wb") as log:
        done = subprocess.run(
            ["ansible-playbook", str(playbook), "-e", f"@{variables}"], env=env, stdout=log, stderr=log
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed; see {work / (name + '.log')}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # ru_maxrss of children is the largest single process so far; only a new maximum is attributable.
    return wall, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1024


def raw_floor(url: str, ca: str, ids: list[int], concurrency: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the floor's requests."""
    adapter = HTTPAdapter(pool_maxsize=concurrency)

    def one(agent_id: int) -> None:
        http = requests.Session()
        http.trust_env = False
        http.mount("https://", adapter)
        base = f"{url}/agentgateway/resource"
        signed = http.put(
            f"{base}/onlineagent/{agent_id}",
            json={"password": PASSWORD, "phonenum": f"70{agent_id}"},
            verify=ca,
            timeout=30,
        )
        guid = signed.headers["Set-GUID"].split("=", 1)[1]
        answer = http.put(
            f"{base}/recordplay/{agent_id}/record",
            json={"mediaType": 5},
            headers={"Guid": guid},
            verify=ca,
            timeout=30,
        )
        assert answer.json()["retcode"] == "0", answer.text

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, ids))
    return time.perf_counter() - started, time.process_time() - cpu


def check_recording(admin: Admin, ids: list[int], label: str) -> None:
    recordings = admin.recordings()
    recording_agents = sorted(item["agent_id"] for item in recordings if item["ended_at"] is None)
    if recording_agents != ids or len(recordings) != len(ids):
        raise SystemExit(f"{label}: {len(recordings)} recordings for {len(ids)} agents — not one each")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="20,200,1000", help="agent counts, comma-separated")
    parser.add_argument("--uri-max", type=int, default=20, help="largest N for the slow uri variant")
    parser.add_argument("--concurrency", type=int, default=50, help="max_concurrency of batch and floor")
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs of each fast variant (and of the start-up); the best one counts, as the machine is shared",
    )
    parser.add_argument(
        "--http", action="store_true", help="plain HTTP instead of HTTPS (real gateways: HTTPS)"
    )
    parser.add_argument(
        "--baseline",
        help="ANSIBLE_COLLECTIONS_PATH of another build (e.g. .work of a clone of an earlier release, after "
        "make collection there): its loop and batch run beside this build's, taking turns, against the same "
        "simulator, and its ratios are printed beside",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    builds = {"this build": os.environ.get("BENCH_COLLECTIONS", str(ROOT / ".work"))}
    if args.baseline:
        builds["baseline"] = str(Path(args.baseline).resolve())

    with tempfile.TemporaryDirectory(prefix="cc-gateway-bench-") as tmp:
        work = Path(tmp)
        server, url, ca = start_simulator(work, max(sizes), args.http)
        print(f"simulator: {url} ({'plain HTTP' if args.http else 'HTTPS, verified against its CA'})")
        for build, path in builds.items():
            print(f"{build}: collections from {path}")
        admin = Admin(url, ca)
        try:
            rows = measure(work, admin, url, ca, sizes, builds, args)
            print_ratios(rows, sizes, builds)
        finally:
            simulator.stop_simulator(server)


Row = tuple[float, float]  # (task seconds, task CPU seconds)
ANSIBLE_SHARE = "loop with no module (debug)"


def measure(
    work: Path, admin: Admin, url: str, ca: str, sizes: list[int], builds: dict[str, str], args: Any
) -> dict[tuple[str, int, str], Row]:
    """Every variant at every size; the modules' variants once per build, the builds taking turns, each round
    beginning with a no-op playbook: the start-up subtracted is the best of all of them, so a machine that got
    slower or faster during the run does not shift one variant against another."""
    common = {"url": url, "ca": ca, "concurrency": args.concurrency, "password": PASSWORD}
    noops: list[tuple[float, float, float]] = []
    runs: dict[tuple[str, int, str], list[tuple[float, float, float]]] = {}
    floors: dict[int, list[tuple[float, float]]] = {}
    for size in sizes:
        ids = agents(size)
        variables = {
            **common,
            "agent_ids": ids,
            "batch": [{"agent_id": agent_id, "phone_number": f"70{agent_id}"} for agent_id in ids],
        }
        if size <= args.uri_max:
            admin.reset()
            runs[("this build", size, "uri (2 tasks)")] = [run_playbook(work, "uri", URI, variables)]
            check_recording(admin, ids, "uri")
            for _round in range(args.repeat):
                measured = run_playbook(work, "ansible_loop", ANSIBLE_LOOP, variables)
                runs.setdefault(("this build", size, ANSIBLE_SHARE), []).append(measured)
        for label, text in (("cc_gateway_record loop", LOOP), ("cc_gateway_record batch", BATCH)):
            for round_number in range(args.repeat):
                noops.append(run_playbook(work, "noop", NOOP, common))
                # Which build goes first alternates: the first run after a no-op and a reset is not like the
                # second.
                order = list(builds.items())
                order = order[round_number % len(order) :] + order[: round_number % len(order)]
                for build, path in order:
                    admin.reset()
                    measured = run_playbook(work, label.split()[-1], text, variables, path)
                    runs.setdefault((build, size, label), []).append(measured)
                    check_recording(admin, ids, f"{label} [{build}]")
        for _ in range(args.repeat):
            admin.reset()
            floors.setdefault(size, []).append(raw_floor(url, ca, ids, args.concurrency))
            check_recording(admin, ids, "raw requests")
    startup, startup_cpu = min(wall for wall, _cpu, _rss in noops), min(cpu for _wall, cpu, _rss in noops)
    print(
        f"ansible-playbook start-up (one no-op task, best of {len(noops)} taken between the runs): "
        f"{startup:.2f} s, {startup_cpu:.2f} s CPU; subtracted below\n"
    )
    header = f"{'N':>5}  {'variant':<40} {'task s':>8} {'ms/agent':>9} {'CPU s':>7} {'peak RSS MB':>11}"
    print(header)
    print("-" * len(header))
    rows: dict[tuple[str, int, str], Row] = {}
    for (build, size, label), measured in runs.items():
        task = max(min(wall for wall, _cpu, _rss in measured) - startup, 0.001)
        cpu = max(min(cpu for _wall, cpu, _rss in measured) - startup_cpu, 0.001)
        rows[(build, size, label)] = (task, cpu)
        name = label if build == "this build" else f"{label} [{build}]"
        rss = max(rss for _wall, _cpu, rss in measured)
        print(f"{size:>5}  {name:<40} {task:>8.2f} {1000 * task / size:>9.2f} {cpu:>7.2f} {rss:>11.0f}")
        if label == "cc_gateway_record batch" and build == list(builds)[-1]:
            floor, floor_cpu = min(floors[size])[0], min(cpu for _wall, cpu in floors[size])
            rows[("this build", size, "raw requests floor")] = (floor, floor_cpu)
            label = "raw requests floor"
            print(
                f"{size:>5}  {label:<40} {floor:>8.2f} {1000 * floor / size:>9.2f} {floor_cpu:>7.2f} {'-':>11}"
            )
    return rows


def print_ratios(rows: dict[tuple[str, int, str], Row], sizes: list[int], builds: dict[str, str]) -> None:
    print("\nRatios (per agent; task time, and CPU in brackets):")
    for size in sizes:
        uri = rows.get(("this build", size, "uri (2 tasks)"))
        floor = rows[("this build", size, "raw requests floor")]
        share = rows.get(("this build", size, ANSIBLE_SHARE))
        if uri and share:
            print(
                f"N={size}: uri/(the loop with no module) = {uri[0] / share[0]:.0f}x, the most uri/loop can reach "
                f"on this ansible-core; the loop's own {1000 * share[0] / size:.2f} ms per agent"
            )
        for build in builds:
            loop = rows[(build, size, "cc_gateway_record loop")]
            batch = rows[(build, size, "cc_gateway_record batch")]
            parts = [f"N={size} {build}:"]
            if uri:
                parts.append(
                    f"uri/loop = {uri[0] / loop[0]:.1f}x (target >= 50x), uri/batch = {uri[0] / batch[0]:.0f}x;"
                )
            parts.append(
                f"batch/floor = {batch[0] / floor[0]:.2f}x [{batch[1] / floor[1]:.2f}x] (target <= 1.25x);"
                f" loop {1000 * loop[0] / size:.2f} ms per agent"
            )
            print(" ".join(parts))


if __name__ == "__main__":
    main()
