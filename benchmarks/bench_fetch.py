"""Fetching benchmark: the files of N stopped recordings downloaded two ways, side by side.

  1. cec.cc_gateway.cc_gateway_recording_file, batch form (agents: [...], max_concurrency), to one directory;
  2. a raw requests script making the same downloads with the same concurrency and the same GUIDs, streaming
     each file to disk and hashing it (the floor).

Setup (not timed): the simulator (HTTPS on 127.0.0.1, a free port) is started with --record-bytes-per-second
so that a short hold leaves files the size of a real call (default: 2 s at 240,000 B/s = 480,000 bytes, what a
60 s call leaves at 8,000 B/s, the 64K A-law of SaaS downloads); the agents sign in (their GUIDs returned),
record, and stop with wait: true, which gives each recording's file name. Each variant then runs --repeat
times (best run counts: noise only adds time); the module's task time is its playbook's wall time minus that
of a one-task no-op playbook. Every run is checked: every file on disk has the size the simulator says.
Run it with `make bench-fetch`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _simulator as simulator
import bench_campaign
import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Demo-1234"
FIRST_AGENT = 3001

HEAD = """---
- name: {name}
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/cec.cc_gateway.cc_gateway:
      gateway_url: "{{{{ url }}}}"
      ca_path: "{{{{ ca }}}}"
      session_dir: "{{{{ session_dir }}}}"
      max_concurrency: "{{{{ concurrency }}}}"
  tasks:
"""

SETUP = (
    HEAD.format(name="Sign in, record, hold, stop")
    + """    - name: Sign in every agent
      cec.cc_gateway.cc_gateway_session:
        password: "{{ password }}"
        return_guid: true
        agents: "{{ batch }}"
      register: signed
    - name: Start every recording
      cec.cc_gateway.cc_gateway_record:
        agents: "{{ recorders }}"
        wait: true
    - name: Hold
      ansible.builtin.pause:
        seconds: "{{ hold }}"
    - name: Stop every recording
      cec.cc_gateway.cc_gateway_record:
        agents: "{{ recorders }}"
        state: stopped
        wait: true
      register: stopped
    - name: Keep what the fetch needs
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0600"
        content: "{{ {'signed': signed.results, 'stopped': stopped.results} | to_json }}"
"""
)

FETCH = (
    HEAD.format(name="Fetch every recording")
    + """    - name: Fetch every recording's file
      cec.cc_gateway.cc_gateway_recording_file:
        agents: "{{ fetches }}"
        force: true
"""
)

NOOP = (
    HEAD.format(name="Nothing")
    + """    - name: Nothing
      ansible.builtin.meta: noop
"""
)


def raw_floor(url: str, ca: str, jobs: list[dict], concurrency: int, target: Path) -> float:
    adapter = HTTPAdapter(pool_maxsize=concurrency)

    def one(job: dict) -> None:
        http = requests.Session()
        http.trust_env = False
        http.mount("https://", adapter)
        answer = http.get(
            f"{url}/agentgateway/resource/recordfile/{job['agent_id']}",
            params={"recordId": job["file_name"], "filetype": 1, "locationId": job["location_id"]},
            headers={"Guid": job["guid"]},
            verify=ca,
            timeout=30,
            stream=True,
        )
        assert answer.headers.get("Content-Type", "").startswith("application/octet-stream"), answer.text
        digest = hashlib.sha256()
        with open(target / f"{job['agent_id']}.raw", "wb") as out:
            for piece in answer.iter_content(65536):
                digest.update(piece)
                out.write(piece)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, jobs))
    return time.perf_counter() - started


def fetch_jobs(result_file: Path) -> list[dict]:
    kept = json.loads(result_file.read_text())
    guids = {item["agent_id"]: item.get("session", item).get("guid") for item in kept["signed"]}
    jobs = []
    for item in kept["stopped"]:
        if not item.get("file_name") or not guids.get(item["agent_id"]):
            raise SystemExit(f"agent {item['agent_id']}: no file name or GUID after the setup")
        jobs.append(
            {
                "agent_id": item["agent_id"],
                "file_name": item["file_name"],
                "location_id": item.get("location_id"),
                "guid": guids[item["agent_id"]],
            }
        )
    return jobs


def run_playbook(work: Path, name: str, text: str, extra: dict) -> float:
    """Wall seconds of a playbook run as make bench runs it (every playbook here names its session_dir)."""
    return bench_campaign.run_playbook(work, name, text, extra)[0]


def check_files(directory: Path, expected: dict[int, int], suffix: str) -> int:
    total = 0
    for agent_id, size in expected.items():
        got = (directory / f"{agent_id}{suffix}").stat().st_size
        if got != size:
            raise SystemExit(f"agent {agent_id}: {got} bytes on disk, the simulator's file has {size}")
        total += got
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000", help="agent counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=50, help="max_concurrency of module and floor")
    parser.add_argument("--hold", type=int, default=2, help="seconds each recording runs")
    parser.add_argument(
        "--bytes-per-second", type=int, default=240_000, help="the simulator's recording rate"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="cc-gateway-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        roster = f"{FIRST_AGENT}-{FIRST_AGENT + max(sizes) - 1}"
        process, url, ca = simulator.start_simulator(
            work,
            [
                "--agents",
                roster,
                "--heartbeat-timeout",
                "3600",
                "--record-bytes-per-second",
                str(args.bytes_per_second),
            ],
        )
        try:
            print(
                f"simulator: {url} (HTTPS, verified against its CA); files of {args.hold} s at "
                f"{args.bytes_per_second} B/s; max_concurrency {args.concurrency}"
            )
            common = {"url": url, "ca": ca, "concurrency": args.concurrency, "password": PASSWORD}
            noop = min(
                run_playbook(work, "noop", NOOP, {**common, "session_dir": str(work / "noop")})
                for _ in range(args.repeat)
            )
            print(f"ansible-playbook start-up (one no-op task): {noop:.2f} s; subtracted below\n")
            print(f"{'N':>6}  {'variant':<34}{'task s':>8}{'ms/agent':>10}{'MB':>9}{'MB/s':>8}")
            print("-" * 75)
            for count in sizes:
                measure(work, common, count, args, noop)
        finally:
            process.kill()
            process.wait()


def measure(work: Path, common: dict, count: int, args: argparse.Namespace, noop: float) -> None:
    ids = list(range(FIRST_AGENT, FIRST_AGENT + count))
    requests.post(f"{common['url']}/_sim/reset", json={}, verify=common["ca"], timeout=30).raise_for_status()
    sessions = work / f"sessions-{count}"
    out = work / f"setup-{count}.json"
    batch = [{"agent_id": agent_id, "phone_number": f"70{agent_id}"} for agent_id in ids]
    run_playbook(
        work,
        f"setup-{count}",
        SETUP,
        {
            **common,
            "session_dir": str(sessions),
            "batch": batch,
            "recorders": [{"agent_id": agent_id} for agent_id in ids],
            "hold": args.hold,
            "out": str(out),
        },
    )
    jobs = fetch_jobs(out)
    files = requests.get(f"{common['url']}/_sim/recordfiles", verify=common["ca"], timeout=60).json()
    sizes_by_name = {item["file_name"]: item["size"] for item in files["files"]}
    expected = {job["agent_id"]: sizes_by_name[job["file_name"]] for job in jobs}
    module_best = floor_best = float("inf")
    for round_ in range(args.repeat):
        target = work / f"files-{count}-{round_}"
        target.mkdir(mode=0o700)
        fetches = [
            {
                "agent_id": job["agent_id"],
                "file_name": job["file_name"],
                "location_id": job["location_id"],
                "dest": str(target / str(job["agent_id"])),
            }
            for job in jobs
        ]
        wall = run_playbook(
            work, f"fetch-{count}", FETCH, {**common, "session_dir": str(sessions), "fetches": fetches}
        )
        total = check_files(target, expected, "")
        module_best = min(module_best, wall - noop)
        floor_best = min(floor_best, raw_floor(common["url"], common["ca"], jobs, args.concurrency, target))
        check_files(target, expected, ".raw")
        shutil.rmtree(target)
    megabytes = total / 1e6
    for label, seconds in (
        ("cc_gateway_recording_file batch", module_best),
        ("raw requests floor", floor_best),
    ):
        print(
            f"{count:>6}  {label:<34}{seconds:>8.2f}{seconds * 1000 / count:>10.2f}{megabytes:>9.1f}"
            f"{megabytes / seconds:>8.1f}"
        )
    print(
        f"N={count}: module/floor = {module_best / floor_best:.2f}x; disk {megabytes / count * 1000:.0f} MB "
        f"per 1,000 agents at {total // count:,} bytes a file\n"
    )


if __name__ == "__main__":
    main()
