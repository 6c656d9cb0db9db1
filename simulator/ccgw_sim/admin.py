"""Test hooks under /_sim/. Never exposes a GUID or a password."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from typing import Any

from aiohttp import web

from .config import INSPECTOR_MODES, ConfigError
from .faults import FaultBook, FaultError
from .recordfiles import FILE_MAX, LOCATION_ID, Part, RecordFile
from .reqlog import RequestLog
from .state import Agent, Store, now_ms
from .wire import Wire


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


def _new_file(body: dict[str, Any]) -> RecordFile:
    """A file put on the file server by hand: {file_name, size, filetype 1|2, location_id}."""
    unknown = set(body) - {"file_name", "size", "filetype", "location_id"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    name, size = body.get("file_name"), body.get("size")
    filetype, location = body.get("filetype", 1), str(body.get("location_id", LOCATION_ID))
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ValueError("file_name must be a string of 1-255 characters")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= FILE_MAX:
        raise ValueError(f"size must be an integer 1-{FILE_MAX} (bytes)")
    if filetype not in (1, 2) or isinstance(filetype, bool):
        raise ValueError("filetype must be 1 (agent recording) or 2 (IVR or third-party voice message)")
    if re.fullmatch(r"[0-9]{1,18}", location) is None:
        raise ValueError("location_id must be a number (or a string of digits)")
    seed = zlib.crc32(name.encode()) % 251
    now = now_ms()
    return RecordFile(name, filetype, location, (Part(seed, size, None),), None, None, None, now, now)


async def _file_views(files: list[RecordFile]) -> list[dict[str, Any]]:
    """The digest costs a pass over the bytes: computed off the event loop, once per file."""
    loop = asyncio.get_running_loop()
    for file in files:
        if file.digest is None:
            await loop.run_in_executor(None, file.sha256)
    return [file.view() for file in files]


def _bad(message: str, status: int = 400) -> web.Response:
    return _json({"ok": False, "error": message}, status)


async def _body(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ValueError("a JSON object body is required")
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


class Admin:
    def __init__(self, store: Store, faults: FaultBook, log: RequestLog, wire: Wire) -> None:
        self.store = store
        self.faults = faults
        self.log = log
        self.wire = wire

    async def reset(self, request: web.Request) -> web.Response:
        try:
            body = await _body(request, required=False)
            changes = body.get("config", {})
            if not isinstance(changes, dict):
                raise ValueError("'config' must be a JSON object")
            settings = self.store.startup_settings.copy()
            settings.update(changes)
        except (ValueError, ConfigError) as exc:
            return _bad(str(exc))
        self.store.reset()
        self.store.settings.update(settings.as_dict())
        self.log.clear()
        self.faults.clear()
        self.wire.clear()
        return _json({"ok": True})

    async def get_config(self, request: web.Request) -> web.Response:
        return _json(self.store.settings.as_dict())

    async def patch_config(self, request: web.Request) -> web.Response:
        try:
            self.store.settings.update(await _body(request))
        except (ValueError, ConfigError) as exc:
            return _bad(str(exc))
        return _json(self.store.settings.as_dict())

    def _agent(self, request: web.Request) -> Agent | None:
        try:
            return self.store.agents.get(int(request.match_info["agent_id"]))
        except ValueError:
            return None

    async def list_agents(self, request: web.Request) -> web.Response:
        return _json({"agents": [agent.admin_view() for agent in self.store.agents.values()]})

    async def get_agent(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        if agent is None:
            return _bad("no such agent in the roster", 404)
        return _json(agent.admin_view())

    async def patch_agent(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        if agent is None:
            return _bad("no such agent in the roster", 404)
        try:
            body = await _body(request)
        except ValueError as exc:
            return _bad(str(exc))
        unknown = set(body) - {"inspector_mode", "phone_offhook"}
        if unknown:
            return _bad(f"unknown keys: {', '.join(sorted(unknown))}")
        mode = body.get("inspector_mode", agent.inspector_mode)
        if mode is not None and mode not in INSPECTOR_MODES:
            return _bad(f"inspector_mode must be one of {', '.join(INSPECTOR_MODES)} or null")
        offhook = body.get("phone_offhook", agent.phone_offhook)
        if not isinstance(offhook, bool):
            return _bad("phone_offhook must be a boolean")
        agent.inspector_mode = mode
        agent.phone_offhook = offhook
        return _json(agent.admin_view())

    async def recordings(self, request: web.Request) -> web.Response:
        return _json({"recordings": [rec.list_view() for rec in self.store.recordings]})

    async def record_files(self, request: web.Request) -> web.Response:
        agent = request.query.get("agent_id")
        if agent is not None and not agent.isdigit():
            return _bad("agent_id must be a number")
        files = self.store.files.select(request.query.get("file_name"), int(agent) if agent else None)
        return _json({"files": await _file_views(files)})

    async def add_record_file(self, request: web.Request) -> web.Response:
        try:
            file = self.store.files.put(_new_file(await _body(request)))
        except ValueError as exc:
            return _bad(str(exc))
        return _json((await _file_views([file]))[0])

    async def downloads(self, request: web.Request) -> web.Response:
        return _json({"downloads": [download.view() for download in self.store.downloads]})

    async def playbacks(self, request: web.Request) -> web.Response:
        return _json({"playbacks": [playback.list_view() for playback in self.store.playbacks]})

    async def requests(self, request: web.Request) -> web.Response:
        query = request.query
        return _json({"requests": self.log.query(query.get("path_contains"), query.get("method"))})

    async def polls(self, request: web.Request) -> web.Response:
        return _json({"outstanding": self.store.outstanding_polls, "total": self.store.total_polls})

    async def strays(self, request: web.Request) -> web.Response:
        return _json(self.wire.stray_view())

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = self.faults.add(await _body(request))
        except (ValueError, FaultError) as exc:
            return _bad(str(exc))
        return _json({"ok": True, "id": fault.fault_id})

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": [fault.view() for fault in self.faults.faults]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _json({"ok": True})


def add_routes(app: web.Application, admin: Admin) -> None:
    router = app.router
    router.add_post("/_sim/reset", admin.reset)
    router.add_get("/_sim/config", admin.get_config)
    router.add_patch("/_sim/config", admin.patch_config)
    router.add_get("/_sim/agents", admin.list_agents)
    router.add_get("/_sim/agents/{agent_id}", admin.get_agent)
    router.add_patch("/_sim/agents/{agent_id}", admin.patch_agent)
    router.add_get("/_sim/recordings", admin.recordings)
    router.add_get("/_sim/recordfiles", admin.record_files)
    router.add_post("/_sim/recordfiles", admin.add_record_file)
    router.add_get("/_sim/downloads", admin.downloads)
    router.add_get("/_sim/playbacks", admin.playbacks)
    router.add_get("/_sim/requests", admin.requests)
    router.add_get("/_sim/polls", admin.polls)
    router.add_get("/_sim/strays", admin.strays)
    router.add_post("/_sim/faults", admin.add_fault)
    router.add_get("/_sim/faults", admin.list_faults)
    router.add_delete("/_sim/faults", admin.clear_faults)
