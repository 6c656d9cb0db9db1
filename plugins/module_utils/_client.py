# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client of the CC-Gateway AgentGateway API: transport, the GUID, retcodes and response shapes."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.cec.cc_gateway.plugins.module_utils import _http as http
from ansible_collections.cec.cc_gateway.plugins.module_utils import _retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas

try:
    # requests is the declared dependency; its CA bundle, certifi, is the default trust store, as with
    # requests. The exchanges themselves go through _http (see there why not requests or urllib3).
    import certifi

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the module's missing_required_lib path
    certifi = None
    REQUESTS_IMPORT_ERROR = exc

API_ROOT = "/agentgateway/resource/"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
GUID_PREFIX = "JSESSIONID="
# How much longer than timeout an event poll may take: the gateway holds polls that have no event.
EVENT_POLL_HOLD = 15.0
CONNECT_RETRIES = http.CONNECT_RETRIES


class GatewayError(Exception):
    """Anything that kept an operation from succeeding; str() is the sentence shown to the user."""


class TransportError(GatewayError):
    """The HTTP exchange itself failed (TLS, refused, timeout, HTTP status, body that is not JSON).

    request_sent tells whether the gateway may have acted on the request: False when provably not.
    """

    def __init__(self, message: str, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class ResponseShapeError(GatewayError):
    """The gateway answered JSON that does not have the documented shape."""


class RetcodeError(GatewayError):
    """The gateway answered with a non-zero retcode."""

    def __init__(self, retcode: str, gateway_message: str, agent_id: int, operation: str) -> None:
        text = retcodes.describe(retcode, agent_id, operation)
        if gateway_message:
            text += f" (gateway said: {gateway_message})"
        super().__init__(text)
        self.retcode = retcode
        self.gateway_message = gateway_message


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
        return self.gateway_url.rstrip("/") + API_ROOT

    @property
    def ca_bundle(self) -> str | None:
        """The CA bundle to verify against, as requests would choose it; None when not verifying."""
        if not self.validate_certs:
            return None
        return (
            self.ca_path
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )

    def tls_context(self) -> Any:
        """The TLS context for these settings (shared in the process); None for plain HTTP."""
        if not self.base_url.lower().startswith("https"):
            return None
        return http.tls_context(self.validate_certs, self.ca_bundle, self.client_cert, self.client_key)


def now_ms() -> int:
    return int(time.time() * 1000)


def guid_from_header(value: str) -> str:
    """Take the GUID out of a Set-GUID header value ('JSESSIONID=<guid>')."""
    value = value.strip()
    if value.startswith(GUID_PREFIX):
        value = value[len(GUID_PREFIX) :]
    return value.split(";", 1)[0].strip()


@lru_cache(maxsize=16)
def environment_proxies(url: str) -> dict[str, str]:
    """Proxies for url from HTTPS_PROXY/NO_PROXY and friends, as requests finds them."""
    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return {}
    return urllib.request.getproxies()


def connection_pool(settings: ConnectionSettings, pool_size: int = 10) -> http.ConnectionPool:
    """The process's connection pool for the gateway (through the environment's proxy, if any)."""
    url = settings.base_url
    scheme = url.split(":", 1)[0].lower()
    proxies = environment_proxies(url)
    proxy = proxies.get(scheme) or proxies.get("all")
    try:
        endpoint = http.Endpoint.from_url(url, proxy)
    except http.HTTPFailure as exc:
        raise TransportError(
            f"Nothing was sent to {settings.gateway_url}: {exc.reason}.", request_sent=False
        ) from None
    return http.connection_pool(endpoint, settings.tls_context(), pool_size)


class GatewayClient:
    """One agent's conversation with one gateway: keeps the current GUID and the cookies."""

    def __init__(self, settings: ConnectionSettings, agent_id: int, pool_size: int = 10) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.guid: str | None = None
        self.cookies: dict[str, str] = {}
        self.pool = connection_pool(settings, pool_size)
        self.request_prefix = urlsplit(settings.base_url).path

    # -- cookies, so a load balancer keeps sending this agent to the same gateway node

    def export_cookies(self) -> list[dict[str, Any]]:
        return [{"name": name, "value": value} for name, value in self.cookies.items()]

    def import_cookies(self, cookies: list[dict[str, Any]]) -> None:
        for cookie in cookies or []:
            if cookie.get("name"):
                self.cookies[cookie["name"]] = cookie.get("value", "")

    def _take_cookies(self, response: Any) -> None:
        for header in response.cookies:
            name, _equals, rest = header.partition("=")
            if name.strip() and _equals:
                self.cookies[name.strip()] = rest.split(";", 1)[0].strip()

    # -- transport

    def _describe_target(self, method: str, path: str) -> str:
        return f"{method} {self.settings.gateway_url.rstrip('/')}{API_ROOT}{path}"

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, authenticated: bool, hold: float = 0.0
    ) -> http.Response:
        headers = {"Content-Type": JSON_CONTENT_TYPE, "Accept": "application/json"}
        if authenticated:
            headers["Guid"] = self.guid or ""
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        try:
            return self.pool.request(
                method,
                self.request_prefix + path,
                headers,
                json.dumps(body).encode("utf-8") if body is not None else None,
                connect_timeout=self.settings.timeout,
                read_timeout=self.settings.timeout + hold,
            )
        except http.HTTPFailure as exc:
            raise self._transport_error(exc, method, path) from None

    def _transport_error(self, exc: http.HTTPFailure, method: str, path: str) -> TransportError:
        target = self._describe_target(method, path)
        if exc.kind == "tls":
            return TransportError(
                f"TLS verification failed for {target}: {exc.reason}. "
                "Point ca_path at the CA bundle that signed the gateway's certificate "
                "(or set validate_certs: false for a lab gateway).",
                request_sent=False,
            )
        if exc.kind == "connect_timeout":
            return TransportError(
                f"Timed out connecting to {target} after {self.settings.timeout:g} s "
                f"({CONNECT_RETRIES + 1} attempts); nothing was sent.",
                request_sent=False,
            )
        if exc.kind in ("refused", "connect"):
            return TransportError(
                f"Cannot connect to {self.settings.gateway_url.rstrip('/')} for {method} {API_ROOT}{path}: "
                f"{exc.reason} ({CONNECT_RETRIES + 1} attempts); check gateway_url and that the gateway is "
                "running; nothing was sent.",
                request_sent=False,
            )
        if exc.kind in ("proxy", "request"):
            return TransportError(f"{target} was not sent: {exc.reason}.", request_sent=False)
        if exc.kind == "read_timeout":
            return TransportError(
                f"No answer from {target} within timeout={self.settings.timeout:g} s; "
                "the gateway may have received the request.",
                request_sent=True,
            )
        return TransportError(
            f"The connection to {target} broke before an answer arrived ({exc.reason}); "
            "the gateway may have received the request.",
            request_sent=True,
        )

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
        response = self._send(method, path, body, authenticated, hold)
        target = self._describe_target(method, path)
        self._take_cookies(response)
        set_guid = response.headers.get("set-guid")
        if set_guid:
            self.guid = guid_from_header(set_guid)
        if response.status != 200:
            raise TransportError(
                f"HTTP {response.status} {response.reason or ''} from {target}; "
                "the gateway answers business errors with HTTP 200, so this is a server or proxy fault.",
                request_sent=True,
            )
        try:
            envelope = json.loads(response.body)
        except (ValueError, RecursionError):
            snippet = response.body[:80].decode("utf-8", "replace")
            raise TransportError(
                f"The answer to {target} is not JSON (starts with {snippet!r}).", request_sent=True
            ) from None
        try:
            schemas.check(envelope, schemas.RESPONSE_ENVELOPE, prefix="response.")
        except schemas.SchemaViolation as exc:
            raise ResponseShapeError(f"Unexpected answer to {target}: {exc}") from None
        retcode = envelope["retcode"]
        if retcode != retcodes.SUCCESS:
            raise RetcodeError(retcode, envelope.get("message") or "", self.agent_id, operation)
        return envelope

    def _checked(self, envelope: dict[str, Any], schema: dict[str, Any], operation: str) -> dict[str, Any]:
        try:
            schemas.check(envelope, schema, prefix="response.")
        except schemas.SchemaViolation as exc:
            raise ResponseShapeError(
                f"Unexpected answer to {operation} for agent {self.agent_id}: {exc}"
            ) from None
        return envelope

    # -- operations

    def sign_in(self, password: str, phone_number: str, force: bool = False) -> dict[str, Any]:
        """Sign the agent in (forcibly when force); keep the GUID from Set-GUID."""
        body = {"password": password, "phonenum": phone_number, "status": 4, "releasephone": True}
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
        schemas.check(body, schemas.RECORD_REQUEST, prefix="request.")
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

    def poll_event(self) -> dict[str, Any] | None:
        """One event poll: the gateway answers at once with an event, or after holding about 10 s with none."""
        envelope = self.call("GET", f"agentevent/{self.agent_id}", "poll_events", hold=EVENT_POLL_HOLD)
        event = envelope.get("event")
        if not isinstance(event, dict):
            return None
        return {
            "event_type": event.get("eventType"),
            "content": event.get("content"),
            "received_at": now_ms(),
        }
