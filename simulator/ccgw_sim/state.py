"""In-memory gateway state: agents, sessions and their GUIDs, event queues, recording tasks, recording
files, playbacks."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from .config import AgentSpec, Settings
from .recordfiles import DOWNLOADS_KEPT, LOCATION_ID, Download, FileStore, Part, file_key, recorded_size

STATE_SIGNED_OUT = 2
STATE_BUSY = 3
STATE_IDLE = 4
STATE_WORK = 5

RECORDINGS_KEPT = 200_000
PLAYBACKS_KEPT = 200_000


def now_ms() -> int:
    return int(time.time() * 1000)


def new_guid() -> str:
    return f"{uuid.uuid4()}.AgentGateway0"


class EventQueue:
    """Events of one sign-in session; long-polls wait on it (one waiter woken per event)."""

    __slots__ = ("events", "waiters")

    def __init__(self) -> None:
        self.events: deque[dict[str, Any]] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self.events)

    def push(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def pop(self, hold: float) -> dict[str, Any] | None:
        if self.events:
            return self.events.popleft()
        if hold <= 0:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                return self.events.popleft() if self.events else None
            finally:
                if not waiter.done():
                    waiter.cancel()
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            if self.events:
                return self.events.popleft()

    def wake_all(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class Session:
    """One sign-in. GUID checks use the monotonic clock."""

    __slots__ = ("active", "guid", "guid_issued", "login_time", "prev_guid", "prev_until", "queue")

    def __init__(self, login_time: int) -> None:
        self.active = True
        self.login_time = login_time
        self.guid = new_guid()
        self.guid_issued = time.monotonic()
        self.prev_guid: str | None = None
        self.prev_until = 0.0
        self.queue = EventQueue()

    def check_guid(self, guid: str | None) -> int:
        """0 = rejected, 1 = current GUID, 2 = previous GUID still inside GUIDTIMEOUT."""
        if not guid:
            return 0
        if guid == self.guid:
            return 1
        if guid == self.prev_guid and time.monotonic() < self.prev_until:
            return 2
        return 0

    def rotate(self, timeout_ms: int) -> str:
        now = time.monotonic()
        self.prev_guid = self.guid
        self.prev_until = now + timeout_ms / 1000.0
        self.guid = new_guid()
        self.guid_issued = now
        return self.guid


@dataclass
class Recording:
    task_id: str
    agent_id: int
    file_name: str
    record_mode: int
    record_format: int
    started_at: int
    call_id: str = ""
    location_id: str = LOCATION_ID
    paused: bool = False
    paused_at: int | None = None
    paused_ms: int = 0
    ended_at: int | None = None
    end_reason: str | None = None
    bytes: int | None = None

    def pause(self) -> None:
        self.paused = True
        self.paused_at = now_ms()

    def resume(self) -> None:
        self.paused = False
        if self.paused_at is not None:
            self.paused_ms += now_ms() - self.paused_at
        self.paused_at = None

    def finish(self, reason: str) -> None:
        if self.paused:
            self.resume()
        self.ended_at = now_ms()
        self.end_reason = reason

    @property
    def duration_ms(self) -> int:
        """Time spent recording: from start to end (or now), pauses left out."""
        end = self.ended_at if self.ended_at is not None else now_ms()
        pausing = end - self.paused_at if self.paused_at is not None else 0
        return max(0, end - self.started_at - self.paused_ms - pausing)

    def admin_view(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "file_name": self.file_name,
            "record_mode": self.record_mode,
            "record_format": self.record_format,
            "paused": self.paused,
            "started_at": self.started_at,
        }

    def list_view(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "agent_id": self.agent_id,
            "file_name": self.file_name,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "location_id": self.location_id,
            "duration_ms": self.duration_ms,
            "bytes": self.bytes,
        }


@dataclass
class Playback:
    """One `PUT recordplay/{id}/play` that passed its checks: playing, paused, or ended (stopped, failed, or
    cut by the session's end)."""

    agent_id: int
    voicepath: str
    start_position: int
    times: int
    location_id: int | None
    started_at: int
    rang_phone: bool = False
    state: str = "playing"
    pauses: int = 0
    resumes: int = 0
    jumps: int = 0
    ended_at: int | None = None
    end_reason: str | None = None
    fail_reason: str | None = None

    def admin_view(self) -> dict[str, Any]:
        return {
            "voicepath": self.voicepath,
            "state": self.state,
            "start_position": self.start_position,
            "started_at": self.started_at,
        }

    def list_view(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "voicepath": self.voicepath,
            "start_position": self.start_position,
            "times": self.times,
            "location_id": self.location_id,
            "state": self.state,
            "pauses": self.pauses,
            "resumes": self.resumes,
            "jumps": self.jumps,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "fail_reason": self.fail_reason,
        }


class Agent:
    __slots__ = (
        "inspector_mode",
        "last_poll_at",
        "last_poll_mono",
        "last_queue",
        "phone_offhook",
        "playback",
        "polls",
        "recording",
        "session",
        "sign_in_count",
        "signin_pending",
        "spec",
        "state",
        "workno",
    )

    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        self.workno = str(spec.agent_id)
        self.reset()

    def reset(self) -> None:
        self.session: Session | None = None
        self.last_queue: EventQueue | None = None
        self.state = STATE_SIGNED_OUT
        self.phone_offhook = False
        self.inspector_mode: str | None = self.spec.inspector_mode
        self.recording: Recording | None = None
        self.playback: Playback | None = None
        self.sign_in_count = 0
        self.signin_pending = False
        self.last_poll_at: int | None = None
        self.last_poll_mono = 0.0
        self.polls = 0

    def queue_event(self, event_type: str, content: Any) -> None:
        queue = self.session.queue if self.session is not None else self.last_queue
        if queue is not None:
            queue.push(
                {"eventType": event_type, "workNo": self.workno, "content": content, "eventGenTime": now_ms()}
            )

    def admin_view(self) -> dict[str, Any]:
        return {
            "agent_id": self.spec.agent_id,
            "signed_in": self.session is not None,
            "state": self.state,
            "phone_offhook": self.phone_offhook,
            "inspector_mode": self.inspector_mode,
            "recording": self.recording.admin_view() if self.recording else None,
            "playback": self.playback.admin_view() if self.playback else None,
            "pending_events": len(self.last_queue) if self.last_queue is not None else 0,
            "sign_in_count": self.sign_in_count,
            "last_poll_at": self.last_poll_at,
            "polls": self.polls,
        }


class Store:
    def __init__(self, settings: Settings, roster: dict[int, AgentSpec], first_task_id: int = 5086) -> None:
        self.startup_settings = settings.copy()
        self.settings = settings
        self.agents: dict[int, Agent] = {agent_id: Agent(spec) for agent_id, spec in roster.items()}
        self.recordings: deque[Recording] = deque(maxlen=RECORDINGS_KEPT)
        self.files = FileStore()
        self.playbacks: deque[Playback] = deque(maxlen=PLAYBACKS_KEPT)
        self.downloads: deque[Download] = deque(maxlen=DOWNLOADS_KEPT)
        self.next_task_id = first_task_id
        self.outstanding_polls = 0
        self.total_polls = 0
        self.call_seq = 0

    def reset(self) -> None:
        """Back to the startup settings; task ids keep counting so they stay unique over the run."""
        for agent in self.agents.values():
            if agent.session is not None:
                agent.session.active = False
                agent.session.queue.wake_all()
            agent.reset()
        self.recordings.clear()
        self.files.clear()
        self.playbacks.clear()
        self.downloads.clear()
        self.total_polls = 0
        self.settings = self.startup_settings.copy()

    def allocate_task_id(self) -> str:
        task_id = self.next_task_id
        self.next_task_id += 1
        return str(task_id)

    def sign_in(self, agent: Agent, status: int, releasephone: bool) -> Session:
        session = Session(now_ms())
        agent.session = session
        agent.last_queue = session.queue
        agent.sign_in_count += 1
        agent.state = status
        agent.phone_offhook = not releasephone
        agent.playback = None
        agent.last_poll_mono = time.monotonic()
        agent.queue_event("AgentOther_InService", None)
        agent.queue_event("AgentState_Ready", None)
        if status == STATE_BUSY:
            agent.queue_event("AgentState_SetNotReady_Success", None)
        elif status == STATE_WORK:
            agent.queue_event("AgentState_Work", None)
        return session

    def end_recording(self, agent: Agent, reason: str) -> Recording | None:
        """However it ends, a recording leaves its file (appended to the file of that name in mode 1)."""
        recording = agent.recording
        if recording is None:
            return None
        recording.finish(reason)
        agent.recording = None
        duration = recording.duration_ms
        size = recorded_size(duration, recording.record_format, self.settings.record_bytes_per_second)
        recording.bytes = size
        self.files.write_recording(
            recording.file_name,
            Part(int(recording.task_id), size, recording.task_id),
            recording.record_format,
            duration,
            agent.spec.agent_id,
            append=recording.record_mode == 1,
            now=recording.ended_at or now_ms(),
        )
        return recording

    def being_written(self, name: str) -> bool:
        """A recording in progress writes into a file of this name."""
        key = file_key(name)
        return any(
            agent.recording is not None and file_key(agent.recording.file_name) == key
            for agent in self.agents.values()
        )

    def start_playback(self, playback: Playback) -> None:
        self.agents[playback.agent_id].playback = playback
        self.playbacks.append(playback)

    def end_playback(self, agent: Agent, reason: str) -> Playback | None:
        playback = agent.playback
        if playback is None:
            return None
        playback.state = "ended"
        playback.ended_at = now_ms()
        playback.end_reason = reason
        agent.playback = None
        return playback

    def sign_out(self, agent: Agent, reason: str) -> None:
        """End the session: its GUIDs die, the recording ends, ShutdownService reaches any held poll."""
        session = agent.session
        if session is None:
            return
        self.end_recording(agent, reason)
        self.end_playback(agent, reason)
        agent.queue_event("AgentOther_ShutdownService", {"loginTime": session.login_time})
        session.active = False
        agent.session = None
        agent.state = STATE_SIGNED_OUT
        agent.phone_offhook = False

    def expire_idle(self) -> int:
        """Heartbeat: sign out agents that have neither polled nor signed in for heartbeat_timeout."""
        limit = time.monotonic() - self.settings.heartbeat_timeout
        expired = 0
        for agent in self.agents.values():
            session = agent.session
            if session is None or session.queue.waiters or agent.last_poll_mono > limit:
                continue
            self.sign_out(agent, "session_expired")
            expired += 1
        return expired
