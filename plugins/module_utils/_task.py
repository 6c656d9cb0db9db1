# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task for one agent or a batch of agents, wherever it runs (module or action plugin).

A module names its request type, the manager that acts for one agent, and the fact it sets; this runs
the validation of every agent before anything is sent, then the agents, concurrently in a batch.
"""

from __future__ import annotations

import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils import _schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import (
    ConnectionSettings,
    GatewayClient,
    GatewayError,
    check_sign_in,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._schemas import SchemaViolation
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import (
    SessionStore,
    SessionStoreError,
)

# A batch entry without its own password uses the task's; the other per-agent values belong to one agent.
INHERITED_KEYS = ("password",)
PLAIN_HTTP_WARNING = (
    "gateway_url uses http://: agent passwords and session GUIDs travel in clear text. Use https:// "
    "(the gateway's default port 8043 speaks HTTPS)."
)

UNVERIFIED_WARNING = (
    "validate_certs: false: the gateway's certificate is not verified, so anyone in between can read the agent "
    "passwords and GUIDs. Point ca_path at the gateway's CA bundle instead."
)


def connection_errors(params: dict[str, Any]) -> list[str]:
    """What is wrong with the task's connection options, before anything is sent."""
    document = {"gateway_url": params["gateway_url"], "timeout": params["timeout"]}
    if params.get("max_concurrency") is not None:
        document["max_concurrency"] = params["max_concurrency"]
    try:
        schemas.check(document, schemas.CONNECTION_ARGUMENTS)
    except SchemaViolation as exc:
        return [str(exc)]
    return []


def connection_settings(params: dict[str, Any]) -> ConnectionSettings:
    return ConnectionSettings(
        gateway_url=params["gateway_url"],
        validate_certs=params["validate_certs"],
        ca_path=params.get("ca_path"),
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        timeout=params["timeout"],
    )


class TaskRequest:
    """Base of a module's per-agent request dataclass: built from the task's parameters."""

    agent_id: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Any:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{name: params[name] for name in names if params.get(name) is not None})


class AgentTask:
    """Subclasses set REQUEST (from_params, agent_id), MANAGER (ensure), FACT, PER_AGENT_KEYS, validate()."""

    REQUEST: Any = None
    MANAGER: Any = None
    FACT = ""
    PER_AGENT_KEYS: tuple[str, ...] = ("agent_id", "password", "phone_number", "guid")

    def validate(self, request: Any) -> None:
        """Raise SchemaViolation for a request that must not be sent."""

    def prepare(self) -> list[str]:
        """What must be in place before the first agent is worked on; the errors that keep it from being."""
        return []

    def requests(self) -> list[Any]:
        """The task's agents as requests; a batch entry's own values win over the task's."""
        params = self.params
        if not params.get("agents"):
            return [self.REQUEST.from_params(params)]
        shared = {
            key: value for key, value in params.items() if key not in self.PER_AGENT_KEYS and key != "agents"
        }
        requests = []
        for entry in params["agents"]:
            merged = dict(shared)
            for key in self.PER_AGENT_KEYS:
                own = entry.get(key)
                merged[key] = own if own is not None else params.get(key) if key in INHERITED_KEYS else None
            requests.append(self.REQUEST.from_params(merged))
        return requests

    def validation_errors(self, requests: list[Any], batch: bool) -> list[str]:
        """Every violation of every agent, before anything is sent."""
        errors = connection_errors(self.params)
        if batch:
            errors.extend(
                f"{key}: belongs to one agent; with agents, give it in each entry of agents"
                for key in self.PER_AGENT_KEYS
                if key not in INHERITED_KEYS and self.params.get(key) is not None
            )
        seen: set[int] = set()
        for index, request in enumerate(requests):
            try:
                self.validate(request)
                if getattr(request, "password", None) is not None and getattr(request, "phone_number", None):
                    check_sign_in(request.password, request.phone_number)
            except SchemaViolation as exc:
                errors.append(f"agents[{index}]: {exc}" if batch else str(exc))
            if request.agent_id in seen:
                errors.append(
                    f"agents[{index}]: agent {request.agent_id} is listed twice; list each agent once"
                )
            seen.add(request.agent_id)
        return errors

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool) -> None:
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.settings = connection_settings(params)
        self.store = SessionStore(params.get("session_dir"))
        self.keeper = KeeperProcess(self.store)
        self.task_warnings: list[str] = []
        self.pool_size = min(max(1, params.get("max_concurrency") or 1), schemas.MAX_CONCURRENCY)

    def _one(self, request: Any) -> dict[str, Any]:
        client = GatewayClient(self.settings, request.agent_id, pool_size=self.pool_size)
        manager = self.MANAGER(client, self.store, self.params["gateway_url"], self.check_mode, self.keeper)
        try:
            return manager.ensure(request)
        except (GatewayError, SessionStoreError, SchemaViolation) as exc:
            return {"failed": True, "changed": False, "msg": str(exc), "agent_id": request.agent_id}
        except Exception as exc:  # a bug: report it for this agent instead of losing the whole batch
            return {
                "failed": True,
                "changed": False,
                "msg": f"Unexpected {type(exc).__name__} for agent {request.agent_id}: {exc}",
                "exception": traceback.format_exc(),
                "agent_id": request.agent_id,
            }

    def run(self) -> dict[str, Any]:
        batch = bool(self.params.get("agents"))
        requests = self.requests()
        errors = self.validation_errors(requests, batch) or self.prepare()
        if errors:
            return {"failed": True, "changed": False, "msg": "; ".join(errors)}
        if not batch:
            result = self._one(requests[0])
            result.setdefault("state", requests[0].state)
            if not self.diff:
                result.pop("diff", None)
        else:
            result = self._run_batch(requests)
        warnings = list(self.task_warnings)
        if self.settings.plain_http:
            warnings.insert(0, PLAIN_HTTP_WARNING)
        elif not self.settings.validate_certs:
            warnings.insert(0, UNVERIFIED_WARNING)
        if warnings:
            result["warnings"] = [*warnings, *result.get("warnings", [])]
        return result

    def _run_batch(self, requests: list[Any]) -> dict[str, Any]:
        workers = min(self.pool_size, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cc_gateway") as pool:
            outcomes = list(pool.map(self._one, requests))
        results = []
        warnings = []
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for request, outcome in zip(requests, outcomes):
            outcome.pop("ansible_facts", None)
            warnings.extend(outcome.pop("warnings", []))
            difference = outcome.pop("diff", None)
            if difference:
                before[str(request.agent_id)] = difference["before"]
                after[str(request.agent_id)] = difference["after"]
            outcome.setdefault("failed", False)
            outcome.setdefault("state", request.state)
            results.append(outcome)
        failed = [item for item in results if item["failed"]]
        summary: dict[str, Any] = {
            "changed": any(item["changed"] for item in results),
            "results": results,
            "ansible_facts": {
                self.FACT + "s": [self.fact_of(item) for item in results if not item["failed"]]
            },
        }
        if self.diff:
            summary["diff"] = {"before": before, "after": after}
        if warnings:
            summary["warnings"] = warnings
        if failed:
            summary["failed"] = True
            details = "; ".join(f"agent {item['agent_id']}: {item['msg']}" for item in failed[:20])
            more = f" (and {len(failed) - 20} more)" if len(failed) > 20 else ""
            summary["msg"] = f"{len(failed)} of {len(results)} agents failed: {details}{more}"
        else:
            summary["msg"] = f"{len(results)} agents: {sum(item['changed'] for item in results)} changed"
        return summary

    def fact_of(self, result: dict[str, Any]) -> dict[str, Any]:
        """What a batch's list fact holds of one agent's result."""
        return {"agent_id": result["agent_id"], "state": result["state"]}
