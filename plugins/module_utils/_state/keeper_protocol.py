# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files the modules and the session keeper exchange, as both sides read and write them.

Per agent (<stem> = what the session store names the agent):
  <stem>.keep.json  a KeepRequest, written by the modules: keep this agent (its route, timeout, lease, a
                    generation number); its modification time renews the lease; removing it releases the agent
  <stem>.kept.json  a KeeperReport, written by the keeper: current GUID, alive or why not, healthy or the last
                    error, the events it saw, the recording and the playback they tell of
and for the keeper itself keeper.lock (held while it runs), keeper.json (pid, version, heartbeat),
keeper.stop (a module's request to exit when idle), keeper.wake (replaced by a module that wrote or removed a
keep request) and keeper.log. A report is written when it says something new, not at every poll: its
last_poll_at and polls are as of its last write; whether the keeper runs is keeper.json's heartbeat.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import gateway_key
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
    read_json,
    sane_guid,
    write_file,
)

KEEP_SUFFIX = ".keep.json"
KEPT_SUFFIX = ".kept.json"
KEEPER_LOCK_FILE = "keeper.lock"
KEEPER_START_LOCK_FILE = "keeper.start.lock"
KEEPER_STATUS_FILE = "keeper.json"
KEEPER_STOP_FILE = "keeper.stop"
KEEPER_LOG_FILE = "keeper.log"
KEEPER_LEGACY_PID_FILE = "keeper.pid"  # written by the keeper of collection 1.0.0
# Replaced by a module after it wrote or removed a keep request: the keeper looks at it, not at every request.
KEEPER_WAKE_FILE = "keeper.wake"

# How much of an agent's history a report holds (a report stays a few hundred kilobytes at most).
MAX_EVENTS = 500
MAX_ENDED_TASKS = 200
# keepalive_lease when a task does not say (cc_gateway_session's default): an hour without any task for the
# agent, and the keeper stops its recording and signs it out.
DEFAULT_LEASE = 3600.0
# How often a task waiting on a kept agent looks at its report again.
REPORT_READ_INTERVAL = 0.1

RECORD_STARTED = "AgentMediaEvent_Record"
RECORD_FAILED = "AgentMediaEvent_Record_Fail"
RECORD_STOPPED = "AgentMediaEvent_StopRecordDone"
SESSION_ENDED = "AgentOther_ShutdownService"
PLAY_SUCCEEDED = "AgentMediaEvent_Play_Succ"
PLAY_PLAYING = "AgentMediaEvent_Play"
PLAY_FAILED = "AgentMediaEvent_Play_Fail"
PLAY_PAUSED = "AgentMediaEvent_PausePlayDone"
PLAY_RESUMED = "AgentMediaEvent_ResumePlayDone"
PLAY_STOPPED = "AgentMediaEvent_StopPlayDone"
# The playback state each playback event leaves the agent in (the events carry no task id).
PLAYBACK_STATES = {
    PLAY_SUCCEEDED: "playing",
    PLAY_PLAYING: "playing",
    PLAY_RESUMED: "playing",
    PLAY_PAUSED: "paused",
    PLAY_FAILED: "stopped",
    PLAY_STOPPED: "stopped",
}


def now_ms() -> int:
    return int(time.time() * 1000)


# What AgentMediaEvent_Record tells of a recording (the download needs fileName and locationId), by our names.
RECORDING_FIELDS = {
    "fileName": "file_name",
    "locationId": "location_id",
    "recordID": "record_id",
    "callId": "call_id",
}


def recording_facts(content: Any) -> dict[str, Any]:
    """file_name, location_id, record_id and call_id of an AgentMediaEvent_Record's content, as strings."""
    if not isinstance(content, dict):
        return {}
    return {
        ours: str(content[theirs])
        for theirs, ours in RECORDING_FIELDS.items()
        if content.get(theirs) is not None
    }


def task_of(event: dict[str, Any]) -> str | None:
    """The recording task an event is about, as the gateway's taskId (a string), or None."""
    content = event.get("content")
    if isinstance(content, dict) and content.get("taskId") is not None:
        return str(content["taskId"])
    return None


@dataclass
class KeepRequest:
    """What a module asks the keeper to keep. route is Route.as_dict() of the task that asked; renewed_at is
    the file's modification time (the lease counts from it), not a field of the file."""

    gateway_url: str
    agent_id: int
    generation: int | None = None
    route: dict[str, Any] | None = None
    timeout: float = 30.0
    lease: float = DEFAULT_LEASE
    renewed_at: float = 0.0
    # A request of collection 1.0.0 named its TLS settings instead of a route (it used no proxy).
    legacy: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, renewed_at: float = 0.0) -> KeepRequest | None:
        """The request a file holds, None when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("agent_id"), int):
            return None
        if not isinstance(data.get("gateway_url"), str):
            return None
        timeout = data.get("timeout")
        return cls(
            gateway_url=data["gateway_url"],
            agent_id=data["agent_id"],
            generation=data.get("generation") if isinstance(data.get("generation"), int) else None,
            route=data["route"] if isinstance(data.get("route"), dict) else None,
            timeout=float(timeout) if _finite_positive(timeout) else 30.0,
            lease=float(data["lease"]) if _finite_positive(data.get("lease")) else 0.0,
            renewed_at=renewed_at,
            legacy={
                key: data[key]
                for key in ("validate_certs", "ca_path", "client_cert", "client_key")
                if key in data
            },
        )

    def as_file(self) -> dict[str, Any]:
        return {
            "gateway_url": self.gateway_url,
            "agent_id": self.agent_id,
            "generation": self.generation,
            "route": self.route,
            "timeout": self.timeout,
            "lease": self.lease,
        }


def _playback_state(playback: Any) -> bool:
    """Whether a report's playback is one the keeper writes: a known state and the epoch ms it was seen at."""
    return (
        isinstance(playback, dict)
        and playback.get("state") in PLAYBACK_STATES.values()
        and isinstance(playback.get("at"), int)
        and not isinstance(playback.get("at"), bool)
    )


def _finite_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


@dataclass
class KeeperReport:
    """What the keeper knows of one kept agent. The keeper owns it and writes it; the modules only read it."""

    agent_id: int | None = None
    gateway_url: str | None = None
    generation: int | None = None
    guid: str | None = None
    lease: float | None = None
    alive: bool = False
    healthy: bool = False
    reason: str | None = None
    failures: int = 0
    kept_since: int | None = None
    last_poll_at: int | None = None
    polls: int = 0
    guid_rotations: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    # The recording the events tell of: task_id, since and its recording_facts(); None when none runs.
    recording: dict[str, Any] | None = None
    ended_tasks: list[str] = field(default_factory=list)
    # The playback the events tell of: state (playing, paused or stopped), at (received_at of the event that
    # said so, epoch ms) and event (its type); None while no playback event was seen.
    playback: dict[str, Any] | None = None
    updated_at: int | None = None

    @classmethod
    def from_dict(cls, data: Any) -> KeeperReport | None:
        """The report a file holds (unknown keys ignored, a GUID that cannot be one dropped), None if none."""
        if not isinstance(data, dict):
            return None
        known = {item.name for item in fields(cls)}
        report = cls(**{key: value for key, value in data.items() if key in known})
        if not isinstance(report.events, list):
            report.events = []
        if not isinstance(report.ended_tasks, list):
            report.ended_tasks = []
        if not isinstance(report.recording, dict):
            report.recording = None
        if not _playback_state(report.playback):
            report.playback = None
        if report.guid is not None and not sane_guid(report.guid):
            report.guid = None
        report.alive = report.alive is True
        return report

    def to_json(self) -> str:
        # The fields as they are: json.dumps walks the events itself; dataclasses.asdict would deep-copy them
        # first (6x the time with 20 events, on the keeper's event loop, at every save).
        return json.dumps({name: getattr(self, name) for name in _REPORT_FIELDS})

    def about(self, generation: int | None) -> bool:
        """Whether the report is about this keep request (not an earlier one of the agent)."""
        return generation is not None and self.generation == generation

    def ended_session(self, generation: int | None) -> bool:
        """Whether it says the session of this keep request is over."""
        return self.about(generation) and not self.alive

    def take_event(self, event: dict[str, Any]) -> None:
        """Add an event the keeper polled and follow what it says of the recording and the playback."""
        kind = event.get("event_type")
        self.events.append(event)
        del self.events[:-MAX_EVENTS]
        task_id = task_of(event)
        if kind == RECORD_STARTED and task_id:
            self.recording = {
                "task_id": task_id,
                "file_name": None,
                **recording_facts(event["content"]),
                "since": now_ms(),
            }
        elif kind in (RECORD_FAILED, RECORD_STOPPED) and task_id:
            self.ended_tasks = remember_ended(self.ended_tasks, task_id)
            if (self.recording or {}).get("task_id") == task_id:
                self.recording = None
        elif kind in PLAYBACK_STATES:
            at = event.get("received_at")
            self.playback = {
                "state": PLAYBACK_STATES[kind],
                "at": at if isinstance(at, int) else now_ms(),
                "event": kind,
            }

    def first_event(self, since_ms: int, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for event in self.events:
            if event.get("received_at", 0) >= since_ms and matches(event):
                return event
        return None


_REPORT_FIELDS = tuple(item.name for item in fields(KeeperReport))


def remember_ended(ended: list[str], task_id: str) -> list[str]:
    """ended with task_id added, the oldest forgotten beyond MAX_ENDED_TASKS."""
    return [*ended, task_id][-MAX_ENDED_TASKS:]


class KeeperMailbox:
    """The modules' side of the exchange with the keeper of one session store."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def _file(self, gateway_url: str, agent_id: int, suffix: str) -> str:
        return self.store.stem(gateway_url, agent_id) + suffix

    def request_keep(self, request: KeepRequest) -> None:
        """Ask the keeper to keep this agent's session; a new generation makes it start over from the session file."""
        self.store.ensure_directory()
        request.generation = time.time_ns()
        write_file(self._file(request.gateway_url, request.agent_id, KEEP_SUFFIX), request.as_file())
        self._wake_keeper()

    def keep_request(self, gateway_url: str, agent_id: int) -> KeepRequest | None:
        return KeepRequest.from_dict(read_json(self._file(gateway_url, agent_id, KEEP_SUFFIX)))

    def keep_generation(self, gateway_url: str, agent_id: int) -> int | None:
        """The generation of the agent's keep request (the keeper reports it back), None when not kept."""
        request = self.keep_request(gateway_url, agent_id)
        return request.generation if request else None

    def update_lease(self, gateway_url: str, agent_id: int, lease: float) -> bool:
        """Give the agent's keep request a new lease, keeping its generation; whether it changed."""
        request = self.keep_request(gateway_url, agent_id)
        if request is None or request.lease == lease:
            return False
        request.lease = lease
        write_file(self._file(gateway_url, agent_id, KEEP_SUFFIX), request.as_file())
        self._wake_keeper()
        return True

    def keep_requested(self, gateway_url: str, agent_id: int) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self._file(gateway_url, agent_id, KEEP_SUFFIX)).st_mode)
        except FileNotFoundError:
            return False

    def renew_keep(self, gateway_url: str, agent_id: int) -> None:
        """Renew the agent's keepalive lease: the keeper counts it from the keep request's modification time."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self._file(gateway_url, agent_id, KEEP_SUFFIX), follow_symlinks=False)

    def release(self, gateway_url: str, agent_id: int) -> None:
        for suffix in (KEEP_SUFFIX, KEPT_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._file(gateway_url, agent_id, suffix))
        self._wake_keeper()

    def _wake_keeper(self) -> None:
        """Tell the keeper a keep request changed: it looks at keeper.wake's modification time. Touched, not
        replaced: a batch's threads all wake the keeper, and fifty renames onto one name queue on the
        directory."""
        path = self.store.path(KEEPER_WAKE_FILE)
        now = time.time_ns()
        try:
            os.utime(path, ns=(now, now), follow_symlinks=False)
        except FileNotFoundError:
            write_file(path, {"at": now})

    def report(self, gateway_url: str, agent_id: int) -> KeeperReport | None:
        """What the keeper last wrote about the agent."""
        return KeeperReport.from_dict(read_json(self._file(gateway_url, agent_id, KEPT_SUFFIX)))

    def current_report(self, gateway_url: str, agent_id: int, generation: int | None) -> KeeperReport | None:
        """The report when it is about this keep request, None while the keeper has not taken it up."""
        report = self.report(gateway_url, agent_id)
        return report if report is not None and report.about(generation) else None

    def ended_report(self, gateway_url: str, agent_id: int) -> KeeperReport | None:
        """The report when it says the session of the agent's current keep request ended, else None: such a
        report stands whether or not the keeper still runs."""
        report = self.report(gateway_url, agent_id)
        if report and report.ended_session(self.keep_generation(gateway_url, agent_id)):
            return report
        return None

    def kept_agent_ids(self, gateway_url: str) -> list[int]:
        """The agents of this gateway that the store keeps (has keep requests for), in order."""
        gateway = gateway_key(gateway_url)
        found = set()
        for name in os.listdir(self.store.directory):
            if name.endswith(KEEP_SUFFIX):
                request = KeepRequest.from_dict(read_json(self.store.path(name)))
                if request is not None and gateway_key(request.gateway_url) == gateway:
                    found.add(request.agent_id)
        return sorted(found)

    def kept_agents(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.store.directory) if name.endswith(KEEP_SUFFIX))
        except FileNotFoundError:
            return 0


def wait_until(check: Callable[[bool], Any], timeout: float, interval: float = REPORT_READ_INTERVAL) -> Any:
    """The one wait on the keeper's reports: call check(final) until it returns something other than None;
    final is True on the last call, once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        final = time.monotonic() >= deadline
        outcome = check(final)
        if outcome is not None or final:
            return outcome
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())) or interval / 10)
