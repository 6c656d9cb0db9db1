# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_recording_file means: a recording's file fetched to dest on the host that runs the task, whole
or not at all.

The bytes go to a temporary file beside dest, created exclusively (never through a symlink, owner-only), which
is renamed onto dest only once the gateway's answer was the whole file; whatever stops the download removes it.
An existing dest is not fetched again unless force is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes, schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayError,
    RetcodeError,
    TransportError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.download import (
    DownloadedFile,
    download_recording,
    recording_file_target,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._dest import (
    ExistingFile,
    PartFile,
    existing_dest,
    file_mode,
    mode_text,
    set_mode,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, Credentials


@dataclass
class RecordingFileRequest(TaskRequest):
    agent_id: int
    file_name: str | None = None
    dest: str | None = None
    location_id: int | None = None
    file_type: str = "agent"
    mode: Any = "0600"
    force: bool = False
    max_size: int = schemas.MAX_SIZE_DEFAULT
    download_timeout: float = schemas.DOWNLOAD_TIMEOUT_DEFAULT
    password: str | None = None
    phone_number: str | None = None
    guid: str | None = None
    force_login: bool = False

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.password, self.phone_number, self.force_login)

    @property
    def filetype(self) -> int:
        return schemas.FILE_TYPES[self.file_type]

    @property
    def wanted_mode(self) -> int:
        return file_mode(self.mode)

    def arguments(self) -> dict[str, Any]:
        """The arguments as the JSON Schema sees them (those not given left out, so that a missing one is named)."""
        arguments = {
            "agent_id": self.agent_id,
            "file_name": self.file_name,
            "dest": self.dest,
            "location_id": self.location_id,
            "file_type": self.file_type,
            "mode": self.mode,
            "max_size": self.max_size,
            "download_timeout": self.download_timeout,
        }
        return {name: value for name, value in arguments.items() if value is not None}


def validate(request: RecordingFileRequest, max_agent_id: int | None = None) -> None:
    """Check the arguments against their schema; raises SchemaViolation naming the options."""
    schemas.check(request.arguments(), schemas.limited(schemas.RECORDING_FILE_ARGUMENTS, max_agent_id))


# -- the manager


def _advice(retcode: str, request: RecordingFileRequest) -> str:
    if retcode == retcodes.RECORD_FILE_MISSING:
        return (
            "Check file_name (and location_id) against the recording's AgentMediaEvent_Record event, and stop the "
            "recording before fetching its file (cec.cc_gateway.cc_gateway_record with state: stopped)."
        )
    if retcode == "000-002":
        return "Check file_name, file_type and location_id (CTI pool mode needs location_id from AgentMediaEvent_Record)."
    if retcode in retcodes.SESSION_LOST and not request.credentials.usable:
        return "Give password and phone_number so that the module can sign the agent in, or a current guid."
    if retcode.startswith("104-"):
        return "The gateway's recording storage or download settings need its administrator."
    return ""


class RecordingFileManager:
    """Fetches one recording file for one agent's session, which it is given."""

    def __init__(self, session: AgentSession) -> None:
        self.session = session
        self.request_sent: str | None = None

    def ensure(self, request: RecordingFileRequest) -> dict[str, Any]:
        dest = request.dest or ""
        try:
            existing = existing_dest(dest)
            if existing is not None and not request.force:
                return self._kept(request, existing)
            if self.session.check_mode:
                what = "fetch it again" if existing is not None else "fetch it"
                return self._result(
                    request,
                    True,
                    None,
                    message=f"Check mode: would {what} from the gateway ({request.file_name} for agent "
                    f"{request.agent_id}) to {dest}; nothing was sent.",
                )
            return self._download(request, existing)
        except GatewayError as exc:
            return self._failure(request, exc)

    # -- nothing to fetch

    def _kept(self, request: RecordingFileRequest, existing: ExistingFile) -> dict[str, Any]:
        """dest is there: not fetched again; only its mode is brought to the one asked for."""
        wanted = request.wanted_mode
        if existing.mode == wanted:
            message = f"{request.dest} exists ({existing.size} bytes); not fetched again (force: true would)."
            return self._result(request, False, existing, message=message, mode=existing.mode)
        if not self.session.check_mode:
            self._set_mode(request.dest or "", wanted)
        would = "would be" if self.session.check_mode else "was"
        message = (
            f"{request.dest} exists ({existing.size} bytes); not fetched again, its mode {would} changed from "
            f"{mode_text(existing.mode)} to {mode_text(wanted)}."
        )
        return self._result(request, True, existing, message=message)

    @staticmethod
    def _set_mode(dest: str, mode: int) -> None:
        try:
            set_mode(dest, mode)
        except OSError as exc:
            raise GatewayError(f"dest: the mode of {dest} cannot be set: {exc.strerror}.") from None

    # -- fetching

    def _download(self, request: RecordingFileRequest, existing: ExistingFile | None) -> dict[str, Any]:
        session = self.session
        part = PartFile(request.dest or "")
        try:
            with session.store.locked(session.gateway_url, request.agent_id):
                session.load(request.guid)
                try:
                    fetched = self._fetch(request, part)
                finally:
                    session.persist()
            if existing is not None and existing.sha256 == fetched.sha256:
                part.discard()
                changed = existing.mode != request.wanted_mode
                if changed:
                    self._set_mode(request.dest or "", request.wanted_mode)
                return self._result(
                    request,
                    changed,
                    existing,
                    retcode=retcodes.SUCCESS,
                    message=f"Fetched {fetched.size} bytes again; {request.dest} already held the same bytes.",
                )
            part.commit(request.wanted_mode)
        finally:
            part.discard()
        return self._result(
            request,
            True,
            ExistingFile(fetched.size, fetched.sha256, request.wanted_mode),
            retcode=retcodes.SUCCESS,
            message=f"Fetched {request.file_name} ({fetched.size} bytes) to {request.dest}.",
        )

    def _fetch(self, request: RecordingFileRequest, part: PartFile) -> DownloadedFile:
        session = self.session
        client = session.client
        signed_in_now = not session.guid
        if signed_in_now:
            session.sign_in(request.credentials)
            session.signed_in_again = bool(session.lost_reason)
        self.request_sent = recording_file_target(
            client, request.file_name or "", request.filetype, request.location_id
        )
        return session.send(
            lambda: download_recording(
                client,
                request.file_name or "",
                request.filetype,
                request.location_id,
                part.open,
                request.max_size,
                request.download_timeout,
            ),
            None if signed_in_now else request.credentials,
        )

    # -- results

    def _result(
        self,
        request: RecordingFileRequest,
        changed: bool,
        file: ExistingFile | None,
        message: str,
        retcode: str | None = None,
        mode: int | None = None,
    ) -> dict[str, Any]:
        size = file.size if file is not None else None
        checksum = file.sha256 if file is not None else None
        result: dict[str, Any] = {
            "changed": changed,
            "agent_id": request.agent_id,
            "file_name": request.file_name,
            "dest": request.dest,
            "size": size,
            "checksum": checksum,
            "mode": mode_text(request.wanted_mode if mode is None else mode),
            "retcode": retcode,
            "message": message,
        }
        if self.session.signed_in_again:
            result["signed_in_again"] = True
            result["message"] += (
                f" The agent's session had ended ({self.session.lost_reason or 'the gateway refused its GUID'}); it "
                "was signed in again."
            )
        result["ansible_facts"] = {
            "cc_gateway_recording_file": {
                "agent_id": request.agent_id,
                "file_name": request.file_name,
                "dest": request.dest,
                "size": size,
                "checksum": checksum,
            }
        }
        if self.session.warnings:
            result["warnings"] = list(self.session.warnings)
        return result

    def _failure(self, request: RecordingFileRequest, error: GatewayError) -> dict[str, Any]:
        """The failed result: what went wrong, what was sent, that dest was left as it was, what to do."""
        retcode = error.retcode if isinstance(error, RetcodeError) else None
        text = str(error).rstrip(".")
        if self.request_sent and (retcode is not None or not isinstance(error, TransportError)):
            text += f". The request was {self.request_sent}"
        text += f". Nothing was written to {request.dest}."
        advice = _advice(retcode, request) if retcode else ""
        if advice:
            text += f" {advice}"
        result: dict[str, Any] = {
            "failed": True,
            "changed": False,
            "agent_id": request.agent_id,
            "file_name": request.file_name,
            "dest": request.dest,
            "size": None,
            "checksum": None,
            "retcode": retcode,
            "msg": text,
        }
        if self.session.warnings:
            result["warnings"] = list(self.session.warnings)
        return result


class RecordingFileTask(AgentTask):
    REQUEST = RecordingFileRequest
    MANAGER = RecordingFileManager
    FACT = "cc_gateway_recording_file"
    PER_AGENT_KEYS = ("agent_id", "password", "phone_number", "guid", "file_name", "location_id", "dest")

    def validate(self, request: Any) -> None:
        validate(request, self.options.max_agent_id)

    def validation_errors(self, requests: list[Any], batch: bool) -> list[str]:
        """The common checks, and in a batch one dest per entry."""
        errors = super().validation_errors(requests, batch)
        seen: dict[str, int] = {}
        for index, request in enumerate(requests):
            if not request.dest:
                continue
            dest = os.path.normpath(request.dest)
            if dest in seen:
                errors.append(
                    f"agents[{index}]: dest {request.dest} is also the dest of agents[{seen[dest]}]; give each "
                    "file its own dest"
                )
            seen.setdefault(dest, index)
        return errors

    def fact_of(self, result: dict[str, Any]) -> dict[str, Any]:
        return {key: result.get(key) for key in ("agent_id", "file_name", "dest", "size", "checksum")}
