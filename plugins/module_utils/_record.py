# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_record means: bring an agent's voice recording to the wanted state, at most once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes, schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayError,
    RetcodeError,
    now_ms,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, Credentials
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    RECORD_FAILED,
    RECORD_STARTED,
    RECORD_STOPPED,
    RECORDING_FIELDS,
    recording_facts,
    remember_ended,
    task_of,
)

# What a result says of the recording the gateway's events described (null when no event was seen).
FACT_KEYS = tuple(RECORDING_FIELDS.values())
STOP_KEYS = ("begin_time", "end_time", "duration")


@dataclass
class RecordRequest(TaskRequest):
    agent_id: int
    state: str = "started"
    media_type: int = 5
    record_mode: str = "overwrite"
    record_format: str = "default"
    file_name: str | None = None
    password: str | None = None
    phone_number: str | None = None
    guid: str | None = None
    force_login: bool = False
    wait: bool = False
    wait_timeout: float = 30.0

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.password, self.phone_number, self.force_login)

    def arguments(self) -> dict[str, Any]:
        """The recording arguments as the JSON Schema sees them."""
        return {
            "agent_id": self.agent_id,
            "state": self.state,
            "media_type": self.media_type,
            "record_mode": self.record_mode,
            "record_format": self.record_format,
            "file_name": self.file_name,
            "wait_timeout": self.wait_timeout,
        }

    def record_body(self) -> dict[str, Any]:
        """The start-recording body of the seed; an omitted file name lets the gateway name the file."""
        body: dict[str, Any] = {
            "mediaType": self.media_type,
            "recordMode": schemas.RECORD_MODES[self.record_mode],
            "recordFormat": schemas.RECORD_FORMATS[self.record_format],
        }
        if self.file_name:
            body["fileName"] = self.file_name
        return body


def validate(request: RecordRequest, max_agent_id: int | None = None) -> None:
    """Check the arguments and the body they produce against the schemas; raises SchemaViolation."""
    schemas.check(request.arguments(), schemas.limited(schemas.RECORD_ARGUMENTS, max_agent_id))
    schemas.check(request.record_body(), schemas.RECORD_REQUEST, prefix="request.")


class RecordingManager:
    """Reconciles one agent's recording with what the task asks for.

    What a task knows of the running recording: no gateway interface reports it. A kept agent's events
    (AgentMediaEvent_Record, _StopRecordDone, AgentOther_ShutdownService) tell the keeper; otherwise the
    store remembers the recording this collection started, and what someone else started is learned
    only from the gateway's refusal to start another (500-011).
    """

    def __init__(self, session: AgentSession) -> None:
        self.session = session

    def ensure(self, request: RecordRequest) -> dict[str, Any]:
        with self.session.store.locked(self.session.gateway_url, request.agent_id):
            self.session.load(request.guid)
            self._merge_kept_recording()
            try:
                if request.state == "stopped":
                    return self._ensure_stopped(request)
                if request.state == "paused":
                    return self._ensure_paused(request)
                return self._ensure_started(request)
            finally:
                self.session.persist()

    # -- what is known of the recording

    def _merge_kept_recording(self) -> None:
        """With a kept agent, the events it saw say whether the recording runs.

        The keeper may lag behind this collection's own requests: a task it saw start may already have been
        stopped by a task of this collection, so those stopped tasks (kept in the session) win.
        """
        if self.session.kept is None:
            return
        ended = set(self.session.kept.ended_tasks) | set(self.session.data.get("ended_tasks", []))
        recording = self.session.data.get("recording")
        if recording and recording.get("task_id") in ended:
            recording = None
        seen = self.session.kept.recording
        if seen and seen.get("task_id") not in ended and not recording:
            recording = {"task_id": seen["task_id"], "paused": False}
        if recording and seen and seen.get("task_id") == recording.get("task_id"):
            # What the keeper's AgentMediaEvent_Record said of it (its file name, location, ids).
            recording.update(
                {key: seen[key] for key in FACT_KEYS if seen.get(key) and not recording.get(key)}
            )
        if recording:
            self.session.data["recording"] = recording
        else:
            self.session.data.pop("recording", None)

    def _recording_ended(self) -> dict[str, Any]:
        """Forget the running recording, remembering its task as ended for a keeper that lags behind; what was
        known of it."""
        recording = self.session.data.pop("recording", None) or {}
        task_id = recording.get("task_id")
        if task_id:
            self.session.data["ended_tasks"] = remember_ended(
                self.session.data.get("ended_tasks", []), task_id
            )
        return recording

    @property
    def recording(self) -> dict[str, Any] | None:
        return self.session.data.get("recording")

    def _state_now(self) -> str:
        if not self.recording:
            return "stopped"
        return "paused" if self.recording.get("paused") else "started"

    def _snapshot(self) -> dict[str, Any]:
        return {"state": self._state_now(), "task_id": (self.recording or {}).get("task_id")}

    def _result(
        self, request: RecordRequest, changed: bool, before: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        # A stop tells of the recording it stopped; the others of the running one.
        stopped = fields.pop("stopped", None) or {}
        recording = stopped if request.state == "stopped" else self.recording or {}
        task_id = fields.pop("task_id", None) or recording.get("task_id")
        after = {"state": request.state, "task_id": task_id if request.state != "stopped" else None}
        result = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "task_id": task_id,
            **{key: recording.get(key) for key in FACT_KEYS},
            **{key: recording.get(key) for key in STOP_KEYS if request.state == "stopped"},
            "retcode": fields.pop("retcode", None),
            "message": fields.pop("message", ""),
            "diff": {"before": before, "after": after if changed else before},
        }
        result.update(fields)
        if self.session.signed_in_again:
            result["signed_in_again"] = True
            result["message"] += (
                f" The agent's session had ended ({self.session.lost_reason or 'the gateway refused its GUID'}); it was "
                "signed in again" + (" and is kept again." if self.session.kept_by_keeper else ".")
            )
        result["ansible_facts"] = {
            "cc_gateway_record": {"agent_id": request.agent_id, "task_id": task_id, "state": request.state}
        }
        if self.session.warnings:
            result["warnings"] = list(self.session.warnings)
        return result

    # -- started

    def _ensure_started(self, request: RecordRequest) -> dict[str, Any]:
        self.session.ensure_live(request.credentials)
        before = self._snapshot()
        if self.recording and self.recording.get("paused"):
            return self._resume(request, before)
        if self.recording:
            return self._result(
                request,
                False,
                before,
                message=f"Agent {request.agent_id} is already recording (task {self.recording['task_id']}); "
                "nothing was sent.",
            )
        if self.session.check_mode:
            how = "use the session" if self.session.guid else "sign in"
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would {how} and start recording for agent {request.agent_id}.",
            )
        signed_in_now = not self.session.guid
        if signed_in_now:
            self.session.sign_in(request.credentials)
            self.session.signed_in_again = bool(self.session.lost_reason)
        return self._start(request, before, sign_in_again=None if signed_in_now else request.credentials)

    def _start(
        self, request: RecordRequest, before: dict[str, Any], sign_in_again: Credentials | None
    ) -> dict[str, Any]:
        started_at = now_ms()
        try:
            # A session lost before the start (the gateway refused it, so nothing started) is signed in again
            # once; a kept agent is kept again on the new session.
            task_id = self.session.send(
                lambda: self.session.client.start_recording(request.record_body()), sign_in_again
            )
        except RetcodeError as exc:
            if exc.retcode == retcodes.ALREADY_RECORDING:
                return self._result(
                    request,
                    False,
                    before,
                    retcode=exc.retcode,
                    message=f"{exc}; no second recording was started. This collection did not start it, "
                    "so its task id is unknown.",
                )
            raise
        self.session.data["recording"] = {
            "task_id": task_id,
            "file_name": request.file_name or None,
            "record_mode": request.record_mode,
            "record_format": request.record_format,
            "started_at": time.time(),
            "paused": False,
        }
        if request.wait:
            self._confirm(request, task_id, started_at)
        return self._result(
            request, True, before, retcode=retcodes.SUCCESS, message=f"Recording started (task {task_id})."
        )

    def _confirm(self, request: RecordRequest, task_id: str, since_ms: int) -> None:
        """Wait for the gateway's event that the recording really started (or failed to)."""

        def about_this_task(event: dict[str, Any]) -> bool:
            return event.get("event_type") in (RECORD_STARTED, RECORD_FAILED) and task_of(event) == task_id

        event = self.session.wait_for_event(about_this_task, request.wait_timeout, since_ms - 1000)
        if event is None:
            raise GatewayError(
                f"The gateway accepted recording task {task_id} for agent {request.agent_id}, but no "
                f"{RECORD_STARTED} or {RECORD_FAILED} event for it came within wait_timeout="
                f"{request.wait_timeout:g} s; the recording may still start. A re-run will not start a second one."
            )
        content = event.get("content") or {}
        if event["event_type"] == RECORD_FAILED:
            self.session.data.pop("recording", None)
            raise GatewayError(
                f"{RECORD_FAILED}: the gateway could not record task {task_id} for agent {request.agent_id}"
                f" (file {content.get('fileName') or 'unnamed'}); nothing is recording."
            )
        self.session.data["recording"].update(recording_facts(content))

    def _resume(self, request: RecordRequest, before: dict[str, Any]) -> dict[str, Any]:
        task_id = self.recording["task_id"]
        if self.session.check_mode:
            return self._result(request, True, before, message=f"Check mode: would resume task {task_id}.")
        self.session.send(self.session.client.resume_recording)
        self.recording["paused"] = False
        return self._result(
            request, True, before, retcode=retcodes.SUCCESS, message=f"Recording resumed (task {task_id})."
        )

    # -- paused

    def _ensure_paused(self, request: RecordRequest) -> dict[str, Any]:
        self.session.ensure_live(request.credentials)
        before = self._snapshot()
        if self.recording and self.recording.get("paused"):
            return self._result(
                request, False, before, message=f"Task {self.recording['task_id']} is already paused."
            )
        if not self.session.guid:
            raise GatewayError(
                f"Agent {request.agent_id} has no session known to this collection, so it has no recording to pause."
            )
        if self.session.check_mode:
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would pause the recording of agent {request.agent_id}.",
            )
        self.session.send(self.session.client.pause_recording)
        if not self.recording:
            self.session.data["recording"] = {"task_id": None, "file_name": None}
        self.recording["paused"] = True
        return self._result(request, True, before, retcode=retcodes.SUCCESS, message="Recording paused.")

    # -- stopped

    def _ensure_stopped(self, request: RecordRequest) -> dict[str, Any]:
        before = self._snapshot()
        known_task = (self.recording or {}).get("task_id")
        if not self.session.guid:
            if self.session.lost_reason:
                return self._result(
                    request,
                    False,
                    before,
                    message=f"The session ended ({self.session.lost_reason}); nothing records.",
                )
            self.session.warnings.append(
                f"No session of agent {request.agent_id} is known to this collection (no guid given, none stored), "
                "so the gateway was not asked. Pass guid to stop a recording started by another session."
            )
            return self._result(request, False, before, message="No session known; nothing to stop.")
        if self.session.kept is not None and not self.recording:
            return self._result(
                request,
                False,
                before,
                message="The kept session's events show no recording; nothing was sent.",
            )
        if self.session.check_mode:
            would_change = bool(self.recording) or self.session.handed_in
            return self._result(
                request,
                would_change,
                before,
                task_id=known_task,
                message=f"Check mode: would stop the recording of agent {request.agent_id}."
                if would_change
                else "Check mode: no recording known; nothing would be sent.",
            )
        stop_sent_at = now_ms()
        try:
            self.session.send(self.session.client.stop_recording)
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                self.session.forget()
                return self._result(
                    request,
                    False,
                    before,
                    retcode=exc.retcode,
                    message=f"{exc}; a recording ends with its session, so none is running.",
                )
            if exc.retcode != retcodes.NO_RECORDING_TASK:
                raise
            self._recording_ended()
            return self._result(request, False, before, retcode=exc.retcode, message=str(exc))
        stopped = dict(self._recording_ended(), **self._stop_times(request, known_task, stop_sent_at))
        return self._result(
            request,
            True,
            before,
            task_id=known_task,
            stopped=stopped,
            retcode=retcodes.SUCCESS,
            message=f"Recording stopped{f' (task {known_task})' if known_task else ''}.",
        )

    def _stop_times(self, request: RecordRequest, task_id: str | None, since_ms: int) -> dict[str, Any]:
        """begin_time, end_time (epoch ms) and duration (s) from the gateway's AgentMediaEvent_StopRecordDone:
        waited for with wait, looked up once in a kept agent's events otherwise; empty when not seen."""

        def about_this_task(event: dict[str, Any]) -> bool:
            return event.get("event_type") == RECORD_STOPPED and (
                task_id is None or task_of(event) == task_id
            )

        if not request.wait and not self.session.kept_by_keeper:
            return {}  # polling here would consume events that others wait for
        timeout = request.wait_timeout if request.wait else 0.0
        event = self.session.wait_for_event(about_this_task, timeout, since_ms - 1000)
        if event is None:
            if request.wait:
                raise GatewayError(
                    f"The gateway stopped the recording{f' (task {task_id})' if task_id else ''} of agent "
                    f"{request.agent_id}, but no {RECORD_STOPPED} event came within wait_timeout="
                    f"{request.wait_timeout:g} s. A re-run will not stop anything twice."
                )
            return {}
        content = event.get("content") if isinstance(event.get("content"), dict) else {}
        times: dict[str, Any] = {}
        for theirs, ours in (("beginTime", "begin_time"), ("endTime", "end_time")):
            if str(content.get(theirs, "")).isdigit():
                times[ours] = int(content[theirs])
        if len(times) == 2:
            times["duration"] = max(0, times["end_time"] - times["begin_time"]) / 1000
        return times


class RecordTask(AgentTask):
    REQUEST = RecordRequest
    MANAGER = RecordingManager
    FACT = "cc_gateway_record"
    PER_AGENT_KEYS = ("agent_id", "password", "phone_number", "guid", "file_name")

    def validate(self, request: Any) -> None:
        validate(request, self.options.max_agent_id)

    def fact_of(self, result: dict[str, Any]) -> dict[str, Any]:
        return {"agent_id": result["agent_id"], "task_id": result.get("task_id"), "state": result["state"]}
