"""Answers written by hand on the connection, in the shapes real gateways' answers take on the wire.

Every write goes straight to the transport: one TCP write (TCP_NODELAY is on), and over HTTPS one TLS
record, sent at once. The handler then returns a `Written` response, so aiohttp adds nothing to the
connection and reads it for the next request as usual (keep-alive).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any

from aiohttp import HttpVersion11, web

from .faults import Fault
from .reqlog import LogEntry
from .state import new_guid

SERVER = "ccgw-sim"
JSON_TYPE = "application/json;charset=UTF-8"
# Headers a shaped answer sets itself; the response's own values for them are dropped.
FRAMING = {"content-length", "transfer-encoding", "connection", "date", "server"}


class Written(web.StreamResponse):
    """An answer already written on the transport: aiohttp must write nothing more for it.

    `whole`: every byte of it was handed to the connection (not cut, the connection not gone).
    """

    def __init__(self, status: int, keep_alive: bool, whole: bool = True) -> None:
        super().__init__(status=status)
        self._keep = keep_alive
        self.whole = whole

    @property
    def keep_alive(self) -> bool:
        return self._keep

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def head_bytes(status: int, reason: str, headers: Mapping[str, str], framing: str, close: bool) -> bytes:
    """Status line and headers; `framing` is the Content-Length or Transfer-Encoding line."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in FRAMING]
    lines += [framing, f"Date: {formatdate(usegmt=True)}", f"Server: {SERVER}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def even_pieces(data: bytes, count: int) -> list[bytes]:
    """`data` cut into `count` pieces of nearly equal size (fewer when it has fewer bytes)."""
    count = max(1, min(count, len(data)))
    cuts = [len(data) * i // count for i in range(count + 1)]
    return [data[start:end] for start, end in itertools.pairwise(cuts)]


def stray_answer(shape: Fault, agent: str) -> bytes:
    """A whole 200 answer nobody asked for: a foreign GUID and, by default, the agent's sign-out event."""
    if shape.stray_body is not None:
        body = shape.stray_body.encode()
    else:
        event = {"eventType": "AgentOther_ShutdownService", "workNo": agent, "content": {}}
        body = json.dumps({"event": event, "message": "", "retcode": "0"}, separators=(",", ":")).encode()
    headers = {"Content-Type": JSON_TYPE, "Set-GUID": f"JSESSIONID={shape.guid or new_guid()}"}
    return head_bytes(200, "OK", headers, f"Content-Length: {len(body)}", close=False) + body


def _write(request: web.BaseRequest, data: bytes) -> bool:
    transport = request.transport
    if transport is None or transport.is_closing():
        return False
    transport.write(data)
    return True


class Wire:
    """Writes shaped answers and counts the stray answers sent (for /_sim/strays)."""

    def __init__(self) -> None:
        self.strays_sent = 0
        self.strays_not_sent = 0
        self.generation = 0

    def stray_view(self) -> dict[str, Any]:
        return {"sent": self.strays_sent, "not_sent": self.strays_not_sent}

    def clear(self) -> None:
        self.strays_sent = self.strays_not_sent = 0
        self.generation += 1  # a stray still pending from before is not counted after a reset

    async def answer(
        self, request: web.BaseRequest, response: web.Response, shape: Fault, entry: LogEntry
    ) -> Written:
        """Write `response` in `shape` and return what the handler must hand back to aiohttp."""
        body = response.body if isinstance(response.body, bytes) else b""
        keep_alive = request.keep_alive
        entry.note("shape", shape.kind)
        chunked = shape.kind == "chunked" and request.version >= HttpVersion11
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
        head = head_bytes(response.status, response.reason, response.headers, framing, not keep_alive)
        if chunked:
            whole = await self._pieces(request, _chunked_writes(head, body, shape.pieces), shape.delay, entry)
        elif shape.kind == "split":
            whole = await self._pieces(request, _split_writes(head, body, shape), shape.delay, entry)
        elif shape.kind == "slow":
            whole = await self._slow(request, head, body, shape, entry)
        else:
            whole = await self._pieces(request, [head + body], 0.0, entry)
        if shape.kind == "stray":
            self._stray_later(request, shape, entry, whole and keep_alive)
        return Written(response.status, whole and keep_alive, whole)

    async def _pieces(
        self, request: web.BaseRequest, writes: list[bytes], delay: float, entry: LogEntry
    ) -> bool:
        """One write per piece, `delay` seconds apart; False when the connection went away meanwhile."""
        for index, piece in enumerate(writes):
            if index:
                await asyncio.sleep(delay)
            if not _write(request, piece):
                return False
            entry.note("writes", index + 1)
            await request.writer.drain()
        return True

    async def _slow(
        self, request: web.BaseRequest, head: bytes, body: bytes, shape: Fault, entry: LogEntry
    ) -> bool:
        """A byte every `interval` seconds (the head at once unless slow_head); cut at `limit` seconds."""
        entry.note("slow", "writing")
        try:
            outcome = await self._trickle(request, head, body, shape, entry)
        except asyncio.CancelledError:
            entry.note("slow", "gone")
            raise
        entry.note("slow", outcome)
        return outcome == "whole"

    async def _trickle(
        self, request: web.BaseRequest, head: bytes, body: bytes, shape: Fault, entry: LogEntry
    ) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + shape.limit
        data = head + body if shape.slow_head else body
        writes = 0
        if not shape.slow_head:
            if not _write(request, head):
                return "gone"
            writes = 1
        for index in range(len(data)):
            if writes:
                if loop.time() + shape.interval > deadline:
                    await asyncio.sleep(max(0.0, deadline - loop.time()))
                    if request.transport is not None:
                        request.transport.close()
                    return "cut"
                await asyncio.sleep(shape.interval)
            if not _write(request, data[index : index + 1]):
                return "gone"
            writes += 1
            entry.note("writes", writes)
        return "whole"

    def _stray_later(self, request: web.BaseRequest, shape: Fault, entry: LogEntry, open_: bool) -> None:
        entry.note("stray_sent", None)
        transport = request.transport
        if not open_ or transport is None:
            self._stray_done(entry, False)
            return
        parts = request.path.split("/")
        agent = parts[4] if len(parts) > 4 else ""
        data = stray_answer(shape, agent)
        generation = self.generation

        def send() -> None:
            sent = not transport.is_closing()
            if sent:
                transport.write(data)
            if generation == self.generation:
                self._stray_done(entry, sent)

        asyncio.get_running_loop().call_later(shape.delay, send)

    def _stray_done(self, entry: LogEntry, sent: bool) -> None:
        entry.note("stray_sent", sent)
        if sent:
            self.strays_sent += 1
        else:
            self.strays_not_sent += 1


def _split_writes(head: bytes, body: bytes, shape: Fault) -> list[bytes]:
    if shape.head_apart and body:
        return [head, *even_pieces(body, shape.pieces - 1)]
    return even_pieces(head + body, shape.pieces)


def _chunked_writes(head: bytes, body: bytes, pieces: int) -> list[bytes]:
    """The head with the first chunk, each further chunk on its own, then the last-chunk marker."""
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in even_pieces(body, pieces) if piece]
    if not chunks:
        return [head + b"0\r\n\r\n"]
    return [head + chunks[0], *chunks[1:], b"0\r\n\r\n"]
