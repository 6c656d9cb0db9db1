# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  gateway_url:
    description:
      - Base URL of the CC-Gateway, scheme, host and port only, for example V(https://10.1.1.5:8043).
        Anything else (another scheme, a path, a user name) is refused before any request, and so is a host
        name longer than 253 characters (or with a label longer than 63) and a port outside 1-65535.
      - V(http://) works, with a warning, since the agent's password and the session GUID then travel in clear
        text.
      - In a cluster, the NSLB address with port 8043.
      - The collection adds C(/agentgateway/resource/...) itself.
      - Requests go through the proxy that E(HTTPS_PROXY) (or E(HTTP_PROXY), E(ALL_PROXY)) names, unless
        E(NO_PROXY) matches the host (names, addresses and networks such as V(10.0.0.0/8)), exactly as the
        Python C(requests) library decides; V(https://) proxies work too. Set them with the task's
        C(environment) keyword or in the environment of C(ansible-playbook).
      - If not set, the value of the E(CC_GATEWAY_URL) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the gateway's TLS certificate.
      - Prefer O(ca_path) to turning this off.
      - If not set, the value of the E(CC_GATEWAY_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - Path of a PEM bundle of the CA certificates that may sign the gateway's certificate.
      - Without it the certificate is checked against the bundle named by E(REQUESTS_CA_BUNDLE) (or
        E(CURL_CA_BUNDLE)), or else the bundle of the Python C(certifi) package, not the system store, as
        C(requests) does. O(ca_path) wins over those variables.
      - A relative path is relative to the directory the task runs in.
      - If not set, the value of the E(CC_GATEWAY_CA_PATH) environment variable is used.
    type: path
  client_cert:
    description:
      - Path of a PEM client certificate, for gateways that require mutual TLS.
      - May hold the private key too; otherwise give O(client_key).
    type: path
  client_key:
    description:
      - Path of the PEM private key of O(client_cert).
    type: path
  max_agent_id:
    description:
      - The largest agent ID the gateway's platform takes. Agent IDs above it are refused before anything is
        sent, naming this option.
      - V(59999), the range of the interface documentation, fits the platforms it documents; platforms from
        AICC 25.200.0 on take agent IDs up to V(999999) on every interface.
      - If not set, the value of the E(CC_GATEWAY_MAX_AGENT_ID) environment variable is used.
      - From 101 to 999999.
    type: int
    default: 59999
    version_added: 2.1.0
  timeout:
    description:
      - Seconds for each attempt to connect to the gateway, and for sending each request and reading its whole
        answer, to the last byte (an event poll may take the gateway's hold, about 10 seconds, longer).
      - More than 0, at most 3600; not a number that is not finite.
    type: float
    default: 30
"""
