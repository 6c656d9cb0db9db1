"""Start the real simulator in a subprocess and talk to it over real HTTP(S)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

SIM_ROOT = Path(__file__).resolve().parents[1]
BASE = "/agentgateway/resource/"
PASSWORD = "Demo-1234"


class Sim:
    def __init__(self, proc: subprocess.Popen[str], state: dict[str, Any], state_file: Path) -> None:
        self.proc = proc
        self.url: str = state["url"]
        self.ca: str | None = state["ca"]
        self.state_file = state_file

    def client(self) -> Client:
        return Client(self)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise


def start_sim(
    tmp_path: Path,
    *args: str,
    preexec_fn: Callable[[], Any] | None = None,
    launcher: list[str] | None = None,
) -> Sim:
    """Start the simulator; `launcher` replaces `python -m ccgw_sim` (it gets the same arguments)."""
    state_file = tmp_path / f"state-{time.monotonic_ns()}.json"
    cmd = launcher or [sys.executable, "-m", "ccgw_sim"]
    cmd = [*cmd, "--port", "0", "--state-file", str(state_file)]
    cmd += ["--cert-dir", str(tmp_path / "certs"), *args]
    env = {**os.environ, "PYTHONPATH": str(SIM_ROOT)}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )
    deadline = time.monotonic() + 20
    while not state_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("simulator did not start")
        time.sleep(0.02)
    return Sim(proc, json.loads(state_file.read_text()), state_file)


def raw_exchange(sim: Sim, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes on a fresh connection (TLS when the simulator is HTTPS); everything read until EOF."""
    parts = urlsplit(sim.url)
    assert parts.hostname is not None and parts.port is not None
    sock: socket.socket = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=sim.ca)
        sock = context.wrap_socket(sock, server_hostname=parts.hostname)
    received = bytearray()
    deadline = time.monotonic() + timeout
    with sock:
        sock.sendall(data)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                break  # closed without a TLS close_notify, or reset: the end all the same
            if not chunk:
                break
            received += chunk
        else:
            raise AssertionError(f"no EOF within {timeout} s; got {bytes(received[:200])!r}")
    return bytes(received)


@dataclass
class Answer:
    """One HTTP answer read by hand: the bytes exactly as they came, and each read with its arrival time."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes
    reads: list[tuple[float, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)


def bursts(reads: list[tuple[float, bytes]], gap: float) -> list[bytes]:
    """Reads joined into bursts: a new burst starts after a pause longer than `gap` seconds."""
    joined: list[bytes] = []
    last = None
    for when, data in reads:
        if last is None or when - last > gap:
            joined.append(b"")
        joined[-1] += data
        last = when
    return joined


class RawConnection:
    """One kept-alive connection (TLS when the simulator is HTTPS), read by hand; every read timestamped."""

    def __init__(self, sim: Sim, timeout: float = 10.0) -> None:
        parts = urlsplit(sim.url)
        assert parts.hostname is not None and parts.port is not None
        self.host = parts.netloc
        sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=sim.ca)
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        self.sock = sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.reads: list[tuple[float, bytes]] = []

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(
        self, method: str, path: str, guid: str | None = None, body: bytes = b"", extra: str = ""
    ) -> None:
        head = f"{method} {BASE}{path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if guid is not None:
            head += f"Guid: {guid}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall((head + extra + "\r\n").encode() + body)

    def read_some(self, timeout: float) -> bytes | None:
        """One read into the buffer: its bytes, b"" at EOF, None when nothing came within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        except (ssl.SSLEOFError, ConnectionResetError):
            data = b""
        finally:
            self.sock.settimeout(self.timeout)
        if data:
            self.reads.append((time.monotonic(), data))
            self.buffer += data
        return data

    def _fill(self, size: int, deadline: float) -> None:
        while len(self.buffer) < size:
            if self.read_some(max(0.01, deadline - time.monotonic())) in (b"", None):
                raise AssertionError(f"answer ended or stalled; have {bytes(self.buffer[:300])!r}")

    def _take(self, size: int, deadline: float) -> bytes:
        self._fill(size, deadline)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def _line(self, deadline: float) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1, deadline)
        return self._take(self.buffer.index(b"\r\n") + 2, deadline)

    def read_answer(self, timeout: float | None = None) -> Answer:
        """Exactly one answer (Content-Length or chunked); bytes after it stay in the buffer."""
        deadline = time.monotonic() + (timeout or self.timeout)
        first_read = len(self.reads)
        while b"\r\n\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1, deadline)
        head = self._take(self.buffer.index(b"\r\n\r\n") + 4, deadline)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        chunks: list[bytes] = []
        if headers.get("transfer-encoding") == "chunked":
            raw = bytearray()
            while True:
                size_line = self._line(deadline)
                size = int(size_line.split(b";")[0], 16)
                data = self._take(size + 2, deadline)
                raw += size_line + data
                if size == 0:
                    break
                chunks.append(data[:-2])
            body = b"".join(chunks)
            raw_body = bytes(raw)
        else:
            body = raw_body = self._take(int(headers["content-length"]), deadline)
        return Answer(status, headers, body, head + raw_body, self.reads[first_read:], chunks)


class Client:
    """requests.Session that keeps cookies and the current GUID per agent."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.http = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would otherwise override session.verify.
        self.http.trust_env = False
        self.http.verify = sim.ca if sim.ca else True
        self.guids: dict[int, str] = {}

    def request(self, method: str, path: str, guid: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if guid is not None:
            headers["Guid"] = guid
        kwargs.setdefault("timeout", 15)
        return self.http.request(method, self.sim.url + BASE + path, headers=headers, **kwargs)

    def call(self, method: str, path: str, agent: int | None = None, **kwargs: Any) -> requests.Response:
        """Gateway call with the agent's current GUID; follows Set-GUID like a real client."""
        guid = kwargs.pop("guid", self.guids.get(agent) if agent is not None else None)
        response = self.request(method, path, guid=guid, **kwargs)
        if agent is not None and "Set-GUID" in response.headers:
            self.guids[agent] = response.headers["Set-GUID"].split("=", 1)[1]
        return response

    def sign_in(self, agent: int, force: bool = False, **body: Any) -> requests.Response:
        payload = {"password": PASSWORD, "phonenum": f"70{agent}", "status": 4, "releasephone": True}
        payload.update(body)
        path = f"onlineagent/{agent}" + ("/forcelogin" if force else "")
        response = self.request("PUT", path, json=payload)
        if "Set-GUID" in response.headers:
            self.guids[agent] = response.headers["Set-GUID"].split("=", 1)[1]
        return response

    def ready(self, agent: int) -> None:
        """Sign in and drain InService/Ready."""
        assert self.sign_in(agent).json()["retcode"] == "0"
        assert [e["eventType"] for e in self.drain(agent)] == ["AgentOther_InService", "AgentState_Ready"]

    def poll(self, agent: int) -> requests.Response:
        return self.call("GET", f"agentevent/{agent}", agent)

    def drain(self, agent: int) -> list[dict[str, Any]]:
        """Poll until the queue is empty (needs a short poll_hold)."""
        events = []
        while True:
            body = self.poll(agent).json()
            assert body["retcode"] == "0", body
            if "event" not in body:
                assert body == {"message": "", "retcode": "0"}, body
                return events
            events.append(body["event"])

    def record(self, agent: int, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is None:
            body = {"mediaType": 5}
        return self.call("PUT", f"recordplay/{agent}/record", agent, json=body, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.http.request(method, self.sim.url + "/_sim/" + path, **kwargs)

    def agent(self, agent: int) -> dict[str, Any]:
        return self.admin("GET", f"agents/{agent}").json()


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = start_sim(tmp_path_factory.mktemp("sim"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    server = start_sim(tmp_path_factory.mktemp("http-sim"), "--http")
    yield server
    server.stop()


@pytest.fixture(params=["https", "http"])
def any_client(request: pytest.FixtureRequest) -> Client:
    """As `client`, once against the HTTPS simulator and once against a plain HTTP one."""
    server: Sim = request.getfixturevalue("sim" if request.param == "https" else "http_sim")
    c = server.client()
    response = c.admin("POST", "reset", json={"config": {"poll_hold": 0.1}})
    assert response.json() == {"ok": True}
    return c


@pytest.fixture
def client(sim: Sim) -> Client:
    """A fresh client against a freshly reset simulator with a short poll hold."""
    c = sim.client()
    response = c.admin("POST", "reset", json={"config": {"poll_hold": 0.1}})
    assert response.json() == {"ok": True}
    return c
