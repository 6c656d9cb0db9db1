# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where requests go: the gateway URL normalised (the one place), and the Route requests resolves for it.

Proxies, NO_PROXY, the CA bundle and client certificates are resolved by requests itself, once, when a route is
made; the keeper is handed that resolved route, so it uses what the task that started it used.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any, Tuple, Union  # noqa: UP035 - Tuple: evaluated at import on Python 3.8 hosts
from urllib.parse import urlsplit

try:
    import requests
except ImportError:  # pragma: no cover - reported by the modules through missing_required_lib
    requests = None

API_ROOT = "/agentgateway/resource/"


def gateway_base(gateway_url: str) -> str:
    """gateway_url as every request, message and route uses it: without surrounding blanks or trailing /."""
    return gateway_url.strip().rstrip("/")


def gateway_key(gateway_url: str) -> str:
    """gateway_url as the session store files sessions under: gateway_base, lower case."""
    return gateway_base(gateway_url).lower()


def plain_http(gateway_url: str) -> bool:
    return gateway_key(gateway_url).startswith("http://")


Verify = Union[bool, str]
Cert = Union[None, str, Tuple[str, str]]  # noqa: UP006


@dataclass(frozen=True)
class Route:
    """How requests reach one gateway: the base URL and what requests resolved for it.

    proxies, verify and cert are requests' own arguments; paths in them are absolute, so the route means the
    same in another process started from another directory (the keeper).
    """

    base_url: str
    proxies: tuple[tuple[str, str], ...] = ()
    verify: Verify = True
    cert: Cert = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "proxies": dict(self.proxies),
            "verify": self.verify,
            "cert": list(self.cert) if isinstance(self.cert, tuple) else self.cert,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        cert = data.get("cert")
        return cls(
            base_url=str(data["base_url"]),
            proxies=tuple(sorted((str(k), str(v)) for k, v in (data.get("proxies") or {}).items())),
            verify=data.get("verify", True),
            cert=tuple(cert) if isinstance(cert, list) else cert,
        )

    @property
    def proxy(self) -> str | None:
        """The proxy requests will use for this route, if any, with its credentials."""
        scheme = urlsplit(self.base_url).scheme.lower()
        proxies = dict(self.proxies)
        host = urlsplit(self.base_url).hostname or ""
        return proxies.get(f"{scheme}://{host}") or proxies.get(scheme) or proxies.get("all")

    @property
    def proxy_shown(self) -> str | None:
        """The proxy for messages and logs: its user and password left out, with or without a scheme."""
        proxy = self.proxy
        if not proxy:
            return None
        credentials, at, host = proxy.rpartition("@")
        if not at:
            return proxy
        scheme = credentials.split("://", 1)[0] + "://" if "://" in credentials else ""
        return f"{scheme}***@{host}"


def unverified_tls_context() -> ssl.SSLContext:
    """A TLS client context that checks no certificate (validate_certs: false, or a probe of what a port speaks):
    a bare one, as ssl.create_default_context() would load the system's CAs for nothing (about 20 ms). It honours
    SSLKEYLOGFILE as that and urllib3's do."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:
        context.keylog_filename = keylog
    return context


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve_route(
    gateway_url: str,
    validate_certs: bool = True,
    ca_path: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> Route:
    """The route to a gateway as requests resolves it from these options and the environment.

    HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY (networks included) choose the proxy; ca_path wins over
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which win over requests' own bundle (certifi).
    """
    base_url = gateway_base(gateway_url)
    verify: Verify = (_absolute(ca_path) if ca_path else True) if validate_certs else False
    cert: Cert = None
    if client_cert:
        cert = (_absolute(client_cert), _absolute(client_key)) if client_key else _absolute(client_cert)
    resolved = requests.Session().merge_environment_settings(base_url + "/", {}, None, verify, cert)
    verify = resolved["verify"]
    if isinstance(verify, str):
        verify = _absolute(verify)
    proxies = tuple(sorted((str(k), str(v)) for k, v in (resolved["proxies"] or {}).items() if v))
    return Route(base_url, proxies, verify, resolved["cert"])
