"""Benchmark of the CC-Gateway simulator (not a test).

Starts the simulator (plain HTTP, 127.0.0.1, its own process), signs in --agents agents, keeps one long-poll
per agent open the whole time, then measures start-recording requests per second in rounds: every agent
starts a recording (timed), then every agent stops it (timed separately), and so on. Stops by itself after
--rounds rounds or --duration seconds.

    .venv/bin/python simulator/bench/bench_sim.py [--agents 1000] [--concurrency 64] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

SIM_ROOT = Path(__file__).resolve().parents[1]
BASE = "/agentgateway/resource/"
PASSWORD = "Demo-1234"
FIRST_AGENT = 101


@dataclass
class Counters:
    poll_in_flight: int = 0
    poll_responses: int = 0
    events: int = 0
    poll_errors: int = 0
    guids: dict[int, str] = field(default_factory=dict)


def start_simulator(agents: int, poll_hold: float, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    state = workdir / "state.json"
    last = FIRST_AGENT + 2 * agents - 1
    cmd = [
        sys.executable,
        "-m",
        "ccgw_sim",
        "--http",
        "--port",
        "0",
        "--state-file",
        str(state),
        "--agents",
        f"{FIRST_AGENT}-{last}",
        "--poll-hold",
        str(poll_hold),
        "--heartbeat-timeout",
        "600",
    ]
    env = {**os.environ, "PYTHONPATH": str(SIM_ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not state.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("simulator did not start")
        time.sleep(0.02)
    return proc, json.loads(state.read_text())["url"]


async def sign_in_all(http: aiohttp.ClientSession, url: str, ids: list[int], counters: Counters) -> float:
    limit = asyncio.Semaphore(100)

    async def one(agent: int) -> None:
        async with limit:
            body = {"password": PASSWORD, "phonenum": f"70{agent}", "status": 4, "releasephone": True}
            async with http.put(f"{url}{BASE}onlineagent/{agent}", json=body) as resp:
                data = await resp.json()
                if data["retcode"] != "0":
                    raise SystemExit(f"sign-in {agent} failed: {data}")
                counters.guids[agent] = resp.headers["Set-GUID"].split("=", 1)[1]

    started = time.perf_counter()
    await asyncio.gather(*(one(agent) for agent in ids))
    return time.perf_counter() - started


async def poller(http: aiohttp.ClientSession, url: str, agent: int, counters: Counters) -> None:
    target = f"{url}{BASE}agentevent/{agent}"
    while True:
        counters.poll_in_flight += 1
        try:
            async with http.get(target, headers={"Guid": counters.guids[agent]}) as resp:
                if "Set-GUID" in resp.headers:
                    counters.guids[agent] = resp.headers["Set-GUID"].split("=", 1)[1]
                data = json.loads(await resp.read())
        except aiohttp.ClientError:
            counters.poll_errors += 1
            await asyncio.sleep(0.2)
            continue
        finally:
            counters.poll_in_flight -= 1
        counters.poll_responses += 1
        if data.get("event") is not None:
            counters.events += 1


async def outstanding(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/_sim/polls") as resp:
        return int((await resp.json())["outstanding"])


async def run_phase(
    http: aiohttp.ClientSession,
    url: str,
    ids: list[int],
    counters: Counters,
    method: str,
    operation: str,
    concurrency: int,
    latencies: list[float],
) -> tuple[float, dict[str, int]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for agent in ids:
        queue.put_nowait(agent)
    codes: dict[str, int] = {}
    body = {"mediaType": 5, "recordMode": 0, "recordFormat": 0} if operation == "record" else None

    async def worker() -> None:
        while not queue.empty():
            agent = queue.get_nowait()
            sent = time.perf_counter()
            async with http.request(
                method,
                f"{url}{BASE}recordplay/{agent}/{operation}",
                json=body,
                headers={"Guid": counters.guids[agent]},
            ) as resp:
                data = json.loads(await resp.read())
            latencies.append(time.perf_counter() - sent)
            codes[data["retcode"]] = codes.get(data["retcode"], 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, codes


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process (Linux /proc), for the CPU split between simulator and client."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))] * 1000


async def run_rounds(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    url: str,
    ids: list[int],
    counters: Counters,
    sim_pid: int | None,
    label: str,
) -> int:
    """Start-all / stop-all rounds over ids; print the figures; return the number of events generated."""
    start_lat: list[float] = []
    start_time = stop_time = 0.0
    start_codes: dict[str, int] = {}
    stop_codes: dict[str, int] = {}
    held_samples: list[int] = []
    bench_started = time.monotonic()
    sim_cpu0, client_cpu0 = cpu_seconds(sim_pid), time.process_time()
    rounds = 0
    while rounds < args.rounds and time.monotonic() - bench_started < args.duration:
        elapsed, codes = await run_phase(
            http, url, ids, counters, "PUT", "record", args.concurrency, start_lat
        )
        start_time += elapsed
        for code, n in codes.items():
            start_codes[code] = start_codes.get(code, 0) + n
        held_samples.append(await outstanding(http, url))
        elapsed, codes = await run_phase(
            http, url, ids, counters, "DELETE", "stoprecord", args.concurrency, []
        )
        stop_time += elapsed
        for code, n in codes.items():
            stop_codes[code] = stop_codes.get(code, 0) + n
        rounds += 1
    sim_cpu, client_cpu = cpu_seconds(sim_pid) - sim_cpu0, time.process_time() - client_cpu0
    starts, stops = sum(start_codes.values()), sum(stop_codes.values())
    total_time = start_time + stop_time
    print(f"--- {label}: {rounds} rounds x {len(ids)} agents, client concurrency {args.concurrency}")
    print(
        f"start-recording: {starts} requests in {start_time:.2f} s = {starts / start_time:.0f} req/s "
        f"(retcodes {start_codes}; latency p50 {percentile(start_lat, 0.5):.1f} ms, "
        f"p99 {percentile(start_lat, 0.99):.1f} ms)"
    )
    print(
        f"stop-recording:  {stops} requests in {stop_time:.2f} s = {stops / stop_time:.0f} req/s ({stop_codes})"
    )
    print(f"record+stop combined: {(starts + stops) / total_time:.0f} req/s")
    print(
        f"long-polls held by the server after each start phase: min {min(held_samples)}, "
        f"mean {statistics.mean(held_samples):.0f}"
    )
    if sim_pid is not None:
        print(
            f"CPU during the rounds ({total_time:.1f} s wall): simulator {sim_cpu:.1f} s, "
            f"benchmark client {client_cpu:.1f} s"
        )
    return 2 * len(ids) + starts + stops


async def bench(args: argparse.Namespace, url: str, sim_pid: int | None) -> None:
    polling = list(range(FIRST_AGENT, FIRST_AGENT + args.agents))
    quiet = list(range(FIRST_AGENT + args.agents, FIRST_AGENT + 2 * args.agents))
    counters = Counters()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        sign_in_time = await sign_in_all(http, url, polling + quiet, counters)
        print(f"signed in {2 * len(polling)} agents in {sign_in_time:.2f} s")

        pollers = [asyncio.create_task(poller(http, url, agent, counters)) for agent in polling]
        deadline = time.monotonic() + 30
        held = 0
        while time.monotonic() < deadline:
            held = await outstanding(http, url)
            if held >= len(polling):
                break
            await asyncio.sleep(0.1)
        print(f"long-polls held by the server: {held} (client side in flight: {counters.poll_in_flight})")
        expected = counters.events

        expected += await run_rounds(
            args,
            http,
            url,
            polling,
            counters,
            sim_pid,
            "A: recording on the polling agents (each start wakes a poll)",
        )
        settle = time.monotonic() + 10
        while counters.events < expected and time.monotonic() < settle:
            await asyncio.sleep(0.05)
        print(f"events delivered to the pollers: {counters.events} (expected {expected})")

        await run_rounds(
            args,
            http,
            url,
            quiet,
            counters,
            sim_pid,
            "B: recording on other signed-in agents, polls stay held",
        )
        print(
            f"long-polls held at the end: {await outstanding(http, url)}; poll errors: {counters.poll_errors}"
        )
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--agents",
        type=int,
        default=1000,
        help="long-polling agents (1000); as many again are signed in without polling",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent record/stop requests (64)")
    parser.add_argument("--rounds", type=int, default=10, help="start-all/stop-all rounds (10)")
    parser.add_argument("--duration", type=float, default=60.0, help="stop starting rounds after this (60 s)")
    parser.add_argument("--poll-hold", type=float, default=10.0, help="simulator --poll-hold (10 s)")
    parser.add_argument(
        "--url", help="use a running simulator (HTTP, roster 101-(100+2*agents)) instead of starting one"
    )
    args = parser.parse_args()
    if args.url:
        asyncio.run(bench(args, args.url.rstrip("/"), None))
        return
    with tempfile.TemporaryDirectory() as workdir:
        proc, url = start_simulator(args.agents, args.poll_hold, Path(workdir))
        print(f"simulator pid {proc.pid} at {url}")
        try:
            asyncio.run(bench(args, url, proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
