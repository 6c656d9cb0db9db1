# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which session an agent's task uses, and keeping it: the task's guid, the keeper, the store, a sign-in."""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayClient,
    GatewayError,
    RetcodeError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import SessionStore

EVENT_POLL_INTERVAL = 0.1
EMPTY_POLL_PAUSE = 0.5
# keepalive_lease when a task does not say (cc_gateway_session's default): an hour without any task for the
# agent, and the keeper stops its recording and signs it out.
DEFAULT_LEASE = 3600.0
# How long a request refused for a stale GUID waits for the keeper to learn the gateway's newer one.
FRESH_GUID_WAIT = 3.0


def keeper_gone(store: SessionStore, keeper: KeeperProcess) -> str | None:
    """Why the store's keeper cannot be counted on, or None when it runs and beats."""
    if keeper.replaced_because:
        return keeper.replaced_because  # this task started a new one; its agents still need handing over
    status = keeper.status()
    if not status.running:
        return "it is not running any more (it was stopped or crashed)"
    if status.stale:
        return f"it has not written its heartbeat for {status.heartbeat_age:.0f} s (it hangs or is stopped)"
    return None


class AgentSession:
    """One agent's session as a task sees it.

    Where the GUID comes from, in order: the task's guid; the keeper's current GUID when the agent is kept
    (the keeper follows GUID rotation, so its GUID is the live one); the session store; a sign-in.
    """

    def __init__(
        self,
        client: GatewayClient,
        store: SessionStore,
        gateway_url: str,
        check_mode: bool,
        keeper: KeeperProcess | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.gateway_url = gateway_url
        self.check_mode = check_mode
        self.agent_id = client.agent_id
        self.session: dict[str, Any] = {}
        self._stored: dict[str, Any] = {}
        self.kept: dict[str, Any] | None = None
        self.lost_reason: str | None = None
        # The GUIDs of a session the keeper reported ended, newest first: a sign-out still tries them.
        self.ended_guids: list[str] = []
        self.keeper_died = False
        self.keeper = keeper or KeeperProcess(store)
        self.kept_by_keeper = False
        # keepalive_lease of the task (cc_gateway_session); None: the agent's earlier keep request's, or the default
        self.lease: float | None = None
        self.warnings: list[str] = []

    # -- where the session comes from

    def load(self, guid: str | None, keeper_must_run: bool = True) -> None:
        """Find the session; with keeper_must_run False a dead keeper is noted in keeper_died, not raised."""
        stored = self.store.load(self.gateway_url, self.agent_id) or {}
        self._stored = copy.deepcopy(stored)
        self.kept = None
        self.kept_by_keeper = False
        self.lost_reason = None
        self.ended_guids = []
        self.keeper_died = False
        if guid and guid != stored.get("guid"):
            # A session the user handed in: what the store knew belongs to another session.
            stored = {"guid": guid, "signed_in_by": "user"}
            self._stored = {}
        elif self.store.keep_requested(self.gateway_url, self.agent_id):
            ended = self.store.kept_ended(self.gateway_url, self.agent_id)
            if ended:
                # The keeper saw the session end (signed out, or its lease ran out): whatever the keeper does now.
                self.kept_by_keeper = True
                self.lost_reason = ended.get("reason") or "the keeper lost the session"
                self.ended_guids = list(
                    dict.fromkeys(g for g in (ended.get("guid"), stored.get("guid")) if g)
                )
                self.client.import_cookies(stored.get("cookies", []))
                self.session = {}
                self.client.guid = None
                return
            kept = self.store.kept(self.gateway_url, self.agent_id) or {}
            current = kept.get("generation") == self.store.keep_generation(self.gateway_url, self.agent_id)
            self.store.renew_keep(self.gateway_url, self.agent_id)
            gone = keeper_gone(self.store, self.keeper)
            if gone:
                if keeper_must_run:
                    raise GatewayError(
                        f"The session keeper that kept agent {self.agent_id} alive cannot be counted on: {gone}; "
                        f"see {self.keeper.log_path}. The agent's session may have expired and its GUID is "
                        "unknown. Run cec.cc_gateway.cc_gateway_session with keepalive: true to sign in and keep "
                        "the agent again, or with state: absent to stop keeping it."
                    )
                self.keeper_died = True
                if kept.get("alive") and kept.get("guid"):
                    # The newest GUID the keeper knew; whether it still works is checked, not vouched for.
                    stored["guid"] = kept["guid"]
            else:
                # Only the keeper polls a kept agent's events (whoever polls consumes them), even before it
                # has reported on the newest keep request; until then the stored session is the one it keeps.
                self.kept_by_keeper = True
                if current and kept.get("alive") and kept.get("guid"):
                    stored["guid"] = kept["guid"]
                    self.kept = kept
        self.session = stored
        self.client.guid = stored.get("guid")
        self.client.import_cookies(stored.get("cookies", []))

    def persist(self) -> None:
        """Write the session back if anything about it changed (GUID, cookies, recording)."""
        if self.check_mode or self.session.get("signed_in_by") == "user" or not self.session.get("guid"):
            # Only sessions this collection signed in are kept; a handed-in GUID stays the user's.
            return
        self.session["guid"] = self.client.guid
        self.session["cookies"] = self.client.export_cookies()
        if self.session != self._stored:
            self.store.save(self.gateway_url, self.agent_id, self.session)
            self._stored = copy.deepcopy(self.session)

    @property
    def guid(self) -> str | None:
        return self.session.get("guid")

    @property
    def handed_in(self) -> bool:
        return self.session.get("signed_in_by") == "user"

    def can_sign_in(self, password: str | None, phone_number: str | None) -> bool:
        return password is not None and bool(phone_number)

    def sign_in(self, password: str | None, phone_number: str | None, force_login: bool) -> None:
        if not self.can_sign_in(password, phone_number):
            lost = f" ({self.lost_reason})" if self.lost_reason else ""
            raise GatewayError(
                f"Agent {self.agent_id} has no session to use{lost}: give guid, or password and phone_number so "
                "the module can sign the agent in."
            )
        try:
            self.client.sign_in(password or "", phone_number or "")
        except RetcodeError as exc:
            if exc.retcode != retcodes.ALREADY_SIGNED_IN:
                raise
            if not force_login:
                raise GatewayError(
                    f"{exc} — the agent is signed in by a session this task does not hold. Set force_login: true "
                    "to take the agent over with a forcible sign-in (this ends the other session), or pass that "
                    "session's guid."
                ) from None
            self.client.sign_in(password or "", phone_number or "", force=True)
        self.session = {
            "guid": self.client.guid,
            "signed_in_by": "module",
            "signed_in_at": time.time(),
            # Not a secret; a later sign-out that must sign in again to end this session needs it.
            "phone_number": phone_number,
        }
        self.kept = None
        if self.store.keep_requested(self.gateway_url, self.agent_id):
            # The agent was kept: the keeper follows the new session from now on, and only it polls the
            # session's events (whoever polls consumes them).
            self.persist()
            self.keep()
            self.kept_by_keeper = True

    def alive(self, ask_gateway: bool = False) -> bool:
        """Whether the held GUID still opens the agent's session (the keeper vouches for kept ones, unless
        ask_gateway: after the gateway refused the GUID, only the gateway can say)."""
        if self.kept is not None and not ask_gateway:
            return True
        try:
            self.client.agent_status()
        except RetcodeError as exc:
            if exc.retcode in retcodes.SESSION_LOST:
                return False
            raise
        return True

    def forget(self) -> None:
        from_store = not self.handed_in
        self.session = {}
        self.kept = None
        self.client.guid = None
        if from_store and not self.check_mode:
            self.store.delete(self.gateway_url, self.agent_id)

    # -- keeping

    def keep(self) -> int:
        """Hand the (persisted) session to the keeper, starting the keeper if needed; return its PID."""
        lease = self.lease
        if lease is None:
            lease = (self.store.keep_request(self.gateway_url, self.agent_id) or {}).get(
                "lease", DEFAULT_LEASE
            )
        connection = {
            # The route as requests resolved it for this task (proxy, CA bundle, client certificate, with
            # absolute paths): the keeper uses it as it is, whatever its own environment or directory.
            "route": self.client.route.as_dict(),
            "timeout": self.client.settings.timeout,
            "lease": lease,
        }
        self.store.request_keep(self.gateway_url, self.agent_id, connection)
        pid, note = self.keeper.ensure_running()
        if note:
            self.warnings.append(note)
        return pid

    def refusable(self, operation: Callable[[], Any]) -> Any:
        """Run a request; if the gateway refused it for a stale GUID of a kept agent, once more on the newer one."""
        try:
            return operation()
        except RetcodeError as exc:
            if not self.retry_with_fresh_guid(exc):
                raise
        return operation()

    def retry_with_fresh_guid(self, error: RetcodeError) -> bool:
        """After a refusal for a stale GUID (which started nothing), take the keeper's newer GUID if it has one.

        Under fast GUID rotation the GUID read at the start of a task can be stale by the time a request
        goes out; the keeper learns the gateway's newer one on its next poll.
        """
        if error.retcode not in retcodes.SESSION_LOST or not self.kept_by_keeper:
            return False
        used = self.client.guid
        generation = self.store.keep_generation(self.gateway_url, self.agent_id)
        deadline = time.monotonic() + min(FRESH_GUID_WAIT, self.client.settings.timeout)
        while True:
            kept = self.store.kept(self.gateway_url, self.agent_id) or {}
            if kept.get("generation") != generation:
                # A report of an earlier keep request: its GUID is an earlier session's.
                kept = {"alive": True}
            if not kept.get("alive"):
                return False
            if kept.get("guid") and kept["guid"] != used:
                self.client.guid = self.session["guid"] = kept["guid"]
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(EVENT_POLL_INTERVAL)

    # -- events

    def wait_for_event(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, since_ms: int
    ) -> dict[str, Any] | None:
        """The first event since since_ms that matches, from the keeper or by polling; None on timeout."""
        deadline = time.monotonic() + timeout
        kept = self.kept_by_keeper
        generation = self.store.keep_generation(self.gateway_url, self.agent_id)
        while True:
            if kept:
                report = self.store.kept(self.gateway_url, self.agent_id) or {}
                if report.get("generation") != generation:
                    report = {}  # the keeper has not taken the newest keep request up yet
                for event in report.get("events", []):
                    if event.get("received_at", 0) >= since_ms and matches(event):
                        return event
                if report and not report.get("alive"):
                    raise GatewayError(
                        f"Agent {self.agent_id}'s session ended while waiting for its event: "
                        f"{report.get('reason') or 'the keeper lost the session'}."
                    )
            else:
                event = self.client.poll_event()
                if event is not None and matches(event):
                    return event
            if time.monotonic() >= deadline:
                return None
            if kept:
                time.sleep(EVENT_POLL_INTERVAL)
            elif event is None:
                # A gateway that answers an empty poll at once is asked again after 500 ms (ruling 12), not flooded.
                time.sleep(min(EMPTY_POLL_PAUSE, max(0.0, deadline - time.monotonic())))
