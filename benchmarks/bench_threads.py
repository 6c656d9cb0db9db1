"""Batch threads benchmark: the record batch's own work, without Ansible around it, against the raw floor.

cec.cc_gateway.cc_gateway_record's batch (RecordTask.run, as the action plugin calls it: sign in and start
for N agents) runs in this process, beside the raw requests floor of `make bench` (the same two requests per
agent), at several max_concurrency values, against its own simulator (HTTPS on 127.0.0.1, a free port). For
each it prints wall time and this process's CPU seconds (best of --repeat, taking turns) and the ratios.

What it tells apart: at concurrency 1 the CPU ratio is the collection's own work per agent (checks, session
file, lock) against requests'; with more threads both pay for the GIL handed between threads at every socket
and file call, and the difference between the ratios at 1 and at 50 is what contention adds. `make bench`
adds Ansible's own work around the task (templating the entries, the argument spec, the result).
Run it with `make bench-threads` (BENCH_ARGS=...; BENCH_COLLECTIONS=<clone>/.work for another build).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import _simulator as simulator
import requests
from bench_campaign import PASSWORD, raw_floor

ROOT = Path(__file__).resolve().parent.parent
FIRST_AGENT = 1001


def record_batch(collections: str) -> Callable[[str, str, list[int], int], None]:
    """The collection's batch as its action plugin runs it: arguments validated by Ansible, then the task."""
    sys.path.insert(0, collections)
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.cec.cc_gateway.plugins.module_utils._options import (
        ONE_AGENT_OR_MANY,
        record_spec,
    )
    from ansible_collections.cec.cc_gateway.plugins.module_utils._record import RecordTask

    def run(url: str, ca: str, ids: list[int], concurrency: int) -> None:
        arguments = {
            "gateway_url": url,
            "ca_path": ca,
            "password": PASSWORD,
            "max_concurrency": concurrency,
            "agents": [{"agent_id": agent_id, "phone_number": f"70{agent_id}"} for agent_id in ids],
        }
        checked = ArgumentSpecValidator(record_spec(), **ONE_AGENT_OR_MANY).validate(arguments)
        if checked.error_messages:
            raise SystemExit(f"arguments refused: {checked.error_messages}")
        result = RecordTask(checked.validated_parameters, False, False).run()
        if result.get("failed"):
            raise SystemExit(f"the batch failed: {result.get('msg')}")

    return run


def timed(run: Callable[..., Any], *arguments: Any) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    run(*arguments)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000, help="agents per batch (default 1000)")
    parser.add_argument(
        "--concurrency", default="1,10,50", help="max_concurrency values, comma-separated (default 1,10,50)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts (default 3)")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    ids = list(range(FIRST_AGENT, FIRST_AGENT + args.agents))
    batch = record_batch(os.environ.get("BENCH_COLLECTIONS", str(ROOT / ".work")))

    with tempfile.TemporaryDirectory(prefix="cc-gateway-bench-threads-") as tmp:
        work = Path(tmp)
        arguments = ["--agents", f"{ids[0]}-{ids[-1]}", "--heartbeat-timeout", "3600"]
        server, url, ca = simulator.start_simulator(work, arguments)
        admin = requests.Session()
        admin.trust_env = False
        admin.verify = ca
        print(f"simulator: {url}; {args.agents} agents, best of {args.repeat}\n")
        header = f"{'threads':>7}  {'batch s':>8} {'CPU s':>7}  {'floor s':>8} {'CPU s':>7}  {'time ratio':>10} {'CPU ratio':>9}"
        print(header)
        print("-" * len(header))
        try:
            for level in levels:
                runs: dict[str, list[tuple[float, float]]] = {"batch": [], "floor": []}
                for number in range(args.repeat):
                    os.environ["CC_GATEWAY_SESSION_DIR"] = str(work / f"sessions-{level}-{number}")
                    for name in ("batch", "floor") if number % 2 == 0 else ("floor", "batch"):
                        admin.post(f"{url}/_sim/reset", json={}, timeout=30).raise_for_status()
                        if name == "batch":
                            runs[name].append(timed(batch, url, ca, ids, level))
                        else:
                            runs[name].append(raw_floor(url, ca, ids, level))
                wall, cpu = min(w for w, _c in runs["batch"]), min(c for _w, c in runs["batch"])
                floor, floor_cpu = min(w for w, _c in runs["floor"]), min(c for _w, c in runs["floor"])
                print(
                    f"{level:>7}  {wall:>8.2f} {cpu:>7.2f}  {floor:>8.2f} {floor_cpu:>7.2f}  "
                    f"{wall / floor:>9.2f}x {cpu / floor_cpu:>8.2f}x"
                )
        finally:
            simulator.stop_simulator(server)


if __name__ == "__main__":
    main()
