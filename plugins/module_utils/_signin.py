# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_session means: an agent signed in (and kept alive) or signed out."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import GatewayError
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._options import TaskOptions
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, Credentials
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import (
    keeper_library_missing,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import KeeperMailbox
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import StoreError


@dataclass
class SessionRequest(TaskRequest):
    agent_id: int
    state: str = "present"
    password: str | None = None
    phone_number: str | None = None
    guid: str | None = None
    force_login: bool = False
    keepalive: bool = False
    keepalive_lease: float | None = None
    return_guid: bool = False

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.password, self.phone_number, self.force_login)


class SessionManager:
    def __init__(self, session: AgentSession, released: Callable[[], None] = lambda: None) -> None:
        self.session = session
        self.released = released  # called when this agent's keep request is withdrawn

    def ensure(self, request: SessionRequest) -> dict[str, Any]:
        self.session.lease = request.keepalive_lease
        with self.session.store.locked(self.session.gateway_url, request.agent_id):
            self.session.load(request.guid, keeper_must_run=False)
            if self.session.keeper_died:
                self.session.warnings.append(
                    f"The session keeper that kept agent {request.agent_id} could not be counted on (see "
                    f"{self.session.keeper.log_path})"
                    + (
                        "; a new one keeps the agent now."
                        if request.state == "present" and request.keepalive
                        else "."
                    )
                )
            try:
                if request.state == "absent":
                    return self._absent(request)
                return self._present(request)
            finally:
                self.session.persist()

    def _result(self, request: SessionRequest, changed: bool, message: str, before: bool) -> dict[str, Any]:
        signed_in = bool(self.session.guid) if request.state == "present" else False
        kept = self.session.mailbox.keep_requested(self.session.gateway_url, request.agent_id)
        session: dict[str, Any] = {
            "agent_id": request.agent_id,
            "gateway_url": self.session.gateway_url,
            "signed_in": signed_in,
            "signed_in_at": self.session.data.get("signed_in_at"),
            "kept": kept,
            "keeper_pid": self.session.keeper.status().pid if kept else None,
        }
        if request.return_guid and signed_in:
            session["guid"] = self.session.client.guid
        result = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "session": session,
            "message": message,
            "diff": {
                "before": {"signed_in": before},
                "after": {
                    "signed_in": signed_in if not self.session.check_mode else request.state == "present"
                },
            },
            "ansible_facts": {"cc_gateway_session": {"agent_id": request.agent_id, "state": request.state}},
        }
        if self.session.warnings:
            result["warnings"] = list(self.session.warnings)
        return result

    def _present(self, request: SessionRequest) -> dict[str, Any]:
        if request.keepalive and request.guid:
            raise GatewayError(
                "keepalive keeps sessions this collection signed in itself; give password and phone_number "
                "instead of guid."
            )
        self.session.ensure_live(request.credentials)
        before = bool(self.session.guid)
        # Kept already, unless the keeper died; a lost kept session is handed on by sign_in() itself.
        needs_keeping = request.keepalive and (
            self.session.keeper_died
            or not self.session.mailbox.keep_requested(self.session.gateway_url, request.agent_id)
        )
        if self.session.check_mode:
            changed = not before or needs_keeping
            return self._result(
                request, changed, "Check mode: " + ("would sign in" if not before else "signed in"), before
            )
        messages = []
        if not self.session.guid:
            self.session.sign_in(request.credentials)
            messages.append(f"Agent {request.agent_id} signed in.")
        else:
            messages.append(f"Agent {request.agent_id} was signed in already.")
        if needs_keeping:
            self.session.persist()
            pid = self.session.keep()
            messages.append(f"The session keeper (pid {pid}) keeps it alive.")
        lease_changed = (
            not needs_keeping
            and request.keepalive
            and request.keepalive_lease is not None
            and self.session.mailbox.update_lease(
                self.session.gateway_url, request.agent_id, request.keepalive_lease
            )
        )
        if lease_changed:
            messages.append(f"Its keepalive_lease is now {request.keepalive_lease:g} s, counted from now.")
        return self._result(request, not before or needs_keeping or lease_changed, " ".join(messages), before)

    def _absent(self, request: SessionRequest) -> dict[str, Any]:
        before = bool(self.session.guid)
        kept = self.session.mailbox.keep_requested(self.session.gateway_url, request.agent_id)
        if self.session.check_mode:
            return self._result(
                request, before, "Check mode: " + ("would sign out" if before else "not signed in"), before
            )
        report = self.session.mailbox.report(self.session.gateway_url, request.agent_id) if kept else None
        newest_guid = report.guid if report is not None else None
        if kept:
            self.session.mailbox.release(self.session.gateway_url, request.agent_id)
            self.released()
        changed = False
        if not self.session.guid and self.session.lost_reason and self.session.ended_guids:
            # The keeper said the session ended, but not every ending is a sign-out (the keeper stopped, its
            # own sign-out failed): one sign-out settles it; 100-006 says it was.
            self.session.client.guid, newest_guid = (
                self.session.ended_guids[0],
                (self.session.ended_guids[1:] or [None])[0],
            )
        if self.session.client.guid:
            credentials = Credentials(
                request.password, request.phone_number or self.session.saved("phone_number"), True
            )
            changed = self.session.sign_out(credentials, [newest_guid, self.session.saved("guid")])
            self.session.forget()
        if changed:
            message = f"Agent {request.agent_id} signed out."
        elif self.session.lost_reason:
            message = f"Agent {request.agent_id} was not signed in any more: {self.session.lost_reason}."
        else:
            message = f"Agent {request.agent_id} was not signed in."
        return self._result(request, changed, message, before)


class SessionTask(AgentTask):
    REQUEST = SessionRequest
    MANAGER = SessionManager
    FACT = "cc_gateway_session"

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool) -> None:
        super().__init__(params, check_mode, diff)
        self.selection_error: str | None = None
        if params.get("all_kept"):
            self.selection_error = self._all_kept_error(params)
            if self.selection_error:
                self.params = dict(params, agent_id=None, agents=None)  # no agent: prepare() says why
            else:
                # The store's kept agents as the batch: an empty store is an empty batch.
                agents = [{"agent_id": agent_id} for agent_id in self._kept_agent_ids()]
                self.params = dict(params, agents=agents)
        elif params.get("agent_id") is None and params.get("agents") is None:
            self.selection_error = "one of agent_id, agents or all_kept: true is required"
        self.options = TaskOptions.from_params(self.params)  # the agents as chosen above
        self._keep_released = threading.Event()

    def manager(self, session: AgentSession) -> SessionManager:
        return SessionManager(session, self._keep_released.set)

    def after_agents(self) -> None:
        """Once the task withdrew keep requests, a keeper left with none is stopped: once per task, as the
        store is listed to know (per agent, a batch would list it once for every agent)."""
        if not self._keep_released.is_set():
            return
        try:
            if KeeperMailbox(self.store).kept_agents() or self.keeper.stop_if_idle():
                return
            problem = "did not stop within 10 s"
        except (StoreError, OSError) as exc:
            problem = f"could not be stopped ({exc})"
        self.task_warnings.append(f"The session keeper {problem}; see {self.keeper.log_path}.")

    def _all_kept_error(self, params: dict[str, Any]) -> str | None:
        if params.get("agent_id") is not None or params.get("agents") is not None:
            return "all_kept: give agent_id, agents or all_kept: true, not two of them"
        if params.get("state") != "absent":
            return "all_kept: only with state: absent (it signs out every agent the session store keeps)"
        try:
            self._kept_agent_ids()
        except (StoreError, OSError) as exc:
            return f"all_kept: the session store cannot be read: {exc}"
        return None

    def _kept_agent_ids(self) -> list[int]:
        if not self.store.check_readable():
            return []  # no store: nothing kept
        return KeeperMailbox(self.store).kept_agent_ids(self.options.gateway_url)

    def prepare(self) -> list[str]:
        """With keepalive, the keeper runs before the first sign-in: a gateway's heartbeat limit counts from
        the sign-in, so an agent must not wait for the keeper to start."""
        if self.selection_error:
            return [self.selection_error]
        if not self.params.get("keepalive") or self.params.get("state") != "present" or self.check_mode:
            return []
        missing = keeper_library_missing()
        if missing:
            return [
                "keepalive: the session keeper needs the Python library aiohttp on the host that runs the "
                f"task ({missing}); install it there (pip install -r requirements.txt of cec.cc_gateway)"
            ]
        try:
            _pid, note = self.keeper.ensure_running()
        except (StoreError, OSError) as exc:
            return [f"keepalive: the session keeper cannot start: {exc}"]
        if note:
            self.task_warnings.append(note)
        return []
