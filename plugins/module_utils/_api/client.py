# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client of the CC-Gateway AgentGateway API: transport, the GUID, retcodes and response shapes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import (
    http_sync,
    retcodes,
    route,
    schemas,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.errors import (
    GatewayError,
    ResponseShapeError,
    RetcodeError,
    TransportError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_sync import REQUESTS_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.route import API_ROOT, Route, gateway_base

if TYPE_CHECKING:  # the keeper's transport: only the keeper, which imports it, hands one in
    from ansible_collections.cec.cc_gateway.plugins.module_utils._api import http_async

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
GUID_PREFIX = "JSESSIONID="
# How much longer than timeout an event poll may take: the gateway holds polls that have no event for about
# 10 s (AGENT_POLL_WAIT_TIMES x AGENT_POLL_WAIT_INTERVAL).
EVENT_POLL_HOLD = 15.0

__all__ = ["REQUESTS_IMPORT_ERROR", "GatewayError", "ResponseShapeError", "RetcodeError", "TransportError"]


@dataclass(frozen=True)
class ConnectionSettings:
    gateway_url: str
    validate_certs: bool = True
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    timeout: float = 30.0

    @property
    def base_url(self) -> str:
        return route.gateway_base(self.gateway_url) + API_ROOT

    @property
    def plain_http(self) -> bool:
        return route.plain_http(self.gateway_url)

    def route(self) -> Route:
        """Proxies, trust and client certificate as requests resolves them, with absolute paths."""
        return _route(self.gateway_url, self.validate_certs, self.ca_path, self.client_cert, self.client_key)


@lru_cache(maxsize=16)
def _route(
    gateway_url: str,
    validate_certs: bool,
    ca_path: str | None,
    client_cert: str | None,
    client_key: str | None,
) -> Route:
    return route.resolve_route(gateway_url, validate_certs, ca_path, client_cert, client_key)


def sign_in_body(password: str, phone_number: str) -> dict[str, Any]:
    return {"password": password, "phonenum": phone_number, "status": 4, "releasephone": True}


def check_sign_in(password: str, phone_number: str) -> None:
    """Check the sign-in body these credentials make; raises SchemaViolation naming the options."""
    schemas.check(
        sign_in_body(password, phone_number),
        schemas.SIGN_IN_REQUEST,
        secret_fields=("password",),
        names={"phonenum": "phone_number"},
    )


def _envelope_fields(envelope: Any) -> Any:
    """What the envelope check looks at: retcode and message. The rest (result, event) is the operation's to check,
    and only in an answer that succeeded: a refusal is its retcode, whatever else came with it."""
    if not isinstance(envelope, dict):
        return envelope
    return {key: envelope[key] for key in ("retcode", "message") if key in envelope}


def now_ms() -> int:
    return int(time.time() * 1000)


def guid_from_header(value: str) -> str:
    """Take the GUID out of a Set-GUID header value ('JSESSIONID=<guid>')."""
    value = value.strip()
    if value.startswith(GUID_PREFIX):
        value = value[len(GUID_PREFIX) :]
    return value.split(";", 1)[0].strip()


def describe_failure(
    failure: TransportError, gateway_url: str, target: str, route: Route, timeout: float
) -> str:
    """The sentence for a failed exchange: each kind of failure its own, so users look in the right place."""
    gateway = gateway_base(gateway_url)
    kind = failure.kind
    reason = failure.reason
    tries = f" ({failure.attempts} attempts)" if failure.attempts > 1 else ""
    if kind == "certificate":
        return (
            f"TLS verification of the gateway's certificate failed for {target}: {reason}. Point ca_path at the "
            "CA bundle that signed the gateway's certificate (or set validate_certs: false for a lab gateway); "
            "nothing was sent."
        )
    if kind == "wrong_scheme":
        return (
            f"gateway_url {gateway} has the wrong scheme for its port: {reason} (the gateway's default port 8043 "
            f"speaks HTTPS). {target} was not understood, so the gateway acted on nothing."
        )
    if kind == "tls":
        return (
            f"The TLS handshake with {gateway} was broken off by the other side ({reason}){tries}, before the "
            f"request for {target} was sent. The gateway (or a load balancer in front of it) closed the connection: it "
            "may be overloaded or out of file descriptors, or it does not speak TLS on this port; certificates "
            "were not the problem."
        )
    if kind == "tls_setup":
        return (
            f"The TLS files cannot be used for {target}: {reason}. Check ca_path, client_cert and client_key "
            "(and REQUESTS_CA_BUNDLE); nothing was sent."
        )
    if kind == "refused":
        return (
            f"{gateway} refused the connection for {target}{tries}: nothing listens "
            "there. Check gateway_url and that the gateway runs; nothing was sent."
        )
    if kind == "connect_timeout":
        return (
            f"Timed out connecting to {gateway} for {target} after {timeout:g} s{tries}: a firewall may drop the "
            "connection, or the host is down; nothing was sent."
        )
    if kind == "connect":
        return f"Cannot connect to {gateway} for {target}: {reason}. Check gateway_url; nothing was sent."
    if kind == "proxy":
        return (
            f"The proxy {route.proxy_shown or '(from the environment)'} failed or refused the connection to {gateway} "
            f"for {target}: {reason}. Check HTTPS_PROXY/HTTP_PROXY and NO_PROXY; nothing was sent."
        )
    if kind == "url":
        return f"{target} was not sent: {reason}."
    if kind == "read_timeout":
        return f"No answer from {target} within timeout={timeout:g} s; the gateway may have received the request."
    if kind == "too_large":
        return (
            f"The answer to {target} is larger than {http_sync.MAX_BODY // 1024} KiB ({reason}); a gateway "
            "answers a few hundred bytes, so something else answered (a proxy's or load balancer's page?). "
            "The gateway may have received the request."
        )
    if kind == "not_utf8":
        return f"The answer to {target} is not a UTF-8 JSON document: {reason}."
    return (
        f"The connection to {target} broke before an answer arrived ({reason}); the gateway may have received "
        "the request."
    )


class GatewayClient:
    """One agent's conversation with one gateway: keeps the current GUID and the cookies."""

    def __init__(
        self,
        settings: ConnectionSettings,
        agent_id: int,
        pool_size: int = 10,
        route: Route | None = None,
        sync: bool = True,
        transport: Any = None,
    ) -> None:
        """sync=False for the keeper, which polls through its AsyncTransport (poll_event_async) only; transport:
        one with Transport's request() and stream() for this route (a large batch's http_bridge.LoopTransport),
        instead of the process's requests Transport."""
        self.settings = settings
        self.agent_id = agent_id
        self.guid: str | None = None
        self.cookies: dict[str, str] = {}
        self.route = route or settings.route()
        if transport is None and sync:
            transport = http_sync.transport_for(self.route, pool_size)
        self.transport = transport

    # -- cookies, so a load balancer keeps sending this agent to the same gateway node

    def export_cookies(self) -> list[dict[str, Any]]:
        return [{"name": name, "value": value} for name, value in self.cookies.items()]

    def import_cookies(self, cookies: list[dict[str, Any]]) -> None:
        for cookie in cookies or []:
            if cookie.get("name"):
                self.cookies[cookie["name"]] = cookie.get("value", "")

    # -- transport

    def describe_target(self, method: str, path: str) -> str:
        """A request as messages show it: its method and whole URL."""
        return f"{method} {self.settings.base_url}{path}"

    def request_headers(self, authenticated: bool) -> dict[str, str]:
        """The headers of a request; an authenticated one carries the agent's GUID."""
        headers = {"Content-Type": JSON_CONTENT_TYPE}
        if authenticated:
            headers["Guid"] = self.guid or ""
        return headers

    def _failure(self, exc: TransportError, method: str, path: str) -> TransportError:
        message = describe_failure(
            exc,
            self.settings.gateway_url,
            self.describe_target(method, path),
            self.route,
            self.settings.timeout,
        )
        return exc.described(message)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, authenticated: bool, hold: float = 0.0
    ) -> http_sync.Answer:
        headers = self.request_headers(authenticated)
        timeout = self.settings.timeout
        try:
            return self.transport.request(
                method,
                API_ROOT + path,
                headers,
                json.dumps(body).encode("utf-8") if body is not None else None,
                cookies=self.cookies,
                timeout=(timeout, timeout + hold),
            )
        except TransportError as exc:
            raise self._failure(exc, method, path) from None

    def call(
        self,
        method: str,
        path: str,
        operation: str,
        body: dict[str, Any] | None = None,
        authenticated: bool = True,
        hold: float = 0.0,
    ) -> dict[str, Any]:
        """Send one request; return the parsed envelope of a retcode-0 answer, raise GatewayError otherwise."""
        answer = self._send(method, path, body, authenticated, hold)
        return self.read_envelope(answer, method, path, operation)

    def take_session(self, answer: http_sync.Answer) -> None:
        """The load balancer's cookies and a rotated GUID, from any answer."""
        self.cookies.update(answer.cookies)
        set_guid = answer.headers.get("Set-GUID")
        if set_guid:
            self.guid = guid_from_header(set_guid)

    def read_envelope(
        self, answer: http_sync.Answer, method: str, path: str, operation: str
    ) -> dict[str, Any]:
        """What an answer means: the envelope of a retcode-0 answer; GUID and cookies taken from any answer."""
        target = self.describe_target(method, path)
        self.take_session(answer)
        if answer.status != 200:
            raise TransportError(
                "http_status",
                f"HTTP {answer.status} {answer.reason}",
                True,
                f"HTTP {answer.status} {answer.reason} from {target}; "
                "the gateway answers business errors with HTTP 200, so this is a server or proxy fault.",
            )
        try:
            envelope = json.loads(answer.json_text())
        except TransportError as exc:
            raise exc.described(f"The answer to {target} is not JSON: {exc.reason}.") from None
        except (ValueError, RecursionError):
            snippet = answer.body[:80].decode("utf-8", "replace")
            raise TransportError(
                "not_json",
                f"starts with {snippet!r}",
                True,
                f"The answer to {target} is not JSON (starts with {snippet!r}).",
            ) from None
        try:
            schemas.check(
                _envelope_fields(envelope), schemas.RESPONSE_ENVELOPE, prefix="response.", parsed=True
            )
        except schemas.SchemaViolation as exc:
            raise ResponseShapeError(f"Unexpected answer to {target}: {exc}") from None
        retcode = envelope["retcode"]
        if retcode != retcodes.SUCCESS:
            raise RetcodeError(retcode, envelope.get("message") or "", self.agent_id, operation)
        return envelope

    def _checked(self, envelope: dict[str, Any], schema: dict[str, Any], operation: str) -> dict[str, Any]:
        try:
            schemas.check(envelope, schema, prefix="response.", parsed=True)
        except schemas.SchemaViolation as exc:
            raise ResponseShapeError(
                f"Unexpected answer to {operation} for agent {self.agent_id}: {exc}"
            ) from None
        return envelope

    # -- operations

    def sign_in(self, password: str, phone_number: str, force: bool = False) -> dict[str, Any]:
        """Sign the agent in (forcibly when force); keep the GUID from Set-GUID."""
        body = sign_in_body(password, phone_number)
        path = f"onlineagent/{self.agent_id}" + ("/forcelogin" if force else "")
        self.guid = None
        envelope = self.call("PUT", path, "force_sign_in" if force else "sign_in", body, authenticated=False)
        if not self.guid:
            raise ResponseShapeError(
                f"The gateway signed agent {self.agent_id} in but sent no Set-GUID header, so no later call "
                "could authenticate."
            )
        return envelope.get("result") or {}

    def sign_out(self) -> None:
        self.call("DELETE", f"onlineagent/{self.agent_id}/logout", "sign_out")

    def agent_status(self) -> dict[str, Any]:
        envelope = self.call("GET", f"onlineagent/{self.agent_id}/agentstatus", "agent_status")
        return self._checked(envelope, schemas.AGENT_STATUS_RESPONSE, "agent_status")["result"]

    def start_recording(self, body: dict[str, Any]) -> str:
        """PUT recordplay/{agentid}/record; return the recording task id as a string."""
        envelope = self.call("PUT", f"recordplay/{self.agent_id}/record", "start_recording", body)
        task_id = self._checked(envelope, schemas.RECORD_RESPONSE, "start_recording")["result"]["taskId"]
        if not isinstance(task_id, (str, int)):
            # JSON Schema counts 5086.0 as an integer; a task id is digits or an int, nothing else.
            raise ResponseShapeError(
                f"Unexpected answer to start_recording for agent {self.agent_id}: "
                f"response.result.taskId: {task_id!r} is neither a string of digits nor an integer"
            )
        return str(task_id)

    def stop_recording(self) -> None:
        self.call("DELETE", f"recordplay/{self.agent_id}/stoprecord", "stop_recording")

    def pause_recording(self) -> None:
        self.call("POST", f"recordplay/{self.agent_id}/pauserecord", "pause_recording")

    def resume_recording(self) -> None:
        self.call("POST", f"recordplay/{self.agent_id}/resumerecord", "resume_recording")

    def start_playback(self, body: dict[str, Any]) -> None:
        """PUT recordplay/{agentid}/play: play a voice file to the agent (the answer's result is reserved)."""
        self.call("PUT", f"recordplay/{self.agent_id}/play", "start_playback", body)

    def pause_playback(self) -> None:
        self.call("POST", f"recordplay/{self.agent_id}/pauseplay", "pause_playback")

    def resume_playback(self) -> None:
        self.call("POST", f"recordplay/{self.agent_id}/resumeplay", "resume_playback")

    def stop_playback(self) -> None:
        self.call("DELETE", f"recordplay/{self.agent_id}/stopplay", "stop_playback")

    def poll_event(self) -> dict[str, Any] | None:
        """One event poll: the gateway answers at once with an event, or after holding about 10 s with none."""
        envelope = self.call("GET", f"agentevent/{self.agent_id}", "poll_events", hold=EVENT_POLL_HOLD)
        return self._event_of(envelope)

    async def call_async(
        self,
        keeper_transport: http_async.AsyncTransport,
        method: str,
        path: str,
        operation: str,
        hold: float = 0.0,
    ) -> dict[str, Any]:
        """call, without a body, through the keeper's asynchronous transport."""
        timeout = self.settings.timeout
        try:
            answer = await keeper_transport.request(
                method,
                API_ROOT + path,
                self.request_headers(authenticated=True),
                cookies=self.cookies,
                timeout=(timeout, timeout + hold),
            )
        except TransportError as exc:
            raise self._failure(exc, method, path) from None
        return self.read_envelope(answer, method, path, operation)

    async def poll_event_async(self, keeper_transport: http_async.AsyncTransport) -> dict[str, Any] | None:
        """poll_event through the keeper's asynchronous transport."""
        path = f"agentevent/{self.agent_id}"
        envelope = await self.call_async(keeper_transport, "GET", path, "poll_events", hold=EVENT_POLL_HOLD)
        return self._event_of(envelope)

    def _event_of(self, envelope: dict[str, Any]) -> dict[str, Any] | None:
        event = self._checked(envelope, schemas.EVENT_RESPONSE, "poll_events").get("event")
        if event is None:
            return None
        return {
            "event_type": event.get("eventType"),
            "content": event.get("content"),
            "received_at": now_ms(),
        }
