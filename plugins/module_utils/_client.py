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

from ansible_collections.cec.cc_gateway.plugins.module_utils import _retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas

try:
    # requests is the declared dependency; its own transport, urllib3, and CA bundle, certifi, carry the
    # requests: at a thousand agents per task, requests' per-request overhead (sessions, hooks, merging
    # the environment) cost twice the HTTP exchanges themselves, and importing it a quarter second a task.
    import certifi
    import urllib3
    from urllib3.util.retry import Retry

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the module's missing_required_lib path
    urllib3 = None
    REQUESTS_IMPORT_ERROR = exc

API_ROOT = "/agentgateway/resource/"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
GUID_PREFIX = "JSESSIONID="
# How much longer than timeout an event poll may take: the gateway holds polls that have no event.
EVENT_POLL_HOLD = 15.0
# Connection attempts that failed before anything was sent are the only ones retried.
CONNECT_RETRIES = 2


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

    def pool_options(self) -> dict[str, Any]:
        """urllib3 connection-pool options for these TLS settings."""
        if not self.base_url.lower().startswith("https"):
            return {}
        options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if self.validate_certs else "CERT_NONE"}
        if self.validate_certs:
            options["ca_certs"] = self.ca_bundle
        else:
            options["assert_hostname"] = False
        if self.client_cert:
            options["cert_file"] = self.client_cert
            options["key_file"] = self.client_key
        return options


def now_ms() -> int:
    return int(time.time() * 1000)


def guid_from_header(value: str) -> str:
    """Take the GUID out of a Set-GUID header value ('JSESSIONID=<guid>')."""
    value = value.strip()
    if value.startswith(GUID_PREFIX):
        value = value[len(GUID_PREFIX) :]
    return value.split(";", 1)[0].strip()


_POOL_MANAGERS: dict[tuple[int, str | None], Any] = {}


def retry_policy() -> Any:
    # Only connection attempts that failed before anything was sent are retried.
    return Retry(
        total=CONNECT_RETRIES,
        connect=CONNECT_RETRIES,
        read=0,
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.2,
        allowed_methods=None,
        raise_on_status=False,
    )


@lru_cache(maxsize=16)
def environment_proxies(url: str) -> dict[str, str]:
    """Proxies for url from HTTPS_PROXY/NO_PROXY and friends, as requests finds them."""
    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return {}
    return urllib.request.getproxies()


def pool_manager(url: str, pool_size: int = 10) -> Any:
    """One connection pool per process (and proxy and size): loop items and batch agents reuse connections."""
    scheme = url.split(":", 1)[0].lower()
    proxy = environment_proxies(url).get(scheme) or environment_proxies(url).get("all")
    key = (pool_size, proxy)
    manager = _POOL_MANAGERS.get(key)
    if manager is None:
        if proxy:
            manager = urllib3.ProxyManager(proxy, num_pools=4, maxsize=pool_size, retries=retry_policy())
        else:
            manager = urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=retry_policy())
        _POOL_MANAGERS[key] = manager
    return manager


class GatewayClient:
    """One agent's conversation with one gateway: keeps the current GUID and the cookies."""

    def __init__(self, settings: ConnectionSettings, agent_id: int, pool_size: int = 10) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.guid: str | None = None
        self.cookies: dict[str, str] = {}
        manager = pool_manager(settings.base_url, pool_size)
        self.pool = manager.connection_from_url(settings.base_url, pool_kwargs=settings.pool_options())
        # Through a plain-HTTP proxy the request line carries the whole URL; otherwise only the path.
        through_http_proxy = isinstance(manager, urllib3.ProxyManager) and settings.base_url.startswith(
            "http:"
        )
        self.request_prefix = settings.base_url if through_http_proxy else urlsplit(settings.base_url).path

    # -- cookies, so a load balancer keeps sending this agent to the same gateway node

    def export_cookies(self) -> list[dict[str, Any]]:
        return [{"name": name, "value": value} for name, value in self.cookies.items()]

    def import_cookies(self, cookies: list[dict[str, Any]]) -> None:
        for cookie in cookies or []:
            if cookie.get("name"):
                self.cookies[cookie["name"]] = cookie.get("value", "")

    def _take_cookies(self, response: Any) -> None:
        for header in response.headers.getlist("Set-Cookie"):
            name, _equals, rest = header.partition("=")
            if name.strip() and _equals:
                self.cookies[name.strip()] = rest.split(";", 1)[0].strip()

    # -- transport

    def _describe_target(self, method: str, path: str) -> str:
        return f"{method} {self.settings.gateway_url.rstrip('/')}{API_ROOT}{path}"

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, authenticated: bool, hold: float = 0.0
    ) -> Any:
        headers = {"Content-Type": JSON_CONTENT_TYPE, "Accept": "application/json"}
        if authenticated:
            headers["Guid"] = self.guid or ""
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        target = self._describe_target(method, path)
        try:
            return self.pool.request(
                method,
                self.request_prefix + path,
                body=json.dumps(body).encode("utf-8") if body is not None else None,
                headers=headers,
                timeout=urllib3.Timeout(connect=self.settings.timeout, read=self.settings.timeout + hold),
                retries=retry_policy(),
                redirect=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise self._transport_error(exc, method, path, target) from None

    def _transport_error(self, exc: BaseException, method: str, path: str, target: str) -> TransportError:
        causes = _causes(exc)
        kinds = {type(cause).__name__ for cause in causes}
        cause = _root_cause(exc)
        if any(isinstance(c, urllib3.exceptions.SSLError) for c in causes) or "SSLError" in kinds:
            return TransportError(
                f"TLS verification failed for {target}: {cause}. "
                "Point ca_path at the CA bundle that signed the gateway's certificate "
                "(or set validate_certs: false for a lab gateway).",
                request_sent=False,
            )
        if "ConnectTimeoutError" in kinds:
            return TransportError(
                f"Timed out connecting to {target} after {self.settings.timeout:g} s "
                f"({CONNECT_RETRIES + 1} attempts); nothing was sent.",
                request_sent=False,
            )
        if "ReadTimeoutError" in kinds:
            return self._read_timeout(target)
        if _is_refused(exc):
            return TransportError(
                f"Cannot connect to {self.settings.gateway_url.rstrip('/')} for {method} {API_ROOT}{path}: {cause} "
                f"({CONNECT_RETRIES + 1} attempts); check gateway_url and that the gateway is running; "
                "nothing was sent.",
                request_sent=False,
            )
        return TransportError(
            f"The connection to {target} broke before an answer arrived ({cause}); "
            "the gateway may have received the request.",
            request_sent=True,
        )

    def _read_timeout(self, target: str) -> TransportError:
        return TransportError(
            f"No answer from {target} within timeout={self.settings.timeout:g} s; "
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
        set_guid = response.headers.get("Set-GUID")
        if set_guid:
            self.guid = guid_from_header(set_guid)
        if response.status != 200:
            raise TransportError(
                f"HTTP {response.status} {response.reason or ''} from {target}; "
                "the gateway answers business errors with HTTP 200, so this is a server or proxy fault.",
                request_sent=True,
            )
        try:
            envelope = json.loads(response.data)
        except (ValueError, RecursionError):
            snippet = response.data[:80].decode("utf-8", "replace")
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


def _causes(exc: BaseException) -> list[BaseException]:
    """The chain of a requests/urllib3 exception, outermost first.

    They nest their reasons in .reason, in args (beside strings) or as __cause__.
    """
    chain = [exc]
    for _depth in range(10):
        current = chain[-1]
        candidates = [getattr(current, "reason", None), *current.args, current.__cause__, current.__context__]
        inner = next((c for c in candidates if isinstance(c, BaseException) and c not in chain), None)
        if inner is None:
            break
        chain.append(inner)
    return chain


def _root_cause(exc: BaseException) -> str:
    """The innermost reason, without the connection object's repr urllib3 puts in front."""
    text = str(_causes(exc)[-1])
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text


def _is_refused(exc: BaseException) -> bool:
    return any(
        isinstance(cause, ConnectionRefusedError) or type(cause).__name__ == "NewConnectionError"
        for cause in _causes(exc)
    )
