# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules and their controller-side action plugins (docs: doc_fragments/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible.module_utils.common.parameters import env_fallback
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import ConnectionSettings

CONNECTION: dict[str, dict[str, Any]] = {
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
    "max_agent_id": {
        "type": "int",
        "default": 59999,
        "fallback": (env_fallback, ["CC_GATEWAY_MAX_AGENT_ID"]),
    },
}

AGENT: dict[str, dict[str, Any]] = {
    "agent_id": {"type": "int"},
    "password": {"type": "str", "no_log": True},
    "phone_number": {"type": "str"},
    "guid": {"type": "str", "no_log": True},
    "force_login": {"type": "bool", "default": False},
    "session_dir": {"type": "path", "fallback": (env_fallback, ["CC_GATEWAY_SESSION_DIR"])},
    "max_concurrency": {"type": "int", "default": 20},
}

# What one entry of the batch option `agents` may set for its agent.
BATCH_AGENT_OPTIONS: dict[str, dict[str, Any]] = {
    "agent_id": {"type": "int", "required": True},
    "password": {"type": "str", "no_log": True},
    "phone_number": {"type": "str"},
    "guid": {"type": "str", "no_log": True},
}

RECORDING: dict[str, dict[str, Any]] = {
    "state": {"type": "str", "choices": ["started", "stopped", "paused"], "default": "started"},
    "media_type": {"type": "int", "default": 5},
    "record_mode": {"type": "str", "choices": ["overwrite", "append"], "default": "overwrite"},
    "record_format": {
        "type": "str",
        "choices": ["default", "24k_vox", "32k_vox", "64k_alaw"],
        "default": "default",
    },
    "file_name": {"type": "str"},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "float", "default": 30},
}


@dataclass(frozen=True)
class TaskOptions:
    """The options of the whole task, read once from its parameters; what belongs to one agent goes into the
    module's request instead (TaskRequest.from_params). Values are as given: what is wrong with them is said by
    the task's checks, before anything is sent."""

    connection: ConnectionSettings
    max_agent_id: int | None
    session_dir: str | None
    max_concurrency: int
    batch: bool

    @property
    def gateway_url(self) -> str:
        return self.connection.gateway_url

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TaskOptions:
        return cls(
            connection=ConnectionSettings(
                gateway_url=params["gateway_url"],
                validate_certs=params.get("validate_certs", True),
                ca_path=params.get("ca_path"),
                client_cert=params.get("client_cert"),
                client_key=params.get("client_key"),
                timeout=params.get("timeout", 30.0),
            ),
            max_agent_id=params.get("max_agent_id"),
            session_dir=params.get("session_dir"),
            max_concurrency=params.get("max_concurrency") or 1,
            batch=params.get("agents") is not None,
        )


ONE_AGENT_OR_MANY: dict[str, list[list[str]]] = {
    "mutually_exclusive": [["agent_id", "agents"]],
    "required_one_of": [["agent_id", "agents"]],
}

# cc_gateway_session may also name every agent its session store keeps (all_kept: true, checked by the task,
# since all_kept: false given beside agent_id would count as a second choice here).
SESSION_AGENTS: dict[str, list[list[str]]] = {"mutually_exclusive": [["agent_id", "agents"]]}


def record_spec() -> dict[str, Any]:
    """argument_spec of cc_gateway_record, with the batch form `agents`."""
    agents_entry = dict(BATCH_AGENT_OPTIONS)
    agents_entry["file_name"] = {"type": "str"}
    spec: dict[str, Any] = {}
    spec.update(CONNECTION)
    spec.update(AGENT)
    spec.update(RECORDING)
    spec["agents"] = {"type": "list", "elements": "dict", "options": agents_entry}
    return spec


def session_spec() -> dict[str, Any]:
    """argument_spec of cc_gateway_session, with the batch form `agents`."""
    spec: dict[str, Any] = {}
    spec.update(CONNECTION)
    spec.update(AGENT)
    spec["state"] = {"type": "str", "choices": ["present", "absent"], "default": "present"}
    spec["keepalive"] = {"type": "bool", "default": False}
    spec["keepalive_lease"] = {"type": "float"}
    spec["all_kept"] = {"type": "bool"}
    spec["return_guid"] = {"type": "bool", "default": False}
    spec["agents"] = {"type": "list", "elements": "dict", "options": dict(BATCH_AGENT_OPTIONS)}
    return spec


def event_info_spec() -> dict[str, Any]:
    """argument_spec of cc_gateway_event_info."""
    spec: dict[str, Any] = {}
    spec.update(CONNECTION)
    # The agent options too, unused but accepted, so that defaults set for the whole group apply here.
    spec.update(AGENT)
    spec["agents"] = {
        "type": "list",
        "elements": "dict",
        "options": {"agent_id": {"type": "int", "required": True}},
    }
    spec["event_type"] = {"type": "list", "elements": "str"}
    spec["since"] = {"type": "int"}
    spec["wait_for"] = {"type": "str"}
    spec["wait_timeout"] = {"type": "float", "default": 30}
    return spec


def recording_file_spec() -> dict[str, Any]:
    """argument_spec of cc_gateway_recording_file, with the batch form `agents`."""
    agents_entry = dict(BATCH_AGENT_OPTIONS)
    agents_entry["file_name"] = {"type": "str", "required": True}
    agents_entry["location_id"] = {"type": "int"}
    agents_entry["dest"] = {"type": "path", "required": True}
    spec: dict[str, Any] = {}
    spec.update(CONNECTION)
    spec.update(AGENT)
    spec["file_name"] = {"type": "str"}
    spec["location_id"] = {"type": "int"}
    spec["file_type"] = {"type": "str", "choices": ["agent", "ivr"], "default": "agent"}
    spec["dest"] = {"type": "path"}
    spec["mode"] = {"type": "raw", "default": "0600"}
    spec["force"] = {"type": "bool", "default": False}
    spec["max_size"] = {"type": "int", "default": 64 * 1024 * 1024}
    spec["download_timeout"] = {"type": "float", "default": 300}
    spec["agents"] = {"type": "list", "elements": "dict", "options": agents_entry}
    return spec


def play_spec() -> dict[str, Any]:
    """argument_spec of cc_gateway_play, with the batch form `agents`."""
    agents_entry = dict(BATCH_AGENT_OPTIONS)
    agents_entry["voice_path"] = {"type": "str"}
    agents_entry["location_id"] = {"type": "int"}
    spec: dict[str, Any] = {}
    spec.update(CONNECTION)
    spec.update(AGENT)
    spec["state"] = {"type": "str", "choices": ["started", "paused", "stopped"], "default": "started"}
    spec["voice_path"] = {"type": "str"}
    spec["times"] = {"type": "int", "default": 1}
    spec["start_position"] = {"type": "int", "default": 0}
    spec["location_id"] = {"type": "int"}
    spec["wait"] = {"type": "bool", "default": False}
    spec["wait_timeout"] = {"type": "float", "default": 30}
    spec["agents"] = {"type": "list", "elements": "dict", "options": agents_entry}
    return spec
