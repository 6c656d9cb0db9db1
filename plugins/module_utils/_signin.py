# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cc_gateway_session means: an agent signed in (and kept alive) or signed out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import schemas as schemas
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import GatewayError, RetcodeError
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.http_async import aiohttp_missing
from ansible_collections.cec.cc_gateway.plugins.module_utils._batch import AgentTask, TaskRequest
from ansible_collections.cec.cc_gateway.plugins.module_utils._session import AgentSession, keeper_gone
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import StoreError

# Answers to a sign-out that mean the agent is signed out already. 000-003 is not one of them: it refuses a
# stale GUID of a session that may well be alive.
ALREADY_SIGNED_OUT = frozenset({"100-006", "100-008"})
STALE_GUID = "000-003"


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


class SessionManager(AgentSession):
    def ensure(self, request: SessionRequest) -> dict[str, Any]:
        self.lease = request.keepalive_lease
        with self.store.locked(self.gateway_url, request.agent_id):
            self.load(request.guid, keeper_must_run=False)
            if self.keeper_died:
                self.warnings.append(
                    f"The session keeper that kept agent {request.agent_id} could not be counted on (see "
                    f"{self.keeper.log_path})"
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
                self.persist()

    def _result(self, request: SessionRequest, changed: bool, message: str, before: bool) -> dict[str, Any]:
        signed_in = bool(self.guid) if request.state == "present" else False
        kept = self.store.keep_requested(self.gateway_url, request.agent_id)
        session: dict[str, Any] = {
            "agent_id": request.agent_id,
            "gateway_url": self.gateway_url,
            "signed_in": signed_in,
            "signed_in_at": self.session.get("signed_in_at"),
            "kept": kept,
            "keeper_pid": self.keeper.status().pid if kept else None,
        }
        if request.return_guid and signed_in:
            session["guid"] = self.client.guid
        result = {
            "changed": changed,
            "agent_id": request.agent_id,
            "state": request.state,
            "session": session,
            "message": message,
            "diff": {
                "before": {"signed_in": before},
                "after": {"signed_in": signed_in if not self.check_mode else request.state == "present"},
            },
            "ansible_facts": {"cc_gateway_session": {"agent_id": request.agent_id, "state": request.state}},
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _present(self, request: SessionRequest) -> dict[str, Any]:
        if request.keepalive and request.guid:
            raise GatewayError(
                "keepalive keeps sessions this collection signed in itself; give password and phone_number "
                "instead of guid."
            )
        if self.guid and not self.alive():
            if self.handed_in and not self.can_sign_in(request.password, request.phone_number):
                raise GatewayError(f"The guid given for agent {request.agent_id} no longer opens a session.")
            self.forget()
        before = bool(self.guid)
        # Kept already, unless the keeper died; a lost kept session is handed on by sign_in() itself.
        needs_keeping = request.keepalive and (
            self.keeper_died or not self.store.keep_requested(self.gateway_url, request.agent_id)
        )
        if self.check_mode:
            changed = not before or needs_keeping
            return self._result(
                request, changed, "Check mode: " + ("would sign in" if not before else "signed in"), before
            )
        messages = []
        if not self.guid:
            self.sign_in(request.password, request.phone_number, request.force_login)
            messages.append(f"Agent {request.agent_id} signed in.")
        else:
            messages.append(f"Agent {request.agent_id} was signed in already.")
        if needs_keeping:
            self.persist()
            pid = self.keep()
            messages.append(f"The session keeper (pid {pid}) keeps it alive.")
        lease_changed = (
            not needs_keeping
            and request.keepalive
            and request.keepalive_lease is not None
            and self.store.update_keep(self.gateway_url, request.agent_id, lease=request.keepalive_lease)
        )
        if lease_changed:
            messages.append(f"Its keepalive_lease is now {request.keepalive_lease:g} s, counted from now.")
        return self._result(request, not before or needs_keeping or lease_changed, " ".join(messages), before)

    def _absent(self, request: SessionRequest) -> dict[str, Any]:
        before = bool(self.guid)
        kept = self.store.keep_requested(self.gateway_url, request.agent_id)
        if self.check_mode:
            return self._result(
                request, before, "Check mode: " + ("would sign out" if before else "not signed in"), before
            )
        newest_guid = (
            (self.store.kept(self.gateway_url, request.agent_id) or {}).get("guid") if kept else None
        )
        if kept:
            self.store.release(self.gateway_url, request.agent_id)
        changed = False
        if not self.guid and self.lost_reason and self.ended_guids:
            # The keeper said the session ended, but not every ending is a sign-out (the keeper stopped, its
            # own sign-out failed): one sign-out settles it; 100-006 says it was.
            self.client.guid, newest_guid = self.ended_guids[0], (self.ended_guids[1:] or [None])[0]
        if self.client.guid:
            changed = self._sign_out(request, newest_guid)
            self.forget()
        if kept and self.store.kept_agents() == 0 and not self.keeper.stop_if_idle():
            self.warnings.append(f"The session keeper did not stop within 10 s; see {self.keeper.log_path}.")
        if changed:
            message = f"Agent {request.agent_id} signed out."
        elif self.lost_reason:
            message = f"Agent {request.agent_id} was not signed in any more: {self.lost_reason}."
        else:
            message = f"Agent {request.agent_id} was not signed in."
        return self._result(request, changed, message, before)

    def _sign_out(self, request: SessionRequest, newest_guid: str | None) -> bool:
        """Sign out for real: a stale GUID (000-003; the session may be alive) is replaced by the keeper's
        newest or the stored one, then by a fresh sign-in when credentials are given. True when the gateway
        signed the agent out."""
        untried = [guid for guid in (newest_guid, self._stored.get("guid")) if guid]
        tried: set[str | None] = set()
        signed_in = False
        while True:
            tried.add(self.client.guid)
            try:
                self.client.sign_out()
                return True
            except RetcodeError as exc:
                if exc.retcode in ALREADY_SIGNED_OUT:
                    return False
                if exc.retcode != STALE_GUID:
                    raise
                untried = [guid for guid in untried if guid not in tried]
                if untried:
                    self.client.guid = untried.pop(0)
                    continue
                phone_number = request.phone_number or self._stored.get("phone_number")
                if self.can_sign_in(request.password, phone_number) and not signed_in:
                    # Our own session, with a GUID nobody knows any more: a forcible sign-in takes it over.
                    self.client.sign_in(request.password or "", phone_number or "", force=True)
                    signed_in = True
                    continue
                raise GatewayError(
                    f"{exc}. The agent may still be signed in: its GUID went stale (the session keeper stopped "
                    "following it?). Give password (and phone_number) so the module can sign the agent in again "
                    "and sign it out."
                ) from None


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
        return self.store.kept_agent_ids(self.params["gateway_url"])

    def validate(self, request: Any) -> None:
        schemas.check(
            {"agent_id": request.agent_id},
            schemas.limited(schemas.AGENT_ARGUMENTS, self.params.get("max_agent_id")),
        )

    def prepare(self) -> list[str]:
        """With keepalive, the keeper runs before the first sign-in: a gateway's heartbeat limit counts from
        the sign-in, so an agent must not wait for the keeper to start."""
        if self.selection_error:
            return [self.selection_error]
        if not self.params.get("keepalive") or self.params.get("state") != "present" or self.check_mode:
            return []
        missing = aiohttp_missing()
        if missing:
            return [
                "keepalive: the session keeper needs the Python library aiohttp on the host that runs the "
                f"task ({missing}); install it there (pip install -r requirements.txt of cec.cc_gateway)"
            ]
        gone = keeper_gone(self.store, self.keeper) if self.store.kept_agents() else None
        try:
            _pid, note = self.keeper.ensure_running()
        except (StoreError, OSError) as exc:
            return [f"keepalive: the session keeper cannot start: {exc}"]
        self.keeper.replaced_because = gone
        if note:
            self.task_warnings.append(note)
        return []
