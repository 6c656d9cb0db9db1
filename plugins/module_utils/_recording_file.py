# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_recording_file means: a recording's file fetched to dest on the host that runs the task, whole
or not at all.

The bytes go to a temporary file beside dest, created exclusively (never through a symlink, owner-only), which
is renamed onto dest only once the gateway's answer was the whole file; whatever stops the download removes it.
An existing dest is not fetched again unless force is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from typing import Any, Callable

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
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, Credentials

# The temporary file: .<dest's name>.<random>.part in dest's directory.
PART_SUFFIX = ".part"
PART_NAME_BASE_MAX = 200
PART_ATTEMPTS = 100
READ_PIECE = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def file_mode(value: Any) -> int:
    """The permission bits of a mode as the task gives it: an octal string ('0600') or a number (0o600)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value), 8)


def mode_text(mode: int) -> str:
    return f"{mode:04o}"


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


# -- dest on the host that runs the task


@dataclass(frozen=True)
class ExistingFile:
    size: int
    sha256: str
    mode: int


def _directory_of(dest: str) -> str:
    return os.path.dirname(dest) or "/"


def existing_dest(dest: str) -> ExistingFile | None:
    """What is at dest now: None when nothing; raises GatewayError for a dest that cannot be written or must not
    be (a symlink is neither followed nor replaced, nor is a directory or a device). Reads, changes nothing."""
    directory = _directory_of(dest)
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        raise GatewayError(
            f"dest: the directory {directory} does not exist; create it first (ansible.builtin.file with "
            "state: directory), or point dest into an existing one."
        ) from None
    except OSError as exc:
        raise GatewayError(f"dest: the directory {directory} cannot be used: {exc.strerror}.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise GatewayError(f"dest: {directory} is not a directory, so {dest} cannot be made.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise GatewayError(
            f"dest: the directory {directory} is not writable by this user, so {dest} cannot be made."
        )
    try:
        info = os.lstat(dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GatewayError(f"dest: {dest} cannot be used: {exc.strerror}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise GatewayError(
            f"dest: {dest} is a symbolic link; it is neither followed nor replaced. Remove it, or give the path "
            "of the file itself."
        )
    if stat.S_ISDIR(info.st_mode):
        raise GatewayError(
            f"dest: {dest} is a directory; give the path of the file to write, such as {dest.rstrip('/')}/"
            "recording.V3."
        )
    if not stat.S_ISREG(info.st_mode):
        raise GatewayError(f"dest: {dest} exists and is not a regular file; it is not replaced.")
    return _read_existing(dest)


def _read_existing(dest: str) -> ExistingFile:
    try:
        fd = os.open(dest, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)
    except OSError as exc:
        raise GatewayError(f"dest: {dest} exists but cannot be read: {exc.strerror}.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise GatewayError(f"dest: {dest} exists and is not a regular file; it is not replaced.")
        digest = hashlib.sha256()
        size = 0
        while True:
            piece = os.read(fd, READ_PIECE)
            if not piece:
                break
            digest.update(piece)
            size += len(piece)
        return ExistingFile(size, digest.hexdigest(), stat.S_IMODE(info.st_mode))
    finally:
        os.close(fd)


def set_mode(dest: str, mode: int) -> None:
    """Give the regular file at dest (never a symlink's target) the mode."""
    fd = os.open(dest, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


class PartFile:
    """The download's temporary file beside dest (so that renaming it onto dest is atomic): created exclusively
    (O_EXCL: never through a symlink or onto anything that exists), owner-only, under a name nobody can guess;
    removed unless committed."""

    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.directory = _directory_of(dest)
        self.path: str | None = None
        self.fd: int | None = None

    def open(self) -> Callable[[bytes], None]:
        """A new, empty temporary file (one an earlier attempt left is removed); its writer."""
        self.discard()
        base = os.path.basename(self.dest)[:PART_NAME_BASE_MAX]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        for _attempt in range(PART_ATTEMPTS):
            path = os.path.join(self.directory, f".{base}.{secrets.token_hex(8)}{PART_SUFFIX}")
            try:
                fd = os.open(path, flags, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise GatewayError(
                    f"dest: no temporary file can be made in {self.directory}: {exc.strerror}."
                ) from None
            self.fd, self.path = fd, path
            return self.write
        raise GatewayError(
            f"dest: no free name for a temporary file in {self.directory} ({PART_ATTEMPTS} tried)."
        )

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)  # type: ignore[arg-type]
            except OSError as exc:
                raise GatewayError(f"dest: writing {self.path} failed: {exc.strerror}.") from None
            view = view[written:]

    def commit(self, mode: int) -> None:
        """The mode, the bytes on disk, then the rename onto dest (which replaces a file there, and would
        replace a symlink itself, never its target)."""
        if self.fd is None or self.path is None:
            raise GatewayError("dest: the download left no file to move into place.")
        try:
            os.fchmod(self.fd, mode)
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.replace(self.path, self.dest)
        except OSError as exc:
            raise GatewayError(
                f"dest: moving the download onto {self.dest} failed: {exc.strerror}."
            ) from None
        self.path = None
        with contextlib.suppress(OSError):
            directory = os.open(self.directory, os.O_RDONLY | _CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def discard(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None


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
