# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session keeper: one background process that keeps many agents' gateway sessions alive.

A gateway signs an agent out when nobody polls its events for 2 minutes, and in dynamic authentication
hands out a new GUID on the event poll every minute. The keeper polls every kept agent's events (an asyncio
task per agent, through the collection's transport: its AsyncTransport, one per route, on the route the
task that kept the agent resolved), follows the GUID, and writes what it learns next to the session
store's files, which the modules read.

Pacing follows Huawei's own clients: after an empty poll it waits 500 ms, after an event it polls again at
once, after a failure it backs off (at most 10 s, well inside the 2-minute heartbeat). Against a gateway that
holds polls (about 10 s) that is one open poll per agent; against one that answers at once (a gateway with
AGENT_POLL_WAIT_FLAG=OFF) at most about 2 polls per second per idle agent.

The modules start it (see keeper_process.py) from a copy of its sources in the store, with the interpreter
that runs them. What it reads and writes in the store is keeper_protocol.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import gc
import os
import resource
import signal
import stat
import sys
import threading
import time
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    ConnectionSettings,
    GatewayClient,
    GatewayError,
    RetcodeError,
    now_ms,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import (
    AsyncTransport,
    aiohttp_missing,
    share_tls_read_buffer,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.retcodes import SESSION_LOST
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import Route, gateway_base
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    KEEP_SUFFIX,
    KEEPER_LEGACY_PID_FILE,
    KEEPER_LOCK_FILE,
    KEEPER_START_LOCK_FILE,
    KEEPER_STATUS_FILE,
    KEEPER_STOP_FILE,
    KEEPER_WAKE_FILE,
    KEPT_SUFFIX,
    SESSION_ENDED,
    KeeperReport,
    KeepRequest,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    StoreError,
    check_directory,
    open_directory,
    read_json,
    sane_guid,
    write_file,
)

EMPTY_POLL_PAUSE = 0.5
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
# Keep requests are read again when a module says it wrote one (keeper.wake), and at the latest this often
# (lease renewals only touch their file; a module of an older collection version does not wake the keeper).
FULL_SCAN_INTERVAL = 2.0
# ... or, for a store of thousands of agents (a scan of 5,000 takes about 0.1 s), so much later that the periodic
# scans take at most this share of the event loop's time, and never later than FULL_SCAN_MAX_INTERVAL (a lease
# ran out is noticed at a scan; a renewal is looked at again under the agent's lock before a lease is ended).
FULL_SCAN_SHARE = 0.01
FULL_SCAN_MAX_INTERVAL = 15.0
HEARTBEAT_INTERVAL = 2.0
LOG_REPEAT = 60.0
# The garbage collector's thresholds in the keeper's process. A held poll's objects live for seconds, longer than
# the default young generations (700 allocations) last, so they were promoted and the whole heap (thousands of TLS
# connections) was scanned every second or two: over half the keeper's CPU at 5,000 agents over HTTPS (py-spy
# --native). With these the young generations let them die there; the whole heap is collected every
# FULL_COLLECTION_INTERVAL seconds instead, which bounds what reference cycles can hold.
GC_THRESHOLDS = (100_000, 50, 1000)
FULL_COLLECTION_INTERVAL = 60.0
# Events that end what they are about: the recording, or the whole session.
# Answers to the lease's stop and sign-out that mean there was nothing to end.
NOTHING_TO_STOP = frozenset({"100-007"})
ALREADY_SIGNED_OUT = frozenset({"100-006", "100-008"})


def log(text: str) -> None:
    sys.stdout.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
    sys.stdout.flush()


def exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def route_of(request: KeepRequest) -> Route:
    """The route a keep request names; a request of collection 1.0.0 has none (it used no proxy)."""
    if request.route is not None:
        return Route.from_dict(request.route)
    legacy = request.legacy
    verify: Any = (legacy.get("ca_path") or True) if legacy.get("validate_certs", True) else False
    cert: Any = legacy.get("client_cert")
    if cert and legacy.get("client_key"):
        cert = (cert, legacy["client_key"])
    return Route(gateway_base(request.gateway_url), (), verify, cert)


class ReportWriter:
    """Writes the agents' reports in a thread of its own: replacing a file costs a millisecond of I/O, which
    would stall every poll of the event loop (a thousand agents' GUIDs rotate every minute). Only the newest
    report of an agent is written; one whose keep request is gone is not written at all."""

    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = dir_fd
        self.pending: dict[str, str] = {}
        self.ready = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._run, name="report-writer", daemon=True)
        self.thread.start()

    def put(self, stem: str, report: str) -> None:
        with self.ready:
            self.pending[stem] = report
            self.ready.notify()

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.pending and self.running:
                    self.ready.wait()
                if not self.pending:
                    return
                stem = next(iter(self.pending))
                report = self.pending.pop(stem)
            if not exists(stem + KEEP_SUFFIX, self.dir_fd):
                continue  # released meanwhile: the modules removed its files, which must not come back
            try:
                write_file(stem + KEPT_SUFFIX, report, text=True, dir_fd=self.dir_fd)
            except OSError as exc:
                log(f"cannot write {stem + KEPT_SUFFIX}: {exc}")

    def close(self) -> None:
        """Write what is pending, then end the thread."""
        with self.ready:
            self.running = False
            self.ready.notify()
        self.thread.join(30)


class KeptAgent:
    """Polls one agent's events in an asyncio task of its own for as long as its keep request stands."""

    def __init__(self, keeper: Keeper, stem: str, request: KeepRequest) -> None:
        """stem: the agent's file names in the store without their suffix."""
        self.keeper = keeper
        self.stem = stem
        self.request = request
        self.generation = request.generation
        self.agent_id = request.agent_id
        self.lease = request.lease
        self.renewed_at = request.renewed_at
        self.stopping = False
        self.leaving = False
        session = read_json(stem + ".json", keeper.dir_fd) or {}
        previous = KeeperReport.from_dict(read_json(stem + KEPT_SUFFIX, keeper.dir_fd))
        if previous is None or not previous.about(self.generation) or not previous.alive:
            previous = KeeperReport()  # another session's: nothing of it carries over
        guid = previous.guid or session.get("guid")
        if not sane_guid(guid):
            raise StoreError("the session file holds no usable GUID")
        self.state = KeeperReport(
            agent_id=self.agent_id,
            gateway_url=request.gateway_url,
            generation=self.generation,
            guid=guid,
            lease=self.lease,
            alive=True,
            healthy=True,
            kept_since=now_ms(),
            guid_rotations=previous.guid_rotations,
            events=previous.events,
            recording=previous.recording,
            ended_tasks=previous.ended_tasks,
            playback=previous.playback,
        )
        self.cookies = session.get("cookies", [])
        self.saved_at = 0.0
        self.logged_at = 0.0
        self.task: asyncio.Task[None] | None = None

    # -- what the modules read

    @property
    def ended(self) -> bool:
        return not self.state.alive

    def save(self) -> None:
        if self.stopping or not exists(self.stem + KEEP_SUFFIX, self.keeper.dir_fd):
            return  # released or superseded: the modules own the agent's files now
        self.state.updated_at = now_ms()
        self.keeper.writer.put(self.stem, self.state.to_json())
        self.saved_at = time.monotonic()

    def end(self, reason: str) -> None:
        self.state.alive = self.state.healthy = False
        self.state.reason = reason
        self.state.recording = None
        if self.state.playback is not None:
            # A playback ends with its session.
            self.state.playback = {"state": "stopped", "at": now_ms(), "event": None}
        self.save()
        log(f"agent {self.agent_id}: session over: {reason}")

    def note(self, text: str) -> None:
        """Log a failure once, then at most once a minute while it goes on."""
        now = time.monotonic()
        if now - self.logged_at >= LOG_REPEAT or self.state.failures <= 1:
            log(f"agent {self.agent_id}: {text}")
            self.logged_at = now

    # -- polling

    def _client(self) -> GatewayClient:
        settings = ConnectionSettings(gateway_url=self.request.gateway_url, timeout=self.request.timeout)
        client = GatewayClient(settings, self.agent_id, route=route_of(self.request), sync=False)
        client.guid = self.state.guid
        client.import_cookies(self.cookies)
        return client

    def polled(self, client: GatewayClient, event: dict[str, Any] | None) -> float | None:
        """Take one poll's answer; the pause before the next poll, None when the session is over."""
        state = self.state
        state.polls += 1
        state.last_poll_at = now_ms()
        changed = False
        if not state.healthy:
            log(f"agent {self.agent_id}: polling again after {state.failures} failures")
            state.healthy, state.reason, state.failures = True, None, 0
            changed = True
        if client.guid and client.guid != state.guid:
            state.guid = client.guid
            state.guid_rotations += 1
            changed = True
        if event is not None:
            state.take_event(event)
            if event.get("event_type") == SESSION_ENDED:
                self.end(f"{SESSION_ENDED}: the agent was signed out")
                return None
            changed = True
        # Written only when it says something new (a GUID, an event, health): thousands of agents' empty polls
        # rewrite nothing; the keeper's own liveness is its heartbeat in keeper.json.
        if changed:
            self.save()
        return EMPTY_POLL_PAUSE if event is None else 0.0

    def failed(self, error: BaseException) -> float:
        state = self.state
        state.failures += 1
        text = str(error) or type(error).__name__
        if not isinstance(error, GatewayError):
            text = f"{type(error).__name__}: {text}"
        if (isinstance(error, OSError) and error.errno == errno.EMFILE) or "Too many open files" in text:
            text = f"the keeper is out of file descriptors (limit {open_file_limit()}): {text}"
        reason_changed = state.reason != text
        state.healthy, state.reason = False, text
        self.note(f"poll failed ({state.failures} in a row): {text}")
        if reason_changed:
            self.save()
        # Back off, but poll again well inside the gateway's 2-minute heartbeat limit.
        return min(FIRST_BACKOFF * 2 ** (state.failures - 1), MAX_BACKOFF)

    async def run(self) -> None:
        try:
            client = self._client()
            transport = self.keeper.transport(client.route)
        except Exception as exc:  # a keep request this keeper cannot use: say so in its file only
            self.end(f"the keep request cannot be used: {type(exc).__name__}: {exc}")
            return
        self.save()
        try:
            while not self.stopping and self.keeper.running:
                try:
                    pause = self.polled(client, await client.poll_event_async(transport))
                except asyncio.CancelledError:
                    raise
                except RetcodeError as exc:
                    if exc.retcode in SESSION_LOST:
                        self.end(f"{exc.retcode}: the gateway no longer knows this session")
                        return
                    pause = self.failed(exc)
                except Exception as exc:  # every failure of one agent's poll is this agent's alone
                    pause = self.failed(exc)
                if pause is None:
                    return
                if pause:
                    await asyncio.sleep(pause)
        finally:
            if self.keeper.running and not self.stopping and not self.leaving and self.state.alive:
                self.end("the keeper stopped following this agent unexpectedly; see keeper.log")

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            self.task.cancel()

    # -- the lease: no task used the agent for that long, so nobody will end what the collection started

    def lease_over(self, now: float) -> bool:
        return (
            bool(self.lease) and not self.leaving and self.state.alive and now > self.renewed_at + self.lease
        )

    def try_end_lease(self) -> bool:
        """End the lease unless a task works on the agent right now (it holds the agent's lock, and renews the
        lease): the keeper holds that lock itself while it ends the session, so no task starts a recording on
        it meanwhile. Whether the lease is being ended."""
        lock = self.keeper.agent_lock(self.stem)
        if lock is None:
            return False
        try:
            renewed_at = os.stat(
                self.stem + KEEP_SUFFIX, dir_fd=self.keeper.dir_fd, follow_symlinks=False
            ).st_mtime
        except FileNotFoundError:
            renewed_at = self.renewed_at
        if renewed_at > self.renewed_at:  # renewed just before the lock was taken
            self.renewed_at = renewed_at
            os.close(lock)
            return False
        self.leaving = True
        if self.task is not None:
            self.task.cancel()
        self.task = asyncio.ensure_future(self._end_lease(lock))
        return True

    async def _end_lease(self, lock: int) -> None:
        try:
            await self._stop_and_sign_out()
        finally:
            os.close(lock)  # the agent's lock, released

    async def _stop_and_sign_out(self) -> None:
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.renewed_at))
        outcomes = []
        try:
            client = self._client()
            transport = self.keeper.transport(client.route)
            for method, path, operation, nothing in (
                ("DELETE", f"recordplay/{self.agent_id}/stoprecord", "stop_recording", NOTHING_TO_STOP),
                ("DELETE", f"onlineagent/{self.agent_id}/logout", "sign_out", ALREADY_SIGNED_OUT),
            ):
                outcomes.append(
                    f"{operation}: {await self._send(client, transport, method, path, operation, nothing)}"
                )
        except Exception as exc:
            # Said in the reason; with nobody polling, the gateway's heartbeat ends the session 2 minutes later.
            outcomes.append(f"{type(exc).__name__}: {exc}")
        self.end(
            f"keepalive_lease of {self.lease:g} s ran out (no task used the agent since {since}); the keeper "
            f"ended what it kept: {'; '.join(outcomes)}"
        )

    @staticmethod
    async def _send(
        client: GatewayClient,
        transport: AsyncTransport,
        method: str,
        path: str,
        operation: str,
        nothing: frozenset[str],
    ) -> str:
        try:
            await client.call_async(transport, method, path, operation)
        except RetcodeError as exc:
            return f"nothing to end ({exc.retcode})" if exc.retcode in nothing else f"refused ({exc.retcode})"
        except GatewayError as exc:
            return f"failed ({exc})"
        return "done"


def open_file_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_file_limit() -> str:
    """Raise the soft open-file limit as far as allowed: each kept agent holds a connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    targets = [hard] if hard != resource.RLIM_INFINITY else []
    targets += [limit for limit in (1 << 20, 65536, 10240) if limit > soft]
    for target in targets:
        if target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return f"open-file limit raised from {soft} to {target}"
        except (ValueError, OSError):
            continue
    return f"open-file limit stays at {soft}"


class Keeper:
    def __init__(self, directory: str, version: str, idle_exit: float, scan_interval: float) -> None:
        self.directory = directory
        self.version = version
        self.idle_exit = idle_exit
        self.scan_interval = scan_interval
        self.wake_signature: tuple[int, int] | None = None
        self.running = True
        self.wake = asyncio.Event()
        self.agents: dict[str, KeptAgent] = {}
        self.parsed: dict[str, tuple[tuple[int, int, int], KeepRequest | None]] = {}
        self.transports: dict[Route, AsyncTransport] = {}
        self.dir_fd = open_directory(directory)
        # Agents whose session ended under a keep request of this generation: not kept again.
        self.ended: dict[str, Any] = {}
        self.writer = ReportWriter(self.dir_fd)
        self.started_at = now_ms()
        self.beat_at = 0.0

    def transport(self, route: Route) -> AsyncTransport:
        """One transport (one aiohttp session, its connections kept alive) per route for all agents."""
        if route not in self.transports:
            self.transports[route] = AsyncTransport(route)
        return self.transports[route]

    def keep_requests(self) -> dict[str, KeepRequest]:
        """The keep requests in the directory; a file is parsed again only when it was rewritten.

        Only regular files count; each request's renewed_at is its file's modification time (the lease)."""
        found = {}
        seen: dict[str, tuple[tuple[int, int, int], KeepRequest | None]] = {}
        with os.scandir(self.dir_fd) as entries:
            for entry in entries:
                if not entry.name.endswith(KEEP_SUFFIX):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                signature = (info.st_ino, info.st_mtime_ns, info.st_size)
                cached = self.parsed.get(entry.name)
                if cached and cached[0] == signature:
                    request = cached[1]
                else:
                    request = KeepRequest.from_dict(read_json(entry.name, self.dir_fd), info.st_mtime)
                seen[entry.name] = (signature, request)
                if request is not None:
                    found[entry.name[: -len(KEEP_SUFFIX)]] = request
        self.parsed = seen
        return found

    def _ended_before(self, stem: str, request: KeepRequest) -> bool:
        """Whether this keep request's session ended already (under this keeper or one before it)."""
        generation = request.generation
        if self.ended.get(stem, object()) == generation:
            return True
        report = KeeperReport.from_dict(read_json(stem + KEPT_SUFFIX, self.dir_fd))
        if report is not None and report.ended_session(generation):
            self.ended[stem] = generation
            return True
        return False

    def reconcile(self) -> dict[str, KeepRequest]:
        wanted = self.keep_requests()
        now = time.time()
        for stem, agent in list(self.agents.items()):
            request = wanted.get(stem)
            if request is not None and request.generation == agent.generation:
                agent.renewed_at = max(agent.renewed_at, request.renewed_at)
                agent.lease = agent.state.lease = request.lease  # a task may give a new lease
                if agent.lease_over(now) and agent.try_end_lease():
                    log(
                        f"agent {agent.agent_id}: keepalive_lease of {agent.lease:g} s ran out; ending its session"
                    )
                continue  # kept, or its session ended: a new generation (a new sign-in) starts it again
            agent.stop()
            del self.agents[stem]
            if agent.ended:
                self.ended[stem] = agent.generation
            if request is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stem + KEPT_SUFFIX, dir_fd=self.dir_fd)
                log(f"released agent {agent.agent_id}")
        for stem, request in wanted.items():
            if stem in self.agents or self._ended_before(stem, request):
                continue
            try:
                agent = KeptAgent(self, stem, request)
                agent.start()
            except Exception as exc:  # this agent cannot be kept; the others go on
                log(f"cannot keep {os.path.basename(stem)}: {type(exc).__name__}: {exc}")
                self.ended[stem] = request.generation
                report = KeeperReport(
                    agent_id=request.agent_id,
                    gateway_url=request.gateway_url,
                    generation=request.generation,
                    reason=f"the keeper could not keep this agent: {type(exc).__name__}: {exc}",
                    updated_at=now_ms(),
                )
                with contextlib.suppress(OSError):
                    write_file(stem + KEPT_SUFFIX, report.to_json(), text=True, dir_fd=self.dir_fd)
                continue
            self.agents[stem] = agent
            log(f"keeping agent {agent.agent_id} of {request.gateway_url}")
        return wanted

    def heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.beat_at < HEARTBEAT_INTERVAL:
            return
        status = {
            "pid": os.getpid(),
            "version": self.version,
            "python": sys.version.split()[0],
            "started_at": self.started_at,
            "heartbeat_at": time.time(),
            "agents": len(self.agents),
            "unhealthy": sum(1 for agent in self.agents.values() if not agent.state.healthy),
        }
        try:
            write_file(KEEPER_STATUS_FILE, status, dir_fd=self.dir_fd)
        except OSError as exc:
            log(f"cannot write the heartbeat: {exc}")
        self.beat_at = time.monotonic()

    def _idle_exit_allowed(self) -> Any:
        """The start lock, if free: with it held, no task can find this keeper running and count on it."""
        return self.lock_if_free(KEEPER_START_LOCK_FILE)

    def lock_if_free(self, name: str) -> int | None:
        """An exclusive lock on the store's file name, taken without waiting; None while someone holds it."""
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.dir_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def woken(self) -> bool:
        """Whether a module touched keeper.wake (a new modification time, or a new file) since the last look."""
        try:
            info = os.stat(KEEPER_WAKE_FILE, dir_fd=self.dir_fd, follow_symlinks=False)
            signature: tuple[int, int] | None = (info.st_ino, info.st_mtime_ns)
        except FileNotFoundError:
            signature = None
        if signature == self.wake_signature:
            return False
        self.wake_signature = signature
        return True

    async def run(self) -> None:
        idle_since = collected_at = time.monotonic()
        scanned_at = 0.0
        scan_every = FULL_SCAN_INTERVAL
        wanted: dict[str, KeepRequest] = {}
        while self.running:
            # The stop request is read before the keep requests, so that a keep request written before it
            # is seen and keeps this keeper running (see KeeperProcess.stop_if_idle).
            stop_requested = exists(KEEPER_STOP_FILE, self.dir_fd)
            if self.woken() or stop_requested or time.monotonic() - scanned_at >= scan_every:
                began = time.monotonic()
                wanted = self.reconcile()
                scanned_at = time.monotonic()
                scan_every = min(
                    max(FULL_SCAN_INTERVAL, (scanned_at - began) / FULL_SCAN_SHARE), FULL_SCAN_MAX_INTERVAL
                )
            if stop_requested:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(KEEPER_STOP_FILE, dir_fd=self.dir_fd)
                if not self.active(wanted):
                    log("asked to stop with no agent to keep; exiting")
                    break
                log(f"asked to stop, but {len(wanted)} agents are kept; going on")
            if any(not agent.ended for agent in self.agents.values()):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_exit:
                lock = self._idle_exit_allowed()
                if lock is not None:
                    if not self.active(self.reconcile()):
                        log("no agent to keep; exiting")
                        break
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    os.close(lock)
            self.heartbeat()
            if time.monotonic() - collected_at >= FULL_COLLECTION_INTERVAL:
                gc.collect()
                collected_at = time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.scan_interval)
        self.running = False
        for agent in self.agents.values():
            agent.stop()
        await asyncio.gather(*(a.task for a in self.agents.values() if a.task), return_exceptions=True)
        for transport in self.transports.values():
            await transport.close()
        self.writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(KEEPER_STATUS_FILE, dir_fd=self.dir_fd)
        os.close(self.dir_fd)

    def agent_lock(self, stem: str) -> int | None:
        """The agent's lock (the modules' <stem>.lock), taken without waiting; None while a task holds it."""
        return self.lock_if_free(stem + ".lock")

    def active(self, wanted: dict[str, KeepRequest]) -> bool:
        """Whether any keep request still has a session to keep (ended ones wait for the modules)."""
        for stem, request in wanted.items():
            agent = self.agents.get(stem)
            if agent is not None and agent.generation == request.generation:
                if not agent.ended:
                    return True
            elif self.ended.get(stem, object()) != request.generation:
                return True
        return False

    def stop(self) -> None:
        self.running = False
        self.wake.set()


def hold_keeper_lock(directory: str, wait: float) -> int | None:
    """The keeper's lock; None when another keeper holds it. Probes hold it shared for an instant."""
    fd = os.open(
        os.path.join(directory, KEEPER_LOCK_FILE),
        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.02)


async def serve(directory: str, args: argparse.Namespace) -> None:
    keeper = Keeper(directory, args.version, args.idle_exit, args.scan_interval)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, keeper.stop)
    keeper.heartbeat(force=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(KEEPER_LEGACY_PID_FILE, dir_fd=keeper.dir_fd)
    await keeper.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cec.cc_gateway session keeper")
    parser.add_argument("--store", required=True, help="the session store directory")
    parser.add_argument("--version", default="unknown", help="the keeper's version (of its sources)")
    parser.add_argument("--idle-exit", type=float, default=30.0, help="seconds with no agent before exiting")
    parser.add_argument("--scan-interval", type=float, default=0.2, help="seconds between keep-request scans")
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.store)
    try:
        check_directory(directory, repair=False)
    except (StoreError, OSError) as exc:
        log(f"session keeper refuses to start: {exc}")
        return 2
    lock = hold_keeper_lock(directory, wait=3.0)
    if lock is None:
        return 0  # another keeper serves this store
    missing = aiohttp_missing()  # imported now, not when the first agent waits for its poll
    if missing:
        log(f"session keeper refuses to start: it needs aiohttp ({missing})")
        return 2
    share_tls_read_buffer()
    gc.set_threshold(*GC_THRESHOLDS)
    log(
        f"session keeper {os.getpid()} (version {args.version}) serving {directory}; {raise_open_file_limit()}"
    )
    try:
        asyncio.run(serve(directory, args))
    finally:
        log("session keeper stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
