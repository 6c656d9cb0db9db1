"""The AgentGateway routes under /agentgateway/resource."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .config import AGENT_ID_MIN
from .faults import SHAPE_KINDS, Fault, FaultBook, standing_shape
from .reqlog import LogEntry, RequestLog, body_for_log, try_parse
from .state import STATE_BUSY, STATE_IDLE, STATE_WORK, Agent, Recording, Store, now_ms
from .wire import Wire

PREFIX = "/agentgateway/resource/"
JSON_TYPE = "application/json;charset=UTF-8"
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
    "500-004": "state error when pausing recording",
    "500-006": "state error when resuming recording",
    "500-007": "state error when starting playback",
    "500-008": "state error when starting recording",
    "500-009": "state error when stopping playback",
    "500-011": "agent already has a recording task",
}

Headers = dict[str, str] | None
Reply = tuple[dict[str, Any], Headers]


def error(retcode: str) -> Reply:
    return {"message": MESSAGES.get(retcode, "error"), "retcode": retcode, "result": None}, None


def ok(result: Any = None, message: str = "") -> Reply:
    return {"message": message, "retcode": "0", "result": result}, None


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
            ("recordplay", "stopplay"): {"DELETE": (self.stop_play, True)},
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
        entry.retcode = payload.get("retcode") if status == 200 else None
        entry.http_status = status
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
    ) -> tuple[int, dict[str, Any], Headers]:
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

    async def _dispatch(
        self, request: web.Request, method: str, tail: str, parsed: Any, parsed_ok: bool
    ) -> tuple[int, dict[str, Any], Headers]:
        parts = tail.split("/")
        family = parts[0]
        operation = "/".join(parts[2:])
        methods = self.routes.get((family, operation)) if len(parts) >= 2 else None
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
        if agent.inspector_mode is not None or agent.playing:
            return error("500-008")
        if agent.recording is not None:
            return error("500-011")
        stamp = time.time()
        task_id = self.store.allocate_task_id()
        file_name = file_name or self._generated_file_name(agent, stamp)
        content = self._record_content(agent, task_id, file_name, stamp)
        if self.faults.faults and self.faults.take("PUT", f"recordplay/{agent_id}/record", record_fail=True):
            content["locationId"] = "65535"
            agent.queue_event("AgentMediaEvent_Record_Fail", content)
        else:
            if not agent.phone_offhook:
                agent.queue_event("AgentOther_PhoneAlerting", None)
                agent.queue_event("AgentOther_PhoneOffhook", {"type": "main"})
                agent.phone_offhook = True
            recording = Recording(task_id, agent_id, file_name, record_mode, record_format, int(stamp * 1000))
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
            },
        )
        return ok(message="success")

    async def pause_record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if agent.recording is None or agent.recording.paused:
            return error("500-004")
        agent.recording.paused = True
        return ok(message="success")

    async def resume_record(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if agent.recording is None or not agent.recording.paused:
            return error("500-006")
        agent.recording.paused = False
        return ok(message="success")

    async def play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if not parsed_ok or not isinstance(body, dict):
            return error("000-002")
        voicepath = body.get("voicepath")
        if not isinstance(voicepath, str) or not voicepath or len(voicepath) > 100:
            return error("000-002")
        if agent.recording is not None or agent.playing:
            return error("500-007")
        agent.playing = True
        agent.queue_event("AgentMediaEvent_Play", None)
        return ok(message="success")

    async def stop_play(self, agent_id: int, agent: Agent, body: Any, parsed_ok: bool, _r: Any) -> Reply:
        if not agent.playing:
            return error("500-009")
        agent.playing = False
        agent.queue_event("AgentMediaEvent_StopPlayDone", {"cause": 1})
        return ok(message="success")


def add_routes(app: web.Application, gateway: Gateway) -> None:
    app.router.add_route("*", PREFIX + "{tail:.*}", gateway.handle)
