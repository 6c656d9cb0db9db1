# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recording files (GET recordfile/{agentid}, section 13.1 of the API reference): the download's request, its
answer told apart (the file, or the gateway's JSON envelope of a failure), and the file's bytes counted and hashed
on their way to the caller's writer. Only cc_gateway_recording_file loads it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urlencode

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_sync
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayClient,
    describe_failure,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import (
    ResponseShapeError,
    TransportError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import API_ROOT

# A recording download answers with the file (application/octet-stream, section 13.1 of the API reference; audio/*
# is taken as a file too) or with the JSON envelope of a failure.
FILE_MEDIA_TYPES = ("application/octet-stream",)
DOWNLOAD_ACCEPT = "application/octet-stream, application/json"
# A file answer no longer than this whose bytes are a JSON envelope is the gateway's failure, mislabelled.
ENVELOPE_SNIFF = 64 * 1024


def is_file_type(content_type: str | None) -> bool:
    """Whether a Content-Type names a file's bytes (not a JSON envelope)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in FILE_MEDIA_TYPES or media.startswith("audio/")


@dataclass(frozen=True)
class DownloadedFile:
    """What a download handed to its writer: the byte count, their SHA-256 and the answer's Content-Type."""

    size: int
    sha256: str
    content_type: str


class _FileCapture:
    """Between the transport and the caller's writer: counts and hashes the bytes, keeps the first of them."""

    def __init__(self, open_writer: Callable[[], Callable[[bytes], Any]]) -> None:
        self.open_writer = open_writer
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = bytearray()

    def start(self) -> Callable[[bytes], None]:
        write = self.open_writer()

        def take(piece: bytes) -> None:
            if len(self.head) < ENVELOPE_SNIFF:
                self.head += piece[: ENVELOPE_SNIFF - len(self.head)]
            self.digest.update(piece)
            self.size += len(piece)
            write(piece)

        return take

    def is_envelope(self) -> bool:
        """Whether all the bytes were a JSON object with a retcode (the shape of the gateway's envelope)."""
        if self.size > ENVELOPE_SNIFF:
            return False
        try:
            text = bytes(self.head).decode("utf-8-sig").strip()
            document = json.loads(text) if text.startswith("{") else None
        except (ValueError, RecursionError):
            return False
        return isinstance(document, dict) and "retcode" in document


def recording_file_path(agent_id: int, record_id: str, filetype: int, location_id: int | None) -> str:
    """GET recordfile/{agentid}?recordId=..&filetype=..&locationId=.. (locationId only when given)."""
    query = {"recordId": record_id, "filetype": str(filetype)}
    if location_id is not None:
        query["locationId"] = str(location_id)
    return f"recordfile/{agent_id}?{urlencode(query, quote_via=quote)}"


def recording_file_target(
    client: GatewayClient, record_id: str, filetype: int, location_id: int | None
) -> str:
    """The download request as messages show it (method and URL)."""
    return client.describe_target(
        "GET", recording_file_path(client.agent_id, record_id, filetype, location_id)
    )


def download_recording(
    client: GatewayClient,
    record_id: str,
    filetype: int,
    location_id: int | None,
    open_writer: Callable[[], Callable[[bytes], Any]],
    max_size: int,
    overall: float,
) -> DownloadedFile:
    """Download a recording file (GET recordfile/{agentid}); its bytes go, piece by piece, to the writer that
    open_writer() returns, which is called only when the answer is the file.

    The answer is the file when its status is 200 and its Content-Type a file's, and its bytes are not a
    JSON envelope; anything else is read as the JSON envelope it should be (at most 1 MiB), and raises: a
    non-zero retcode RetcodeError, anything else ResponseShapeError or TransportError. A file of more than
    max_size bytes raises TransportError (kind file_too_large) as soon as that is known; timeout bounds each
    read, overall the whole answer. The caller discards what its writer got whenever this raises.
    """
    path = recording_file_path(client.agent_id, record_id, filetype, location_id)
    target = client.describe_target("GET", path)
    capture = _FileCapture(open_writer)

    def sink_for(head: http_sync.Answer) -> Callable[[bytes], None] | None:
        client.take_session(head)
        if head.status == 200 and is_file_type(head.headers.get("Content-Type")):
            return capture.start()
        return None

    headers = dict(client.request_headers(authenticated=True), Accept=DOWNLOAD_ACCEPT)
    timeout = client.settings.timeout
    try:
        answer = client.transport.stream(
            "GET",
            API_ROOT + path,
            headers,
            sink_for,
            max_size,
            cookies=client.cookies,
            timeout=timeout,
            overall=overall,
        )
    except TransportError as exc:
        raise _download_failure(client, exc, target, max_size, overall) from None
    content_type = answer.headers.get("Content-Type") or ""
    if answer.streamed is None or capture.is_envelope():
        if answer.streamed is not None:
            answer.body = bytes(capture.head)  # a failure's envelope labelled as a file
        try:
            client.read_envelope(answer, "GET", path, "download_recording")
        except TransportError as exc:
            if exc.kind not in ("not_json", "not_utf8"):
                raise
            raise exc.described(
                f"The answer to {target} is neither the recording (its Content-Type is "
                f"{content_type or 'missing'}, not application/octet-stream) nor the gateway's JSON envelope: "
                f"{exc.reason}."
            ) from None
        raise ResponseShapeError(
            f"The answer to {target} is a JSON envelope with retcode 0 (Content-Type {content_type or 'none'}), "
            "not the recording's bytes."
        )
    return DownloadedFile(capture.size, capture.digest.hexdigest(), content_type)


def _download_failure(
    client: GatewayClient, exc: TransportError, target: str, max_size: int, overall: float
) -> TransportError:
    timeout = client.settings.timeout
    if exc.kind == "file_too_large":
        return exc.described(
            f"The recording that {target} answers with is larger than max_size={max_size} bytes ({exc.reason}); "
            "reading stopped there. Raise max_size if a file of that size is expected."
        )
    if exc.kind == "read_timeout":
        return exc.described(
            f"The download {target} did not finish: {exc.reason} (timeout={timeout:g} s bounds each read, "
            f"download_timeout={overall:g} s the whole download). A re-run downloads the file again from its start."
        )
    if exc.kind == "broken":
        return exc.described(
            f"The connection for {target} broke before the whole answer arrived ({exc.reason}). A re-run "
            "downloads the file again from its start."
        )
    return exc.described(describe_failure(exc, client.settings.gateway_url, target, client.route, timeout))
