# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client of the CC-Gateway AgentGateway API: transport, the GUID, retcodes and response shapes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils import _retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the module's missing_required_lib path
    requests = None
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
    def verify(self) -> bool | str:
        if not self.validate_certs:
            return False
        # What requests would take from the environment with trust_env, read once instead of per request.
        return (
            self.ca_path or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )

    @property
    def cert(self) -> str | tuple[str, str] | None:
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return self.client_cert


def now_ms() -> int:
    return int(time.time() * 1000)


def guid_from_header(value: str) -> str:
    """Take the GUID out of a Set-GUID header value ('JSESSIONID=<guid>')."""
    value = value.strip()
    if value.startswith(GUID_PREFIX):
        value = value[len(GUID_PREFIX) :]
    return value.split(";", 1)[0].strip()


_SHARED_ADAPTERS: dict[int, Any] = {}


def shared_adapter(pool_size: int = 10) -> Any:
    """One connection pool per process and size, so loop items and batch agents reuse connections."""
    adapter = _SHARED_ADAPTERS.get(pool_size)
    if adapter is None:
        retry = Retry(
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
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
        _SHARED_ADAPTERS[pool_size] = adapter
    return adapter


@lru_cache(maxsize=16)
def environment_proxies(url: str) -> dict[str, str]:
    """Proxies for url from HTTPS_PROXY/NO_PROXY and friends, as requests would find them per request."""
    return requests.utils.get_environ_proxies(url)


def new_http_session(pool_size: int = 10) -> Any:
    """A requests session of one agent (its own cookies) on the shared connection pool.

    trust_env is off because requests would scan the whole environment on every request; the client
    passes what it would have found (proxies, CA bundle) itself.
    """
    http = requests.Session()
    http.trust_env = False
    adapter = shared_adapter(pool_size)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


class GatewayClient:
    """One agent's conversation with one gateway: keeps the current GUID and the cookies."""

    def __init__(self, settings: ConnectionSettings, agent_id: int, http: Any = None) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.guid: str | None = None
        self.http = http if http is not None else new_http_session()

    # -- cookies, so a load balancer keeps sending this agent to the same gateway node

    def export_cookies(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "value": c.value, "domain": c.domain, "path": c.path} for c in self.http.cookies
        ]

    def import_cookies(self, cookies: list[dict[str, Any]]) -> None:
        for cookie in cookies or []:
            self.http.cookies.set(
                cookie["name"], cookie["value"], domain=cookie.get("domain", ""), path=cookie.get("path", "/")
            )

    # -- transport

    def _describe_target(self, method: str, path: str) -> str:
        return f"{method} {self.settings.gateway_url.rstrip('/')}{API_ROOT}{path}"

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, authenticated: bool, hold: float = 0.0
    ) -> Any:
        headers = {"Content-Type": JSON_CONTENT_TYPE, "Accept": "application/json"}
        if authenticated:
            headers["Guid"] = self.guid or ""
        target = self._describe_target(method, path)
        try:
            return self.http.request(
                method,
                self.settings.base_url + path,
                json=body,
                headers=headers,
                timeout=(self.settings.timeout, self.settings.timeout + hold),
                verify=self.settings.verify,
                cert=self.settings.cert,
                proxies=environment_proxies(self.settings.base_url),
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise TransportError(
                f"TLS verification failed for {target}: {_root_cause(exc)}. "
                "Point ca_path at the CA bundle that signed the gateway's certificate "
                "(or set validate_certs: false for a lab gateway).",
                request_sent=False,
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise TransportError(
                f"Timed out connecting to {target} after {self.settings.timeout:g} s "
                f"({CONNECT_RETRIES + 1} attempts); nothing was sent.",
                request_sent=False,
            ) from None
        except requests.exceptions.ReadTimeout:
            raise self._read_timeout(target) from None
        except requests.exceptions.ConnectionError as exc:
            if _is_read_timeout(exc):
                raise self._read_timeout(target) from None
            cause = _root_cause(exc)
            if _is_refused(exc):
                raise TransportError(
                    f"Cannot connect to {self.settings.gateway_url.rstrip('/')} for {method} {API_ROOT}{path}: {cause} "
                    f"({CONNECT_RETRIES + 1} attempts); check gateway_url and that the gateway is running; "
                    "nothing was sent.",
                    request_sent=False,
                ) from None
            raise TransportError(
                f"The connection to {target} broke before an answer arrived ({cause}); "
                "the gateway may have received the request.",
                request_sent=True,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"Request {target} failed: {_root_cause(exc)}", request_sent=True) from None

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
        set_guid = response.headers.get("Set-GUID")
        if set_guid:
            self.guid = guid_from_header(set_guid)
        if response.status_code != 200:
            raise TransportError(
                f"HTTP {response.status_code} {response.reason or ''} from {target}; "
                "the gateway answers business errors with HTTP 200, so this is a server or proxy fault.",
                request_sent=True,
            )
        try:
            envelope = response.json()
        except (ValueError, RecursionError):
            snippet = response.text[:80]
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


def _is_read_timeout(exc: BaseException) -> bool:
    return any(type(cause).__name__ == "ReadTimeoutError" for cause in _causes(exc))
