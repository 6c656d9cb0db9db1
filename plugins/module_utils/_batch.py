# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task for one agent or a batch of agents, wherever it runs (module or action plugin).

A module names its request type, the manager that acts for one agent, and the fact it sets; this runs
the validation of every agent before anything is sent, then the agents, concurrently in a batch. The task's
result is made here, and here no secret given to the task is left in any of its messages.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayClient,
    GatewayError,
    check_sign_in,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.schemas import SchemaViolation
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import TaskOptions
from ansible_collections.cec.cc_gateway.plugins.module_utils._results import (
    SECRET_KEYS,
    outcome_of,
    scrub_result,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, keeper_for
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import (
    SessionStore,
)

if TYPE_CHECKING:
    from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess

# A batch entry without its own password uses the task's; the other per-agent values belong to one agent.
INHERITED_KEYS = ("password",)
# From this many agents a batch's exchanges run on aiohttp (http_bridge.py), when it is installed: importing it
# costs about 0.1 s, which requests' extra CPU per agent (about 1 ms for two exchanges) wins back from about
# 100 agents (docs/benchmarks.md).
AIOHTTP_FROM_AGENTS = 200
PLAIN_HTTP_WARNING = (
    "gateway_url uses http://: agent passwords and session GUIDs travel in clear text. Use https:// "
    "(the gateway's default port 8043 speaks HTTPS)."
)

UNVERIFIED_WARNING = (
    "validate_certs: false: the gateway's certificate is not verified, so anyone in between can read the agent "
    "passwords and GUIDs. Point ca_path at the gateway's CA bundle instead."
)


def option_problems(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(option, sentence) for what is wrong with the task's connection options and the options that apply to
    all of its agents (wait_timeout, keepalive_lease, since), before anything is sent."""
    connection = {"gateway_url": params.get("gateway_url"), "timeout": params.get("timeout")}
    for name in ("max_concurrency", "max_agent_id"):
        if params.get(name) is not None:
            connection[name] = params[name]
    task = {
        name: params[name] for name in schemas.TASK_ARGUMENTS["properties"] if params.get(name) is not None
    }
    return schemas.violations(connection, schemas.CONNECTION_ARGUMENTS) + schemas.violations(
        task, schemas.TASK_ARGUMENTS
    )


def connection_errors(params: dict[str, Any]) -> list[str]:
    """What is wrong with the task's connection options and its options for all agents, as sentences."""
    return [sentence for _option, sentence in option_problems(params)]


def session_dir_errors(directory: str) -> list[str]:
    """What keeps directory from being (or becoming) the session store, before anything is sent: a path that
    is not a directory, or below something that is not one."""
    path = directory
    try:
        while True:
            try:
                info = os.stat(path)
                break
            except (FileNotFoundError, NotADirectoryError):
                parent = os.path.dirname(path)
                if parent == path:
                    return []
                path = parent
    except ValueError:
        return ["session_dir: contains a NUL character; give the path of a directory"]
    except OSError as exc:
        return [f"session_dir: {directory} cannot be used: {exc.strerror} ({path})"]
    if stat.S_ISDIR(info.st_mode):
        return []
    if path == directory:
        return [f"session_dir: {directory} is not a directory; point session_dir at a directory of your own"]
    return [
        f"session_dir: {directory} cannot be made: {path} is not a directory; point session_dir at a "
        "directory of your own"
    ]


def check_agent(agent_id: Any, guid: str | None, max_agent_id: int | None) -> None:
    """The one check of an agent's own arguments (its ID within the platform's range, its guid never shown);
    raises SchemaViolation."""
    agent = {"agent_id": agent_id} if guid is None else {"agent_id": agent_id, "guid": guid}
    schemas.check(agent, schemas.limited(schemas.AGENT_ARGUMENTS, max_agent_id), secret_fields=("guid",))


class TaskRequest:
    """Base of a module's per-agent request dataclass: built from the task's parameters."""

    agent_id: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Any:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{name: params[name] for name in names if params.get(name) is not None})


class AgentTask:
    """Subclasses set REQUEST (from_params, agent_id; a state, when it has one, goes into each result), MANAGER
    (ensure), FACT, PER_AGENT_KEYS, validate()."""

    REQUEST: Any = None
    MANAGER: Any = None
    FACT = ""
    PER_AGENT_KEYS: tuple[str, ...] = ("agent_id", "password", "phone_number", "guid")
    # Of PER_AGENT_KEYS, those a batch entry without its own value takes from the task.
    INHERITED: tuple[str, ...] = INHERITED_KEYS

    def validate(self, request: Any) -> None:
        """Raise SchemaViolation for a request that must not be sent."""

    def manager(self, session: AgentSession) -> Any:
        """The MANAGER of one agent's session."""
        return self.MANAGER(session)

    def after_agents(self) -> None:
        """What the task does once, after every agent (in a batch: after the last one)."""

    def prepare(self) -> list[str]:
        """What must be in place before the first agent is worked on; the errors that keep it from being."""
        return []

    def requests(self) -> list[Any]:
        """The task's agents as requests; a batch entry's own values win over the task's. An empty batch (what
        an empty share of a campaign gives) has none."""
        params = self.params
        if params.get("agents") is None:
            return [self.REQUEST.from_params(params)] if params.get("agent_id") is not None else []
        shared = {
            key: value for key, value in params.items() if key not in self.PER_AGENT_KEYS and key != "agents"
        }
        requests = []
        for entry in params["agents"]:
            merged = dict(shared)
            for key in self.PER_AGENT_KEYS:
                own = entry.get(key)
                merged[key] = own if own is not None else params.get(key) if key in self.INHERITED else None
            requests.append(self.REQUEST.from_params(merged))
        return requests

    def agent_problems(self, request: Any) -> list[tuple[str, str]]:
        """(option, sentence) for what is wrong with one agent's request: the module's own rules, the agent's
        guid (never shown) and its sign-in body."""
        problems: list[tuple[str, str]] = []
        checks = [
            lambda: self.validate(request),
            lambda: check_agent(request.agent_id, getattr(request, "guid", None), self.options.max_agent_id),
        ]
        if getattr(request, "password", None) is not None and getattr(request, "phone_number", None):
            checks.append(lambda: check_sign_in(request.password, request.phone_number))
        for run_check in checks:
            try:
                run_check()
            except SchemaViolation as exc:
                problems.extend(exc.problems)
        return problems

    def validation_errors(self, requests: list[Any], batch: bool) -> list[str]:
        """Every violation of the task and of every agent, each said once, before anything is sent.

        In a batch, what is wrong with an agent's own values is prefixed with its entry (agents[3]: ...); what
        is wrong with an option of the whole task is said once, without."""
        errors = connection_errors(self.params) + session_dir_errors(self.store.directory)
        if batch:
            errors.extend(
                f"{key}: belongs to one agent; with agents, give it in each entry of agents"
                for key in self.PER_AGENT_KEYS
                if key not in self.INHERITED and self.params.get(key) is not None
            )
        seen: set[int] = set()
        for index, request in enumerate(requests):
            for option, sentence in self.agent_problems(request):
                own = not option or option in self.PER_AGENT_KEYS
                errors.append(f"agents[{index}]: {sentence}" if batch and own else sentence)
            if request.agent_id in seen:
                errors.append(
                    f"agents[{index}]: agent {request.agent_id} is listed twice; list each agent once"
                )
            seen.add(request.agent_id)
        return list(dict.fromkeys(errors))

    def secrets(self) -> list[str]:
        """The secret values given to the task: its password and guid, and those of each entry of agents."""
        values = [self.params.get(key) for key in SECRET_KEYS]
        for entry in self.params.get("agents") or []:
            if isinstance(entry, dict):
                values.extend(entry.get(key) for key in SECRET_KEYS)
        return [value for value in values if isinstance(value, str) and value]

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool) -> None:
        self.params = params
        self.options = TaskOptions.from_params(params)
        self.check_mode = check_mode
        self.diff = diff
        self.store = SessionStore(self.options.session_dir)
        self._keeper: KeeperProcess | None = None
        self._keeper_lock = threading.Lock()
        self.task_warnings: list[str] = []
        self.pool_size = min(max(1, self.options.max_concurrency), schemas.MAX_CONCURRENCY)
        self.batch_transport: Any = None

    @property
    def keeper(self) -> KeeperProcess:
        """The store's keeper process, one for the task and its agents' threads, made when first needed."""
        with self._keeper_lock:
            if self._keeper is None:
                self._keeper = keeper_for(self.store)
            return self._keeper

    def _one(self, request: Any) -> dict[str, Any]:
        """One agent's result; its failure is its own, never the whole batch's."""

        def ensure() -> dict[str, Any]:
            client = GatewayClient(
                self.options.connection,
                request.agent_id,
                pool_size=self.pool_size,
                transport=self.batch_transport,
            )
            session = AgentSession(
                client, self.store, self.options.gateway_url, self.check_mode, keeper_of=lambda: self.keeper
            )
            return self.manager(session).ensure(request)

        return outcome_of(ensure, agent_id=request.agent_id)

    def run(self) -> dict[str, Any]:
        """The task's result: the one place it is made, so the one place no secret is left in it."""
        return scrub_result(outcome_of(self._run), self.secrets())

    def _run(self) -> dict[str, Any]:
        batch = self.options.batch
        requests = self.requests()
        errors = self.validation_errors(requests, batch)
        if not errors and not requests and not batch:
            # No agent at all (all_kept where it does not apply): what prepare() says of the task's options.
            errors = self.prepare() or ["agent_id: is required without agents; give agent_id or agents"]
        if not errors and requests:
            errors = self.prepare()
        if errors:
            return {"failed": True, "changed": False, "msg": "; ".join(errors)}
        if not requests:
            result = self._nothing_to_do()
        elif not batch:
            result = self._one(requests[0])
            if getattr(requests[0], "state", None) is not None:
                result.setdefault("state", requests[0].state)
            if not self.diff:
                result.pop("diff", None)
        else:
            result = self._run_batch(requests)
        self.after_agents()
        warnings = list(self.task_warnings)
        if self.options.connection.plain_http:
            warnings.insert(0, PLAIN_HTTP_WARNING)
        elif not self.options.connection.validate_certs:
            warnings.insert(0, UNVERIFIED_WARNING)
        if warnings:
            result["warnings"] = [*warnings, *result.get("warnings", [])]
        return result

    def _aiohttp_transport(self, agents: int) -> Any:
        """The batch's transport on aiohttp, for a batch large enough (None: each agent's client uses requests).
        In check mode nothing is sent."""
        if agents < AIOHTTP_FROM_AGENTS or self.check_mode:
            return None
        try:
            route = self.options.connection.route()
        except GatewayError:
            return None  # each agent's client fails on it and says so
        from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_bridge import bridge_for

        return bridge_for(route, self.pool_size)

    def _nothing_to_do(self) -> dict[str, Any]:
        """An empty batch: nothing is sent, no keeper is started, nothing changes."""
        result: dict[str, Any] = {
            "changed": False,
            "results": [],
            "msg": "0 agents: nothing to do",
            "ansible_facts": {self.FACT + "s": []},
        }
        if self.diff:
            result["diff"] = {"before": {}, "after": {}}
        return result

    def _run_batch(self, requests: list[Any]) -> dict[str, Any]:
        self.batch_transport = self._aiohttp_transport(len(requests))
        try:
            outcomes = fan_out(self._one, requests, self.pool_size)
        finally:
            if self.batch_transport is not None:
                self.batch_transport.close()
                self.batch_transport = None
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
            if getattr(request, "state", None) is not None:
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


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def fan_out(work: Callable[[Item], Outcome], items: list[Item], workers: int) -> list[Outcome]:
    """work(item) for every item on at most `workers` threads; the outcomes in the items' order.

    Each thread takes its next item itself, and none starts working before all are started: the task's own
    thread hands nothing over per item. (A pool's submit per item, and each thread's start, wait for the GIL
    behind threads that are already busy: at 1,000 agents that alone cost a second of the task's time.)
    An exception of work is raised here, after every thread has ended."""
    outcomes: list[Any] = [None] * len(items)
    failures: list[BaseException] = []
    pending = iter(range(len(items)))
    taking = threading.Lock()
    go = threading.Event()

    def take() -> int | None:
        with taking:
            return None if failures else next(pending, None)

    def run() -> None:
        go.wait()
        index = take()
        while index is not None:
            try:
                outcomes[index] = work(items[index])
            except BaseException as exc:  # raised again in the task's thread, below
                failures.append(exc)
            index = take()

    threads = [
        threading.Thread(target=run, name=f"cc_gateway-{number}", daemon=True)
        for number in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return outcomes
