# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which session an agent's task uses, and keeping it: the task's guid, the keeper, the store, a sign-in."""

from __future__ import annotations

import copy
import inspect
import pkgutil
import sys
import time
from typing import Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils import _retcodes as retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils._client import (
    GatewayClient,
    GatewayError,
    RetcodeError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._session_store import SessionStore

EVENT_POLL_INTERVAL = 0.1


def keeper_source() -> str:
    """The keeper's source, to run it as a script wherever this code runs (also from a module's zip)."""
    from ansible_collections.cec.cc_gateway.plugins.module_utils import _keeper

    try:
        return inspect.getsource(_keeper)
    except (OSError, TypeError):
        data = pkgutil.get_data("ansible_collections.cec.cc_gateway.plugins.module_utils", "_keeper.py")
        if data is None:
            raise GatewayError("The session keeper's source cannot be read from this installation.") from None
        return data.decode("utf-8")


class AgentSession:
    """One agent's session as a task sees it.

    Where the GUID comes from, in order: the task's guid; the keeper's current GUID when the agent is kept
    (the keeper follows GUID rotation, so its GUID is the live one); the session store; a sign-in.
    """

    def __init__(
        self, client: GatewayClient, store: SessionStore, gateway_url: str, check_mode: bool
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
        self.keeper_died = False
        self.warnings: list[str] = []

    # -- where the session comes from

    def load(self, guid: str | None, keeper_must_run: bool = True) -> None:
        """Find the session; with keeper_must_run False a dead keeper is noted in keeper_died, not raised."""
        stored = self.store.load(self.gateway_url, self.agent_id) or {}
        self._stored = copy.deepcopy(stored)
        self.kept = None
        self.lost_reason = None
        self.keeper_died = False
        if guid and guid != stored.get("guid"):
            # A session the user handed in: what the store knew belongs to another session.
            stored = {"guid": guid, "signed_in_by": "user"}
            self._stored = {}
        elif self.store.keep_requested(self.gateway_url, self.agent_id):
            kept = self.store.kept(self.gateway_url, self.agent_id) or {}
            if self.store.keeper_pid() is None:
                if keeper_must_run:
                    raise GatewayError(
                        f"The session keeper that kept agent {self.agent_id} alive is not running any more (it "
                        f"was stopped or crashed; see {self.store.directory}/keeper.log), so the agent's session "
                        "may have expired and its GUID is unknown. Run cec.cc_gateway.cc_gateway_session with "
                        "keepalive: true to sign in and keep the agent again, or with state: absent to stop "
                        "keeping it."
                    )
                self.keeper_died = True
                if kept.get("alive") and kept.get("guid"):
                    # The newest GUID the keeper knew; whether it still works is checked, not vouched for.
                    stored["guid"] = kept["guid"]
            elif kept.get("alive") and kept.get("guid"):
                stored["guid"] = kept["guid"]
                self.kept = kept
            elif kept and not kept.get("alive"):
                self.lost_reason = kept.get("reason") or "the keeper lost the session"
                stored = {}
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
        self.session = {"guid": self.client.guid, "signed_in_by": "module", "signed_in_at": time.time()}
        self.kept = None
        if self.store.keep_requested(self.gateway_url, self.agent_id):
            # The agent was kept: the keeper follows the new session from now on.
            self.persist()
            self.keep()

    def alive(self) -> bool:
        """Whether the held GUID still opens the agent's session (the keeper vouches for kept ones)."""
        if self.kept is not None:
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
        settings = self.client.settings
        connection = {
            "validate_certs": settings.validate_certs,
            # The bundle the modules verify against (ca_path, REQUESTS_CA_BUNDLE, ... or certifi's), resolved here
            # so that the keeper, which uses the ssl module directly, trusts exactly the same CAs.
            "ca_path": settings.ca_bundle,
            "client_cert": settings.client_cert,
            "client_key": settings.client_key,
            "timeout": settings.timeout,
        }
        self.store.request_keep(self.gateway_url, self.agent_id, connection)
        return self.store.start_keeper(keeper_source(), sys.executable)

    # -- events

    def wait_for_event(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, since_ms: int
    ) -> dict[str, Any] | None:
        """The first event since since_ms that matches, from the keeper or by polling; None on timeout."""
        deadline = time.monotonic() + timeout
        kept = self.kept is not None
        while True:
            if kept:
                for event in (self.store.kept(self.gateway_url, self.agent_id) or {}).get("events", []):
                    if event.get("received_at", 0) >= since_ms and matches(event):
                        return event
            else:
                event = self.client.poll_event()
                if event is not None and matches(event):
                    return event
            if time.monotonic() >= deadline:
                return None
            if kept:
                time.sleep(EVENT_POLL_INTERVAL)
