# Copyright: cec.cc_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One agent's session as a task uses it: where the GUID comes from, keeping it, and the one place that
recovers from a stale or lost session. The modules' managers are given one; none is one."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ansible_collections.cec.cc_gateway.plugins.module_utils._api import retcodes
from ansible_collections.cec.cc_gateway.plugins.module_utils._api.client import (
    GatewayClient,
    GatewayError,
    RetcodeError,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_protocol import (
    DEFAULT_LEASE,
    REPORT_READ_INTERVAL,
    KeeperMailbox,
    KeepRequest,
    wait_until,
)
from ansible_collections.cec.cc_gateway.plugins.module_utils._state.store import SessionStore

if TYPE_CHECKING:
    from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess

EMPTY_POLL_PAUSE = 0.5
# How long a request refused for a stale GUID waits for the keeper to learn the gateway's newer one.
FRESH_GUID_WAIT = 3.0
# Answers to a sign-out that mean the agent is signed out already. 000-003 is not one of them: it refuses a
# stale GUID of a session that may well be alive.
ALREADY_SIGNED_OUT = frozenset({"100-006", "100-008"})


@dataclass(frozen=True)
class Credentials:
    """What signs an agent in: a session can be started (again) only with both."""

    password: str | None = None
    phone_number: str | None = None
    force_login: bool = False

    @property
    def usable(self) -> bool:
        return self.password is not None and bool(self.phone_number)


def keeper_for(store: SessionStore) -> KeeperProcess:
    """The store's keeper as a process. Its module is loaded here, when a task first needs it: a task whose agents
    nobody keeps does not compile it (the collection loader compiles every module it loads, on every run)."""
    from ansible_collections.cec.cc_gateway.plugins.module_utils._state.keeper_process import KeeperProcess

    return KeeperProcess(store)


def keeper_gone(keeper: KeeperProcess) -> str | None:
    """Why the store's keeper cannot be counted on, or None when it runs and beats."""
    if keeper.replaced_because:
        return keeper.replaced_because  # this task started a new one; its agents still need handing over
    return keeper.not_counted_on()


class AgentSession:
    """One agent's session as a task sees it.

    The client holds the GUID (it sends it and takes the gateway's newer one); everything else the store
    keeps of the session is in data. Where the GUID comes from, in order: the task's guid; the keeper's current
    GUID when the agent is kept (the keeper follows GUID rotation, so its GUID is the live one); the session
    store; a sign-in.
    """

    def __init__(
        self,
        client: GatewayClient,
        store: SessionStore,
        gateway_url: str,
        check_mode: bool,
        keeper_of: Callable[[], KeeperProcess] | None = None,
    ) -> None:
        """keeper_of: returns the task's keeper (so that a replacement it made is seen); asked when first needed."""
        self.client = client
        self.store = store
        self.mailbox = KeeperMailbox(store)
        self.gateway_url = gateway_url
        self.check_mode = check_mode
        self.agent_id = client.agent_id
        self._keeper_of = keeper_of or (lambda: keeper_for(store))
        self._keeper: KeeperProcess | None = None
        self.data: dict[str, Any] = {}
        self._saved: dict[str, Any] = {}
        self.kept: Any = None  # the KeeperReport that vouches for the session, when the keeper keeps it live
        self.kept_by_keeper = False
        self.keeper_died = False
        self.lost_reason: str | None = None
        # The GUIDs of a session the keeper reported ended, newest first: a sign-out still tries them.
        self.ended_guids: list[str] = []
        # keepalive_lease of the task (cc_gateway_session); None: the agent's earlier keep request's, or the default
        self.lease: float | None = None
        self.signed_in_again = False
        self.warnings: list[str] = []

    @property
    def keeper(self) -> KeeperProcess:
        if self._keeper is None:
            self._keeper = self._keeper_of()
        return self._keeper

    @property
    def guid(self) -> str | None:
        return self.client.guid

    def saved(self, key: str) -> Any:
        """What the store held of the session when the task began."""
        return self._saved.get(key)

    @property
    def handed_in(self) -> bool:
        return self.data.get("signed_in_by") == "user"

    # -- where the session comes from

    def load(self, guid: str | None, keeper_must_run: bool = True) -> None:
        """Find the session; with keeper_must_run False a dead keeper is noted in keeper_died, not raised."""
        stored = self.store.load(self.gateway_url, self.agent_id) or {}
        self._saved = copy.deepcopy(stored)
        self.kept = None
        self.kept_by_keeper = self.keeper_died = False
        self.lost_reason = None
        self.ended_guids = []
        if guid and guid != stored.get("guid"):
            # A session the user handed in: what the store knew belongs to another session.
            self._use({"guid": guid, "signed_in_by": "user"})
            self._saved = {}
        elif self.mailbox.keep_requested(self.gateway_url, self.agent_id):
            self._use(self._kept_session(stored, keeper_must_run))
        else:
            self._use(stored)

    def _use(self, session: dict[str, Any]) -> None:
        self.data = {key: value for key, value in session.items() if key not in ("guid", "cookies")}
        self.client.guid = session.get("guid")
        self.client.import_cookies(session.get("cookies", []))

    def _kept_session(self, stored: dict[str, Any], keeper_must_run: bool) -> dict[str, Any]:
        """The session of a kept agent: as the keeper last saw it, or nothing when the keeper saw it end."""
        ended = self.mailbox.ended_report(self.gateway_url, self.agent_id)
        self.kept_by_keeper = True
        if ended:
            # The keeper saw the session end (signed out, or its lease ran out): whatever the keeper does now.
            self.lost_reason = ended.reason or "the keeper lost the session"
            self.ended_guids = list(dict.fromkeys(g for g in (ended.guid, stored.get("guid")) if g))
            return {"cookies": stored.get("cookies", [])}  # a sign-out may still try the ended GUIDs
        generation = self.mailbox.keep_generation(self.gateway_url, self.agent_id)
        report = self.mailbox.current_report(self.gateway_url, self.agent_id, generation)
        self.mailbox.renew_keep(self.gateway_url, self.agent_id)
        gone = keeper_gone(self.keeper)
        live_guid = report.guid if report is not None and report.alive else None
        if gone:
            if keeper_must_run:
                raise GatewayError(
                    f"The session keeper that kept agent {self.agent_id} alive cannot be counted on: {gone}; "
                    f"see {self.keeper.log_path}. The agent's session may have expired and its GUID is "
                    "unknown. Run cec.cc_gateway.cc_gateway_session with keepalive: true to sign in and keep "
                    "the agent again, or with state: absent to stop keeping it."
                )
            self.kept_by_keeper = False
            self.keeper_died = True
            # The newest GUID the keeper knew (of any keep request); whether it still works is checked.
            newest = self.mailbox.report(self.gateway_url, self.agent_id)
            if newest is not None and newest.alive and newest.guid:
                return dict(stored, guid=newest.guid)
            return stored
        # Only the keeper polls a kept agent's events (whoever polls consumes them), even before it has
        # reported on the newest keep request; until then the stored session is the one it keeps.
        if live_guid:
            self.kept = report
            return dict(stored, guid=live_guid)
        return stored

    def persist(self) -> None:
        """Write the session back if anything about it changed (GUID, cookies, recording)."""
        if self.check_mode or self.handed_in or not self.client.guid or not self.data:
            # Only sessions this collection signed in are kept; a handed-in GUID stays the user's, and the GUIDs
            # a sign-out tries of a session the keeper saw end are not a session.
            return
        session = dict(self.data, guid=self.client.guid, cookies=self.client.export_cookies())
        if session != self._saved:
            self.store.save(self.gateway_url, self.agent_id, session)
            self._saved = copy.deepcopy(session)

    def sign_in(self, credentials: Credentials) -> None:
        if not credentials.usable:
            lost = f" ({self.lost_reason})" if self.lost_reason else ""
            raise GatewayError(
                f"Agent {self.agent_id} has no session to use{lost}: give guid, or password and phone_number so "
                "the module can sign the agent in."
            )
        try:
            self.client.sign_in(credentials.password or "", credentials.phone_number or "")
        except RetcodeError as exc:
            if exc.retcode != retcodes.ALREADY_SIGNED_IN:
                raise
            if not credentials.force_login:
                raise GatewayError(
                    f"{exc} — the agent is signed in by a session this task does not hold. Set force_login: true "
                    "to take the agent over with a forcible sign-in (this ends the other session), or pass that "
                    "session's guid."
                ) from None
            self.client.sign_in(credentials.password or "", credentials.phone_number or "", force=True)
        self.data = {
            "signed_in_by": "module",
            "signed_in_at": time.time(),
            # Not a secret; a later sign-out that must sign in again to end this session needs it.
            "phone_number": credentials.phone_number,
        }
        self.kept = None
        if self.mailbox.keep_requested(self.gateway_url, self.agent_id):
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
        self.data = {}
        self.kept = None
        self.client.guid = None
        if from_store and not self.check_mode:
            self.store.delete(self.gateway_url, self.agent_id)

    # -- recovery: the one place a stale or lost session is dealt with

    def ensure_live(self, credentials: Credentials) -> None:
        """Drop a session the gateway no longer knows (what ran in it ended with it); a handed-in GUID that
        cannot be replaced by a sign-in is an error."""
        if self.guid and not self.alive():
            if self.handed_in and not credentials.usable:
                raise GatewayError(
                    f"The guid given for agent {self.agent_id} no longer opens a session (the agent is signed "
                    "out or the GUID expired); pass a current guid, or password and phone_number to sign in."
                )
            self.forget()

    def send(self, operation: Callable[[], Any], sign_in_again: Credentials | None = None) -> Any:
        """Run a request on the session. When the gateway refuses it for a lost session (which started nothing):
        once more on the keeper's newer GUID of a kept agent; else, with sign_in_again, once more on a new
        session when the gateway confirms the old one is gone (000-003 also means "self-recording is off")."""
        try:
            return self._with_fresh_guid(operation)
        except RetcodeError as exc:
            if exc.retcode not in retcodes.SESSION_LOST:
                raise
            if sign_in_again is None or not sign_in_again.usable or self.alive(ask_gateway=True):
                raise
        self.sign_in(sign_in_again)
        self.signed_in_again = True
        return self._with_fresh_guid(operation)

    def _with_fresh_guid(self, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except RetcodeError as exc:
            if exc.retcode not in retcodes.SESSION_LOST or not self._take_fresh_guid():
                raise
        return operation()

    def _take_fresh_guid(self) -> bool:
        """After a refusal for a stale GUID, take the keeper's newer GUID if it has one.

        Under fast GUID rotation the GUID read at the start of a task can be stale by the time a request
        goes out; the keeper learns the gateway's newer one on its next poll.
        """
        if not self.kept_by_keeper:
            return False
        used = self.client.guid
        generation = self.mailbox.keep_generation(self.gateway_url, self.agent_id)

        def newer_guid(final: bool) -> str | bool | None:
            report = self.mailbox.current_report(self.gateway_url, self.agent_id, generation)
            if report is not None and not report.alive:
                return False
            if report is not None and report.guid and report.guid != used:
                return report.guid
            return False if final else None

        found = wait_until(newer_guid, min(FRESH_GUID_WAIT, self.client.settings.timeout))
        if not found:
            return False
        self.client.guid = found
        return True

    def sign_out(self, credentials: Credentials, candidates: list[str | None]) -> bool:
        """Sign out for real: a stale GUID (000-003; the session may be alive) is replaced by the candidates
        (the keeper's newest, the stored one), then by a forcible sign-in when credentials are given. True when
        the gateway signed the agent out."""
        untried = [guid for guid in candidates if guid]
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
                if exc.retcode != retcodes.STALE_GUID:
                    raise
                untried = [guid for guid in untried if guid not in tried]
                if untried:
                    self.client.guid = untried.pop(0)
                    continue
                if credentials.usable and not signed_in:
                    # Our own session, with a GUID nobody knows any more: a forcible sign-in takes it over.
                    self.client.sign_in(
                        credentials.password or "", credentials.phone_number or "", force=True
                    )
                    signed_in = True
                    continue
                raise GatewayError(
                    f"{exc}. The agent may still be signed in: its GUID went stale (the session keeper stopped "
                    "following it?). Give password (and phone_number) so the module can sign the agent in again "
                    "and sign it out."
                ) from None

    # -- keeping

    def keep(self) -> int:
        """Hand the (persisted) session to the keeper, starting the keeper if needed; return its PID."""
        lease = self.lease
        if lease is None:
            previous = self.mailbox.keep_request(self.gateway_url, self.agent_id)
            lease = previous.lease if previous is not None else DEFAULT_LEASE
        # The route as requests resolved it for this task (proxy, CA bundle, client certificate, with
        # absolute paths): the keeper uses it as it is, whatever its own environment or directory.
        self.mailbox.request_keep(
            KeepRequest(
                gateway_url=self.gateway_url,
                agent_id=self.agent_id,
                route=self.client.route.as_dict(),
                timeout=self.client.settings.timeout,
                lease=lease,
            )
        )
        pid, note = self.keeper.ensure_running()
        if note:
            self.warnings.append(note)
        return pid

    # -- events

    def wait_for_event(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, since_ms: int
    ) -> dict[str, Any] | None:
        """The first event since since_ms that matches, from the keeper or by polling; None on timeout."""
        if self.kept_by_keeper:
            return self._kept_event(matches, timeout, since_ms)
        deadline = time.monotonic() + timeout
        while True:
            event = self.client.poll_event()
            if event is not None and matches(event):
                return event
            if time.monotonic() >= deadline:
                return None
            if event is None:
                # A gateway that answers an empty poll at once is asked again after 500 ms (ruling 12), not flooded.
                time.sleep(min(EMPTY_POLL_PAUSE, max(0.0, deadline - time.monotonic())))

    def _kept_event(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float, since_ms: int
    ) -> dict[str, Any] | None:
        generation = self.mailbox.keep_generation(self.gateway_url, self.agent_id)

        def seen(final: bool) -> dict[str, Any] | None:
            # None while the keeper has not taken the newest keep request up yet.
            report = self.mailbox.current_report(self.gateway_url, self.agent_id, generation)
            if report is None:
                return None
            event = report.first_event(since_ms, matches)
            if event is None and not report.alive:
                raise GatewayError(
                    f"Agent {self.agent_id}'s session ended while waiting for its event: "
                    f"{report.reason or 'the keeper lost the session'}."
                )
            return event

        return wait_until(seen, timeout, REPORT_READ_INTERVAL)
