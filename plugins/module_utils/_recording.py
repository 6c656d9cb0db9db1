# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_record means: bring an agent's voice recording to the wanted state, at most once."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils import _retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import (
    GatewayClient,
    GatewayError,
    RetcodeError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import SessionStore


@dataclass
class RecordRequest:
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

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RecordRequest:
        names = cls.__dataclass_fields__
        return cls(**{name: params[name] for name in names if params.get(name) is not None})

    def arguments(self) -> dict[str, Any]:
        """The recording arguments as the JSON Schema sees them."""
        return {
            "agent_id": self.agent_id,
            "state": self.state,
            "media_type": self.media_type,
            "record_mode": self.record_mode,
            "record_format": self.record_format,
            "file_name": self.file_name,
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


def validate(request: RecordRequest) -> None:
    """Check the arguments and the body they produce against the schemas; raises SchemaViolation."""
    schemas.check(request.arguments(), schemas.RECORD_ARGUMENTS)
    schemas.check(request.record_body(), schemas.RECORD_REQUEST, prefix="request.")


class RecordingManager:
    """Reconciles one agent's recording with what the task asks for.

    Where the session comes from, in order: the task's guid, the session store, a sign-in with credentials.
    The store is what lets a re-run know about the recording it started: no gateway interface reports
    the running recording task, so what this collection did not start it learns only from the gateway's
    refusal to start another (500-011).
    """

    def __init__(
        self, client: GatewayClient, store: SessionStore, gateway_url: str, check_mode: bool
    ) -> None:
        self.client = client
        self.store = store
        self.gateway_url = gateway_url
        self.check_mode = check_mode
        self.session: dict[str, Any] = {}
        self._stored: dict[str, Any] = {}
        self.warnings: list[str] = []

    # -- session handling

    def _load_session(self, request: RecordRequest) -> None:
        stored = self.store.load(self.gateway_url, request.agent_id) or {}
        if request.guid and request.guid != stored.get("guid"):
            # A session the user handed in: what the store knew belongs to another session.
            stored = {"guid": request.guid, "signed_in_by": "user"}
        self.session = stored
        self._stored = copy.deepcopy(stored)
        self.client.guid = stored.get("guid")
        self.client.import_cookies(stored.get("cookies", []))

    def _persist(self, request: RecordRequest) -> None:
        """Write the session back once, at the end, if anything about it changed (GUID, cookies, task)."""
        if self.check_mode or self.session.get("signed_in_by") == "user" or not self.session.get("guid"):
            # Only sessions this collection signed in are kept; a handed-in GUID stays the user's.
            return
        self.session["guid"] = self.client.guid
        self.session["cookies"] = self.client.export_cookies()
        if self.session != self._stored:
            self.store.save(self.gateway_url, request.agent_id, self.session)

    def _can_sign_in(self, request: RecordRequest) -> bool:
        return request.password is not None and bool(request.phone_number)

    def _sign_in(self, request: RecordRequest) -> None:
        if not self._can_sign_in(request):
            raise GatewayError(
                f"Agent {request.agent_id} has no session to use: give guid, or password and phone_number "
                "so the module can sign the agent in."
            )
        try:
            self.client.sign_in(request.password or "", request.phone_number or "")
        except RetcodeError as exc:
            if exc.retcode != retcodes.ALREADY_SIGNED_IN:
                raise
            if not request.force_login:
                raise GatewayError(
                    f"{exc} — the agent is signed in by a session this task does not hold. Set force_login: true "
                    "to take the agent over with a forcible sign-in (this ends the other session), or pass that "
                    "session's guid."
                ) from None
            self.client.sign_in(request.password or "", request.phone_number or "", force=True)
        self.session = {"guid": self.client.guid, "signed_in_by": "module", "signed_in_at": time.time()}

    def _session_alive(self) -> bool:
        """Ask the gateway (read-only) whether the held GUID still opens the agent's session."""
        try:
            self.client.agent_status()
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                return False
            raise
        return True

    def _forget_session(self, request: RecordRequest) -> None:
        stored = self.session.get("signed_in_by") != "user"
        self.session = {}
        self.client.guid = None
        if stored and not self.check_mode:
            self.store.delete(self.gateway_url, request.agent_id)

    # -- results

    def _result(
        self, request: RecordRequest, changed: bool, before: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        recording = self.session.get("recording") or {}
        after = {"state": request.state, "task_id": recording.get("task_id")} if changed else before
        result = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "task_id": recording.get("task_id")
            if request.state == "started"
            else fields.pop("task_id", None),
            "file_name": recording.get("file_name") if request.state == "started" else None,
            "retcode": fields.pop("retcode", None),
            "message": fields.pop("message", ""),
            "diff": {"before": before, "after": after},
        }
        result.update(fields)
        result["ansible_facts"] = {
            "cc_gateway_record": {
                "agent_id": request.agent_id,
                "task_id": result["task_id"],
                "state": request.state,
            }
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _before(self) -> dict[str, Any]:
        recording = self.session.get("recording")
        if recording:
            return {"state": "started", "task_id": recording.get("task_id")}
        return {"state": "stopped", "task_id": None}

    # -- the two states

    def ensure(self, request: RecordRequest) -> dict[str, Any]:
        with self.store.locked(self.gateway_url, request.agent_id):
            self._load_session(request)
            try:
                if request.state == "started":
                    return self._ensure_started(request)
                return self._ensure_stopped(request)
            finally:
                self._persist(request)

    def _ensure_started(self, request: RecordRequest) -> dict[str, Any]:
        if self.session.get("guid") and not self._session_alive():
            if self.session.get("signed_in_by") == "user" and not self._can_sign_in(request):
                raise GatewayError(
                    f"The guid given for agent {request.agent_id} no longer opens a session (the agent is signed "
                    "out or the GUID expired); pass a current guid, or password and phone_number to sign in."
                )
            # The gateway ends an agent's recording with its session, so nothing of it is running now.
            self._forget_session(request)
        before = self._before()
        if self.session.get("recording"):
            recording = self.session["recording"]
            return self._result(
                request,
                False,
                before,
                retcode=None,
                message=f"Agent {request.agent_id} is already recording (task {recording['task_id']}); "
                "nothing was sent.",
            )
        if self.check_mode:
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would {'use the session' if self.session.get('guid') else 'sign in'} "
                f"and start recording for agent {request.agent_id}.",
            )
        signed_in_now = not self.session.get("guid")
        if signed_in_now:
            self._sign_in(request)
        return self._start(request, before, may_sign_in_again=not signed_in_now)

    def _start(
        self, request: RecordRequest, before: dict[str, Any], may_sign_in_again: bool
    ) -> dict[str, Any]:
        try:
            task_id = self.client.start_recording(request.record_body())
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
                and self._can_sign_in(request)
                and not self._session_alive()
            ):
                # The GUID is stale (000-003 also means "self-recording is off", hence the status check);
                # the gateway refused before starting anything, so one retry on a fresh session is safe.
                self._sign_in(request)
                return self._start(request, before, may_sign_in_again=False)
            raise
        self.session["recording"] = {
            "task_id": task_id,
            "file_name": request.file_name or None,
            "record_mode": request.record_mode,
            "record_format": request.record_format,
            "started_at": time.time(),
        }
        return self._result(
            request, True, before, retcode=retcodes.SUCCESS, message=f"Recording started (task {task_id})."
        )

    def _ensure_stopped(self, request: RecordRequest) -> dict[str, Any]:
        before = self._before()
        known_task = (self.session.get("recording") or {}).get("task_id")
        if not self.session.get("guid"):
            self.warnings.append(
                f"No session of agent {request.agent_id} is known to this collection (no guid given, none stored), "
                "so the gateway was not asked. Pass guid to stop a recording started by another session."
            )
            return self._result(request, False, before, message="No session known; nothing to stop.")
        if self.check_mode:
            would_change = bool(known_task) or self.session.get("signed_in_by") == "user"
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
            self.client.stop_recording()
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                self._forget_session(request)
                return self._result(
                    request,
                    False,
                    before,
                    retcode=exc.retcode,
                    message=f"{exc}; a recording ends with its session, so none is running.",
                )
            if exc.retcode != retcodes.NO_RECORDING_TASK:
                raise
            self.session.pop("recording", None)
            return self._result(request, False, before, retcode=exc.retcode, message=str(exc))
        self.session.pop("recording", None)
        return self._result(
            request,
            True,
            before,
            task_id=known_task,
            retcode=retcodes.SUCCESS,
            message=f"Recording stopped{f' (task {known_task})' if known_task else ''}.",
        )
