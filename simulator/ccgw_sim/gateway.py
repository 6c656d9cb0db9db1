"""The AgentGateway routes under /agentgateway/resource."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .config import AGENT_ID_MIN
from .faults import SHAPE_KINDS, Fault, FaultBook, standing_shape
from .recordfiles import Download, RecordFile
from .reqlog import LogEntry, RequestLog, body_for_log, try_parse
from .state import STATE_BUSY, STATE_IDLE, STATE_WORK, Agent, Playback, Recording, Store, now_ms
from .wire import Wire

PREFIX = "/agentgateway/resource/"
JSON_TYPE = "application/json;charset=UTF-8"
FILE_TYPE = "application/octet-stream;charset=utf-8"
STICKY_COOKIE = "NSLBSTICKY=node0; Path=/"
EMPTY_POLL = {"message": "", "retcode": "0"}
# The `truncated` fault: the head announces the whole envelope, then only its first half is sent.
TRUNCATED_BODY = b'{"message":"","retcode":"0","result":null}'
TRUNCATED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: " + JSON_TYPE.encode() + b"\r\n"
    b"Content-Length: " + str(len(TRUNCATED_BODY)).encode() + b"\r\n\r\n"
)
PADDING = b"x" * 65536
AGENT_ID_RE = re.compile(r"[1-9][0-9]{2,5}")  # 100-999999; the upper bound is max_agent_id
DIGITS_RE = re.compile(r"[0-9]{1,18}")
JUMP_MAX = 2147483647

MESSAGES = {
    "000-002": "parameter invalid",
    "000-003": "no permission, authentication may have expired",
    "100-001": "sign-in parameters empty or invalid",
    "100-002": "agent already signed in",
    "100-004": "wrong agent id or password",
    "100-006": "agent not signed in",
    "100-007": "no recording task",
    "100-013": "bound phone invalid",
    "100-021": "sign-in in progress",
    "104-001": "recording download not enabled",
    "104-005": "recording file does not exist",
    "500-001": "state error when rewinding playback",
    "500-002": "state error when fast-forwarding playback",
    "500-003": "state error when pausing playback",
    "500-004": "state error when pausing recording",
    "500-005": "state error when resuming playback",
    "500-006": "state error when resuming recording",
    "500-007": "state error when starting playback",
    "500-008": "state error when starting recording",
    "500-009": "state error when stopping playback",
    "500-011": "agent already has a recording task",
}

Headers = dict[str, str] | None
# A handler's answer: a JSON envelope, or (a download) the file itself.
Payload = dict[str, Any] | RecordFile
Reply = tuple[Payload, Headers]


def error(retcode: str) -> Reply:
    return {"message": MESSAGES.get(retcode, "error"), "retcode": retcode, "result": None}, None


def ok(result: Any = None, message: str = "") -> Reply:
    return {"message": message, "retcode": "0", "result": result}, None


def play_ok() -> Reply:
    """The playback family's success, as the pauseplay page shows it."""
    return {"result": {}, "message": "success", "retcode": "0"}, None


def set_guid(guid: str) -> dict[str, str]:
    return {"Set-GUID": f"JSESSIONID={guid}"}


def _truthy(value: Any) -> bool | None:
    """Booleans as the documented sample sends them: true/false or "true"/"false" (also 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return None


def _int_like(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _count(value: Any) -> int | None:
    """A whole number >= 0, as a JSON number or a string of digits; None for anything else."""
    number = _int_like(value)
    return number if number is not None and number >= 0 else None


def _given(body: dict[str, Any], key: str, default: Any) -> Any:
    """A body field, `default` when it is absent or null."""
    value = body.get(key)
    return default if value is None else value


def _agent_of(tail: str) -> int | None:
    parts = tail.split("/")
    return int(parts[1]) if len(parts) > 1 and AGENT_ID_RE.fullmatch(parts[1]) else None


class Gateway:
    def __init__(self, store: Store, faults: FaultBook, log: RequestLog, wire: Wire) -> None:
        self.store = store
        self.faults = faults
        self.log = log
        self.wire = wire
        self.call_seq = 0
        # The answer_shape setting as last parsed (the settings hold its JSON form).
        self._standing_spec: dict[str, Any] | None = None
        self._standing_fault: Fault | None = None
        # (family, operation) -> {method: (handler, needs_guid)}
        self.routes: dict[tuple[str, str], dict[str, tuple[Callable[..., Awaitable[Reply]], bool]]] = {
            ("onlineagent", ""): {"PUT": (self.sign_in, False)},
            ("onlineagent", "forcelogin"): {"PUT": (self.force_login, False)},
            ("onlineagent", "logout"): {"DELETE": (self.logout, True)},
            ("onlineagent", "forcelogout"): {"DELETE": (self.force_logout, True)},
            ("onlineagent", "updateGuid"): {"PUT": (self.update_guid, True)},
            ("onlineagent", "agentstatus"): {"GET": (self.agent_status, True)},
            ("agentevent", ""): {"GET": (self.poll, True)},
            ("recordplay", "record"): {"PUT": (self.record, True)},
            ("recordplay", "stoprecord"): {"DELETE": (self.stop_record, True)},
            ("recordplay", "pauserecord"): {"POST": (self.pause_record, True)},
            ("recordplay", "resumerecord"): {"POST": (self.resume_record, True)},
            ("recordplay", "play"): {"PUT": (self.play, True)},
            ("recordplay", "pauseplay"): {"POST": (self.pause_play, True)},
            ("recordplay", "resumeplay"): {"POST": (self.resume_play, True)},
            ("recordplay", "forefast/*"): {"POST": (self.fore_fast, True)},
            ("recordplay", "backfast/*"): {"POST": (self.back_fast, True)},
            ("recordplay", "stopplay"): {"DELETE": (self.stop_play, True)},
            ("recordfile", ""): {"GET": (self.download, True)},
        }

    # ---- plumbing -------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        path = request.path
        tail = path[len(PREFIX) :]
        if method == "GET" and tail.startswith("agentevent/"):
            self._count_poll(tail)
        raw = await request.read() if request.body_exists else b""
        parsed, parsed_ok = try_parse(raw)
        entry = self.log.add(
            now_ms(),
            method,
            path,
            [name.lower() for name in request.headers],
            body_for_log(raw, parsed, parsed_ok),
        )
        if request.query_string:
            entry.note("query", dict(request.query))
        download = self._count_download(request, tail, entry) if tail.startswith("recordfile/") else None
        fault = self.faults.take(method, tail) if self.faults.faults else None
        shape = self._standing(method, tail)
        if fault is not None and fault.kind in SHAPE_KINDS:
            entry.fault = fault.kind
            shape, fault = fault, None
        if fault is not None:
            entry.fault = fault.kind
            if fault.kind == "drop_before":
                return self._drop(request)
            if fault.kind == "raw":
                return self._write_and_close(request, fault.data)
            if fault.kind == "truncated":
                entry.http_status = 200
                return self._write_and_close(
                    request, TRUNCATED_HEAD + TRUNCATED_BODY[: len(TRUNCATED_BODY) // 2]
                )
            if fault.kind == "oversized":
                entry.http_status = 200
                return await self._oversized(request, fault.size)
            early = await self._early_fault(fault)
            if early is not None:
                entry.http_status = early.status
                if fault.kind == "retcode":
                    entry.retcode = fault.retcode
                return await self._shaped(request, early, entry, shape)

        if fault is not None and fault.kind == "latency":
            # A real gateway finishes a slow request even after the client gave up waiting for it.
            delayed = asyncio.ensure_future(
                self._delayed_dispatch(fault.delay, request, method, tail, parsed, parsed_ok)
            )
            status, payload, headers = await asyncio.shield(delayed)
        else:
            status, payload, headers = await self._dispatch(request, method, tail, parsed, parsed_ok)
        if fault is not None and fault.kind == "drop_after":
            return self._drop(request)
        entry.http_status = status
        if isinstance(payload, RecordFile):
            download = download or Download(entry, None, {})
            return await self._send_file(request, payload, headers, entry, shape, download)
        entry.retcode = payload.get("retcode") if status == 200 else None
        response = web.Response(
            status=status,
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
            headers={"Content-Type": JSON_TYPE},
        )
        if headers:
            response.headers.update(headers)
        return await self._shaped(request, response, entry, shape)

    async def _shaped(
        self, request: web.Request, response: web.Response, entry: LogEntry, shape: Fault | None
    ) -> web.StreamResponse:
        if shape is None:
            return response
        return await self.wire.answer(request, response, shape, entry)

    def _standing(self, method: str, tail: str) -> Fault | None:
        """The answer_shape setting, when it applies to this request."""
        spec = self.store.settings.answer_shape
        if spec is None:
            return None
        if spec is not self._standing_spec or self._standing_fault is None:
            self._standing_fault = standing_shape(spec)
            self._standing_spec = spec
        return self._standing_fault if self._standing_fault.matches(method, tail) else None

    async def _delayed_dispatch(
        self, delay: float, request: web.Request, method: str, tail: str, parsed: Any, parsed_ok: bool
    ) -> tuple[int, Payload, Headers]:
        await asyncio.sleep(delay)
        return await self._dispatch(request, method, tail, parsed, parsed_ok)

    async def _early_fault(self, fault: Fault) -> web.Response | None:
        if fault.kind == "retcode":
            body = {"message": fault.message, "retcode": fault.retcode, "result": None}
            return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": JSON_TYPE})
        elif fault.kind == "http_status":
            return web.Response(status=fault.status, text=f"simulated HTTP {fault.status}\n")
        elif fault.kind == "garbage":
            return web.Response(text="<html><body>gateway garbage</body></html>", content_type="text/html")
        elif fault.kind == "body":
            return web.Response(
                status=fault.status, body=fault.body.encode(), headers={"Content-Type": fault.content_type}
            )
        return None

    def _count_poll(self, tail: str) -> None:
        """Count an event poll when it arrives, whatever its answer will be (routing as in _dispatch)."""
        parts = tail.split("/")
        if "/".join(parts[2:]):
            return
        self.store.total_polls += 1
        if AGENT_ID_RE.fullmatch(parts[1]) is not None:
            agent = self.store.agents.get(int(parts[1]))
            if agent is not None:
                agent.polls += 1

    def _count_download(self, request: web.Request, tail: str, entry: LogEntry) -> Download | None:
        """Keep every download request as it arrives (routing as in _dispatch), whatever its answer."""
        if request.method != "GET" or len(tail.split("/")) != 2:
            return None
        download = Download(entry, _agent_of(tail), dict(request.query))
        self.store.downloads.append(download)
        return download

    async def _send_file(
        self,
        request: web.Request,
        file: RecordFile,
        headers: Headers,
        entry: LogEntry,
        shape: Fault | None,
        download: Download,
    ) -> web.StreamResponse:
        """A download's success: the file's bytes as application/octet-stream, streamed (or in a shape)."""
        download.file = file
        head = {"Content-Type": FILE_TYPE, **(headers or {})}
        if shape is None:
            return await self._stream_file(request, file, head, download)
        body = file.content()
        answer = await self.wire.answer(request, web.Response(body=body, headers=head), shape, entry)
        if answer.whole:
            download.sent = len(body)
            download.finished(hashlib.sha256(body).hexdigest())
        return answer

    async def _stream_file(
        self, request: web.Request, file: RecordFile, head: dict[str, str], download: Download
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=head)
        response.content_length = file.size
        digest = hashlib.sha256()
        try:
            await response.prepare(request)
            for piece in file.pieces():
                if request.transport is None or request.transport.is_closing():
                    return response  # the client went away
                await response.write(piece)
                digest.update(piece)
                download.sent += len(piece)
                # Notice a lost connection (asyncio's TLS transport does not push back on a dead socket).
                await asyncio.sleep(0)
            await response.write_eof()
        except ConnectionError:
            return response  # the client went away
        download.finished(digest.hexdigest())
        return response

    def _write_and_close(self, request: web.Request, data: bytes) -> web.StreamResponse:
        """Put bytes straight on the connection (inside TLS when HTTPS), then close it after they are sent."""
        transport = request.transport
        if transport is not None:
            transport.write(data)
            transport.close()
        # The transport is closing, so aiohttp writes nothing of this response.
        return web.Response()

    async def _oversized(self, request: web.Request, size: int) -> web.StreamResponse:
        """A valid envelope of exactly `size` bytes, chunked (no Content-Length), built as it is sent."""
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON_TYPE})
        response.enable_chunked_encoding()
        head, end = b'{"message":"', b'","retcode":"0"}'
        padding = size - len(head) - len(end)
        try:
            await response.prepare(request)
            await response.write(head)
            while padding > 0:
                piece = min(padding, len(PADDING))
                await response.write(PADDING[:piece])
                padding -= piece
                # Let a lost connection be noticed (asyncio's TLS transport never pushes back on a dead
                # socket, so without this the whole body would be pushed at it, with a warning per write).
                await asyncio.sleep(0)
                if request.transport is None or request.transport.is_closing():
                    return response
            await response.write(end)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up reading, as a size-limited client should
        return response

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        # aiohttp still wants a response object; the transport is gone, so nothing reaches the client.
        return web.Response()

    def _route(self, parts: list[str]) -> dict[str, tuple[Callable[..., Awaitable[Reply]], bool]] | None:
        """The methods of `family/{agentid}/operation`; an operation `name/*` takes one path parameter."""
        if len(parts) < 2:
            return None
        methods = self.routes.get((parts[0], "/".join(parts[2:])))
        if methods is None and len(parts) == 4:
            methods = self.routes.get((parts[0], parts[2] + "/*"))
        return methods

    async def _dispatch(
        self, request: web.Request, method: str, tail: str, parsed: Any, parsed_ok: bool
    ) -> tuple[int, Payload, Headers]:
        parts = tail.split("/")
        methods = self._route(parts)
        if methods is None:
            return 404, {"message": "not found", "retcode": "404", "result": None}, None
        target = methods.get(method)
        if target is None:
            allow = {"Allow": ", ".join(methods)}
            return 405, {"message": "method not allowed", "retcode": "405", "result": None}, allow
        handler, needs_guid = target
        agent_text = parts[1]
        max_id = self.store.settings.max_agent_id
        if AGENT_ID_RE.fullmatch(agent_text) is None or not AGENT_ID_MIN <= int(agent_text) <= max_id:
            payload, headers = error("000-002")
            return 200, payload, headers
        agent_id = int(agent_text)
        agent = self.store.agents.get(agent_id)
        extra: Headers = None
        if needs_guid:
            if agent is None or agent.session is None:
                payload, headers = error("100-006")
                return 200, payload, headers
            verdict = agent.session.check_guid(request.headers.get("Guid"))
            if verdict == 0:
                payload, headers = error("000-003")
                return 200, payload, headers
            if verdict == 2:
                # The caller used the previous GUID: tell it the current one.
                extra = set_guid(agent.session.guid)
        payload, headers = await handler(agent_id, agent, parsed, parsed_ok, request)
        if extra:
            headers = {**extra, **headers} if headers else extra
        return 200, payload, headers

    # ---- sign-in family -------------------------------------------------------------------------

    def _sign_in_params(self, body: Any, parsed_ok: bool) -> tuple[str, str, int, bool] | None:
        if not parsed_ok or not isinstance(body, dict):
            return None
        password, phone = body.get("password"), body.get("phonenum")
        if not isinstance(password, str) or len(password) > 32:
            return None
        if isinstance(phone, int) and not isinstance(phone, bool):
            phone = str(phone)
        if not isinstance(phone, str) or not phone or len(phone) > 24:
            return None
        status = _int_like(body.get("status", STATE_IDLE))
        if status not in (STATE_BUSY, STATE_IDLE, STATE_WORK):
            return None
        releasephone = _truthy(body.get("releasephone", True))
        if releasephone is None:
            return None
        for key in ("autoanswer", "autoenteridle", "phonelinkage", "checkInWebm", "checkInMailm"):
            if key in body and _truthy(body[key]) is None:
                return None
        if "agenttype" in body and _int_like(body["agenttype"]) is None:
            return None
        return password, phone, status, releasephone

    async def _sign_in(
        self, agent_id: int, agent: Agent | None, body: Any, parsed_ok: bool, force: bool
    ) -> Reply:
        params = self._sign_in_params(body, parsed_ok)
        if params is None:
            payload, _ = error("100-001")
            return payload, {"Set-Cookie": STICKY_COOKIE}
        password, phone, status, releasephone = params
        retcode = None
        if agent is None:
            retcode = "100-004"
        elif agent.signin_pending:
            retcode = "100-021"
        elif password != agent.spec.password:
            retcode = "100-004"
        elif phone != agent.spec.phone:
            retcode = "100-013"
        elif agent.session is not None and not force:
            retcode = "100-002"
        if retcode is not None or agent is None:
            payload, _ = error(retcode or "100-004")
            return payload, {"Set-Cookie": STICKY_COOKIE}
        delay = self.store.settings.signin_delay
        if delay > 0:
            agent.signin_pending = True
            try:
                await asyncio.sleep(delay)
            finally:
                agent.signin_pending = False
        if agent.session is not None:
            if not force:
                payload, _ = error("100-002")
                return payload, {"Set-Cookie": STICKY_COOKIE}
            self.store.sign_out(agent, "forced_out")
        session = self.store.sign_in(agent, status, releasephone)
        result = {
            "vdnid": agent.spec.vdn,
            "workno": agent.workno,
            "mediatype": "TTF",
            "loginTime": str(session.login_time),
            "isForceChange": "false",
            "serverName": "AgentGateway",
            "timeRemaining": "9",
        }
        payload, _ = ok(result)
        return payload, {"Set-GUID": f"JSESSIONID={session.guid}", "Set-Cookie": STICKY_COOKIE}

    async def sign_in(self, agent_id: int, agent: Agent | None, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        return await self._sign_in(agent_id, agent, body, parsed_ok, force=False)

    async def force_login(
        self, agent_id: int, agent: Agent | None, body: Any, parsed_ok: bool, _r: Any
    ) -> Reply:
        return await self._sign_in(agent_id, agent, body, parsed_ok, force=True)

    async def logout(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        self.store.sign_out(agent, "signed_out")
        return ok()

    async def force_logout(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        self.store.sign_out(agent, "forced_out")
        return ok()

    async def update_guid(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        assert agent.session is not None
        guid = agent.session.rotate(self.store.settings.guid_timeout_ms)
        payload, _ = ok({"guid": guid})
        return payload, set_guid(guid)

    async def agent_status(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        return ok({"agentState": agent.state, "isWorking": False})

    # ---- event polling --------------------------------------------------------------------------

    async def poll(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        session = agent.session
        assert session is not None
        settings = self.store.settings
        agent.last_poll_mono = time.monotonic()
        agent.last_poll_at = now_ms()
        self.store.outstanding_polls += 1
        try:
            event = await session.queue.pop(settings.poll_hold)
        finally:
            self.store.outstanding_polls -= 1
        headers: Headers = None
        if agent.session is session:
            agent.last_poll_mono = time.monotonic()
            agent.last_poll_at = now_ms()
            if (
                settings.auth_mode == 2
                and time.monotonic() - session.guid_issued >= settings.guid_interval_ms / 1000.0
            ):
                headers = set_guid(session.rotate(settings.guid_timeout_ms))
        if event is None:
            # A real gateway's empty answer has no `event` key at all.
            return dict(EMPTY_POLL), headers
        return {"message": "", "retcode": "0", "event": event}, headers

    # ---- recordplay family ----------------------------------------------------------------------

    def _record_params(self, body: Any, parsed_ok: bool) -> tuple[str | None, int, int] | None:
        if not parsed_ok or not isinstance(body, dict):
            return None
        media_type = body.get("mediaType")
        if type(media_type) is not int or media_type != 5:
            return None
        file_name = body.get("fileName")
        if file_name is not None and (not isinstance(file_name, str) or len(file_name) > 100):
            return None
        record_mode = body.get("recordMode")
        if type(record_mode) is not int or record_mode not in (0, 1):
            record_mode = 0
        record_format = body.get("recordFormat", 0)
        if record_format is None:
            record_format = 0
        if type(record_format) is not int or not 0 <= record_format <= 3:
            return None
        return file_name or None, record_mode, record_format

    def _generated_file_name(self, agent: Agent, stamp: float) -> str:
        local = time.localtime(stamp)
        millis = int(stamp * 1000) % 1000
        return (
            f"{self.store.settings.mapping_disk}:\\{agent.spec.vdn}\\5\\{time.strftime('%Y%m%d', local)}"
            f"\\{agent.workno}\\{time.strftime('%H%M%S', local)}{millis:03d}.V3"
        )

    def _record_content(self, agent: Agent, task_id: str, file_name: str, stamp: float) -> dict[str, Any]:
        self.call_seq += 1
        local = time.localtime(stamp)
        record_id = (
            f"{self.store.settings.mapping_disk}c1v{agent.spec.vdn}a{agent.workno}"
            f"d{time.strftime('%Y%m%d', local)}t{time.strftime('%H%M%S', local)}{int(stamp * 10) % 10}"
        )
        return {
            "taskId": int(task_id),
            "caller": agent.spec.phone,
            "called": "60000",
            "locationId": "256",
            "recordID": record_id,
            "fileName": file_name,
            "fileMediaType": "1",
            "callId": f"{int(stamp)}-{self.call_seq}",
        }

    async def record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if not self.store.settings.selfrecord:
            return error("000-003")
        params = self._record_params(body, parsed_ok)
        if params is None:
            return error("000-002")
        file_name, record_mode, record_format = params
        if agent.inspector_mode is not None or agent.playback is not None:
            return error("500-008")
        if agent.recording is not None:
            return error("500-011")
        stamp = time.time()
        task_id = self.store.allocate_task_id()
        file_name = file_name or self._generated_file_name(agent, stamp)
        content = self._record_content(agent, task_id, file_name, stamp)
        if self.faults.faults and self.faults.take(
            "PUT", f"recordplay/{agent_id}/record", kind="record_fail"
        ):
            content["locationId"] = "65535"
            agent.queue_event("AgentMediaEvent_Record_Fail", content)
        else:
            if not agent.phone_offhook:
                agent.queue_event("AgentOther_PhoneAlerting", None)
                agent.queue_event("AgentOther_PhoneOffhook", {"type": "main"})
                agent.phone_offhook = True
            recording = Recording(
                task_id, agent_id, file_name, record_mode, record_format, int(stamp * 1000), content["callId"]
            )
            agent.recording = recording
            self.store.recordings.append(recording)
            agent.queue_event("AgentMediaEvent_Record", content)
        return {"result": {"taskId": task_id}, "message": "success", "retcode": "0"}, None

    async def stop_record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        recording = self.store.end_recording(agent, "stopped")
        if recording is None:
            return error("100-007")
        agent.queue_event(
            "AgentMediaEvent_StopRecordDone",
            {
                "beginTime": recording.started_at,
                "endTime": recording.ended_at,
                "fileMediaType": "1",
                "recordFormat": str(recording.record_format),
                "taskId": int(recording.task_id),
                "callId": recording.call_id,
            },
        )
        return ok(message="success")

    async def pause_record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if agent.recording is None or agent.recording.paused:
            return error("500-004")
        agent.recording.pause()
        return ok(message="success")

    async def resume_record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if agent.recording is None or not agent.recording.paused:
            return error("500-006")
        agent.recording.resume()
        return ok(message="success")

    # ---- playback -------------------------------------------------------------------------------

    def _play_params(self, agent_id: int, body: Any, parsed_ok: bool) -> Playback | None:
        """The play body: voicepath 1-100 characters; startpostion seconds >= 0; times (every value
        is taken as 1); codeformat only 0; locationId a number. None when any is wrong."""
        if not parsed_ok or not isinstance(body, dict):
            return None
        voicepath = body.get("voicepath")
        if not isinstance(voicepath, str) or not voicepath or len(voicepath) > 100:
            return None
        position = _count(_given(body, "startpostion", 0))
        codeformat = _int_like(_given(body, "codeformat", 0))
        location = body.get("locationId")
        location_id = _count(location) if location is not None else None
        if position is None or codeformat != 0 or (location is not None and location_id is None):
            return None
        return Playback(agent_id, voicepath, position, 1, location_id, now_ms())

    def _play_failure(self, agent_id: int, playback: Playback) -> str | None:
        """Why the media server cannot play this voicepath, or None when it plays."""
        if self.faults.faults and self.faults.take("PUT", f"recordplay/{agent_id}/play", kind="play_fail"):
            return "play_fail fault"
        if self.store.being_written(playback.voicepath):
            return "file still being written"
        file = self.store.files.get(playback.voicepath)
        if file is None:
            return "no such voice file"
        wanted = playback.location_id
        if self.store.settings.cti_pool and wanted is not None and wanted != int(file.location_id):
            return "file not at this locationId"
        return None

    def _hang_up(self, agent: Agent, playback: Playback) -> None:
        """The end of a playback: the phone it rang goes on-hook, the agent is ready again."""
        if playback.rang_phone:
            agent.queue_event("AgentOther_PhoneRelease", None)
            agent.phone_offhook = False
        agent.queue_event("AgentState_Ready", None)
        agent.state = STATE_IDLE

    async def play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        playback = self._play_params(agent_id, body, parsed_ok)
        if playback is None:
            return error("000-002")
        if agent.recording is not None or agent.playback is not None:
            return error("500-007")
        self.store.start_playback(playback)
        agent.queue_event("AgentState_Busy", None)
        agent.state = STATE_BUSY
        if not agent.phone_offhook:
            agent.queue_event("AgentOther_PhoneAlerting", None)
            agent.queue_event("AgentOther_PhoneOffhook", {"type": "main"})
            agent.phone_offhook = playback.rang_phone = True
        failure = self._play_failure(agent_id, playback)
        if failure is None:
            agent.queue_event("AgentMediaEvent_Play_Succ", None)
            agent.queue_event("AgentMediaEvent_Play", None)
            return play_ok()
        self.store.end_playback(agent, "failed")
        playback.fail_reason = failure
        self._hang_up(agent, playback)
        agent.queue_event("AgentMediaEvent_Play_Fail", None)
        agent.queue_event("AgentMediaEvent_StopPlayDone", {"cause": 2})
        return play_ok()

    async def pause_play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        playback = agent.playback
        if playback is None or playback.state != "playing":
            return error("500-003")
        playback.state = "paused"
        playback.pauses += 1
        agent.queue_event("AgentMediaEvent_PausePlayDone", None)
        return play_ok()

    async def resume_play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        playback = agent.playback
        if playback is None or playback.state != "paused":
            return error("500-005")
        playback.state = "playing"
        playback.resumes += 1
        agent.queue_event("AgentMediaEvent_ResumePlayDone", None)
        return play_ok()

    def _jump(self, agent: Agent, request: web.Request, state_error: str) -> Reply:
        seconds = request.path.rsplit("/", 1)[1]
        if DIGITS_RE.fullmatch(seconds) is None or int(seconds) > JUMP_MAX:
            return error("000-002")
        if agent.playback is None:
            return error(state_error)
        agent.playback.jumps += 1
        agent.queue_event("AgentMediaEvent_JumpPlayDone", None)
        return play_ok()

    async def fore_fast(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, request: Any) -> Reply:
        return self._jump(agent, request, "500-002")

    async def back_fast(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, request: Any) -> Reply:
        return self._jump(agent, request, "500-001")

    async def stop_play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        playback = self.store.end_playback(agent, "stopped")
        if playback is None:
            return error("500-009")
        self._hang_up(agent, playback)
        agent.queue_event("AgentMediaEvent_StopPlayDone", {"cause": 1})
        return play_ok()

    # ---- recording download ---------------------------------------------------------------------

    def _download_query(self, request: web.Request) -> tuple[str, int, str | None] | None:
        """recordId (the fileName of AgentMediaEvent_Record), filetype 1 or 2 (default 1), locationId a
        number (required in CTI pool mode). None when any is wrong."""
        query = request.query
        record_id = query.get("recordId", "")
        filetype = query.get("filetype", "1")
        location_id = query.get("locationId")
        if not record_id or filetype not in ("1", "2"):
            return None
        if location_id is None and self.store.settings.cti_pool:
            return None
        if location_id is not None and DIGITS_RE.fullmatch(location_id) is None:
            return None
        return record_id, int(filetype), location_id

    async def download(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, request: Any) -> Reply:
        if not self.store.settings.download_enabled:
            return error("104-001")
        params = self._download_query(request)
        if params is None:
            return error("000-002")
        record_id, filetype, location_id = params
        if self.store.being_written(record_id):
            return error("104-005")
        file = self.store.files.get(record_id)
        if file is None or file.filetype != filetype:
            return error("104-005")
        if self.store.settings.cti_pool and int(location_id or 0) != int(file.location_id):
            return error("104-005")  # CTI pool mode: the file is not at that location
        return file, None


def add_routes(app: web.Application, gateway: Gateway) -> None:
    app.router.add_route("*", PREFIX + "{tail:.*}", gateway.handle)
