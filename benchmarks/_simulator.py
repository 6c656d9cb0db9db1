"""Start the CC-Gateway simulator for a benchmark: a free loopback port, its URL and CA from --state-file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_simulator(work: Path, arguments: list[str]) -> tuple[subprocess.Popen[bytes], str, str | None]:
    state = work / "sim.json"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ccgw_sim", "--host", "127.0.0.1", "--port", "0"),
            *("--cert-dir", str(work), "--state-file", str(state)),
            *arguments,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "simulator")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not state.exists() or not state.stat().st_size:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    info = json.loads(state.read_text())
    return process, info["url"], info["ca"]


def stop_simulator(process: subprocess.Popen[bytes], wait: float = 10.0) -> None:
    """Stop the simulator: asked to end, killed if it has not within wait seconds (a server left running would
    outlive the benchmark)."""
    process.terminate()
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
