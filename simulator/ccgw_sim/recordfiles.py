"""Recording files: what a stopped recording leaves on the gateway's file server, to download or play.

No bytes are stored. A file is a list of parts (one per recording written into it; `recordMode` 1 appends a
part, 0 starts the file again), and byte i of a part is `(seed + i) % 251`, the seed being the recording's
task id, so every file can be rebuilt exactly from what the admin API shows.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .reqlog import LogEntry

# Bytes per second of recorded speech by recordFormat: 0 the resource's default (taken as 64K A-law, the
# format of SaaS/OP downloads), 1 24K VOX, 2 32K VOX, 3 64K A-law.
BYTES_PER_SECOND = {0: 8000, 1: 3000, 2: 4000, 3: 8000}
FILE_MIN = 1024  # even a recording stopped at once leaves a file (a header's worth of bytes)
FILE_MAX = 1 << 30
FILES_KEPT = 200_000
DOWNLOADS_KEPT = 100_000
FILETYPE_RECORDING = 1  # an agent's own recording; 2 is an IVR or third-party voice message
LOCATION_ID = "256"
PERIOD = 251
PIECE = 65536
# Long enough for any piece at any offset into the period.
_BLOCK = bytes(range(PERIOD)) * (PIECE // PERIOD + 2)


def file_key(name: str) -> str:
    """How the file server tells names apart: `/` and `\\` alike, the drive letter in either case."""
    key = name.replace("\\", "/")
    if len(key) >= 2 and key[1] == ":":
        key = key[0].upper() + key[1:]
    return key


def recorded_size(duration_ms: int, record_format: int, bytes_per_second: int | None) -> int:
    """Bytes a recording of `duration_ms` leaves: by format (or a fixed rate), at least FILE_MIN."""
    rate = bytes_per_second or BYTES_PER_SECOND.get(record_format, BYTES_PER_SECOND[0])
    return min(FILE_MAX, max(FILE_MIN, duration_ms * rate // 1000))


def pattern(seed: int, start: int, length: int) -> bytes:
    """Bytes start..start+length (length <= PIECE) of a part whose byte i is (seed + i) % 251."""
    offset = (seed + start) % PERIOD
    return _BLOCK[offset : offset + length]


@dataclass(frozen=True, slots=True)
class Part:
    seed: int
    size: int
    task_id: str | None


@dataclass(slots=True)
class RecordFile:
    """One file. Never changed in place (but for its cached digest): a write makes a new object, so a
    download in progress keeps the bytes its Content-Length announced."""

    file_name: str
    filetype: int
    location_id: str
    parts: tuple[Part, ...]
    agent_id: int | None
    record_format: int | None
    duration_ms: int | None
    created_at: int
    updated_at: int
    digest: str | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def pieces(self) -> Iterator[bytes]:
        for part in self.parts:
            for start in range(0, part.size, PIECE):
                yield pattern(part.seed, start, min(PIECE, part.size - start))

    def content(self) -> bytes:
        return b"".join(self.pieces())

    def sha256(self) -> str:
        """Computed once (it costs a pass over the bytes), then kept."""
        if self.digest is None:
            hasher = hashlib.sha256()
            for piece in self.pieces():
                hasher.update(piece)
            self.digest = hasher.hexdigest()
        return self.digest

    def view(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "filetype": self.filetype,
            "location_id": self.location_id,
            "size": self.size,
            "sha256": self.sha256(),
            "parts": [{"task_id": p.task_id, "seed": p.seed, "size": p.size} for p in self.parts],
            "agent_id": self.agent_id,
            "record_format": self.record_format,
            "duration_ms": self.duration_ms,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class FileStore:
    """The files by name (as file_key compares them), oldest first; the oldest go beyond FILES_KEPT."""

    def __init__(self) -> None:
        self.files: OrderedDict[str, RecordFile] = OrderedDict()

    def __len__(self) -> int:
        return len(self.files)

    def get(self, name: str) -> RecordFile | None:
        return self.files.get(file_key(name))

    def put(self, record: RecordFile) -> RecordFile:
        key = file_key(record.file_name)
        self.files.pop(key, None)
        self.files[key] = record
        while len(self.files) > FILES_KEPT:
            self.files.popitem(last=False)
        return record

    def write_recording(
        self,
        name: str,
        part: Part,
        record_format: int,
        duration_ms: int,
        agent_id: int,
        append: bool,
        now: int,
    ) -> RecordFile:
        """A stopped recording's bytes: appended to the file of that name (recordMode 1) or a new file."""
        old = self.get(name) if append else None
        if old is not None and old.filetype == FILETYPE_RECORDING:
            return self.put(
                RecordFile(
                    name,
                    FILETYPE_RECORDING,
                    old.location_id,
                    (*old.parts, part),
                    agent_id,
                    record_format,
                    (old.duration_ms or 0) + duration_ms,
                    old.created_at,
                    now,
                )
            )
        return self.put(
            RecordFile(
                name, FILETYPE_RECORDING, LOCATION_ID, (part,), agent_id, record_format, duration_ms, now, now
            )
        )

    def clear(self) -> None:
        self.files.clear()

    def select(self, name: str | None, agent_id: int | None) -> list[RecordFile]:
        if name is not None:
            found = self.get(name)
            return [found] if found is not None and agent_id in (None, found.agent_id) else []
        return [f for f in self.files.values() if agent_id is None or f.agent_id == agent_id]


class Download:
    """One `GET recordfile/{agentid}` as it arrived (query values as sent, null when absent) and what was
    sent back: the request log entry has the status, retcode and fault; this adds the file and its bytes."""

    __slots__ = (
        "agent_id",
        "complete",
        "entry",
        "file",
        "filetype",
        "location_id",
        "record_id",
        "sent",
        "sha256",
    )

    def __init__(self, entry: LogEntry, agent_id: int | None, query: dict[str, str]) -> None:
        self.entry = entry
        self.agent_id = agent_id
        self.record_id = query.get("recordId")
        self.filetype = query.get("filetype")
        self.location_id = query.get("locationId")
        self.file: RecordFile | None = None
        self.sent = 0
        self.complete = False
        self.sha256: str | None = None

    def finished(self, digest: str) -> None:
        self.complete = True
        self.sha256 = digest

    def view(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "seq": entry.seq,
            "time": entry.time,
            "agent_id": self.agent_id,
            "record_id": self.record_id,
            "filetype": self.filetype,
            "location_id": self.location_id,
            "http_status": entry.http_status,
            "retcode": entry.retcode,
            "fault": entry.fault,
            "file_name": self.file.file_name if self.file is not None else None,
            "size": self.file.size if self.file is not None else None,
            "sent": self.sent,
            "complete": self.complete,
            "sha256": self.sha256,
        }
