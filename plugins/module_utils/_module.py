# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every cc_gateway module is built on: shared options, dependencies, the client."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import (
    REQUESTS_IMPORT_ERROR,
    ConnectionSettings,
    GatewayClient,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import JSONSCHEMA_IMPORT_ERROR
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import SessionStore

CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    "gateway_url": {"type": "str", "required": True, "fallback": (env_fallback, ["CC_GATEWAY_URL"])},
    "validate_certs": {
        "type": "bool",
        "default": True,
        "fallback": (env_fallback, ["CC_GATEWAY_VALIDATE_CERTS"]),
    },
    "ca_path": {"type": "path", "fallback": (env_fallback, ["CC_GATEWAY_CA_PATH"])},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "timeout": {"type": "float", "default": 30},
}

AGENT_ARGSPEC: dict[str, dict[str, Any]] = {
    "agent_id": {"type": "int", "required": True},
    "password": {"type": "str", "no_log": True},
    "phone_number": {"type": "str"},
    "guid": {"type": "str", "no_log": True},
    "force_login": {"type": "bool", "default": False},
    "session_dir": {"type": "path", "fallback": (env_fallback, ["CC_GATEWAY_SESSION_DIR"])},
}


def connection_settings(params: dict[str, Any]) -> ConnectionSettings:
    return ConnectionSettings(
        gateway_url=params["gateway_url"],
        validate_certs=params["validate_certs"],
        ca_path=params.get("ca_path"),
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        timeout=params["timeout"],
    )


class CCGatewayModule(AnsibleModule):
    """AnsibleModule with the connection and agent options merged in and the dependencies checked."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        spec = dict(CONNECTION_ARGSPEC)
        spec.update(AGENT_ARGSPEC)
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, **kwargs)
        if REQUESTS_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if JSONSCHEMA_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("jsonschema"), exception=str(JSONSCHEMA_IMPORT_ERROR))

    def gateway_client(self) -> GatewayClient:
        return GatewayClient(connection_settings(self.params), self.params["agent_id"])

    def session_store(self) -> SessionStore:
        return SessionStore(self.params.get("session_dir"))
