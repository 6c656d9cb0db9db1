"""The simulator raises its own open-file soft limit, so it holds hundreds of connections under `ulimit -Sn`."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import BASE, start_sim

resource = pytest.importorskip("resource", reason="resource limits exist on Unix only")

LOW_SOFT = 256
CONNECTIONS = 400


def _limits() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _expected_soft(hard: int) -> int:
    """What the simulator raises to (its rule for an infinite hard limit included)."""
    if hard != resource.RLIM_INFINITY:
        return hard
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return 10240


def _lower_soft_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_SOFT, _limits()[1]))


def _proc_soft_limit(pid: int) -> int | None:
    limits = Path(f"/proc/{pid}/limits")
    if not limits.exists():
        return None
    for line in limits.read_text().splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return resource.RLIM_INFINITY if soft == "unlimited" else int(soft)
    return None


def _ensure_own_fds(needed: int) -> None:
    soft, hard = _limits()
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"the test itself needs {needed} open files; hard limit {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_soft_limit_raised_and_hundreds_of_polls_held(tmp_path: Path) -> None:
    hard = _limits()[1]
    if hard != resource.RLIM_INFINITY and hard < CONNECTIONS + 200:
        pytest.skip(f"hard open-file limit {hard} is too low to show the raise")
    _ensure_own_fds(CONNECTIONS + 200)
    sim = start_sim(tmp_path, "--http", "--poll-hold", "30", preexec_fn=_lower_soft_limit)
    sockets: list[socket.socket] = []
    try:
        soft = _proc_soft_limit(sim.proc.pid)
        if soft is not None:  # Linux: read it from the process itself
            assert soft == _expected_soft(hard)
        client = sim.client()
        assert client.sign_in(186).json()["retcode"] == "0"
        parts = urlsplit(sim.url)
        request = (
            f"GET {BASE}agentevent/186 HTTP/1.1\r\nHost: {parts.netloc}\r\nGuid: {client.guids[186]}\r\n\r\n"
        ).encode()
        # The two sign-in events go to the first two polls; the other polls are held.
        for _ in range(CONNECTIONS):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
            sockets.append(sock)
            sock.sendall(request)
        deadline = time.monotonic() + 30
        outstanding = 0
        while time.monotonic() < deadline:
            outstanding = client.admin("GET", "polls").json()["outstanding"]
            if outstanding >= CONNECTIONS - 2:
                break
            time.sleep(0.1)
        assert outstanding == CONNECTIONS - 2
        assert client.agent(186)["polls"] == CONNECTIONS
    finally:
        for sock in sockets:
            sock.close()
        code = sim.stop()
    assert code == 0
    stderr = sim.proc.stderr.read() if sim.proc.stderr else ""
    assert "open-file" not in stderr, stderr


def test_cannot_raise_prints_one_line_and_goes_on(tmp_path: Path) -> None:
    hard = _limits()[1]
    if hard != resource.RLIM_INFINITY and hard <= LOW_SOFT:
        pytest.skip(f"hard open-file limit {hard} leaves nothing to raise")
    code = (
        "import resource, sys\n"
        "def refuse(*args):\n"
        "    raise PermissionError(1, 'Operation not permitted')\n"
        "resource.setrlimit = refuse\n"
        "from ccgw_sim.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    sim = start_sim(tmp_path, "--http", preexec_fn=_lower_soft_limit, launcher=[sys.executable, "-c", code])
    try:
        client = sim.client()
        assert client.sign_in(186).json()["retcode"] == "0"
        if (soft := _proc_soft_limit(sim.proc.pid)) is not None:
            assert soft == LOW_SOFT
    finally:
        assert sim.stop() == 0
    lines = (sim.proc.stderr.read() if sim.proc.stderr else "").splitlines()
    assert lines == [
        f"ccgw_sim: cannot raise the open-file soft limit from {LOW_SOFT} to {_expected_soft(hard)}: "
        "[Errno 1] Operation not permitted; going on"
    ]


def test_soft_limit_already_at_hard_is_left_alone(tmp_path: Path) -> None:
    hard = _limits()[1]
    if hard != resource.RLIM_INFINITY and hard < LOW_SOFT:
        pytest.skip(f"hard open-file limit {hard} is below {LOW_SOFT}")

    def both_low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_SOFT, LOW_SOFT))

    sim = start_sim(tmp_path, "--http", preexec_fn=both_low)
    try:
        assert sim.client().admin("GET", "polls").json() == {"outstanding": 0, "total": 0}
        if (soft := _proc_soft_limit(sim.proc.pid)) is not None:
            assert soft == LOW_SOFT
    finally:
        assert sim.stop() == 0
    assert (sim.proc.stderr.read() if sim.proc.stderr else "") == ""
