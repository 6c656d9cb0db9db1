"""Bounded log of gateway requests. Header values (the GUID among them) are never stored."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

MAX_ENTRIES = 100_000
MAX_TEXT = 1000
MASK = "********"


def _mask_passwords(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if k == "password" else _mask_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_passwords(v) for v in value]
    return value


def body_for_log(raw: bytes, parsed: Any, parsed_ok: bool) -> Any:
    if not raw:
        return None
    if parsed_ok:
        return _mask_passwords(parsed) if b"password" in raw else parsed
    text = raw.decode("utf-8", "replace")
    return text[:MAX_TEXT]


class LogEntry:
    __slots__ = (
        "body",
        "extra",
        "fault",
        "header_names",
        "http_status",
        "method",
        "path",
        "retcode",
        "seq",
        "time",
    )

    def __init__(self, seq: int, time: int, method: str, path: str, header_names: list[str], body: Any):
        self.seq = seq
        self.time = time
        self.method = method
        self.path = path
        self.header_names = header_names
        self.body = body
        self.retcode: str | None = None
        self.http_status: int | None = None
        self.fault: str | None = None
        self.extra: dict[str, Any] | None = None

    def note(self, key: str, value: Any) -> None:
        """Something about how the answer went on the wire (shape, writes, slow, stray_sent)."""
        if self.extra is None:
            self.extra = {}
        self.extra[key] = value

    def view(self) -> dict[str, Any]:
        data = {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "header_names": self.header_names,
            "body": self.body,
            "retcode": self.retcode,
            "http_status": self.http_status,
        }
        if self.fault is not None:
            data["fault"] = self.fault
        if self.extra is not None:
            data.update(self.extra)
        return data


class RequestLog:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=size)
        self.seq = 0

    def add(self, time: int, method: str, path: str, header_names: list[str], body: Any) -> LogEntry:
        self.seq += 1
        entry = LogEntry(self.seq, time, method, path, header_names, body)
        self.entries.append(entry)
        return entry

    def clear(self) -> None:
        self.entries.clear()

    def query(self, path_contains: str | None, method: str | None) -> list[dict[str, Any]]:
        method = method.upper() if method else None
        return [
            entry.view()
            for entry in self.entries
            if (path_contains is None or path_contains in entry.path)
            and (method is None or entry.method == method)
        ]


def try_parse(raw: bytes) -> tuple[Any, bool]:
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except (ValueError, UnicodeDecodeError):
        return None, False
