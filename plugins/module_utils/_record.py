# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_record means: bring an agent's voice recording to the wanted state, at most once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayError,
    RetcodeError,
    now_ms,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession


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


MAX_ENDED_TASKS = 20
RECORD_STARTED = "AgentMediaEvent_Record"
RECORD_FAILED = "AgentMediaEvent_Record_Fail"


class RecordingManager(AgentSession):
    """Reconciles one agent's recording with what the task asks for.

    What a task knows of the running recording: no gateway interface reports it. A kept agent's events
    (AgentMediaEvent_Record, _StopRecordDone, AgentOther_ShutdownService) tell the keeper; otherwise the
    store remembers the recording this collection started, and what someone else started is learned
    only from the gateway's refusal to start another (500-011).
    """

    signed_in_again = False

    def ensure(self, request: RecordRequest) -> dict[str, Any]:
        with self.store.locked(self.gateway_url, request.agent_id):
            self.load(request.guid)
            self._merge_kept_recording()
            try:
                if request.state == "stopped":
                    return self._ensure_stopped(request)
                if request.state == "paused":
                    return self._ensure_paused(request)
                return self._ensure_started(request)
            finally:
                self.persist()

    # -- what is known of the recording

    def _merge_kept_recording(self) -> None:
        """With a kept agent, the events it saw say whether the recording runs.

        The keeper may lag behind this collection's own requests: a task it saw start may already have been
        stopped by a task of this collection, so those stopped tasks (kept in the session) win.
        """
        if self.kept is None:
            return
        ended = set(self.kept.get("ended_tasks", [])) | set(self.session.get("ended_tasks", []))
        recording = self.session.get("recording")
        if recording and recording.get("task_id") in ended:
            recording = None
        seen = self.kept.get("recording")
        if seen and seen.get("task_id") not in ended and not recording:
            recording = {"task_id": seen["task_id"], "file_name": seen.get("file_name"), "paused": False}
        if recording:
            self.session["recording"] = recording
        else:
            self.session.pop("recording", None)

    def _recording_ended(self) -> None:
        """Forget the running recording, remembering its task as ended for a keeper that lags behind."""
        task_id = (self.session.pop("recording", None) or {}).get("task_id")
        if task_id:
            self.session["ended_tasks"] = ([*self.session.get("ended_tasks", []), task_id])[-MAX_ENDED_TASKS:]

    @property
    def recording(self) -> dict[str, Any] | None:
        return self.session.get("recording")

    def _state_now(self) -> str:
        if not self.recording:
            return "stopped"
        return "paused" if self.recording.get("paused") else "started"

    def _snapshot(self) -> dict[str, Any]:
        return {"state": self._state_now(), "task_id": (self.recording or {}).get("task_id")}

    def _result(
        self, request: RecordRequest, changed: bool, before: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        recording = self.recording or {}
        task_id = fields.pop("task_id", None) or recording.get("task_id")
        after = {"state": request.state, "task_id": task_id if request.state != "stopped" else None}
        result = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "task_id": task_id,
            "file_name": recording.get("file_name") if request.state != "stopped" else None,
            "retcode": fields.pop("retcode", None),
            "message": fields.pop("message", ""),
            "diff": {"before": before, "after": after if changed else before},
        }
        result.update(fields)
        if self.signed_in_again:
            result["signed_in_again"] = True
            result["message"] += (
                f" The agent's session had ended ({self.lost_reason or 'the gateway refused its GUID'}); it was "
                "signed in again" + (" and is kept again." if self.kept_by_keeper else ".")
            )
        result["ansible_facts"] = {
            "cc_gateway_record": {"agent_id": request.agent_id, "task_id": task_id, "state": request.state}
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _use_live_session(self, request: RecordRequest) -> None:
        """Drop a session the gateway no longer knows; its recording ended with it."""
        if self.guid and not self.alive():
            if self.handed_in and not self.can_sign_in(request.password, request.phone_number):
                raise GatewayError(
                    f"The guid given for agent {request.agent_id} no longer opens a session (the agent is signed "
                    "out or the GUID expired); pass a current guid, or password and phone_number to sign in."
                )
            self.forget()

    # -- started

    def _ensure_started(self, request: RecordRequest) -> dict[str, Any]:
        self._use_live_session(request)
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
        if self.check_mode:
            how = "use the session" if self.guid else "sign in"
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would {how} and start recording for agent {request.agent_id}.",
            )
        signed_in_now = not self.guid
        if signed_in_now:
            self.sign_in(request.password, request.phone_number, request.force_login)
            self.signed_in_again = bool(self.lost_reason)
        return self._start(request, before, may_sign_in_again=not signed_in_now)

    def _start(
        self, request: RecordRequest, before: dict[str, Any], may_sign_in_again: bool
    ) -> dict[str, Any]:
        started_at = now_ms()
        try:
            task_id = self.refusable(lambda: self.client.start_recording(request.record_body()))
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
            if (
                exc.retcode in retcodes.SESSION_LOST
                and may_sign_in_again
                and self.can_sign_in(request.password, request.phone_number)
                and not self.alive(ask_gateway=True)
            ):
                # The session is gone (000-003 also means "self-recording is off", hence the status check);
                # the gateway refused before starting anything, so one retry on a fresh session is safe. A kept
                # agent is kept again on the new session.
                self.sign_in(request.password, request.phone_number, request.force_login)
                self.signed_in_again = True
                return self._start(request, before, may_sign_in_again=False)
            raise
        self.session["recording"] = {
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
            content = event.get("content")
            return (
                event.get("event_type") in (RECORD_STARTED, RECORD_FAILED)
                and isinstance(content, dict)
                and str(content.get("taskId")) == task_id
            )

        event = self.wait_for_event(about_this_task, request.wait_timeout, since_ms - 1000)
        if event is None:
            raise GatewayError(
                f"The gateway accepted recording task {task_id} for agent {request.agent_id}, but no "
                f"{RECORD_STARTED} or {RECORD_FAILED} event for it came within wait_timeout="
                f"{request.wait_timeout:g} s; the recording may still start. A re-run will not start a second one."
            )
        content = event.get("content") or {}
        if event["event_type"] == RECORD_FAILED:
            self.session.pop("recording", None)
            raise GatewayError(
                f"{RECORD_FAILED}: the gateway could not record task {task_id} for agent {request.agent_id}"
                f" (file {content.get('fileName') or 'unnamed'}); nothing is recording."
            )
        if content.get("fileName"):
            self.session["recording"]["file_name"] = content["fileName"]

    def _resume(self, request: RecordRequest, before: dict[str, Any]) -> dict[str, Any]:
        task_id = self.recording["task_id"]
        if self.check_mode:
            return self._result(request, True, before, message=f"Check mode: would resume task {task_id}.")
        self.refusable(self.client.resume_recording)
        self.recording["paused"] = False
        return self._result(
            request, True, before, retcode=retcodes.SUCCESS, message=f"Recording resumed (task {task_id})."
        )

    # -- paused

    def _ensure_paused(self, request: RecordRequest) -> dict[str, Any]:
        self._use_live_session(request)
        before = self._snapshot()
        if self.recording and self.recording.get("paused"):
            return self._result(
                request, False, before, message=f"Task {self.recording['task_id']} is already paused."
            )
        if not self.guid:
            raise GatewayError(
                f"Agent {request.agent_id} has no session known to this collection, so it has no recording to pause."
            )
        if self.check_mode:
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would pause the recording of agent {request.agent_id}.",
            )
        self.refusable(self.client.pause_recording)
        if not self.recording:
            self.session["recording"] = {"task_id": None, "file_name": None}
        self.recording["paused"] = True
        return self._result(request, True, before, retcode=retcodes.SUCCESS, message="Recording paused.")

    # -- stopped

    def _ensure_stopped(self, request: RecordRequest) -> dict[str, Any]:
        before = self._snapshot()
        known_task = (self.recording or {}).get("task_id")
        if not self.guid:
            if self.lost_reason:
                return self._result(
                    request,
                    False,
                    before,
                    message=f"The session ended ({self.lost_reason}); nothing records.",
                )
            self.warnings.append(
                f"No session of agent {request.agent_id} is known to this collection (no guid given, none stored), "
                "so the gateway was not asked. Pass guid to stop a recording started by another session."
            )
            return self._result(request, False, before, message="No session known; nothing to stop.")
        if self.kept is not None and not self.recording:
            return self._result(
                request,
                False,
                before,
                message="The kept session's events show no recording; nothing was sent.",
            )
        if self.check_mode:
            would_change = bool(self.recording) or self.handed_in
            return self._result(
                request,
                would_change,
                before,
                task_id=known_task,
                message=f"Check mode: would stop the recording of agent {request.agent_id}."
                if would_change
                else "Check mode: no recording known; nothing would be sent.",
            )
        try:
            self.refusable(self.client.stop_recording)
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                self.forget()
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
        self._recording_ended()
        return self._result(
            request,
            True,
            before,
            task_id=known_task,
            retcode=retcodes.SUCCESS,
            message=f"Recording stopped{f' (task {known_task})' if known_task else ''}.",
        )


class RecordTask(AgentTask):
    REQUEST = RecordRequest
    MANAGER = RecordingManager
    FACT = "cc_gateway_record"
    PER_AGENT_KEYS = ("agent_id", "password", "phone_number", "guid", "file_name")

    def validate(self, request: Any) -> None:
        validate(request, self.params.get("max_agent_id"))

    def fact_of(self, result: dict[str, Any]) -> dict[str, Any]:
        return {"agent_id": result["agent_id"], "task_id": result.get("task_id"), "state": result["state"]}
