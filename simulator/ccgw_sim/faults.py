"""Injected faults for the next N matching gateway requests (test hooks)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KINDS = (
    "latency",
    "retcode",
    "http_status",
    "drop_before",
    "drop_after",
    "garbage",
    "record_fail",
    "body",
    "raw",
    "truncated",
    "oversized",
)
JSON_TYPE = "application/json;charset=UTF-8"
OVERSIZED_DEFAULT = 2 * 1024 * 1024
OVERSIZED_MIN = len('{"message":"","retcode":"0"}')
OVERSIZED_MAX = 1024 * 1024 * 1024


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    fault_id: int
    kind: str
    method: str | None
    path: str | None
    pattern: re.Pattern[str] | None
    remaining: int
    delay: float = 0.0
    retcode: str = ""
    message: str = ""
    status: int = 0
    body: str = ""
    content_type: str = JSON_TYPE
    data: bytes = b""
    size: int = 0

    def matches(self, method: str, tail: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.pattern is None or self.pattern.search(tail) is not None

    def view(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.fault_id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "remaining": self.remaining,
        }
        if self.kind == "latency":
            data["delay"] = self.delay
        elif self.kind == "retcode":
            data["retcode"] = self.retcode
            data["message"] = self.message
        elif self.kind == "http_status":
            data["status"] = self.status
        elif self.kind == "body":
            data["status"] = self.status
            data["body"] = self.body
            data["content_type"] = self.content_type
        elif self.kind == "raw":
            data["data"] = self.data.decode("latin-1")
        elif self.kind == "oversized":
            data["size"] = self.size
        return data


def _status(spec: dict[str, Any], default: int | None = None) -> int:
    status = spec.get("status", default)
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise FaultError("'status' must be an HTTP status 200-599")
    return status


def _number(spec: dict[str, Any], key: str) -> float:
    value = spec.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise FaultError(f"{key!r} must be a number >= 0")
    return float(value)


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.last_id = 0

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise FaultError("body must be a JSON object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise FaultError("'method' must be a string")
        path = spec.get("path")
        pattern = None
        if path is not None:
            if not isinstance(path, str):
                raise FaultError("'path' must be a regular expression string")
            try:
                pattern = re.compile(path)
            except re.error as exc:
                raise FaultError(f"bad 'path' regex: {exc}") from exc
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FaultError("'count' must be an integer >= 1")
        self.last_id += 1
        fault = Fault(self.last_id, kind, method.upper() if method else None, path, pattern, count)
        if kind == "latency":
            fault.delay = _number(spec, "delay")
        elif kind == "retcode":
            retcode = spec.get("retcode")
            if not isinstance(retcode, str) or not retcode:
                raise FaultError("'retcode' must be a non-empty string")
            message = spec.get("message", "")
            fault.retcode, fault.message = retcode, str(message)
        elif kind == "http_status":
            fault.status = _status(spec)
        elif kind == "body":
            fault.status = _status(spec, 200)
            body = spec.get("body")
            if not isinstance(body, str):
                raise FaultError("'body' must be a string (the raw response text)")
            content_type = spec.get("content_type", JSON_TYPE)
            if (
                not isinstance(content_type, str)
                or not content_type
                or not content_type.isprintable()
                or not content_type.isascii()
            ):
                raise FaultError("'content_type' must be a non-empty printable ASCII string")
            fault.body, fault.content_type = body, content_type
        elif kind == "raw":
            data = spec.get("data")
            if not isinstance(data, str) or not data:
                raise FaultError("'data' must be a non-empty string (sent latin-1 encoded)")
            try:
                fault.data = data.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise FaultError("'data' must be latin-1 text (characters U+0000-U+00FF)") from exc
        elif kind == "oversized":
            size = spec.get("size", OVERSIZED_DEFAULT)
            if (
                not isinstance(size, int)
                or isinstance(size, bool)
                or not OVERSIZED_MIN <= size <= OVERSIZED_MAX
            ):
                raise FaultError(f"'size' must be an integer {OVERSIZED_MIN}-{OVERSIZED_MAX} (bytes)")
            fault.size = size
        self.faults.append(fault)
        return fault

    def take(self, method: str, tail: str, record_fail: bool = False) -> Fault | None:
        """Consume one use of the earliest matching fault (record_fail faults only when asked)."""
        for fault in self.faults:
            if (fault.kind == "record_fail") == record_fail and fault.matches(method, tail):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()
