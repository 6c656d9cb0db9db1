"""Assemble the aiohttp application: gateway routes, admin routes, heartbeat task."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from aiohttp import web

from . import admin as admin_routes
from . import gateway as gateway_routes
from .faults import FaultBook
from .reqlog import RequestLog
from .state import Store
from .wire import Wire

STORE_KEY = web.AppKey("store", Store)


async def _not_found(request: web.Request) -> web.Response:
    return web.Response(
        status=404,
        text=json.dumps({"message": "not found", "retcode": "404", "result": None}),
        content_type="application/json",
    )


def _heartbeat_interval(store: Store) -> float:
    return max(0.05, min(1.0, store.settings.heartbeat_timeout / 10))


async def _heartbeat(store: Store) -> None:
    while True:
        await asyncio.sleep(_heartbeat_interval(store))
        store.expire_idle()


def build_app(store: Store) -> web.Application:
    app = web.Application()
    app[STORE_KEY] = store
    faults = FaultBook()
    log = RequestLog()
    wire = Wire()
    gateway_routes.add_routes(app, gateway_routes.Gateway(store, faults, log, wire))
    admin_routes.add_routes(app, admin_routes.Admin(store, faults, log, wire))
    app.router.add_route("*", "/{tail:.*}", _not_found)

    async def heartbeat_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_heartbeat(store))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(heartbeat_ctx)
    return app
