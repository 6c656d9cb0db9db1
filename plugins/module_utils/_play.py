# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_play means: bring the playback of a voice file to an agent to the wanted state, at most once.

No gateway interface tells whether an agent plays. A kept agent's events (AgentMediaEvent_Play_Succ, _Play,
_Play_Fail, _PausePlayDone, _ResumePlayDone, _StopPlayDone) tell the keeper; with one, the newer of what the
keeper saw and what this collection last did decides, and nothing is sent when the agent is already in the
wanted state. Without one the request is sent and the gateway's state errors (500-003, 500-005, 500-007,
500-009) say that the agent was already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes, schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayError,
    RetcodeError,
    now_ms,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, Credentials
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    PLAY_FAILED,
    PLAY_SUCCEEDED,
)

PLAYING = "playing"
PAUSED = "paused"
STOPPED = "stopped"
UNKNOWN = "unknown"
# The playback each state of the task asks for.
WANTED = {"started": PLAYING, "paused": PAUSED, "stopped": STOPPED}


@dataclass
class PlayRequest(TaskRequest):
    agent_id: int
    state: str = "started"
    voice_path: str | None = None
    times: int = 1
    start_position: int = 0
    location_id: int | None = None
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
        """The playback arguments as the JSON Schema sees them."""
        return {
            "agent_id": self.agent_id,
            "state": self.state,
            "voice_path": self.voice_path,
            "times": self.times,
            "start_position": self.start_position,
            "location_id": self.location_id,
            "wait_timeout": self.wait_timeout,
        }

    def play_body(self) -> dict[str, Any]:
        """The body of PUT recordplay/{agentid}/play (startpostion is Huawei's spelling)."""
        body: dict[str, Any] = {
            "voicepath": self.voice_path or "",
            "startpostion": self.start_position,
            "times": self.times,
            "codeformat": 0,
        }
        if self.location_id is not None:
            body["locationId"] = self.location_id
        return body


def validate(request: PlayRequest, max_agent_id: int | None = None) -> None:
    """Check the arguments (and, to start, the body they produce) against the schemas; raises SchemaViolation
    naming every problem at once."""
    problems = schemas.violations(request.arguments(), schemas.limited(schemas.PLAY_ARGUMENTS, max_agent_id))
    if request.state == "started" and request.voice_path is None:
        problems.append(
            (
                "voice_path",
                "voice_path: is required with state: started; give the path of the voice file to play",
            )
        )
    if problems:
        raise schemas.SchemaViolation("; ".join(sentence for _option, sentence in problems), problems)
    if request.state == "started":
        schemas.check(request.play_body(), schemas.PLAY_REQUEST, prefix="request.")


def describe_content(content: Any) -> str:
    """What an event's content says, for a message: its fields, or that it says nothing."""
    if isinstance(content, dict) and content:
        return ", ".join(f"{key}={value}" for key, value in content.items())
    return "the event gave no reason"


class PlaybackManager:
    """Reconciles one agent's playback with what the task asks for."""

    def __init__(self, session: AgentSession) -> None:
        self.session = session

    def ensure(self, request: PlayRequest) -> dict[str, Any]:
        with self.session.store.locked(self.session.gateway_url, request.agent_id):
            self.session.load(request.guid)
            try:
                if request.state == "stopped":
                    return self._ensure_stopped(request)
                if request.state == "paused":
                    return self._ensure_paused(request)
                return self._ensure_started(request)
            finally:
                self.session.persist()

    # -- what is known of the playback

    @property
    def kept(self) -> bool:
        return self.session.kept is not None

    def _known(self) -> str:
        """playing, paused or stopped as best known, else unknown.

        A kept agent: the newer of the keeper's last playback event and this collection's own last request (the
        keeper may not have seen the events of that request yet); no playback event at all means none plays.
        Not kept: what this collection last did, a hint only (the playback may have ended since).
        """
        own = self.session.data.get("playback")
        seen = self.session.kept.playback if self.kept else None
        if seen and (not own or seen["at"] >= own.get("at", 0)):
            return str(seen["state"])
        if own:
            return str(own["state"])
        return STOPPED if self.kept else UNKNOWN

    def _remember(self, state: str, sent_at: int) -> None:
        """What this collection's request left the playback in, as of when the request was sent."""
        self.session.data["playback"] = {"state": state, "at": sent_at}

    def _recording_known(self) -> bool:
        """Whether this collection knows a recording of the agent runs (the gateway refuses playback with 500-007
        then too): one cc_gateway_record started, or one a kept agent's keeper saw, unless its task is known ended."""
        own = self.session.data.get("recording")
        if not self.kept:
            return bool(own)
        ended = set(self.session.kept.ended_tasks) | set(self.session.data.get("ended_tasks", []))
        return any(
            recording and recording.get("task_id") not in ended
            for recording in (own, self.session.kept.recording)
        )

    def _snapshot(self) -> dict[str, Any]:
        return {"playback": self._known()}

    def _result(
        self, request: PlayRequest, changed: bool, before: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        after = {"playback": WANTED[request.state]}
        result: dict[str, Any] = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "voice_path": request.voice_path if request.state == "started" else None,
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
        result["ansible_facts"] = {"cc_gateway_play": {"agent_id": request.agent_id, "state": request.state}}
        if self.session.warnings:
            result["warnings"] = list(self.session.warnings)
        return result

    def _send(self, operation: Callable[[], Any], sign_in_again: Credentials | None = None) -> int:
        """Send one playback request on the session; when it was sent (epoch ms, taken before sending)."""
        sent_at = now_ms()
        self.session.send(operation, sign_in_again)
        return sent_at

    # -- started

    def _ensure_started(self, request: PlayRequest) -> dict[str, Any]:
        self.session.ensure_live(request.credentials)
        before = self._snapshot()
        known = self._known()
        if self.kept and known == PLAYING:
            return self._result(
                request,
                False,
                before,
                message=f"The kept session's events show agent {request.agent_id} playing; nothing was sent.",
            )
        if known == PAUSED:
            return self._resume(request, before, play_if_not_paused=True)
        return self._play(request, before, resume_if_refused=True)

    def _play(self, request: PlayRequest, before: dict[str, Any], resume_if_refused: bool) -> dict[str, Any]:
        if self.session.check_mode:
            how = "use the session" if self.session.guid else "sign in"
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would {how} and play {request.voice_path} to agent {request.agent_id}.",
            )
        signed_in_now = not self.session.guid
        if signed_in_now:
            self.session.sign_in(request.credentials)
            self.session.signed_in_again = bool(self.session.lost_reason)
        try:
            # Sent once: a lost answer fails the task (the gateway refuses a second start with 500-007). A session
            # the gateway refused (nothing started) is signed in again once, when it was not signed in just now.
            sent_at = self._send(
                lambda: self.session.client.start_playback(request.play_body()),
                None if signed_in_now else request.credentials,
            )
        except RetcodeError as exc:
            if exc.retcode != retcodes.CANNOT_START_PLAYBACK:
                raise
            if self._recording_known():
                raise GatewayError(
                    f"{exc}: agent {request.agent_id} is recording, and the gateway plays nothing to a recording "
                    "agent. Stop the recording first (cec.cc_gateway.cc_gateway_record with state: stopped)."
                ) from None
            if resume_if_refused:
                # A playback runs: when it is paused, started means resumed.
                return self._resume(request, before, play_if_not_paused=False)
            return self._already_playing(request, before, exc.retcode)
        self._remember(PLAYING, sent_at)
        if request.wait:
            self._confirm(request, sent_at)
        return self._result(
            request,
            True,
            before,
            retcode=retcodes.SUCCESS,
            message=f"Playback of {request.voice_path} to agent {request.agent_id} started.",
        )

    def _already_playing(self, request: PlayRequest, before: dict[str, Any], retcode: str) -> dict[str, Any]:
        self._remember(PLAYING, now_ms())
        return self._result(
            request,
            False,
            before,
            retcode=retcode,
            message=f"Agent {request.agent_id} is already playing: the gateway refused a second playback "
            f"({retcodes.CANNOT_START_PLAYBACK}) and has none paused to resume ({retcodes.CANNOT_RESUME_PLAYBACK}); "
            "no second playback was started.",
        )

    def _resume(
        self, request: PlayRequest, before: dict[str, Any], play_if_not_paused: bool
    ) -> dict[str, Any]:
        if self.session.check_mode:
            return self._result(
                request,
                True,
                before,
                message=f"Check mode: would resume the playback of agent {request.agent_id}.",
            )
        try:
            sent_at = self._send(self.session.client.resume_playback)
        except RetcodeError as exc:
            if exc.retcode != retcodes.CANNOT_RESUME_PLAYBACK:
                raise
            if play_if_not_paused:
                # Not paused (any more): it plays, or it ended; a start says which.
                return self._play(request, before, resume_if_refused=False)
            return self._already_playing(request, before, exc.retcode)
        self._remember(PLAYING, sent_at)
        return self._result(
            request,
            True,
            before,
            retcode=retcodes.SUCCESS,
            message=f"Playback of agent {request.agent_id} resumed.",
        )

    def _confirm(self, request: PlayRequest, since_ms: int) -> None:
        """Wait for the gateway's event that the playback really started (or failed to)."""

        def outcome(event: dict[str, Any]) -> bool:
            return event.get("event_type") in (PLAY_SUCCEEDED, PLAY_FAILED)

        event = self.session.wait_for_event(outcome, request.wait_timeout, since_ms)
        if event is None:
            raise GatewayError(
                f"The gateway accepted the playback of {request.voice_path} to agent {request.agent_id}, but no "
                f"{PLAY_SUCCEEDED} or {PLAY_FAILED} event came within wait_timeout={request.wait_timeout:g} s; "
                "the playback may still start. A re-run will not start a second one."
            )
        if event["event_type"] == PLAY_FAILED:
            self._remember(STOPPED, now_ms())
            raise GatewayError(
                f"{PLAY_FAILED}: the gateway could not play {request.voice_path} to agent {request.agent_id} "
                f"({describe_content(event.get('content'))}); nothing plays."
            )

    # -- paused

    def _ensure_paused(self, request: PlayRequest) -> dict[str, Any]:
        self.session.ensure_live(request.credentials)
        before = self._snapshot()
        known = self._known()
        if not self.session.guid:
            raise GatewayError(
                f"Agent {request.agent_id} has no session known to this collection, so it has no playback to pause."
            )
        if self.kept and known == PAUSED:
            return self._result(
                request,
                False,
                before,
                message="The kept session's events show the playback paused; nothing was sent.",
            )
        if self.kept and known == STOPPED:
            raise GatewayError(
                f"Agent {request.agent_id} has no playback to pause: the kept session's events show none. Start one "
                "with state: started."
            )
        if self.session.check_mode:
            would_change = known != PAUSED
            return self._result(
                request,
                would_change,
                before,
                message=f"Check mode: would pause the playback of agent {request.agent_id}."
                if would_change
                else "Check mode: this collection paused the playback last; nothing would change.",
            )
        try:
            sent_at = self._send(self.session.client.pause_playback)
        except RetcodeError as exc:
            if exc.retcode != retcodes.CANNOT_PAUSE_PLAYBACK:
                raise
            # Not playing: paused already, or no playback at all; the gateway does not say which.
            return self._result(
                request,
                False,
                before,
                retcode=exc.retcode,
                message=f"{exc}: the playback is paused already, or none runs; nothing changed.",
            )
        self._remember(PAUSED, sent_at)
        return self._result(
            request,
            True,
            before,
            retcode=retcodes.SUCCESS,
            message=f"Playback of agent {request.agent_id} paused.",
        )

    # -- stopped

    def _ensure_stopped(self, request: PlayRequest) -> dict[str, Any]:
        before = self._snapshot()
        known = self._known()
        if not self.session.guid:
            if self.session.lost_reason:
                return self._result(
                    request,
                    False,
                    before,
                    message=f"The session ended ({self.session.lost_reason}); nothing plays.",
                )
            self.session.warnings.append(
                f"No session of agent {request.agent_id} is known to this collection (no guid given, none stored), "
                "so the gateway was not asked. Pass guid to stop a playback started by another session."
            )
            return self._result(request, False, before, message="No session known; nothing to stop.")
        if self.kept and known == STOPPED:
            return self._result(
                request,
                False,
                before,
                message="The kept session's events show no playback; nothing was sent.",
            )
        if self.session.check_mode:
            would_change = known in (PLAYING, PAUSED)
            return self._result(
                request,
                would_change,
                before,
                message=f"Check mode: would stop the playback of agent {request.agent_id}."
                if would_change
                else "Check mode: no playback known; nothing would be sent.",
            )
        try:
            sent_at = self._send(self.session.client.stop_playback)
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                self.session.forget()
                return self._result(
                    request,
                    False,
                    before,
                    retcode=exc.retcode,
                    message=f"{exc}; a playback ends with its session, so none is running.",
                )
            if exc.retcode != retcodes.CANNOT_STOP_PLAYBACK:
                raise
            self._remember(STOPPED, now_ms())
            return self._result(
                request, False, before, retcode=exc.retcode, message=f"{exc}; nothing was playing."
            )
        self._remember(STOPPED, sent_at)
        return self._result(
            request,
            True,
            before,
            retcode=retcodes.SUCCESS,
            message=f"Playback of agent {request.agent_id} stopped.",
        )


class PlayTask(AgentTask):
    REQUEST = PlayRequest
    MANAGER = PlaybackManager
    FACT = "cc_gateway_play"
    PER_AGENT_KEYS = ("agent_id", "password", "phone_number", "guid", "voice_path", "location_id")
    # One voice file for every agent of a batch, unless an entry names its own.
    INHERITED = ("password", "voice_path", "location_id")

    def validate(self, request: Any) -> None:
        validate(request, self.options.max_agent_id)
