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
    "play_fail",
    "body",
    "raw",
    "truncated",
    "oversized",
    "split",
    "chunked",
    "stray",
    "slow",
)
# Kinds that a handler takes itself, once the request has passed its checks (not taken on arrival).
HANDLER_KINDS = ("record_fail", "play_fail")
# Kinds that change only how a normal answer goes on the wire (the request is handled as usual).
SHAPE_KINDS = ("split", "chunked", "stray", "slow")
# Every key a shape spec may hold; anything else is refused (a misspelt key would silently mean a default).
SHAPE_KEYS = {
    "split": {"pieces", "delay", "head_apart"},
    "chunked": {"pieces", "delay"},
    "stray": {"delay", "body", "guid"},
    "slow": {"interval", "limit", "slow_head"},
}
COMMON_KEYS = {"kind", "method", "path", "count"}
PIECES_MAX = 1000
DELAY_MAX = 300.0
SLOW_LIMIT_MAX = 3600.0
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
    pieces: int = 0
    head_apart: bool = False
    interval: float = 0.0
    limit: float = 0.0
    slow_head: bool = False
    stray_body: str | None = None
    guid: str | None = None

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
        elif self.kind in SHAPE_KINDS:
            data.update(self.shape_view())
        return data

    def shape_view(self) -> dict[str, Any]:
        """The parameters of a shape kind, defaults filled in."""
        if self.kind == "split":
            return {"pieces": self.pieces, "delay": self.delay, "head_apart": self.head_apart}
        if self.kind == "chunked":
            return {"pieces": self.pieces, "delay": self.delay}
        if self.kind == "stray":
            return {"delay": self.delay, "body": self.stray_body, "guid": self.guid}
        return {"interval": self.interval, "limit": self.limit, "slow_head": self.slow_head}


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


def _bounded(spec: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = spec.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise FaultError(f"{key!r} must be a number of seconds {low:g}-{high:g}")
    return float(value)


def _positive(spec: dict[str, Any], key: str, default: float, high: float) -> float:
    value = _bounded(spec, key, default, 0.0, high)
    if value <= 0:
        raise FaultError(f"{key!r} must be a number of seconds > 0 (at most {high:g})")
    return value


def _flag(spec: dict[str, Any], key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise FaultError(f"{key!r} must be true or false")
    return value


def _pieces(spec: dict[str, Any], low: int) -> int:
    value = spec.get("pieces", 2)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= PIECES_MAX:
        raise FaultError(f"'pieces' must be an integer {low}-{PIECES_MAX}")
    return value


def _optional_text(spec: dict[str, Any], key: str, header: bool) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FaultError(f"{key!r} must be a string or null")
    if header and (not value or not value.isascii() or not value.isprintable() or " " in value):
        raise FaultError(f"{key!r} must be printable ASCII without spaces (a header value)")
    return value


def set_shape(fault: Fault, spec: dict[str, Any]) -> None:
    """Read a shape kind's parameters from its spec, defaults filled in."""
    unknown = set(spec) - COMMON_KEYS - SHAPE_KEYS[fault.kind]
    if unknown:
        raise FaultError(f"unknown keys for {fault.kind}: {', '.join(sorted(unknown))}")
    if fault.kind == "split":
        fault.pieces = _pieces(spec, 2)
        fault.delay = _bounded(spec, "delay", 0.02, 0.0, DELAY_MAX)
        fault.head_apart = _flag(spec, "head_apart")
    elif fault.kind == "chunked":
        fault.pieces = _pieces(spec, 1)
        fault.delay = _bounded(spec, "delay", 0.02, 0.0, DELAY_MAX)
    elif fault.kind == "stray":
        fault.delay = _bounded(spec, "delay", 0.05, 0.0, DELAY_MAX)
        fault.stray_body = _optional_text(spec, "body", header=False)
        fault.guid = _optional_text(spec, "guid", header=True)
    else:
        fault.interval = _positive(spec, "interval", 1.0, 60.0)
        fault.limit = _positive(spec, "limit", 30.0, SLOW_LIMIT_MAX)
        fault.slow_head = _flag(spec, "slow_head")


def _matcher(spec: dict[str, Any]) -> tuple[str | None, str | None, re.Pattern[str] | None]:
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
    return method.upper() if method else None, path, pattern


def standing_shape(spec: Any) -> Fault:
    """The answer_shape setting: a shape for every matching answer, without a count.

    `spec` is a shape kind's name or a fault spec of a shape kind (method and path filters allowed).
    """
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise FaultError("must be a shape kind or an object with 'kind'")
    kind = spec.get("kind")
    if kind not in SHAPE_KINDS:
        raise FaultError(f"kind must be one of {', '.join(SHAPE_KINDS)}")
    if "count" in spec:
        raise FaultError("takes no 'count' (it applies to every matching answer)")
    method, path, pattern = _matcher(spec)
    fault = Fault(0, kind, method, path, pattern, 0)
    set_shape(fault, spec)
    return fault


def shape_setting(fault: Fault) -> dict[str, Any]:
    """How a standing shape is shown in /_sim/config (what it was given, defaults filled in)."""
    return {"kind": fault.kind, "method": fault.method, "path": fault.path, **fault.shape_view()}


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
        method, path, pattern = _matcher(spec)
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FaultError("'count' must be an integer >= 1")
        self.last_id += 1
        fault = Fault(self.last_id, kind, method, path, pattern, count)
        if kind in SHAPE_KINDS:
            set_shape(fault, spec)
        elif kind == "latency":
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

    def take(self, method: str, tail: str, kind: str | None = None) -> Fault | None:
        """Consume one use of the earliest matching fault: of `kind` when given (a handler's own kind),
        else of any kind but the handlers' own."""
        for fault in self.faults:
            wanted = fault.kind == kind if kind is not None else fault.kind not in HANDLER_KINDS
            if wanted and fault.matches(method, tail):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()
