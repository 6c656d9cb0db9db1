# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session keeper: one background process that keeps many agents' gateway sessions alive.

A gateway signs an agent out when nobody polls its events for 2 minutes, and in dynamic authentication
hands out a new GUID on the event poll every minute. The keeper long-polls every kept agent (one asyncio
task and one connection per agent, no thread per agent), follows the GUID, and writes what it learns next
to the session store's files, which the modules read.

It depends on the standard library only: the modules copy this file into the session store directory and
start it with their own interpreter, wherever they run. Files in the store directory, per agent
(<stem> = what the session store names the agent's session file):
  <stem>.keep.json  written by the modules: keep this agent (connection settings, a generation number);
                    removing it releases the agent
  <stem>.json       the session file of the modules: the GUID and cookies the keeper starts from
  <stem>.kept.json  written by the keeper: current GUID, alive or why not, events, recording state
and for the keeper itself keeper.pid (JSON: pid, started_at) and keeper.log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import ssl
import sys
import time
from typing import Any
from urllib.parse import urlsplit

API_ROOT = "/agentgateway/resource/"
KEEP_SUFFIX = ".keep.json"
KEPT_SUFFIX = ".kept.json"
PID_FILE = "keeper.pid"
LOCK_FILE = "keeper.lock"
MAX_EVENTS = 500
REFRESH_INTERVAL = 10.0
TLS_READ_BUFFER = 16 * 1024
MAX_ENDED_TASKS = 200
# Events that end what they are about: the recording, or the whole session.
RECORD_STARTED = "AgentMediaEvent_Record"
RECORD_FAILED = "AgentMediaEvent_Record_Fail"
RECORD_STOPPED = "AgentMediaEvent_StopRecordDone"
SESSION_ENDED = "AgentOther_ShutdownService"
SESSION_LOST_RETCODES = ("100-006", "000-003")


def now_ms() -> int:
    return int(time.time() * 1000)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Never seen half written: write aside, remove the old, rename (see _session_store for why not replace)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.rename(temporary, path)


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def guid_from_header(value: str) -> str:
    value = value.strip()
    if value.startswith("JSESSIONID="):
        value = value[len("JSESSIONID=") :]
    return value.split(";", 1)[0].strip()


_TLS_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


def tls_context(request: dict[str, Any]) -> ssl.SSLContext | None:
    """One TLS context per set of TLS options, shared by every agent: each holds the loaded CA bundle."""
    if not request["gateway_url"].lower().startswith("https"):
        return None
    key = tuple(request.get(name) for name in ("validate_certs", "ca_path", "client_cert", "client_key"))
    if key not in _TLS_CONTEXTS:
        _TLS_CONTEXTS[key] = _new_tls_context(request)
    return _TLS_CONTEXTS[key]


def _new_tls_context(request: dict[str, Any]) -> ssl.SSLContext:
    if not request.get("validate_certs", True):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        bundle = request.get("ca_path") or os.environ.get("REQUESTS_CA_BUNDLE") or None
        context = ssl.create_default_context(cafile=bundle)
    if request.get("client_cert"):
        context.load_cert_chain(request["client_cert"], request.get("client_key"))
    return context


class HTTPConnection:
    """Just enough HTTP/1.1 over asyncio streams for one agent's polls, kept alive between them."""

    def __init__(self, gateway_url: str, context: ssl.SSLContext | None) -> None:
        parts = urlsplit(gateway_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.context = context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @property
    def _stream(self) -> asyncio.StreamReader:
        if self.reader is None:
            raise ConnectionError("not connected")
        return self.reader

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.context, server_hostname=self.host if self.context else None
            )
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self.writer.drain()
        status_line = await self._stream.readline()
        if not status_line:
            raise ConnectionError("the gateway closed the connection")
        status = int(status_line.split()[1])
        response_headers: dict[str, str] = {}
        cookies: list[str] = []
        while True:
            line = (await self._stream.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _colon, value = line.partition(":")
            if name.strip().lower() == "set-cookie":
                cookies.append(value.strip())
            response_headers[name.strip().lower()] = value.strip()
        if cookies:
            response_headers["set-cookie"] = "\n".join(cookies)
        body = await self._body(response_headers)
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, response_headers, body

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._stream.readline()).split(b";")[0], 16)
                if size == 0:
                    await self._stream.readline()
                    return b"".join(chunks)
                chunks.append(await self._stream.readexactly(size))
                await self._stream.readline()
        if "content-length" in headers:
            return await self._stream.readexactly(int(headers["content-length"]))
        body = await self._stream.read()
        await self.close()
        return body


class KeptAgent:
    """Polls one agent's events for as long as its keep request stands and its session lives."""

    def __init__(self, keeper: Keeper, stem: str, request: dict[str, Any]) -> None:
        self.keeper = keeper
        self.stem = stem
        self.request = request
        self.agent_id = int(request["agent_id"])
        session = read_json(stem + ".json") or {}
        previous = read_json(stem + KEPT_SUFFIX) or {}
        same_session = previous.get("generation") == request.get("generation")
        self.state: dict[str, Any] = {
            "agent_id": self.agent_id,
            "gateway_url": request["gateway_url"],
            "generation": request.get("generation"),
            "guid": previous.get("guid") if same_session and previous.get("guid") else session.get("guid"),
            "alive": True,
            "reason": None,
            "kept_since": now_ms(),
            "last_poll_at": None,
            "polls": 0,
            "guid_rotations": 0,
            "events": previous.get("events", []) if same_session else [],
            "recording": previous.get("recording") if same_session else None,
            "ended_tasks": previous.get("ended_tasks", []) if same_session else [],
        }
        self.cookies = {c["name"]: c["value"] for c in session.get("cookies", []) if "name" in c}
        self.connection = HTTPConnection(request["gateway_url"], tls_context(request))
        self.timeout = float(request.get("timeout") or 30)
        self.saved_at = 0.0

    def save(self) -> None:
        if not os.path.exists(self.stem + KEEP_SUFFIX):
            return  # released: the modules removed its files, which must not come back
        self.state["updated_at"] = now_ms()
        write_json(self.stem + KEPT_SUFFIX, self.state)
        self.saved_at = time.monotonic()

    def end(self, reason: str) -> None:
        self.state["alive"] = False
        self.state["reason"] = reason
        self.state["recording"] = None
        self.save()

    def take_event(self, event: dict[str, Any]) -> None:
        kind = event.get("eventType")
        content = event.get("content")
        self.state["events"].append({"event_type": kind, "content": content, "received_at": now_ms()})
        del self.state["events"][:-MAX_EVENTS]
        task_id = str(content.get("taskId")) if isinstance(content, dict) and "taskId" in content else None
        if kind == RECORD_STARTED and task_id:
            self.state["recording"] = {
                "task_id": task_id,
                "file_name": content.get("fileName"),
                "since": now_ms(),
            }
        elif kind in (RECORD_FAILED, RECORD_STOPPED) and task_id:
            self.state["ended_tasks"] = (self.state["ended_tasks"] + [task_id])[-MAX_ENDED_TASKS:]
            if (self.state["recording"] or {}).get("task_id") == task_id:
                self.state["recording"] = None

    async def poll_once(self) -> bool:
        """One long-poll; False when the session is over."""
        headers = {"Content-Type": "application/json; charset=UTF-8", "Guid": self.state["guid"] or ""}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        status, response_headers, body = await asyncio.wait_for(
            self.connection.request("GET", f"{API_ROOT}agentevent/{self.agent_id}", headers), self.timeout
        )
        self.state["polls"] += 1
        self.state["last_poll_at"] = now_ms()
        changed = self.state["reason"] is not None
        self.state["reason"] = None
        for cookie in response_headers.get("set-cookie", "").split("\n"):
            name, _equals, rest = cookie.partition("=")
            if name.strip() and rest:
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if "set-guid" in response_headers:
            guid = guid_from_header(response_headers["set-guid"])
            if guid and guid != self.state["guid"]:
                self.state["guid"] = guid
                self.state["guid_rotations"] += 1
                changed = True
        if status != 200:
            raise ConnectionError(f"HTTP {status}")
        answer = json.loads(body)
        retcode = answer.get("retcode")
        if retcode in SESSION_LOST_RETCODES:
            self.end(f"{retcode}: the gateway no longer knows this session")
            return False
        if retcode != "0":
            raise ConnectionError(f"retcode {retcode}")
        event = answer.get("event")
        if isinstance(event, dict):
            changed = True
            self.take_event(event)
            if event.get("eventType") == SESSION_ENDED:
                self.end("AgentOther_ShutdownService: the agent was signed out")
                return False
        # A new GUID or event is written at once; an empty poll only refreshes last_poll_at now and then,
        # which keeps a thousand agents' polls from rewriting their event lists every second.
        if changed or time.monotonic() - self.saved_at > REFRESH_INTERVAL:
            self.save()
        return True

    async def run(self) -> None:
        self.save()
        failures = 0
        try:
            while self.keeper.running:
                try:
                    if not await self.poll_once():
                        return
                    failures = 0
                except (
                    OSError,
                    ConnectionError,
                    ValueError,
                    asyncio.TimeoutError,
                    asyncio.IncompleteReadError,
                ) as exc:
                    failures += 1
                    await self.connection.close()
                    self.keeper.log(f"agent {self.agent_id}: poll failed ({type(exc).__name__}: {exc})")
                    self.state["reason"] = f"last poll failed: {type(exc).__name__}: {exc}"
                    self.save()
                    # Back off, but poll again well inside the gateway's 2-minute heartbeat limit.
                    await asyncio.sleep(min(0.2 * 2**failures, 10))
        finally:
            await self.connection.close()


class Keeper:
    def __init__(self, directory: str, idle_exit: float, scan_interval: float) -> None:
        self.directory = directory
        self.idle_exit = idle_exit
        self.scan_interval = scan_interval
        self.running = True
        self.agents: dict[str, tuple[Any, asyncio.Task[None]]] = {}
        self.parsed: dict[str, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}

    def log(self, text: str) -> None:
        sys.stdout.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
        sys.stdout.flush()

    def keep_requests(self) -> dict[str, dict[str, Any]]:
        """The keep requests in the directory; a file is parsed again only when it was rewritten."""
        found = {}
        seen: dict[str, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if not entry.name.endswith(KEEP_SUFFIX):
                    continue
                try:
                    info = entry.stat()
                except FileNotFoundError:
                    continue
                signature = (info.st_ino, info.st_mtime_ns, info.st_size)
                cached = self.parsed.get(entry.path)
                request = cached[1] if cached and cached[0] == signature else read_json(entry.path)
                seen[entry.path] = (signature, request)
                if request and "agent_id" in request and "gateway_url" in request:
                    found[entry.path[: -len(KEEP_SUFFIX)]] = request
        self.parsed = seen
        return found

    def reconcile(self) -> None:
        wanted = self.keep_requests()
        for stem in list(self.agents):
            generation, task = self.agents[stem]
            if stem not in wanted or wanted[stem].get("generation") != generation or task.done():
                if stem in wanted and task.done() and wanted[stem].get("generation") == generation:
                    continue  # the session ended; a new generation (a new sign-in) starts it again
                task.cancel()
                del self.agents[stem]
                if stem not in wanted:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(stem + KEPT_SUFFIX)
                    self.log(f"released {os.path.basename(stem)}")
        for stem, request in wanted.items():
            if stem not in self.agents:
                agent = KeptAgent(self, stem, request)
                self.agents[stem] = (request.get("generation"), asyncio.ensure_future(agent.run()))
                self.log(f"keeping agent {agent.agent_id} of {request['gateway_url']}")

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        idle_since = time.monotonic()
        while self.running:
            self.reconcile()
            if self.agents:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_exit:
                self.log("no agent to keep; exiting")
                break
            await asyncio.sleep(self.scan_interval)
        self.running = False
        for _generation, task in self.agents.values():
            task.cancel()
        await asyncio.gather(*(task for _g, task in self.agents.values()), return_exceptions=True)

    def stop(self) -> None:
        self.running = False


def smaller_tls_buffers() -> None:
    """asyncio gives every TLS connection a 256 KiB read buffer, zero-filled, so resident: 250 MB for a
    thousand held polls. A poll answer is a few hundred bytes; 16 KiB is one TLS record."""
    protocol = getattr(getattr(asyncio, "sslproto", None), "SSLProtocol", None)
    if protocol is not None and getattr(protocol, "max_size", 0) > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cec.cc_gateway session keeper")
    parser.add_argument("--store", required=True, help="the session store directory")
    parser.add_argument("--idle-exit", type=float, default=30.0, help="seconds with no agent before exiting")
    parser.add_argument("--scan-interval", type=float, default=0.2, help="seconds between keep-request scans")
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.store)
    lock = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another keeper serves this store
    pid_path = os.path.join(directory, PID_FILE)
    write_json(pid_path, {"pid": os.getpid(), "started_at": now_ms()})
    smaller_tls_buffers()
    keeper = Keeper(directory, args.idle_exit, args.scan_interval)
    keeper.log(f"session keeper {os.getpid()} serving {directory}")
    try:
        asyncio.run(keeper.main())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pid_path)
        keeper.log("session keeper stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
